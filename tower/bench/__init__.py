"""The measuring code of ``tower bench ...`` (the commands are in :mod:`tower.commands.bench`).

One module per benchmark — ingest, query, kpis, web, alerts, edi, simulator — each with a
``run_bench(...)`` that builds a fresh store (or reuses a kept one), measures and returns the figures
the command prints as JSON. The generator SQL lives in ``tower/bench/queries/``.
"""
