"""Hostile requests through the writer's socket: tickets, limits, clients that go away.

A client with the secret (a group reader) is still only a reader: a malformed ticket gets one line
and no server detail, SQL of every kind obeys the time, row and concurrency limits, and a statement
stops when its client disconnects.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.flight as fl
import pytest
from sechelp import ROOT, env, start_serve, stop

from ecotop.store.remote import read_info, secret_path

ENDLESS = "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r"


class Client:
    """A raw Flight client with the secret and its own connection id."""

    def __init__(self, path: Path, cid: str) -> None:
        info = read_info(path)
        assert info is not None
        self.client = fl.connect(info.location)
        self.opts = fl.FlightCallOptions(
            headers=[
                (b"authorization", b"Bearer " + secret_path(path).read_bytes().strip()),
                (b"x-ecotop-client", cid.encode()),
            ],
            timeout=60,
        )

    def get(self, ticket: bytes) -> Any:
        return self.client.do_get(fl.Ticket(ticket), self.opts).read_all()

    def close(self) -> None:
        self.client.close()


@pytest.fixture
def writer(dbfile: Path) -> Iterator[tuple[Path, subprocess.Popen[str]]]:
    proc = start_serve(
        dbfile,
        ECOTOP_SERVE_ADHOC_TIMEOUT="2",
        ECOTOP_SERVE_MAX_ROWS="1000",
        ECOTOP_SERVE_MAX_ADHOC="2",
    )
    yield dbfile, proc
    stop(proc)


HOSTILE_TICKETS = [
    b"[1, 2, 3]",
    b'"just a string"',
    b"12",
    b"null",
    b"[" * 50_000 + b"]" * 50_000,
    b'{"kind": ' * 20_000 + b"1" + b"}" * 20_000,
    b"\xff\xfe not json",
    b'{"kind": "sql", "sql": 5}',
    b'{"kind": "sql", "sql": ["SELECT 1"]}',
    b'{"kind": "adhoc", "sql": "SELECT 1", "limit": "ten"}',
    b'{"kind": "named", "name": "no-such-query"}',
    b'{"kind": "named"}',
    b'{"kind": {"x": 1}}',
    b'{"kind": "sql", "sql": "SELECT 1", "params": {"a": {"$dt": "not a time"}}}',
    b'{"kind": "sql", "sql": "SELECT 1", "params": 7}',
]


@pytest.mark.parametrize(
    "ticket", HOSTILE_TICKETS, ids=[t[:30].decode(errors="replace") for t in HOSTILE_TICKETS]
)
@pytest.mark.slow
def test_hostile_ticket_gets_one_line_and_no_server_detail(
    writer: tuple[Path, Any], ticket: bytes
) -> None:
    path, proc = writer
    c = Client(path, "t")
    try:
        with pytest.raises(fl.FlightError) as info:
            c.get(ticket)
        message = str(info.value).split("\n")[0]
        assert "Traceback" not in str(info.value) and 'File "' not in str(info.value)
        assert str(ROOT) not in str(info.value) and ".py" not in message, message
        assert c.get(b'{"kind": "ping"}').num_rows == 1  # the writer still answers
    finally:
        c.close()
    assert proc.poll() is None


@pytest.mark.slow
def test_sql_kind_obeys_the_time_limit(writer: tuple[Path, Any]) -> None:
    path, _ = writer
    c = Client(path, "slow")
    try:
        t0 = time.monotonic()
        with pytest.raises(fl.FlightError, match="time limit"):
            c.get(json.dumps({"kind": "sql", "sql": ENDLESS}).encode())
        assert time.monotonic() - t0 < 15
    finally:
        c.close()


def test_sql_kind_obeys_the_row_limit(writer: tuple[Path, Any]) -> None:
    path, _ = writer
    c = Client(path, "rows")
    try:
        t = c.get(json.dumps({"kind": "sql", "sql": "FROM range(5000000)"}).encode())
        assert t.num_rows <= 1000
    finally:
        c.close()


def test_sql_kind_obeys_the_guard_bounds(writer: tuple[Path, Any]) -> None:
    path, _ = writer
    c = Client(path, "big")
    try:
        for sql in (
            "SELECT length(repeat('x', 2000000000))",
            " UNION ALL ".join(f"SELECT {i}" for i in range(2000)),
            "SELECT " + "(" * 400 + "1" + ")" * 400,
        ):
            with pytest.raises(fl.FlightError, match="refused"):
                c.get(json.dumps({"kind": "sql", "sql": sql}).encode())
    finally:
        c.close()


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sql", "adhoc"])
def test_work_stops_when_its_client_goes(dbfile: Path, kind: str) -> None:
    # One query per client: the client's slot frees only when its statement has really ended, so
    # a probe with the same client id tells, without timing, whether the writer still works for it.
    proc = start_serve(dbfile, ECOTOP_SERVE_ADHOC_TIMEOUT="600", ECOTOP_SERVE_MAX_ADHOC="1")
    probe = Client(dbfile, "victim")
    one = json.dumps({"kind": "sql", "sql": "SELECT 1 AS x"}).encode()
    try:
        code = (
            "import json, sys, pyarrow.flight as fl\n"
            "from ecotop.store.remote import read_info, secret_path\n"
            "from pathlib import Path\n"
            f"p = Path({str(dbfile)!r}); i = read_info(p)\n"
            "c = fl.connect(i.location)\n"
            "o = fl.FlightCallOptions(headers=[(b'authorization', b'Bearer ' + "
            "secret_path(p).read_bytes().strip()), (b'x-ecotop-client', b'victim')])\n"
            f"t = fl.Ticket(json.dumps({{'kind': {kind!r}, 'sql': {ENDLESS!r}}}).encode())\n"
            "import time\n"
            "while True:  # the probe may hold the one slot for a moment: try again\n"
            "    try:\n"
            "        c.do_get(t, o).read_all()\n"
            "    except fl.FlightError as e:\n"
            "        if 'too many' not in str(e):\n"
            "            raise\n"
            "        time.sleep(0.05)\n"
        )
        client = subprocess.Popen(
            [sys.executable, "-c", code], env=env(), cwd=ROOT, stderr=subprocess.PIPE, text=True
        )
        deadline = time.monotonic() + 120
        while True:  # wait until its statement runs: the slot is taken
            try:
                probe.get(one)
            except fl.FlightError as exc:
                assert "too many queries" in str(exc), exc
                break
            if client.poll() is not None:
                raise AssertionError(f"the client ended early: {client.stderr.read()}")  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "the endless statement never started"
            time.sleep(0.1)
        client.kill()
        client.wait()
        deadline = time.monotonic() + 30
        while True:  # the writer notices the disconnect and interrupts the statement
            try:
                assert probe.get(one).num_rows == 1
                break
            except fl.FlightError as exc:
                assert "too many queries" in str(exc), exc
            assert time.monotonic() < deadline, "the writer kept working for a client that left"
            time.sleep(0.2)
    finally:
        probe.close()
        stop(proc)


@pytest.mark.slow
def test_the_per_client_limit_is_per_client(writer: tuple[Path, Any]) -> None:
    path, _ = writer
    busy = [Client(path, "hog") for _ in range(2)]
    errors: list[str] = []

    def hog(c: Client) -> None:
        try:
            c.get(json.dumps({"kind": "adhoc", "sql": ENDLESS, "limit": 10}).encode())
        except fl.FlightError as exc:
            errors.append(str(exc))

    threads = [threading.Thread(target=hog, args=(c,)) for c in busy]
    for t in threads:
        t.start()
    time.sleep(0.5)
    other = Client(path, "someone-else")
    try:
        t = other.get(json.dumps({"kind": "adhoc", "sql": "SELECT 1 AS x", "limit": 10}).encode())
        assert t.num_rows == 1
    finally:
        other.close()
        for t in threads:
            t.join(30)
        for c in busy:
            c.close()


@pytest.mark.slow
def test_two_query_processes_do_not_share_one_limit(dbfile: Path) -> None:
    proc = start_serve(dbfile, ECOTOP_SERVE_ADHOC_TIMEOUT="4", ECOTOP_SERVE_MAX_ADHOC="1")
    try:
        q = [sys.executable, "-m", "ecotop.tui.cli", "query", str(dbfile)]
        long_one = subprocess.Popen([*q, ENDLESS], env=env(), cwd=ROOT, stderr=subprocess.PIPE)
        time.sleep(1.5)
        r = subprocess.run(
            [*q, "SELECT 1 AS x", "--format", "csv"],
            env=env(),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert r.returncode == 0 and r.stdout == "x\n1\n", r.stderr
        long_one.wait(30)
    finally:
        stop(proc)
