"""Process mining over the order-keyed read model: the directly-follows map, variants, conformance
against the expected paths, and OCEL 2.0 / XES exports (docs/conventions.md "Process mining").

Everything is computed in ClickHouse (``kpis/process/queries``): the ``order_paths`` job
(:mod:`kpis.process.paths`) keeps one row per order with its activity path, and the map, variants
and conformance are scans of those rows; the exports stream the hops of ``order_spans``.
"""
