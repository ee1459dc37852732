"""A reader process of the lake tests, as if on another host: reads the lake until told to stop.

usage: python lake_reader.py URI OUT STOPFILE

Each round opens one read-only transaction (one snapshot) and writes a JSON line to OUT: the
snapshot id, raw counts and the matching rollup sums. Stops when STOPFILE exists. Survives the
catalog going away for a while (it writes {"error": ...} lines and tries again).
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

from ecotop.store import lake

CHECK = """
SELECT
  (SELECT id FROM ducklake_current_snapshot(current_database())) AS snapshot,
  (SELECT count(*) FROM transactions) AS tx_raw,
  (SELECT coalesce(sum(value), 0)::BIGINT FROM rollup_minute WHERE measure = 'pay.attempts') AS tx_minute,
  (SELECT coalesce(sum(value), 0)::BIGINT FROM rollup_hour WHERE measure = 'pay.attempts') AS tx_hour,
  (SELECT count(*) FROM app_sessions) AS sessions_raw,
  (SELECT coalesce(sum(value), 0)::BIGINT FROM rollup_minute WHERE measure = 'msg.sessions') AS sessions_minute,
  (SELECT count(*) FROM ingest_log WHERE outcome = 'ingested') AS files
"""


def main() -> None:
    uri, out, stop = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    db = None
    with out.open("w") as fh:
        while not stop.exists():
            try:
                if db is None:
                    db = lake.open_lake(uri)
                cur = db.cursor()
                # bounded like every read of ecotop's: a catalog connection that dies under a
                # read can leave it waiting; interrupt it, reopen, go on
                timer = threading.Timer(5.0, cur.interrupt)
                timer.start()
                try:
                    cur.execute("BEGIN TRANSACTION READ ONLY")
                    row = cur.execute(CHECK).fetchall()[0]
                    cur.execute("ROLLBACK")
                finally:
                    timer.cancel()
                cur.close()
                names = (
                    "snapshot",
                    "tx_raw",
                    "tx_minute",
                    "tx_hour",
                    "sessions_raw",
                    "sessions_minute",
                    "files",
                )
                fh.write(json.dumps(dict(zip(names, row, strict=True))) + "\n")
            except Exception as exc:  # the catalog restarting: note it, reopen, go on
                fh.write(json.dumps({"error": str(exc).splitlines()[0]}) + "\n")
                if db is not None:
                    db.close()
                    db = None
                time.sleep(0.2)
            fh.flush()
            time.sleep(0.05)
    if db is not None:
        db.close()


if __name__ == "__main__":
    main()
