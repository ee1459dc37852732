"""Lake operations for the command line: the interface's way to `store.lake` (see docs/SCALE.md).

A lake opens like a file everywhere else (`queries.gateway.open_gateway` takes its attach string);
only creating one, moving a file's events into one and its upkeep are lake-specific.
"""

from __future__ import annotations

from ecotop.store.lake import (
    LakeError,
    import_file,
    init_lake,
    is_lake_uri,
    maintain,
    migrate_lake,
    parse_uri,
)

__all__ = [
    "LakeError",
    "import_file",
    "init",
    "is_lake_uri",
    "maintain",
    "migrate_lake",
    "parse_uri",
]


def init(uri: str, data_dir: str) -> dict[str, object]:
    """Create a lake (catalog + schema) whose Parquet files go under `data_dir`; what was made."""
    db = init_lake(uri, data_dir)
    try:
        return {"lake": uri, "data": db.data_path(), "snapshot": db.snapshot(), **_meta(db.meta())}
    finally:
        db.close()


def _meta(meta: dict[str, str]) -> dict[str, object]:
    return {"schema_version": int(meta.get("schema_version", "0"))}
