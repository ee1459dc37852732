"""The SQL guard: hostile ad-hoc SQL changes nothing, reads no file, on read-only and writable opens.

Every hostile statement is refused with a one-line message saying why, and afterwards the data, the
settings, the sequences, the attached databases and the files around are exactly as before -- also
when the process holds the file open for writing. The other layers (lockdown, read-only transaction)
are tested on their own, bypassing the parser check, to show the defence is deep.
"""

from __future__ import annotations

import contextlib
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from ecotop import store
from ecotop.store import guard, rollups
from ecotop.store.errors import SqlError, SqlRefused

# --- a tiny database ---------------------------------------------------------------------------

_ROWS = """
INSERT INTO users VALUES
  (1, TIMESTAMPTZ '2024-01-01 00:00:00+00', '上海', '上海'),
  (2, TIMESTAMPTZ '2024-01-02 00:00:00+00', 'Xiamen', 'Fujian'),
  (3, TIMESTAMPTZ '2024-01-03 00:00:00+00', 'Beijing', 'Beijing');
INSERT INTO merchants VALUES
  (10, '星巴克咖啡', 'food', '上海', '上海', 1.0, TIMESTAMPTZ '2023-01-01 00:00:00+00'),
  (11, 'Luckin', 'food', 'Xiamen', 'Fujian', 2.0, TIMESTAMPTZ '2023-01-01 00:00:00+00');
INSERT INTO transactions VALUES
  (100, TIMESTAMPTZ '2024-02-01 10:00:00+00', 1, 10, 12.50, 'qr', 'success', NULL, NULL),
  (101, TIMESTAMPTZ '2024-02-01 10:01:00+00', 2, 11, 30.00, 'face', 'success', NULL, NULL),
  (102, TIMESTAMPTZ '2024-02-01 10:02:00+00', 3, 10, 8.80, 'mini_program', 'refunded',
        TIMESTAMPTZ '2024-02-02 00:00:00+00', NULL),
  (103, TIMESTAMPTZ '2024-02-01 10:03:00+00', 1, 11, 5.00, 'qr', 'failed', NULL, NULL);
CREATE SEQUENCE s;
"""


def make_tiny(path: Path) -> Path:
    db = store.create_db(path)
    db.con.execute(_ROWS)
    rollups.rebuild(db.con)
    db.con.execute("CHECKPOINT")
    db.close()
    return path


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny(tmp_path_factory.mktemp("tpl") / "t.duckdb")


@pytest.fixture(scope="module", params=["read-only", "writable"])
def opened(
    request: pytest.FixtureRequest, template: Path, tmp_path_factory: pytest.TempPathFactory
):
    """The tiny file opened read-only, or open for writing as the dashboard/ingester holds it."""
    path = tmp_path_factory.mktemp(request.param) / "t.duckdb"
    shutil.copy(template, path)
    db = store.open_db(path, write=request.param == "writable")
    yield db
    db.close()


@pytest.fixture
def cur(opened: store.Database):
    c = opened.cursor()
    guard.run(c, "SELECT 1", None)  # run/stream turn progress reporting on for their cursor
    yield c
    c.close()


# --- what "nothing changed" means ---------------------------------------------------------------

_SETTINGS = (
    "threads",
    "memory_limit",
    "TimeZone",
    "enable_external_access",
    "lock_configuration",
    "allowed_configs",
    "python_enable_replacements",
    "temp_directory",
    "search_path",
    "schema",
    "enable_profiling",
    "enable_progress_bar_print",
    "access_mode",
)


def snapshot(db: store.Database, cur: Any) -> dict[str, Any]:
    """Data, schema, sequences, settings (of the instance and of `cur`), databases, variables.

    (User macros are compared once, in test_no_macro_appears: listing functions costs 80 ms.)
    """
    probe = db.cursor()
    out: dict[str, Any] = {}
    settings = "SELECT " + ", ".join(f"current_setting('{n}')" for n in _SETTINGS)
    try:
        tables = [
            r[0]
            for r in probe.execute(
                "SELECT table_name FROM duckdb_tables() WHERE NOT internal ORDER BY 1"
            ).fetchall()
        ]
        out["tables"] = tables
        out["data"] = probe.execute(
            " UNION ALL ".join(
                f"SELECT '{t}', count(*), sum(hash(x)) FROM \"{t}\" x" for t in tables
            )
        ).fetchall()
        out["views"] = probe.execute(
            "SELECT view_name, sql FROM duckdb_views() WHERE NOT internal ORDER BY 1"
        ).fetchall()
        out["sequences"] = probe.execute(
            "SELECT sequence_name, last_value FROM duckdb_sequences() ORDER BY 1"
        ).fetchall()
        out["databases"] = probe.execute(
            "SELECT database_name, path FROM duckdb_databases() ORDER BY 1"
        ).fetchall()
        out["settings/instance"] = probe.execute(settings).fetchall()
        out["settings/cursor"] = cur.execute(settings).fetchall()
        out["cursor/variables"] = cur.execute("SELECT * FROM duckdb_variables()").fetchall()
        out["cursor/prepared"] = cur.execute(
            "SELECT name FROM duckdb_prepared_statements()"
        ).fetchall()
        out["cursor/temp"] = cur.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE temporary"
        ).fetchall()
        # the cursor is not left inside a transaction
        cur.execute("BEGIN")
        cur.execute("ROLLBACK")
    finally:
        probe.close()
    return out


