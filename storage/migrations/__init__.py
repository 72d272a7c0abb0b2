"""Numbered, append-only schema migrations (``NNNN_name.sql``), applied by :mod:`storage.migrate`."""
