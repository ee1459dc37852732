"""Spool ingestion on its own thread for long-running writers (`ecotop serve --spool DIR`).

The dashboard builds its spool feed (`queries.feeds.spool_feed`) in `tui.factory.make_app`; headless writers call
`start_spool_thread` and `.stop()` the returned feed on the way out (the file in hand finishes).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any


def start_spool_thread(db: Any, spool: Path, *, quiet: bool = False) -> Any:
    """Start ingesting the spool directory into the open writable `db`; returns the started feed.

    One line per file goes to stderr (unless `quiet`); a database failure stops the feed and is
    reported there too.
    """
    from ecotop.queries.feeds import spool_feed
    from ecotop.tui.commands.ingest import _line

    def on_result(res: Any) -> None:
        if not quiet:
            print(_line(res, Path(spool)), file=sys.stderr, flush=True)

    def on_error(exc: BaseException) -> None:
        print(f"ecotop: spool ingestion stopped: {exc}", file=sys.stderr, flush=True)

    feed = spool_feed(db, spool, on_result=on_result, on_error=on_error)
    feed.start()
    return feed