def files_around(db: store.Database, tmp: Path) -> set[str]:
    return {p.name for p in db.path.parent.iterdir()} | {p.name for p in tmp.iterdir()}


# --- the catalogue of hostile statements -----------------------------------------------------------

# (sql, a fragment the refusal must contain). {tmp} is a scratch directory nothing may appear in.
HOSTILE: list[tuple[str, str]] = [
    # data and schema
    ("INSERT INTO users VALUES (9, now(), 'x', 'y')", "changes data"),
    ("UPDATE users SET city = 'x'", "changes data"),
    ("DELETE FROM users", "changes data"),
    ("TRUNCATE users", "changes data"),
    ("MERGE INTO users USING users u2 ON true WHEN MATCHED THEN DELETE", "changes data"),
    ("INSERT OR REPLACE INTO ecotop_meta VALUES ('schema_version', '99')", "changes data"),
    ("CREATE TABLE x AS SELECT 1", "changes the schema"),
    ("CREATE TEMP TABLE x AS SELECT * FROM users", "changes the schema"),
    ("CREATE VIEW v AS SELECT 1", "changes the schema"),
    ("CREATE MACRO m(a) AS a", "changes the schema"),
    ("CREATE OR REPLACE MACRO rollup_window(s, e) AS TABLE SELECT 1", "changes the schema"),
    ("CREATE SEQUENCE s2", "changes the schema"),
    ("CREATE TYPE mood AS ENUM ('a')", "changes the schema"),
    ("CREATE SECRET (TYPE s3, KEY_ID 'x', SECRET 'y')", "changes the schema"),
    ("DROP TABLE users", "changes the schema"),
    ("DROP VIEW touchpoints", "changes the schema"),
    ("ALTER TABLE users ADD COLUMN x INT", "changes the schema"),
    ("ALTER TABLE users RENAME TO people", "changes the schema"),
    ("COMMENT ON TABLE users IS 'x'", "changes the schema"),
    # files and network
    ("COPY users TO '{tmp}/leak.csv'", "reads or writes files"),
    (
        "COPY (SELECT * FROM users) TO '{tmp}/leak.parquet' (FORMAT parquet)",
        "reads or writes files",
    ),
    ("COPY users FROM '/etc/passwd'", "reads or writes files"),
    ("EXPORT DATABASE '{tmp}/export'", "writes files"),
    ("IMPORT DATABASE '{tmp}/export'", "imports or copies a database"),
    ("COPY FROM DATABASE t TO m", "imports or copies a database"),
    ("ATTACH ':memory:' AS m", "attaches a database"),
    ("ATTACH '{tmp}/other.duckdb' AS o", "attaches a database"),
    ("DETACH t", "detaches a database"),
    ("INSTALL httpfs", "installs or loads an extension"),
    ("LOAD httpfs", "installs or loads an extension"),
    ("LOAD '{tmp}/evil.duckdb_extension'", "installs or loads an extension"),
    ("UPDATE EXTENSIONS", "may not run"),
    ("SELECT * FROM read_csv('/etc/passwd')", "calls read_csv()"),
    ("FROM read_csv_auto('/etc/passwd')", "calls read_csv_auto()"),
    ("FROM read_parquet('/etc/passwd')", "calls read_parquet()"),
    ("FROM read_json('/etc/passwd')", "calls read_json()"),
    ("FROM read_json_objects('/etc/passwd')", "calls read_json_objects()"),
    ("FROM read_ndjson('/etc/passwd')", "calls read_ndjson()"),
    ("FROM read_text('/etc/passwd')", "calls read_text()"),
    ("FROM read_blob('/etc/passwd')", "calls read_blob()"),
    ("FROM read_duckdb('/etc/passwd')", "calls read_duckdb()"),
    ("FROM parquet_metadata('/etc/passwd')", "calls parquet_metadata()"),
    ("FROM parquet_schema('/etc/passwd')", "calls parquet_schema()"),
    ("FROM sniff_csv('/etc/passwd')", "calls sniff_csv()"),
    ("FROM glob('/*')", "calls glob()"),
    ("SELECT count(*) FROM glob('/etc/*')", "calls glob()"),
    ("FROM duckdb_temporary_files()", "reads or lists files"),
    ("FROM duckdb_extensions()", "reads or lists files"),
    ("FROM '/etc/passwd'", "reading files is not allowed"),
    ("SELECT * FROM '/etc/passwd'", "reading files is not allowed"),
    ('SELECT * FROM "/etc/passwd"', "reading files is not allowed"),
    ("SELECT * FROM users, '{tmp}/x.csv'", "reading files is not allowed"),
    ("SELECT * FROM users u JOIN 'data.parquet' p ON true", "reading files is not allowed"),
    ("SELECT * FROM (SELECT * FROM 'x.csv')", "reading files is not allowed"),
    ("SELECT (SELECT count(*) FROM 'x.json')", "reading files is not allowed"),
    ("SELECT * FROM 'https://example.com/x.parquet'", "reading files is not allowed"),
    ("SELECT * FROM 's3://bucket/x.parquet'", "reading files is not allowed"),
    ("SELECT * FROM '~/.ssh/id_rsa'", "reading files is not allowed"),
    ("SELECT * FROM 'data*.csv'", "reading files is not allowed"),
    ("SELECT * FROM data.csv", "reading files is not allowed"),
    ("SELECT * FROM t.duckdb", "reading files is not allowed"),
    ("SELECT * FROM nope.main.users", "reading files is not allowed"),
    ("DESCRIBE '/etc/passwd'", "reading files is not allowed"),
    ("SUMMARIZE '/etc/passwd'", "reading files is not allowed"),
    ("SHOW '/etc/passwd'", "reading files is not allowed"),
    ("DESCRIBE SELECT * FROM read_csv('/etc/passwd')", "calls read_csv()"),
    ("SUMMARIZE SELECT * FROM 'x.csv'", "reading files is not allowed"),
    ("SELECT getenv('HOME')", "calls getenv()"),
    # sequences (they ignore ROLLBACK)
    ("SELECT nextval('s')", "calls nextval()"),
    ("SELECT setval('s', 100)", "calls setval()"),
    ("SELECT \"NextVal\"('s')", "calls nextval()"),
    ("SELECT system.main.nextval('s')", "calls nextval()"),
    ("SELECT user_id FROM users WHERE user_id = nextval('s')", "calls nextval()"),
    ("SELECT max(nextval('s')) OVER () FROM users", "calls nextval()"),
    # SQL given as text
    ("SELECT * FROM query('DELETE FROM users')", "calls query()"),
    ("SELECT * FROM query('SELECT * FROM read_csv(''/etc/passwd'')')", "calls query()"),
    ("FROM query_table('users')", "calls query_table()"),
    ("FROM json_execute_serialized_sql('{{}}')", "calls json_execute_serialized_sql()"),
    ("SELECT json_serialize_plan('SELECT 1')", "calls json_serialize_plan()"),
    # secrets, logs, internals, state
    ("FROM duckdb_secrets()", "calls duckdb_secrets()"),
    ("FROM which_secret('s3://x', 's3')", "calls which_secret()"),
    ("FROM duckdb_logs()", "calls duckdb_logs()"),
    ("FROM duckdb_prepared_statements()", "calls duckdb_prepared_statements()"),
    ("FROM checkpoint()", "calls checkpoint()"),
    ("FROM force_checkpoint()", "calls force_checkpoint()"),
    ("CALL enable_logging()", "calls a procedure"),
    ("FROM enable_logging()", "calls enable_logging()"),
    ("FROM truncate_duckdb_logs()", "calls truncate_duckdb_logs()"),
    ("SELECT write_log('x')", "calls write_log()"),
    ("SELECT setseed(0.5)", "calls setseed()"),
    ("SELECT sleep_ms(100000)", "calls sleep_ms()"),
    ("SELECT pg_sleep(100)", "calls pg_sleep()"),
    ("FROM add_grammar_extension('x')", "calls add_grammar_extension()"),
    ("FROM arrow_scan(1, 2, 3)", "calls arrow_scan()"),
    ("FROM python_map_function('x', 'y', 'z')", "calls python_map_function()"),
    # macros that read a table by name: the temp directory was readable through them (#15.8)
    ("FROM histogram('{tmp}/planted.csv', a)", "calls histogram() as a table"),
    ("FROM histogram('users', city)", "calls histogram() as a table"),
    ("FROM histogram_values('{tmp}/planted.csv', a)", "calls histogram_values()"),
    ("SELECT * FROM summary('{tmp}/x.csv')", "looks like a path"),
    # bounds memory_limit does not see (#15.5)
    ("SELECT length(repeat('x', 2000000000))", "asks repeat() for 2,000,000,000"),
    ("SELECT lpad('x', 2000000000, 'y')", "asks lpad()"),
    ("SELECT " + "(" * 300 + "1" + ")" * 300, "nested too deeply"),
    (" UNION ALL ".join(f"SELECT {i}" for i in range(1002)), "chains more than 1,000"),
    ("SELECT '" + "x" * 100_001 + "'", "longer than 100,000 characters"),
    ("SELECT __internal_json_copy_to_json(1)", "calls __internal_json_copy_to_json()"),
    # settings, transactions, procedures, maintenance
    ("SET threads = 64", "changes a setting"),
    ("SET GLOBAL memory_limit = '100GB'", "changes a setting"),
    ("SET enable_external_access = true", "changes a setting"),
    ("SET lock_configuration = false", "changes a setting"),
    ("SET TimeZone = 'Asia/Shanghai'", "changes a setting"),
    ("SET search_path = 'information_schema'", "changes a setting"),
    ("SET VARIABLE x = 1", "changes a setting"),
    ("RESET threads", "changes a setting"),
    ("USE memory", "changes a setting"),
    ("PRAGMA threads = 1", "changes a setting"),
    ("PRAGMA memory_limit = '1TB'", "changes a setting"),
    ("PRAGMA enable_profiling", "not a read-only pragma"),
    ("PRAGMA disable_progress_bar", "not a read-only pragma"),
    ("PRAGMA force_checkpoint", "not a read-only pragma"),
    ("PRAGMA disable_checkpoint_on_shutdown", "not a read-only pragma"),
    ("PRAGMA import_database('{tmp}')", "not a read-only pragma"),
    ("PRAGMA json_execute_serialized_sql('x')", "not a read-only pragma"),
    ("CALL pragma_version()", "calls a procedure"),
    ("CHECKPOINT", "calls a procedure"),
    ("FORCE CHECKPOINT", "calls a procedure"),
    ("VACUUM", "maintains storage"),
    ("ANALYZE", "maintains storage"),
    ("BEGIN", "controls the transaction"),
    ("BEGIN TRANSACTION READ ONLY", "controls the transaction"),
    ("COMMIT", "controls the transaction"),
    ("ROLLBACK", "controls the transaction"),
    ("ABORT", "controls the transaction"),
    ("PREPARE p AS SELECT 1", "prepares a statement"),
    ("EXECUTE p", "runs a prepared statement"),
    ("DEALLOCATE p", "changes the schema"),
    ("PIVOT users ON city USING count(*)", "runs several statements"),
    # EXPLAIN of a write, CTE-wrapped writes, comments and case
    ("EXPLAIN ANALYZE INSERT INTO users VALUES (9, now(), 'x', 'y')", "EXPLAIN of INSERT"),
    ("EXPLAIN ANALYZE DELETE FROM users", "EXPLAIN of DELETE"),
    ("EXPLAIN DELETE FROM users", "EXPLAIN of DELETE"),
    ("EXPLAIN (ANALYZE) UPDATE users SET city = 'x'", "EXPLAIN of UPDATE"),
    ("EXPLAIN (FORMAT json, ANALYZE) DELETE FROM users", "EXPLAIN of DELETE"),
    ("explain /* hi */ analyze -- there\n delete from users", "EXPLAIN of DELETE"),
    ("EXPLAIN PRAGMA version", "EXPLAIN of PRAGMA"),
    ("EXPLAIN ANALYZE SELECT nextval('s')", "calls nextval()"),
    ("WITH x AS (DELETE FROM users RETURNING *) SELECT * FROM x", "DELETE inside the query"),
    (
        "WITH x AS (INSERT INTO users VALUES (9, now(), 'a', 'b') RETURNING *) FROM x",
        "INSERT inside",
    ),
    ("WITH x AS (UPDATE users SET city = 'x' RETURNING *) SELECT 1", "UPDATE inside the query"),
    ("WITH a AS (SELECT 1), b AS (DELETE FROM users RETURNING 1) SELECT * FROM a", "DELETE inside"),
    ("/* SELECT */ DELETE FROM users", "changes data"),
    ("-- just a comment\nDrOp TaBlE users", "changes the schema"),
    ("SELECT 1; DELETE FROM users", "statement 2"),
    ("SELECT 1; SELECT 2; DROP TABLE users; SELECT 3", "statement 3"),
    ("SELECT 1;;DELETE FROM users;", "changes data"),
    ("SELECT 'a;b'; DELETE FROM users", "statement 2"),
]


