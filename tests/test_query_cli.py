"""`ecotop query`: the real command line in a subprocess -- formats read back, limits, errors, pipes."""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import subprocess
import sys
import time
import unicodedata
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ecotop import store

ROOT = Path(__file__).resolve().parent.parent
ECOTOP = [sys.executable, "-m", "ecotop.tui.cli"]

_ROWS = """
INSERT INTO merchants VALUES
  (10, '星巴克咖啡', 'food', '上海', '上海', 1.0, TIMESTAMPTZ '2023-01-01 00:00:00+00'),
  (11, 'Luckin', 'food', 'Xiamen', 'Fujian', 2.0, TIMESTAMPTZ '2023-06-01 12:30:00+00'),
  (12, '全家 FamilyMart', 'retail', '广州', '广东', 0.5, TIMESTAMPTZ '2023-07-01 00:00:00+00');
INSERT INTO transactions VALUES
  (100, TIMESTAMPTZ '2024-02-01 10:00:00+00', 1, 10, 12.50, 'qr', 'success', NULL, NULL),
  (101, TIMESTAMPTZ '2024-02-01 10:01:00+00', 2, 11, 30.00, 'face', 'success', NULL, NULL),
  (102, TIMESTAMPTZ '2024-02-01 10:02:00+00', 3, 10, 99999999.99, 'mini_program', 'refunded',
        TIMESTAMPTZ '2024-02-02 00:00:00+00', NULL),
  (103, TIMESTAMPTZ '2024-02-01 10:03:00+00', 1, 12, 0.01, 'qr', 'failed', NULL, NULL);
"""
TX = "SELECT tx_id, ts, amount, entry, refunded_at FROM transactions ORDER BY tx_id"


@pytest.fixture(scope="module")
def dbfile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("q") / "q.duckdb"
    db = store.create_db(path)
    db.con.execute(_ROWS)
    db.con.execute("CHECKPOINT")
    db.close()
    return path


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT)
    env.pop("ECOTOP_DISPLAY_ZONE", None)
    return env


def ecotop(
    *args: str, stdin: str | None = None, **kw: object
) -> subprocess.CompletedProcess[bytes]:
    r = subprocess.run(
        [*ECOTOP, *args],
        input=stdin.encode() if stdin is not None else None,
        capture_output=True,
        timeout=120,
        env=_env(),
        cwd=ROOT,
        **kw,  # type: ignore[arg-type]
    )
    assert b"Traceback" not in r.stderr, r.stderr.decode()
    return r


def err(r: subprocess.CompletedProcess[bytes]) -> str:
    return r.stderr.decode()


def tx_count(path: Path) -> int:
    with store.open_db(path) as db:
        return db.cursor().execute("SELECT count(*) FROM transactions").fetchall()[0][0]


# --- formats ---------------------------------------------------------------------------------------


def test_json_is_an_array_of_objects_with_exact_numbers_and_iso_times(dbfile: Path) -> None:
    r = ecotop("query", str(dbfile), TX, "--format", "json")
    assert r.returncode == 0, err(r)
    rows = json.loads(r.stdout, parse_float=Decimal)
    assert [x["tx_id"] for x in rows] == [100, 101, 102, 103]
    assert rows[2]["amount"] == Decimal("99999999.99") and rows[3]["amount"] == Decimal("0.01")
    assert b'"amount":12.50' in r.stdout  # a number, not a string
    # ISO 8601 with the offset of the display zone (Asia/Shanghai by default): the same instant
    assert rows[0]["ts"] == "2024-02-01T18:00:00+08:00"
    assert datetime.fromisoformat(rows[0]["ts"]) == datetime.fromisoformat(
        "2024-02-01T10:00:00+00:00"
    )
    assert rows[0]["refunded_at"] is None and rows[2]["refunded_at"] == "2024-02-02T08:00:00+08:00"
    assert err(r) == ""


