"""ClickHouse access for the tower: client factory, schema migrations and SQL file loading.

This package imports no other tower package (see docs/architecture.md); every other package may
import it, which is why the settings base, the root exception and the YAML helper live here.
"""

from storage.client import Store, StoreError, StoreLockedError, open_store
from storage.settings import StorageSettings
from storage.sql import SqlFiles

__all__ = ["SqlFiles", "StorageSettings", "Store", "StoreError", "StoreLockedError", "open_store"]