# Statements DuckDB 1.5.5 no longer parses (2.0.1 did): a syntax error, nothing runs.
NOT_PARSED = ["SELECT 's'.nextval()"]


@pytest.mark.parametrize("sql", NOT_PARSED)
def test_statement_duckdb_cannot_parse_changes_nothing(
    opened: store.Database, cur: Any, sql: str
) -> None:
    before = snapshot(opened, cur)
    with pytest.raises(SqlError, match="syntax error"):
        guard.check(sql, cur)
    with pytest.raises(SqlError):
        guard.run(cur, sql, 10)
    assert snapshot(opened, cur) == before


# Refused only when a cursor's catalog is at hand (the name could be a database attached there).
CATALOG_ONLY = {"SELECT * FROM nope.main.users"}


def _render(sql: str, tmp: Path) -> str:
    return sql.replace("{tmp}", str(tmp)).replace("{{}}", "{}")


@pytest.mark.parametrize(("sql", "why"), HOSTILE, ids=[h[0][:60] for h in HOSTILE])
def test_hostile_statement_is_refused_and_changes_nothing(
    opened: store.Database, cur: Any, tmp_path: Path, sql: str, why: str
) -> None:
    sql = _render(sql, tmp_path)
    before = snapshot(opened, cur)
    files = files_around(opened, tmp_path)

    # the parser check alone, without a database ...
    if sql not in CATALOG_ONLY:
        with pytest.raises(SqlRefused, match=_escape(why)):
            guard.check(sql)
    # ... with the cursor (catalog-aware), and through run and stream, which check again
    with pytest.raises(SqlRefused) as info:
        guard.check(sql, cur)
    message = str(info.value)
    assert why in message, message
    assert "\n" not in message and message.startswith("refused")
    with pytest.raises(SqlRefused):
        guard.run(cur, sql, 10)
    with pytest.raises(SqlRefused):
        guard.stream(cur, sql, 10)

    assert snapshot(opened, cur) == before
    assert files_around(opened, tmp_path) == files


