"""ClickHouse access for the tower: client factory, schema migrations and SQL file loading.

This package imports no other tower package (see ARCHITECTURE.md).
"""

from storage.client import Store, StoreError, StoreLockedError, open_store
from storage.settings import StorageSettings
from storage.sql import SqlFiles

__all__ = ["SqlFiles", "StorageSettings", "Store", "StoreError", "StoreLockedError", "open_store"]
