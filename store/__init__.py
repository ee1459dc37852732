"""ecotop's storage layer: the only code that imports duckdb."""

from ecotop.store.db import SCHEMA_VERSION, Database, Limits, create_db, migrate, open_db
from ecotop.store.errors import StoreError

__all__ = ["SCHEMA_VERSION", "Database", "Limits", "StoreError", "create_db", "migrate", "open_db"]