def _escape(text: str) -> str:
    import re

    return re.escape(text)


# --- benign statements work ------------------------------------------------------------------------

BENIGN: list[tuple[str, int | None]] = [
    ("SELECT 1", 1),
    ("select * from users", 3),
    ("FROM users", 3),
    ("TABLE merchants", 2),
    (
        "SELECT u.city, count(*) AS n, sum(t.amount) AS gmv FROM transactions t "
        "JOIN users u USING (user_id) JOIN merchants m USING (merchant_id) "
        "WHERE t.status <> 'failed' GROUP BY ALL ORDER BY gmv DESC",
        None,
    ),
    (
        "WITH paid AS (SELECT * FROM transactions WHERE status <> 'failed') "
        "SELECT merchant_id, sum(amount) FROM paid GROUP BY 1",
        2,
    ),
    (
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5) SELECT * FROM r",
        5,
    ),
    (
        "SELECT tx_id, amount, sum(amount) OVER (PARTITION BY merchant_id ORDER BY ts) AS running, "
        "row_number() OVER w AS rn FROM transactions WINDOW w AS (ORDER BY ts) QUALIFY rn <= 3",
        3,
    ),
    (
        "SELECT * FROM users u, LATERAL (SELECT count(*) AS n FROM transactions t "
        "WHERE t.user_id = u.user_id)",
        3,
    ),
    (
        "SELECT * FROM users WHERE user_id IN (SELECT user_id FROM transactions) "
        "AND EXISTS (SELECT 1 FROM merchants)",
        3,
    ),
    ("SELECT 1 UNION ALL SELECT 2 EXCEPT SELECT 2", 1),
    ("DESCRIBE users", 4),
    ("DESCRIBE SELECT * FROM transactions", 9),
    ("SHOW TABLES", None),
    ("SHOW ALL TABLES", None),
    ("SHOW users", 4),
    ("SUMMARIZE users", 4),
    ("SUMMARIZE SELECT amount FROM transactions", 1),
    ("EXPLAIN SELECT * FROM users", None),
    ("EXPLAIN ANALYZE SELECT count(*) FROM transactions", None),
    ("EXPLAIN (FORMAT json) SELECT 1", None),
    ("PRAGMA table_info('users')", 4),
    ("PRAGMA version", 1),
    ("PRAGMA show_tables", None),
    ("PRAGMA database_size", 1),
    ("SELECT * FROM pragma_table_info('transactions')", 9),
    (
        "SELECT * FROM rollup_window(TIMESTAMPTZ '2024-02-01 00:00:00+00', "
        "TIMESTAMPTZ '2024-02-02 00:00:00+00')",
        None,
    ),
    (
        "SELECT user_id, bit_or(flags) FROM active_window(TIMESTAMPTZ '2024-01-01 00:00:00+00', "
        "TIMESTAMPTZ '2024-03-01 00:00:00+00') GROUP BY 1",
        3,
    ),
    ("FROM touchpoints", None),
    ("FROM activity_events", None),
    ("SELECT * FROM main.users", 3),
    ("SELECT count(*) FROM t.main.users", 1),
    ("SELECT count(*) FROM t.users", 1),
    ("FROM information_schema.tables", None),
    ("FROM pg_catalog.pg_class", None),
    ("FROM duckdb_tables()", None),
    ("SELECT * FROM duckdb_settings() WHERE name = 'threads'", 1),
    ("SELECT current_setting('TimeZone')", 1),
    ("FROM range(10)", 10),
    ("SELECT * FROM generate_series(1, 3)", 3),
    ("SELECT unnest([1, 2, 3])", 3),
    ("PIVOT users ON city IN ('上海', 'Xiamen') USING count(*)", None),
    ("UNPIVOT (SELECT 1 AS a, 2 AS b) ON a, b INTO NAME k VALUE v", 2),
    ("SELECT 'delete from users; drop table users' AS harmless", 1),
    ("-- drop table users\nSELECT 1 /* insert into users */", 1),
    ('SELECT 1 AS "delete"', 1),
    ("SELECT random() < 2 AS ok", 1),
    ("SELECT '星巴克' || name FROM merchants", 2),
    ("SELECT amount * 2 FROM transactions", 4),
    ("SELECT histogram(amount) FROM transactions", 1),
    ("SELECT repeat('ab', 3) AS r", 1),
    ("SELECT '上海;' AS a, 'b' AS b", 1),
]


