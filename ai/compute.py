"""How much of the machine model fitting and scoring may use.

scikit-learn's gradient boosting runs on OpenMP threads; on a shared or busy machine, spinning
threads cost far more than they gain (measured on the 2-core build machine under load: the same fit
took 17 s on one thread and 207 s on two). The tower runs models on ``threads`` threads (default 1).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from threadpoolctl import threadpool_limits


@contextmanager
def limited(threads: int = 1) -> Iterator[None]:
    with threadpool_limits(limits=max(1, threads)):
        yield
