"""A page runs its independent queries side by side on one pool of threads (web.views.in_parallel),
and some page parts run their own queries side by side too (the KPI page's overview). Four such
pages at once must still be answered: every pool thread then holds a part that waits for queries
queued behind it."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import pytest

from web import views


def test_four_pages_whose_parts_query_in_parallel_are_all_answered(monkeypatch: pytest.MonkeyPatch) -> None:
    pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix=views._POOL_THREADS)
    monkeypatch.setattr(views, "_pool", lambda: pool)  # a pool of its own: a hang stays in this test
    all_busy = threading.Barrier(4, timeout=30)

    def overview(page: int) -> int:
        all_busy.wait()  # the four pool threads each hold one page's overview
        return sum(views.in_parallel(lambda: page, lambda: 10 * page))

    requests = ThreadPoolExecutor(max_workers=4)
    pages = [requests.submit(views.in_parallel, partial(overview, page), lambda: -1) for page in range(4)]
    try:
        answered = [page.result(timeout=60) for page in pages]
    finally:
        # when the pages hang, more threads run the queries they wait for, so that the test fails
        # instead of the test process hanging at exit
        pool._max_workers += 4
        pool.submit(lambda: None)
        requests.shutdown()
        pool.shutdown()
    assert answered == [[11 * page, -1] for page in range(4)]


def test_an_error_in_a_nested_part_reaches_the_page(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> int:
        raise ValueError("the store refused the query")

    with pytest.raises(ValueError, match="refused"):
        views.in_parallel(lambda: views.in_parallel(lambda: 1, broken), lambda: 2)