@pytest.mark.parametrize(("sql", "rows"), BENIGN, ids=[b[0][:60] for b in BENIGN])
def test_benign_statement_runs(
    opened: store.Database, cur: Any, sql: str, rows: int | None
) -> None:
    before = snapshot(opened, cur)
    assert guard.check(sql) == [sql]
    result = guard.run(cur, sql, None)
    if rows is not None:
        assert result.table.num_rows == rows
    assert not result.truncated
    assert [n for n, _ in result.columns] == result.table.column_names
    assert result.elapsed_ms >= 0
    assert snapshot(opened, cur) == before


def test_columns_carry_duckdb_types(cur: Any) -> None:
    r = guard.run(cur, "SELECT tx_id, amount, ts, entry FROM transactions", 1)
    assert r.columns == [
        ("tx_id", "BIGINT"),
        ("amount", "DECIMAL(18,2)"),
        ("ts", "TIMESTAMP WITH TIME ZONE"),
        ("entry", "VARCHAR"),
    ]
    assert r.table.schema.field("amount").type == pa.decimal128(18, 2)


# --- splitting -----------------------------------------------------------------------------------


def test_check_splits_into_verbatim_consecutive_slices() -> None:
    sql = "SELECT 1 AS \"x;y\";\n  -- c\nSELECT 'a;b' ;SELECT 3"
    parts = guard.check(sql)
    assert len(parts) == 3
    assert "".join(parts) == sql
    assert guard.check("SELECT '星巴克;咖啡' AS a; SELECT 2") == [
        "SELECT '星巴克;咖啡' AS a;",
        " SELECT 2",
    ]
    assert guard.check("") == []
    assert guard.check("  -- only a comment\n") == []


def test_run_takes_one_statement(cur: Any) -> None:
    with pytest.raises(SqlRefused, match="one statement at a time"):
        guard.run(cur, "SELECT 1; SELECT 2", None)
    with pytest.raises(SqlRefused, match="no SQL statement"):
        guard.run(cur, "-- nothing", None)