def test_json_zone_follows_ecotop_display_zone(dbfile: Path) -> None:
    env = {**_env(), "ECOTOP_DISPLAY_ZONE": "UTC"}
    r = subprocess.run(
        [*ECOTOP, "query", str(dbfile), TX, "--format", "json", "--limit", "1"],
        capture_output=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert json.loads(r.stdout)[0]["ts"] == "2024-02-01T10:00:00+00:00"


def test_csv_reads_back(dbfile: Path) -> None:
    r = ecotop("query", str(dbfile), TX, "--format", "csv")
    assert r.returncode == 0, err(r)
    rows = list(csv.DictReader(io.StringIO(r.stdout.decode())))
    assert [x["tx_id"] for x in rows] == ["100", "101", "102", "103"]
    assert [x["amount"] for x in rows] == ["12.50", "30.00", "99999999.99", "0.01"]
    assert rows[1]["ts"] == "2024-02-01T18:01:00+08:00"
    assert rows[0]["refunded_at"] == ""  # NULL is an empty field


def test_parquet_out_reads_back_with_types(dbfile: Path, tmp_path: Path) -> None:
    out = tmp_path / "tx.parquet"
    r = ecotop("query", str(dbfile), TX, "--format", "parquet", "--out", str(out))
    assert r.returncode == 0, err(r)
    assert r.stdout == b""
    t = pq.read_table(out)
    assert t.column("tx_id").to_pylist() == [100, 101, 102, 103]
    assert t.schema.field("amount").type == pa.decimal128(18, 2)
    assert t.column("amount").to_pylist()[2] == Decimal("99999999.99")
    assert pa.types.is_timestamp(t.schema.field("ts").type) and t.schema.field("ts").type.tz
    assert [p.name for p in tmp_path.iterdir()] == ["tx.parquet"]  # no temporary file left


def test_parquet_to_a_pipe(dbfile: Path) -> None:
    r = ecotop("query", str(dbfile), TX, "--format", "parquet")
    assert r.returncode == 0, err(r)
    assert pq.read_table(io.BytesIO(r.stdout)).num_rows == 4


def test_parquet_refuses_a_terminal(dbfile: Path) -> None:
    leader, follower = pty.openpty()
    try:
        r = subprocess.run(
            [*ECOTOP, "query", str(dbfile), TX, "--format", "parquet"],
            stdout=follower,
            stderr=subprocess.PIPE,
            env=_env(),
            cwd=ROOT,
            timeout=120,
        )
    finally:
        os.close(follower)
        os.close(leader)
    assert r.returncode == 2
    assert b"--out" in r.stderr


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def test_table_lines_up_wide_characters(dbfile: Path) -> None:
    r = ecotop("query", str(dbfile), "SELECT name, city, merchant_id FROM merchants ORDER BY 3")
    assert r.returncode == 0, err(r)
    lines = r.stdout.decode().splitlines()
    assert lines[0].split() == ["name", "city", "merchant_id"]
    assert set(lines[1].replace(" ", "")) == {"-"}
    assert "星巴克咖啡" in lines[2] and lines[2].rstrip().endswith("10")
    # merchant_id is right-aligned: every line has the same display width
    assert len({_width(x) for x in lines}) == 1, lines
    # and "city" starts in the same display column on every line
    cells = ["city", "  -", "上海", "Xiamen", "广州"]
    starts = [
        _width(x[: x.index(c) + (2 if c == "  -" else 0)])
        for x, c in zip(lines, cells, strict=True)
    ]
    assert len(set(starts)) == 1, starts
    assert len(lines) == 5


def test_table_shows_null(dbfile: Path) -> None:
    r = ecotop("query", str(dbfile), "SELECT refunded_at FROM transactions ORDER BY tx_id LIMIT 1")
    assert r.stdout.decode().splitlines()[2].strip() == "NULL"


def test_several_statements_print_one_table_each(dbfile: Path) -> None:
    r = ecotop("query", str(dbfile), "SELECT 1 AS a; SELECT 'x' AS b, 2 AS c;")
    assert r.returncode == 0, err(r)
    assert r.stdout.decode() == "a\n-\n1\n\nb  c\n-  -\nx  2\n"


def test_several_statements_need_table_format(dbfile: Path) -> None:
    r = ecotop("query", str(dbfile), "SELECT 1; SELECT 2", "--format", "csv")
    assert r.returncode == 2 and b"one result" in r.stderr and r.stdout == b""


def test_sql_from_stdin(dbfile: Path) -> None:
    r = ecotop("query", str(dbfile), "-", "--format", "json", stdin="SELECT 42 AS n")
    assert json.loads(r.stdout) == [{"n": 42}]


# --- limits ----------------------------------------------------------------------------------------


def test_limit_cuts_and_says_so_on_stderr(dbfile: Path) -> None:
    r = ecotop("query", str(dbfile), TX, "--format", "json", "--limit", "2")
    assert r.returncode == 0, err(r)
    assert [x["tx_id"] for x in json.loads(r.stdout)] == [100, 101]
    assert "showing first 2 rows; more were cut by --limit" in err(r)
    assert err(r).count("\n") == 1


def test_default_limit_is_1000_and_zero_means_none(dbfile: Path) -> None:
    q = "SELECT range AS n FROM range(1500)"
    r = ecotop("query", str(dbfile), q, "--format", "csv")
    assert r.stdout.decode().count("\n") == 1 + 1000
    assert "showing first 1000 rows" in err(r)
    r = ecotop("query", str(dbfile), q, "--format", "csv", "--limit", "0")
    assert r.stdout.decode().count("\n") == 1 + 1500 and err(r) == ""
    r = ecotop("query", str(dbfile), "SELECT 1 AS n", "--limit", "1")
    assert err(r) == ""  # exactly the limit: nothing was cut


# --- errors ------------------------------------------------------------------------------------------


def test_bad_sql_is_one_line_with_position_and_exit_1(dbfile: Path) -> None:
    r = ecotop("query", str(dbfile), "SELECT nme FROM merchants")
    assert r.returncode == 1 and r.stdout == b""
    assert err(r).count("\n") == 1
    assert err(r).startswith("ecotop: Binder Error") and "(line 1, column 8)" in err(r)
    r = ecotop("query", str(dbfile), "SELEC 1")
    assert r.returncode == 1 and "syntax error" in err(r) and err(r).count("\n") == 1


@pytest.mark.parametrize(
    "sql",
    [
        "DELETE FROM transactions",
        "DROP TABLE transactions",
        "SELECT 1; DELETE FROM transactions; SELECT 2",
        "SELECT * FROM read_csv('/etc/passwd')",
        "FROM '/etc/passwd'",
        "SELECT * FROM query('DELETE FROM transactions')",
        "EXPLAIN ANALYZE DELETE FROM transactions",
        "SET threads = 64",
    ],
)
@pytest.mark.slow
def test_refused_statement_exits_1_and_changes_nothing(dbfile: Path, sql: str) -> None:
    before = tx_count(dbfile)
    r = ecotop("query", str(dbfile), sql)
    assert r.returncode == 1
    assert err(r).startswith("ecotop: refused") and err(r).count("\n") == 1, err(r)
    assert r.stdout == b""  # nothing ran, not even the SELECT before the write
    assert tx_count(dbfile) == before


def test_missing_file_exits_1(tmp_path: Path) -> None:
    r = ecotop("query", str(tmp_path / "nope.duckdb"), "SELECT 1")
    assert r.returncode == 1 and "no such file" in err(r)


@pytest.mark.slow
def test_locked_file_exits_1(dbfile: Path, tmp_path: Path) -> None:
    path = tmp_path / "locked.duckdb"
    path.write_bytes(dbfile.read_bytes())
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time, store\n"
            "db = store.open_db(sys.argv[1], write=True)\n"
            "print('open', flush=True)\n"
            "time.sleep(60)\n",
            str(path),
        ],
        stdout=subprocess.PIPE,
        env=_env(),
        cwd=ROOT,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"open\n"
        r = ecotop("query", str(path), "SELECT 1")
        assert r.returncode == 1
        assert "locked" in err(r) and str(holder.pid) in err(r) and err(r).count("\n") == 1
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.parametrize(
    "args",
    [
        ["--format", "xml"],
        ["--limit", "-1"],
        ["--limit", "many"],
        ["--bogus"],
    ],
)
def test_bad_option_exits_2(dbfile: Path, args: list[str]) -> None:
    r = ecotop("query", str(dbfile), "SELECT 1", *args)
    assert r.returncode == 2 and r.stdout == b""


