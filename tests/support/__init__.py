"""Test support shared by every test package: the ``tower`` command in a subprocess (``cli``), one
builder of ``otel_traces`` rows (``spans``), ports a test owns (``ports``), a throwaway PostgreSQL
(``postgres``). Import as ``from support.spans import SpanRow`` (``tests/`` is on ``sys.path``)."""