# --- limits, truncation, streaming -------------------------------------------------------------------


def test_limit_cuts_and_says_so(cur: Any) -> None:
    r = guard.run(cur, "SELECT * FROM transactions ORDER BY tx_id", 2)
    assert r.table.num_rows == 2 and r.truncated
    assert r.table.column("tx_id").to_pylist() == [100, 101]
    r = guard.run(cur, "SELECT * FROM transactions", 4)
    assert r.table.num_rows == 4 and not r.truncated
    r = guard.run(cur, "SELECT * FROM transactions", None)
    assert r.table.num_rows == 4 and not r.truncated
    r = guard.run(cur, "SELECT * FROM transactions", 0)
    assert r.table.num_rows == 0 and r.truncated
    r = guard.run(cur, "SELECT * FROM transactions WHERE false", 0)
    assert r.table.num_rows == 0 and not r.truncated
    with pytest.raises(SqlRefused):
        guard.run(cur, "SELECT 1", -1)


def test_limit_is_pushed_into_duckdb(cur: Any) -> None:
    # Every row past the first vectors would raise: only a limit inside DuckDB stops before them.
    sql = (
        "SELECT CASE WHEN range < 100000 THEN range ELSE error('evaluated past the limit') END AS v "
        "FROM range(10000000)"
    )
    r = guard.run(cur, sql, 5)
    assert r.table.column("v").to_pylist() == [0, 1, 2, 3, 4] and r.truncated
    with guard.stream(cur, sql, 7, batch_rows=3) as s:
        assert [b.num_rows for b in s] == [3, 3, 1]
    assert s.truncated and s.rows == 7
    with pytest.raises(SqlError, match="evaluated past the limit"):
        guard.run(cur, sql, None)


def test_stream_yields_batches_and_rolls_back(cur: Any) -> None:
    s = guard.stream(cur, "SELECT range AS n FROM range(250000)", None, batch_rows=100_000)
    assert s.columns == [("n", "BIGINT")]
    assert s.schema.names == ["n"]
    sizes = [b.num_rows for b in s]
    assert sum(sizes) == 250_000 and max(sizes) <= 100_000
    assert not s.truncated and s.rows == 250_000
    # the read-only transaction is over: the cursor can start its own
    cur.execute("BEGIN")
    cur.execute("ROLLBACK")
    # stopping early and closing also ends it
    with guard.stream(cur, "SELECT range FROM range(1000000)", 10) as s2:
        next(iter(s2))
    cur.execute("BEGIN")
    cur.execute("ROLLBACK")


def test_stream_limit_exact(cur: Any) -> None:
    with guard.stream(cur, "SELECT range FROM range(10)", 10, batch_rows=4) as s:
        assert sum(b.num_rows for b in s) == 10
    assert not s.truncated


# --- errors keep their position -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("sql", "kind", "line", "column", "token"),
    [
        ("SELEC 1", "Parser Error", 1, 1, "SELEC"),
        ("SELECT nme FROM users", "Binder Error", 1, 8, "nme"),
        ("SELECT *\nFROM usrs", "Catalog Error", 2, 6, "usrs"),
        ("SELECT\n  user_id,\n  cty\nFROM users", "Binder Error", 3, 3, "cty"),
        ("SELECT 1 + 'a'::INTEGER", "Conversion Error", 1, 15, "::INTEGER"),
        (
            "SELECT " + ", ".join(f"user_id AS c{i}" for i in range(40)) + ", nme FROM users",
            "Binder Error",
            1,
            None,
            "nme",
        ),
    ],
)
def test_sql_errors_are_one_line_with_position(
    cur: Any, sql: str, kind: str, line: int, column: int | None, token: str
) -> None:
    with pytest.raises(SqlError) as info:
        guard.run(cur, sql, 10)
    err = info.value
    assert str(err).startswith(kind) and "\n" not in str(err)
    assert err.line == line
    if column is not None:
        assert err.column == column
    assert sql[err.offset : err.offset + len(token)] == token
    assert f"(line {err.line}, column {err.column})" in str(err)
    # the cursor is usable afterwards and no transaction is left open
    assert guard.run(cur, "SELECT 1", None).table.num_rows == 1


def test_check_reports_syntax_errors_in_the_whole_text() -> None:
    with pytest.raises(SqlError) as info:
        guard.check("SELECT 1;\nSELECT 2;\n  SELEC 3")
    assert info.value.line == 3 and info.value.column == 3


def test_run_refuses_a_connection_that_was_not_locked_down() -> None:
    raw = duckdb.connect()
    try:
        with pytest.raises(SqlRefused, match="lockdown"):
            guard.run(raw, "SELECT 1", None)
    finally:
        raw.close()


# --- cancellation ------------------------------------------------------------------------------


def test_interrupt_from_another_thread_cancels(cur: Any) -> None:
    slow = (
        "SELECT count(*) FROM range(100000000) a, range(1000) b WHERE (a.range * b.range) % 7 = 3"
    )
    caught: list[BaseException] = []

    def work() -> None:
        try:
            guard.run(cur, slow, None)
        except SqlError as exc:
            caught.append(exc)

    t = threading.Thread(target=work)
    t.start()
    time.sleep(0.3)
    cur.interrupt()
    t.join(30)
    assert not t.is_alive()
    assert caught and isinstance(caught[0], guard.SqlCancelled)
    assert "interrupted" in str(caught[0])
    assert guard.run(cur, "SELECT 1", None).table.num_rows == 1