def test_missing_sql_exits_2(dbfile: Path) -> None:
    assert ecotop("query", str(dbfile)).returncode == 2
    assert ecotop("query", str(dbfile), "-- nothing to run").returncode == 2


def test_failed_query_keeps_an_existing_out_file(dbfile: Path, tmp_path: Path) -> None:
    out = tmp_path / "keep.csv"
    out.write_text("precious\n")
    r = ecotop(
        "query",
        str(dbfile),
        "SELECT error('boom') FROM transactions",
        "--format",
        "csv",
        "--out",
        str(out),
        "--force",
    )
    assert r.returncode == 1 and "boom" in err(r)
    assert out.read_text() == "precious\n"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.csv"]


def test_out_in_a_missing_directory_exits_1(dbfile: Path, tmp_path: Path) -> None:
    r = ecotop("query", str(dbfile), "SELECT 1", "--out", str(tmp_path / "no" / "x.csv"))
    assert r.returncode == 1 and "cannot write" in err(r)


# --- pipes -------------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
def test_a_closed_pipe_ends_quietly(dbfile: Path, fmt: str) -> None:
    proc = subprocess.Popen(
        [
            *ECOTOP,
            "query",
            str(dbfile),
            "SELECT range AS n FROM range(2000000)",
            "--limit",
            "0",
            "--format",
            fmt,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(),
        cwd=ROOT,
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    assert first
    proc.stdout.close()  # like `| head -1`
    t0 = time.monotonic()
    code = proc.wait(60)
    assert time.monotonic() - t0 < 60
    assert code == 0
    assert proc.stderr.read() == b""


def test_head_in_a_real_shell_pipe(dbfile: Path) -> None:
    cmd = " ".join(
        [
            *ECOTOP,
            "query",
            str(dbfile),
            "'SELECT range AS n FROM range(2000000)'",
            "--limit",
            "0",
            "--format",
            "csv",
            "|",
            "head",
            "-2",
        ]
    )
    r = subprocess.run(
        ["bash", "-o", "pipefail", "-c", cmd],
        capture_output=True,
        env=_env(),
        cwd=ROOT,
        timeout=120,
    )
    assert r.stdout == b"n\n0\n"
    assert r.returncode == 0 and r.stderr == b""


# --- hardening (#15) -------------------------------------------------------------------------------


def _copy(dbfile: Path, tmp_path: Path) -> Path:
    import shutil

    path = tmp_path / "copy.duckdb"
    shutil.copy(dbfile, path)
    return path


@pytest.mark.slow
@pytest.mark.parametrize("force", [[], ["--force"]])
@pytest.mark.parametrize("target", ["self", "wal", "other-db", "new-wal"])
def test_out_never_overwrites_a_database_or_its_wal(
    dbfile: Path, tmp_path: Path, target: str, force: list[str]
) -> None:
    path = _copy(dbfile, tmp_path)
    if target == "self":
        out = path
    elif target == "wal":
        out = path.with_name(path.name + ".wal")
        out.write_bytes(b"wal bytes")
    elif target == "new-wal":  # a new WAL beside a database would be replayed into it
        out = tmp_path / "other.duckdb.wal"
    else:
        other = tmp_path / "other.duckdb"
        other.write_bytes(path.read_bytes())
        out = other
    before = out.read_bytes() if out.exists() else None
    r = ecotop("query", str(path), "SELECT 1 AS a", "--format", "csv", "--out", str(out), *force)
    assert r.returncode == 1, err(r)
    assert len(err(r).strip().splitlines()) == 1 and "database" in err(r)
    assert (out.read_bytes() if out.exists() else None) == before
    assert tx_count(path) == 4


def test_out_refuses_an_existing_file_unless_forced(dbfile: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.csv"
    out.write_text("old\n")
    r = ecotop("query", str(dbfile), "SELECT 1 AS a", "--format", "csv", "--out", str(out))
    assert r.returncode == 1 and "already exists" in err(r) and "--force" in err(r)
    assert out.read_text() == "old\n"
    r = ecotop(
        "query", str(dbfile), "SELECT 1 AS a", "--format", "csv", "--out", str(out), "--force"
    )
    assert r.returncode == 0, err(r)
    assert out.read_text() == "a\n1\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.csv"]


def test_out_through_a_planted_symlink_is_refused(dbfile: Path, tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("mine\n")
    link = tmp_path / "r.csv"
    link.symlink_to(victim)
    r = ecotop("query", str(dbfile), "SELECT 1 AS a", "--format", "csv", "--out", str(link))
    assert r.returncode == 1
    assert victim.read_text() == "mine\n" and link.is_symlink()


ENDLESS = "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r"


def test_timeout_ends_a_query_with_one_line(dbfile: Path) -> None:
    t0 = time.monotonic()
    r = ecotop("query", str(dbfile), ENDLESS, "--timeout", "1")
    assert r.returncode == 1
    assert err(r).strip().count("\n") == 0 and "--timeout" in err(r)
    assert time.monotonic() - t0 < 20


@pytest.mark.parametrize("bad", ["-1", "x"])
def test_timeout_must_be_a_number(dbfile: Path, bad: str) -> None:
    assert ecotop("query", str(dbfile), "SELECT 1", "--timeout", bad).returncode == 2


@pytest.mark.slow
def test_first_ctrl_c_stops_the_query_with_130(dbfile: Path) -> None:
    import signal

    proc = subprocess.Popen(
        [*ECOTOP, "query", str(dbfile), ENDLESS, "--timeout", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(),
        cwd=ROOT,
    )
    try:
        time.sleep(2.5)  # started and running
        assert proc.poll() is None
        proc.send_signal(signal.SIGINT)
        t0 = time.monotonic()
        proc.wait(timeout=10)
        took = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130
    assert b"Traceback" not in proc.stderr.read()  # type: ignore[union-attr]
    assert took < 1.0


def test_huge_string_ends_with_one_line_and_bounded_memory(dbfile: Path) -> None:
    # a size the guard cannot see (a subquery) meets the process ceiling, not 3.9 GB of RSS
    r = subprocess.run(
        [
            "/usr/bin/time",
            "-f",
            "%M",
            *ECOTOP,
            "query",
            str(dbfile),
            "SELECT length(repeat('x', (SELECT 2000000000)))",
        ],
        capture_output=True,
        timeout=120,
        env=_env(),
        cwd=ROOT,
    )
    lines = r.stderr.decode().strip().splitlines()
    peak_kb = int(lines[-1])
    assert r.returncode == 1, r.stderr.decode()
    ours = [x for x in lines[:-1] if not x.startswith("Command exited")]  # /usr/bin/time's own line
    assert len(ours) == 1 and ours[0].startswith("ecotop: Out of Memory"), ours
    assert peak_kb < 1.5 * 2**20
