"""The writer side the dashboard starts: appending simulated events, ingesting a spool directory.

Both need the file open for writing in this process (a `LocalGateway` opened with write=True); the
feeds run on their own threads. Re-exported here so the interface never imports ecotop.store.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ecotop.queries.gateway import LocalGateway
from ecotop.store.background import BackgroundFeed

__all__ = ["BackgroundFeed", "append_events", "spool_feed"]


def append_events(gateway: LocalGateway, batch: dict[str, Any]) -> None:
    """Append one batch {table: Arrow table} of events and its rollups in one transaction."""
    from ecotop.store.ingest import append

    append(gateway.database, batch)


def spool_feed(gateway: LocalGateway | Any, spool: Path, **kw: Any) -> Any:
    """A `store.spool.SpoolFeed` ingesting `spool` into the writable file (not started).

    `gateway` may also be a writable `store.Database` (ecotop serve --spool holds one).
    """
    from ecotop.store.spool import SpoolFeed

    db = gateway.database if isinstance(gateway, LocalGateway) else gateway
    return SpoolFeed(db, Path(spool), **kw)