def test_interrupt_cancels_a_stream(cur: Any) -> None:
    s = guard.stream(
        cur, "SELECT a.range FROM range(100000000) a, range(100) b", None, batch_rows=1000
    )
    it = iter(s)
    next(it)
    threading.Timer(0.1, cur.interrupt).start()
    with pytest.raises(guard.SqlCancelled):
        for _ in it:
            pass
    assert guard.run(cur, "SELECT 1", None).table.num_rows == 1


# --- layer 2: the lockdown holds on its own --------------------------------------------------------


@pytest.mark.parametrize(
    "sql",
    [
        "SET enable_external_access = true",
        "SET lock_configuration = false",
        "RESET lock_configuration",
        "SET threads = 1",
        "SET GLOBAL TimeZone = 'Asia/Shanghai'",
        "SET allowed_configs = ['threads']",
        "SET allowed_directories = ['/']",
    ],
)
def test_lockdown_refuses_every_setting(cur: Any, sql: str) -> None:
    with pytest.raises(duckdb.Error, match="configuration has been locked"):
        cur.execute(sql)


@pytest.mark.parametrize("sql", ["PRAGMA enable_profiling", "CALL enable_logging()"])
def test_what_the_lock_lets_through_on_1_5_the_parser_check_refuses(cur: Any, sql: str) -> None:
    # DuckDB 1.5.5's lock_configuration does not stop these two (2.0.1 did): layer 1 is the defence.
    with pytest.raises(SqlRefused):
        guard.check(sql, cur)
    with pytest.raises(SqlRefused):
        guard.run(cur, sql, 1)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_text('/etc/passwd')",
        "FROM glob('/*')",
        "FROM '/etc/passwd'",
        "DESCRIBE '/etc/passwd'",
        "SUMMARIZE '/etc/passwd'",
        "COPY (SELECT 1) TO '{tmp}/x.csv'",
        "EXPORT DATABASE '{tmp}/export'",
        "INSTALL httpfs",
        "LOAD httpfs",
        "FROM duckdb_secrets()",
        "SELECT * FROM 'https://example.com/x.csv'",
    ],
)
def test_lockdown_blocks_files_and_network_without_the_parser_check(
    opened: store.Database, cur: Any, tmp_path: Path, sql: str
) -> None:
    files = files_around(opened, tmp_path)
    with pytest.raises(duckdb.Error):
        cur.execute(_render(sql, tmp_path)).fetchall()
    assert files_around(opened, tmp_path) == files


def test_lockdown_blocks_python_replacement_scans(cur: Any) -> None:
    secret_frame_variable = pa.table({"x": [1]})  # noqa: F841 - DuckDB could scan it by name
    with pytest.raises(duckdb.Error):
        cur.execute("SELECT * FROM secret_frame_variable").fetchall()


def test_lockdown_keeps_the_store_settings(cur: Any) -> None:
    assert cur.execute(
        "SELECT current_setting('TimeZone'), current_setting('enable_external_access'), "
        "current_setting('lock_configuration'), current_setting('threads')"
    ).fetchall() == [("UTC", False, True, 2)]
    # progress for the console: on, and never printed over the screen
    guard.run(cur, "SELECT 1", None)
    assert cur.execute(
        "SELECT current_setting('enable_progress_bar'), current_setting('enable_progress_bar_print')"
    ).fetchall() == [(True, False)]


# --- layer 3: the read-only transaction holds on its own ----------------------------------------------


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO users VALUES (9, now(), 'x', 'y')",
        "DELETE FROM users",
        "SELECT nextval('s')",
        "SELECT setval('s', 5)",
        "WITH x AS (DELETE FROM users RETURNING *) SELECT * FROM x",
        "EXPLAIN ANALYZE DELETE FROM users",
        "CREATE TABLE x (a INT)",
    ],
)
def test_read_only_transaction_blocks_writes_without_the_parser_check(
    opened: store.Database, cur: Any, sql: str
) -> None:
    before = snapshot(opened, cur)
    cur.execute("BEGIN TRANSACTION READ ONLY")
    try:
        with pytest.raises(duckdb.Error):
            cur.execute(sql).fetchall()
    finally:
        cur.execute("ROLLBACK")
    assert snapshot(opened, cur) == before


# --- the store still works after lockdown ------------------------------------------------------------


def test_ingestion_checkpoint_and_rollups_work_after_lockdown(
    template: Path, tmp_path: Path
) -> None:
    path = tmp_path / "w.duckdb"
    shutil.copy(template, path)
    db = store.open_db(path, write=True)
    try:
        assert guard.is_locked_down(db.con)
        batch = pa.table(
            {
                "tx_id": pa.array([200, 201], pa.int64()),
                "ts": pa.array([1706781600000000, 1706781660000000], pa.timestamp("us", tz="UTC")),
                "user_id": pa.array([1, 2], pa.int64()),
                "merchant_id": pa.array([10, 11], pa.int64()),
                "amount": pa.array([1, 2], pa.decimal128(18, 2)),
                "entry": ["qr", "qr"],
                "status": ["success", "success"],
                "refunded_at": pa.array([None, None], pa.timestamp("us", tz="UTC")),
                "live_id": pa.array([None, None], pa.int64()),
            }
        )
        con = db.con
        con.register("batch", batch)
        con.execute("BEGIN")
        con.execute("INSERT INTO transactions SELECT * FROM batch")
        rollups.apply(con, {"transactions": "batch"})
        con.execute("COMMIT")
        con.unregister("batch")
        con.execute("CHECKPOINT")
        rollups.rebuild(con)
        assert con.execute("SELECT count(*) FROM transactions").fetchall() == [(6,)]
        got = con.execute(
            "SELECT sum(value) FROM rollup_minute WHERE measure = 'pay.attempts'"
        ).fetchall()
        assert got[0][0] == 6
    finally:
        db.close()
    # a second open in the same process shares the locked instance
    db = store.open_db(path, write=True)
    db2 = store.open_db(path, write=True)
    try:
        assert (
            guard.run(db2.cursor(), "SELECT count(*) FROM transactions", None).table.num_rows == 1
        )
    finally:
        db2.close()
        db.close()


