"""The root of the tower's exceptions.

Every exception class the tower defines derives from :class:`TowerError` (and, where callers catch
a built-in kind such as ``ValueError`` or ``LookupError``, from that kind too), so one ``except
TowerError`` handles whatever the tower raises on purpose. The instrumentation half of
:mod:`tracing` (``conventions``, ``instrument``) is the exception: services embed it with
OpenTelemetry alone, so its ``ConventionError`` is a plain ``ValueError``.
"""

from __future__ import annotations


class TowerError(Exception):
    """An error the tower raises on purpose; the message says what went wrong and what to do."""
