"""A lake opens like a file: the same numbers from every named query and `kpis`, unqualified table
names in `query`, the guard unchanged, and one clear line for every way opening can fail."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from lakehelp import cli

from ecotop import queries
from ecotop.store import guard, lake, open_db
from ecotop.store.errors import SqlRefused, StoreError

pytestmark = pytest.mark.slow

RANGES = ("1h", "24h", "7d")


def _sorted(t: pa.Table) -> list[tuple[Any, ...]]:
    rows = [tuple(r.values()) for r in t.to_pylist()]
    return sorted(rows, key=repr)


def _params(cur: Any, range_key: str) -> dict[str, Any]:
    as_of = queries.resolve_as_of(cur)
    w = queries.window(range_key, as_of)
    top = cur.execute(
        "SELECT merchant_id FROM transactions GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1"
    ).fetchall()[0][0]
    mod = int(dict(cur.execute("SELECT key, value FROM ecotop_meta").fetchall())["sample_mod"])
    return {
        **w.params(),
        "n": 10,
        "mod": mod,
        "tz": "Asia/Shanghai",
        "m": top,
        "id": top,
        "text": "a",
        "limit": 50,
        "step": 3600,
    }


@pytest.mark.parametrize("range_key", RANGES)
def test_every_named_query_gives_the_same_rows_on_the_lake_and_the_file(
    sample_file: Path, sample_lake: Any, range_key: str
) -> None:
    fdb = open_db(sample_file)
    ldb = lake.open_lake(sample_lake.uri)
    try:
        fcur, lcur = fdb.cursor(), ldb.cursor()
        params = _params(fcur, range_key)
        assert _params(lcur, range_key) == params
        ran = 0
        for name, q in sorted(queries.registry().items()):
            assert q.params <= params.keys(), name
            want = q.run(fcur, **params)
            got = q.run(lcur, **params)
            assert got.column_names == want.column_names, name
            assert _sorted(got) == _sorted(want), name
            ran += 1
        assert ran == len(queries.registry()) >= 40
        # not vacuous: the window holds payments
        assert queries.get("pay/headline").run(lcur, **params).num_rows
    finally:
        fdb.close()
        ldb.close()


def test_kpis_json_gives_equal_pillars_for_1h_24h_7d(sample_file: Path, sample_lake: Any) -> None:
    for r in RANGES:
        f = cli("kpis", str(sample_file), "--range", r, "--json")
        lk = cli("kpis", sample_lake.uri, "--range", r, "--json")
        assert f.returncode == 0 and lk.returncode == 0, (f.stderr, lk.stderr)
        fj, lj = json.loads(f.stdout), json.loads(lk.stdout)
        assert lj["pillars"] == fj["pillars"], r
        assert lj["as_of"] == fj["as_of"]


def test_query_takes_unqualified_table_names(sample_file: Path, sample_lake: Any) -> None:
    sql = "SELECT count(*) AS n, sum(amount) AS gmv FROM transactions"
    f = cli("query", str(sample_file), sql, "--format", "json")
    lk = cli("query", sample_lake.uri, sql, "--format", "json")
    assert lk.returncode == 0, lk.stderr
    assert json.loads(lk.stdout) == json.loads(f.stdout)
    assert json.loads(lk.stdout)[0]["n"] > 1000


@pytest.mark.parametrize(
    ("sql", "why"),
    [
        ("SELECT * FROM read_parquet('/etc/passwd')", "reads or lists files"),
        ("SELECT * FROM '/etc/passwd'", "reading files is not allowed"),
        ("ATTACH 'x.duckdb' AS x", "attaches a database"),
        ("INSERT INTO users VALUES (1, now(), 'a', 'b')", "changes data"),
        ("CALL ducklake_expire_snapshots('lake', versions => [1])", "calls a procedure"),
        (
            "SELECT * FROM postgres_query('__ducklake_metadata_lake', 'SELECT 1')",
            "Postgres catalog",
        ),
        (
            "SELECT * FROM postgres_execute('__ducklake_metadata_lake', 'DROP TABLE x')",
            "Postgres catalog",
        ),
        # setting an option after the lockdown crashed the process (SIGSEGV) before the guard knew
        (
            "SELECT * FROM ducklake_set_option(current_database(), 'data_inlining_row_limit', 5)",
            "maintains the lake",
        ),
        ("SELECT * FROM ducklake_merge_adjacent_files(current_database())", "maintains the lake"),
        ("SELECT * FROM ducklake_list_files(current_database(), 'users')", "lists files"),
    ],
)
def test_the_guard_applies_unchanged_on_a_lake(sample_lake: Any, sql: str, why: str) -> None:
    db = lake.open_lake(sample_lake.uri)
    try:
        with pytest.raises(SqlRefused, match=why):
            guard.run(db.cursor(), sql, 10)
        # and the data directory is reachable only through the lake's own tables
        assert guard.run(db.cursor(), "SELECT count(*) FROM users", 10).table.num_rows == 1
    finally:
        db.close()


def test_a_reader_cannot_write_even_bypassing_the_guard(sample_lake: Any, tmp_path: Path) -> None:
    db = lake.open_lake(sample_lake.uri)
    try:
        with pytest.raises(Exception, match="read-only"):
            db.cursor().execute("INSERT INTO ecotop_meta VALUES ('x', 'y')")
        # outside the lake's data directory nothing is reachable from SQL at all
        with pytest.raises(Exception, match="(?i)external access|permission|disabled"):
            db.cursor().execute(f"COPY users TO '{tmp_path}/leak.csv'")
        with pytest.raises(Exception, match="(?i)external access|permission|disabled"):
            db.cursor().execute("SELECT * FROM read_csv('/etc/passwd')")
        assert not (tmp_path / "leak.csv").exists()
    finally:
        db.close()


def test_a_read_only_catalog_role_cannot_write(postgres: Any, sample_lake: Any) -> None:
    """Readers given a Postgres role with SELECT only cannot write even through a bug."""
    postgres.sql("DROP ROLE IF EXISTS ecotop_reader")
    postgres.sql("CREATE ROLE ecotop_reader LOGIN")
    postgres.sql("GRANT SELECT ON ALL TABLES IN SCHEMA public TO ecotop_reader", sample_lake.dbname)
    uri = f"ducklake:postgres:{postgres.libpq(sample_lake.dbname, 'ecotop_reader')}"
    db = lake.open_lake(uri)
    try:
        n = db.cursor().execute("SELECT count(*) FROM transactions").fetchall()[0][0]
        assert n > 1000
    finally:
        db.close()
    # a writer open with the reader role is refused by the catalog at its first write
    with pytest.raises((StoreError, Exception), match="(?i)permission denied"):
        w = lake.open_lake(uri, write=True)
        try:
            w.cursor().execute("INSERT INTO ecotop_meta VALUES ('x', 'y')")
        finally:
            w.close()


def test_open_errors_are_one_line(postgres: Any, sample_lake: Any, tmp_path: Path) -> None:
    port = postgres.port
    cases = {
        # nothing listens on port 1
        "ducklake:postgres:dbname=x host=127.0.0.1 port=1 user=postgres": "unreachable",
        f"ducklake:postgres:dbname=nosuchdb host=127.0.0.1 port={port} user=postgres": "not a lake",
        f"ducklake:postgres:dbname=postgres host=127.0.0.1 port={port} user=postgres": "not a lake",
        f"ducklake:postgres:dbname=x host=127.0.0.1 port={port} password=secret": "password",
        f"ducklake:{tmp_path / 'none.ducklake'}": "not a lake",
    }
    for uri, why in cases.items():
        r = cli("kpis", uri)
        assert r.returncode == 1, (uri, r.stdout, r.stderr)
        assert why in r.stderr, (uri, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert "Traceback" not in r.stderr


def test_passwords_come_from_the_environment_and_a_wrong_one_is_one_line(
    postgres: Any, sample_lake: Any
) -> None:
    from lake_names import PASSWORD_ROLE

    postgres.sql(f"DROP OWNED BY {PASSWORD_ROLE}", sample_lake.dbname) if postgres.sql(
        f"SELECT 1 FROM pg_roles WHERE rolname = '{PASSWORD_ROLE}'"
    ) else None
    postgres.sql(f"DROP ROLE IF EXISTS {PASSWORD_ROLE}")
    postgres.sql(f"CREATE ROLE {PASSWORD_ROLE} LOGIN PASSWORD 'right-one'")
    postgres.sql(
        f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {PASSWORD_ROLE}", sample_lake.dbname
    )
    uri = f"ducklake:postgres:{postgres.libpq(sample_lake.dbname, PASSWORD_ROLE)}"
    wrong = cli("kpis", uri, env={"PGPASSWORD": "wrong"})
    assert wrong.returncode == 1
    assert "refused the login" in wrong.stderr
    assert len(wrong.stderr.strip().splitlines()) == 1 and "Traceback" not in wrong.stderr
    right = cli("kpis", uri, "--json", env={"PGPASSWORD": "right-one"})
    assert right.returncode == 0, right.stderr
    assert json.loads(right.stdout)["pillars"]


def test_missing_data_directory_is_one_line(new_lake: Any, sample_file: Path) -> None:
    lk = new_lake()
    lake.init_lake(lk.uri, lk.data).close()
    lk.data.rename(lk.data.with_name(lk.data.name + "-moved"))
    r = cli("kpis", lk.uri)
    assert r.returncode == 1
    assert "data directory" in r.stderr and "missing" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_a_file_catalog_lake_works_the_same(sample_file: Path, tmp_path: Path) -> None:
    uri = f"ducklake:{tmp_path / 'eco.ducklake'}"
    r = cli("lake", "init", uri, "--data", str(tmp_path / "data"))
    assert r.returncode == 0, r.stderr
    r = cli("lake", "import", str(sample_file), uri)
    assert r.returncode == 0, r.stderr
    f = cli("kpis", str(sample_file), "--range", "24h", "--json")
    lk = cli("kpis", uri, "--range", "24h", "--json")
    assert lk.returncode == 0, lk.stderr
    assert json.loads(lk.stdout)["pillars"] == json.loads(f.stdout)["pillars"]
    # a second init of the same catalog is refused
    again = cli("lake", "init", uri, "--data", str(tmp_path / "data2"))
    assert again.returncode == 1 and "already holds a lake" in again.stderr


def test_lake_init_partitions_raw_tables_by_day(sample_lake: Any) -> None:
    db = lake.open_lake(sample_lake.uri)
    try:
        files = (
            db.cursor()
            .execute("SELECT count(*) FROM ducklake_list_files(current_database(), 'transactions')")
            .fetchall()[0][0]
        )
        days = (
            db.cursor()
            .execute("SELECT count(DISTINCT date_trunc('day', ts)) FROM transactions")
            .fetchall()[0][0]
        )
        # one file per day at least: partitioned by year/month/day of ts
        assert files >= days >= 10
    finally:
        db.close()


def test_an_older_lake_says_to_migrate_and_lake_migrate_upgrades_it(new_lake: Any) -> None:
    lk = new_lake()
    lake.init_lake(lk.uri, lk.data, version=2).close()
    r = cli("kpis", lk.uri)
    assert r.returncode == 1 and f"ecotop lake migrate {lk.uri}" in r.stderr
    m = cli("lake", "migrate", lk.uri)
    assert m.returncode == 0, m.stderr
    assert json.loads(m.stdout)["to"] == json.loads(m.stdout)["from"] + 1 >= 3
    assert cli("kpis", lk.uri, "--json").returncode == 0
    again = cli("lake", "migrate", lk.uri)
    assert again.returncode == 0 and "nothing to do" in again.stderr