def test_spilling_to_the_temp_directory_works_after_lockdown(
    template: Path, tmp_path: Path
) -> None:
    spill = tmp_path / "spill"
    path = tmp_path / "s.duckdb"
    shutil.copy(template, path)
    db = store.open_db(path, limits=store.Limits(memory_limit="32MB", temp_directory=str(spill)))
    seen: set[str] = set()
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            if spill.is_dir():  # inside this process's private subdirectory (#15.8)
                with contextlib.suppress(OSError):
                    seen.update(p.name for p in spill.rglob("*"))
            time.sleep(0.01)

    t = threading.Thread(target=watch)
    t.start()
    try:
        # a hash table of 1M distinct 64-byte keys in 32 MB: only possible by spilling
        r = guard.run(
            db.cursor(),
            "SELECT count(*) AS n FROM (SELECT s, count(*) FROM (SELECT md5(range::VARCHAR) "
            "|| md5((range + 1)::VARCHAR) AS s FROM range(1000000)) GROUP BY s)",
            1,
        )
    finally:
        stop.set()
        t.join()
        db.close()
    assert r.table.to_pylist() == [{"n": 1000000}]
    assert any(name.startswith("duckdb_temp") for name in seen), seen


# --- the policy lists cover DuckDB's function list ---------------------------------------------------


def test_every_builtin_table_function_is_allowed_or_denied() -> None:
    con = duckdb.connect()
    try:
        builtin = {
            r[0]
            for r in con.execute(
                "SELECT DISTINCT function_name FROM duckdb_functions() "
                "WHERE function_type IN ('table', 'table_macro') AND internal"
            ).fetchall()
        }
        side_effects = {
            r[0]
            for r in con.execute(
                "SELECT DISTINCT function_name FROM duckdb_functions() WHERE has_side_effects"
            ).fetchall()
        }
    finally:
        con.close()
    unknown = builtin - guard.ALLOWED_TABLE_FUNCTIONS - set(guard.DENIED_FUNCTIONS)
    assert not unknown, f"new table functions in this DuckDB: decide on {sorted(unknown)}"
    assert builtin >= guard.ALLOWED_TABLE_FUNCTIONS, "allow-list names a function that is gone"
    unknown = side_effects - guard.SIDE_EFFECTS_ALLOWED - set(guard.DENIED_FUNCTIONS)
    assert not unknown, f"new functions with side effects: decide on {sorted(unknown)}"
    assert not guard.ALLOWED_TABLE_FUNCTIONS & set(guard.DENIED_FUNCTIONS)


def test_every_allowed_pragma_runs_read_only(cur: Any) -> None:
    for name in sorted(guard.READ_ONLY_PRAGMAS):
        sql = (
            f"PRAGMA {name}('users')"
            if name in ("table_info", "storage_info")
            else f"PRAGMA {name}"
        )
        guard.run(cur, sql, 5)


def test_no_macro_appears(cur: Any) -> None:
    def macros() -> list[Any]:
        return cur.execute(
            "SELECT function_name FROM duckdb_functions() WHERE NOT internal ORDER BY 1"
        ).fetchall()

    before = macros()
    assert ("rollup_window",) in before
    for sql in (
        "CREATE MACRO m(a) AS a",
        "CREATE TEMP MACRO m(a) AS a",
        "CREATE OR REPLACE MACRO rollup_window(s, e) AS TABLE SELECT 1",
        "CREATE FUNCTION f(a) AS a",
    ):
        with pytest.raises(SqlRefused, match="changes the schema"):
            guard.run(cur, sql, None)
    assert macros() == before


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT " + "abs(" * 600 + "1" + ")" * 600,
        "SELECT " + "(SELECT " * 400 + "1" + ")" * 400,
        "SELECT " + "abs(" * 600 + "nextval('s')" + ")" * 600,
    ],
    ids=["functions", "subqueries", "hidden-nextval"],
)
def test_sql_nested_too_deeply_is_refused_not_crashed(cur: Any, sql: str) -> None:
    with pytest.raises(SqlRefused, match="nested too deeply"):
        guard.run(cur, sql, 1)


def test_a_function_deep_inside_is_still_found(cur: Any) -> None:
    sql = "SELECT " + "abs(" * 200 + "nextval('s')" + ")" * 200
    with pytest.raises(SqlRefused, match="calls nextval"):
        guard.run(cur, sql, 1)
    sql = "SELECT list_transform([1, 2], x -> x + nextval('s'))"
    with pytest.raises(SqlRefused, match="calls nextval"):
        guard.run(cur, sql, 1)
