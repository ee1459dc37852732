"""Loading checked files: the Loader checks ids against the database (by primary-key index or semi
join) and writes a file, or a group of small files, in ONE transaction with its rollup deltas and
its `ingest_log` row.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from ecotop.store import rollups
from ecotop.store.spool.check import _masked, _says, stage
from ecotop.store.spool.read import file_format, file_kind, parse, sha256
from ecotop.store.spool.results import (
    INDEX_LOOKUP_MAX,
    MAX_PROBLEMS,
    FileResult,
    Problem,
    Rejected,
    _int_list,
    _q,
)
from ecotop.store.spool.updates import apply_updates
from ecotop.store.spool_format import (
    ENTITIES,
    INSERT_ORDER,
    KINDS,
)

# -- the loader ------------------------------------------------------------------------------------


@dataclass
class Prepared:
    """A file checked as far as it can be without the database: typed rows per kind."""

    res: FileResult
    typed: dict[str, pa.Table] = field(default_factory=dict)
    unit: str = "line"
    duplicate: bool = False
    elapsed_s: float = 0.0


class Loader:
    """Loads spool files into an open writable database on one cursor (one thread).

    `load(name, raw)` does everything for one file except moving it; `Spool` decides where it goes.
    `timings` sums seconds per phase over files (for benchmarks).
    """

    def __init__(self, cur: duckdb.DuckDBPyConnection) -> None:
        self.cur = cur
        self._views: list[str] = []
        self._sizes: dict[str, int] | None = None
        self.typed: dict[str, pa.Table] = {}  # the file's rows per kind, typed (table column names)
        self.timings: dict[str, float] = {}
        self._tables = {
            r[0] for r in cur.execute("SELECT table_name FROM duckdb_tables()").fetchall()
        }

    def _lap(self, phase: str, t0: float) -> float:
        t = time.perf_counter()
        self.timings[phase] = self.timings.get(phase, 0.0) + (t - t0)
        return t

    # Public ------------------------------------------------------------------------------------

    def already_ingested(self, checksum: str, cur: duckdb.DuckDBPyConnection | None = None) -> bool:
        rows = (
            (cur or self.cur)
            .execute(
                "SELECT 1 FROM ingest_log WHERE checksum = $c AND outcome = 'ingested' LIMIT 1",
                {"c": checksum},
            )
            .fetchall()
        )
        return bool(rows)

    def log(self, name: str, size: int, checksum: str, rows: int, outcome: str) -> None:
        self.cur.execute(
            "INSERT INTO ingest_log VALUES ($n, $s, $c, $r, now(), $o)",
            {"n": name, "s": size, "c": checksum, "r": rows, "o": outcome},
        )

    def load(
        self, name: str, raw: bytes, *, crash: Callable[[str], None] | None = None
    ) -> FileResult:
        """Validate and load one file's bytes in one transaction (with rollups and ingest_log).

        A file whose checksum is already ingested is only logged ('duplicate'). Raises Rejected for
        bad input, having written nothing. `crash(point)` is a test hook called at
        'before_commit' and 'after_commit'.
        """
        return self.commit(self.prepare(name, raw), crash=crash)

    def prepare(
        self, name: str, raw: bytes, cur: duckdb.DuckDBPyConnection | None = None
    ) -> Prepared:
        """Everything before the database: checksum, parse, split by kind, type and check each kind.

        Touches no shared state, so it may run on another thread (with its own cursor `cur`, used
        only for NDJSON that needs the line-by-line reader and for DuckDB's checks of a kind that
        pyarrow would not type exactly) while the previous file commits. Raises Rejected.
        """
        cur = cur or self.cur
        t0 = time.perf_counter()
        prep = Prepared(FileResult(name, "ingested", size=len(raw), checksum=sha256(raw)))
        if self.already_ingested(prep.res.checksum, cur):
            prep.duplicate = True  # checked again when it commits
            return prep
        fmt = file_format(name)
        if fmt is None:
            raise Rejected(
                [
                    Problem(
                        0,
                        "",
                        f"unknown file type {Path(name).suffix!r}; "
                        "use .ndjson, .jsonl, .csv or .parquet",
                    )
                ]
            )
        unit = "row" if fmt == "parquet" else "line"
        try:
            t = self._lap("checksum", t0)
            name_kind = file_kind(name)
            parsed = parse(cur, raw, fmt, name_kind)
            t = self._lap("parse", t)
            prep.typed = stage(parsed, cur)
            self._lap("stage", t)
        except Rejected as exc:
            exc.unit = unit
            raise
        prep.res.rows = parsed.table.num_rows
        prep.res.kinds = {k: t.num_rows for k, t in prep.typed.items()}
        prep.unit = unit
        prep.elapsed_s = time.perf_counter() - t0
        return prep

    def commit(self, prep: Prepared, *, crash: Callable[[str], None] | None = None) -> FileResult:
        """Check ids against the database and load a prepared file in one transaction."""
        t0 = time.perf_counter()
        res = prep.res
        if prep.duplicate or self.already_ingested(res.checksum):
            res.outcome = "duplicate"
            self.log(res.name, res.size, res.checksum, 0, "duplicate")
            res.elapsed_s = prep.elapsed_s + time.perf_counter() - t0
            return res
        try:
            self.typed = prep.typed
            for k, typed in prep.typed.items():
                self._register(f"_s_{k}", typed)
            staged = res.kinds
            self._check_refs(staged)
            self._lap("refs", t0)
            self._write(res, staged, crash)
        except Rejected as exc:
            exc.unit = prep.unit
            raise
        finally:
            self._cleanup()
        res.elapsed_s = prep.elapsed_s + time.perf_counter() - t0
        return res

    def commit_group(
        self, preps: list[Prepared], *, crash: Callable[[str], None] | None = None
    ) -> list[FileResult]:
        """Load several prepared files in ONE transaction, as if one file: their rows per kind
        concatenated in file order (lines offset so that each file's lines follow the previous
        file's), checked once, written once, with one `ingest_log` row per file.

        All or nothing: raises Rejected (or the database's error) having written nothing, and the
        caller then loads the files one by one, so that a bad file is rejected on its own."""
        t0 = time.perf_counter()
        if any(p.duplicate or self.already_ingested(p.res.checksum) for p in preps):
            raise Rejected([Problem(0, "", "a file of the group is already ingested")])
        merged: dict[str, list[pa.Table]] = {}
        offset = 0
        for prep in preps:
            last = 0
            for k, t in prep.typed.items():
                line = pc.add(t.column("line"), pa.scalar(offset, t.schema.field("line").type))
                merged.setdefault(k, []).append(t.set_column(0, "line", line))
                if t.num_rows:
                    last = max(last, pc.max(t.column("line")).as_py() or 0)
            offset += last + 1
        try:
            typed = {
                k: pa.concat_tables(v, promote_options="permissive") for k, v in merged.items()
            }
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            raise Rejected([Problem(0, "", "files of differing types: load one by one")]) from None
        for k, t in typed.items():
            if (key := KINDS[k].key) is not None and not KINDS[k].update:
                col = t.column(KINDS[k].get(key).col)
                if len(pc.unique(col)) < t.num_rows:  # a key two files both create
                    raise Rejected([Problem(0, key, "created twice across files")])
        results = [p.res for p in preps]
        staged = {k: t.num_rows for k, t in typed.items()}
        try:
            self.typed = typed
            for k, t in typed.items():
                self._register(f"_s_{k}", t)
            self._check_refs(staged)
            self._lap("refs", t0)
            self._write(results, staged, crash)
        finally:
            self._cleanup()
        per = (time.perf_counter() - t0) / max(len(preps), 1)
        for p in preps:
            p.res.elapsed_s = p.elapsed_s + per
        return results

    def _register(self, name: str, table: pa.Table) -> None:
        self.cur.register(name, table)
        self._views.append(name)

    def _cleanup(self) -> None:
        for n in self._views:
            with contextlib.suppress(duckdb.Error):
                self.cur.unregister(n)
        self._views = []
        self._sizes = None
        self.typed = {}

    # Checking ids ------------------------------------------------------------------------------

    def _check_refs(self, staged: dict[str, int]) -> None:
        """Every id must exist in the database or be created on an earlier line of this file.

        Per referenced kind: the distinct ids that this file does not create are looked up in the
        database (through the primary-key index when they are few, else by one anti-join); rows
        referring to a missing id, or to one this file creates only on a later line, are problems.
        Keys of update events are looked up when the update is applied.
        """
        targets: dict[str, list[tuple[str, Any]]] = {}
        for k in staged:
            kind = KINDS[k]
            for f in kind.fields:
                if f.ref:
                    targets.setdefault(f.ref, []).append(
                        (f.name, (k, f, kind.update and f.name == kind.key))
                    )
        problems: list[Problem] = []
        for target, refs in targets.items():
            table, key = ENTITIES[target]
            what = target.replace("_", " ")
            created = self.typed.get(target)
            created_ids = created.column(key) if created is not None else None
            lookups = [self.typed[k].column(f.col) for _, (k, f, upd) in refs if not upd]
            if lookups:
                ids = pc.unique(
                    pa.chunked_array([c for col in lookups for c in col.chunks])
                    .combine_chunks()
                    .drop_null()
                )
                if created_ids is not None and len(ids):
                    ids = ids.filter(pc.invert(pc.is_in(ids, value_set=created_ids)))
                missing = self._missing(table, key, ids) if len(ids) else None
                if missing is not None and len(missing):
                    for _, (k, f, upd) in refs:
                        if upd:
                            continue
                        t = self.typed[k]
                        bad = pc.is_in(t.column(f.col), value_set=missing)
                        problems += _masked(
                            t,
                            bad,
                            f.name,
                            _says(
                                what,
                                "does not exist (not in the database nor earlier in this file)",
                            ),
                            f.col,
                        )
            if created is not None and created_ids is not None:
                created_lines = created.column("line")
                for _, (k, f, _upd) in refs:
                    t = self.typed[k]
                    pos = pc.index_in(t.column(f.col), value_set=created_ids)
                    at = pc.take(created_lines, pos)
                    bad = pc.greater_equal(at, t.column("line"))
                    if pc.any(bad).as_py():
                        problems += _masked(
                            t,
                            bad,
                            f.name,
                            _says(what, "is created only on a later line of this file"),
                            f.col,
                        )
        if problems:
            raise Rejected(problems)

    def _missing(self, table: str, key: str, ids: pa.Array) -> pa.Array:
        """Those of the distinct `ids` that `table` does not hold."""
        cur = self.cur
        if len(ids) <= INDEX_LOOKUP_MAX and len(ids) * 100 < self._table_rows(table):
            # Few ids, big table: an IN list of constants is a primary-key index lookup.
            found = cur.sql(
                f"SELECT {_q(key)} FROM {table} WHERE {_q(key)} IN ({_int_list(ids.to_pylist())})"
            ).to_arrow_table()
            return ids.filter(pc.invert(pc.is_in(ids, value_set=found.column(0))))
        # A semi join (table rows that match) lets DuckDB push the ids' range into the table scan;
        # an anti join would scan it all.
        self._register("_ids", pa.table({"id": ids}))
        found = cur.sql(
            f"SELECT t.{_q(key)} FROM {table} t SEMI JOIN _ids c ON t.{_q(key)} = c.id"
        ).to_arrow_table()
        cur.unregister("_ids")
        self._views.remove("_ids")
        return ids.filter(pc.invert(pc.is_in(ids, value_set=found.column(0))))

    def _table_rows(self, table: str) -> int:
        """Estimated rows of a table (read once per file)."""
        if self._sizes is None:
            self._sizes = dict(
                self.cur.execute(
                    "SELECT table_name, estimated_size FROM duckdb_tables() WHERE NOT temporary"
                ).fetchall()
            )
        return int(self._sizes.get(table) or 0)

    # Writing -----------------------------------------------------------------------------------

    def _write(
        self,
        res: FileResult | list[FileResult],
        staged: dict[str, int],
        crash: Callable[[str], None] | None,
    ) -> None:
        cur = self.cur
        t = time.perf_counter()
        cur.execute("BEGIN")
        try:
            inserts = [k for k in INSERT_ORDER if k in staged]
            self._skip_known(inserts)
            for k in inserts:
                kind = KINDS[k]
                cols = ", ".join(_q(f.col) for f in kind.fields if f.stored)
                try:
                    cur.execute(f"INSERT INTO {kind.table} ({cols}) SELECT {cols} FROM _s_{k}")
                except duckdb.ConstraintException as exc:
                    cur.execute("ROLLBACK")
                    raise self._diagnose_constraint(k, exc) from None
            t = self._lap("insert", t)
            if inserts:
                rollups.apply(cur, {KINDS[k].table: f"_s_{k}" for k in inserts})
            t = self._lap("rollups", t)
            for table in sorted({KINDS[k].table for k in staged if KINDS[k].update}):
                kinds = [k for k in staged if KINDS[k].update and KINDS[k].table == table]
                self._apply_updates(table, kinds)
            t = self._lap("updates", t)
            for r in res if isinstance(res, list) else [res]:  # one ingest_log row per file
                self.log(r.name, r.size, r.checksum, r.rows, "ingested")
            files = len(res) if isinstance(res, list) else 1
            if crash:  # the test hook counts files, whether they commit alone or together
                for _ in range(files):
                    crash("before_commit")
            cur.execute("COMMIT")
            self._lap("commit", t)
        except BaseException:
            with contextlib.suppress(duckdb.Error):
                cur.execute("ROLLBACK")
            raise
        if crash:
            for _ in range(files):
                crash("after_commit")

    def _skip_known(self, inserts: list[str]) -> None:
        """Drop the `if_new` rows whose id the database already holds (re-announced entities):
        the staged relation then holds only what is inserted, so the rollups count it once."""
        for k in inserts:
            kind = KINDS[k]
            typed = self.typed.get(k)
            if kind.key is None or typed is None or "if_new" not in typed.column_names:
                continue
            flagged = pc.fill_null(typed.column("if_new"), False)
            if not pc.any(flagged).as_py():
                continue
            key = kind.get(kind.key).col
            ids = pc.unique(typed.column(key).filter(flagged))
            missing = self._missing(kind.table, key, ids)
            keep = pc.or_(pc.invert(flagged), pc.is_in(typed.column(key), value_set=missing))
            kept = typed.filter(keep)
            self.cur.unregister(f"_s_{k}")
            self.cur.register(f"_s_{k}", kept)
            self.typed[k] = kept

    def _diagnose_constraint(self, k: str, exc: Exception) -> Rejected:
        kind = KINDS[k]
        if kind.key:
            key = _q(kind.key)
            rows = self.cur.execute(
                f"SELECT s.line, s.{key} FROM _s_{k} s SEMI JOIN {kind.table} t "
                f"ON t.{key} = s.{key} ORDER BY s.line LIMIT {MAX_PROBLEMS}"
            ).fetchall()
            if rows:
                return Rejected(
                    [Problem(n, kind.key, f"{v} already exists in the database") for n, v in rows]
                )
        first = str(exc).splitlines()[0]
        return Rejected([Problem(0, "", f"the database refused the {k} rows: {first}")])

    def _apply_updates(self, table: str, kinds: list[str]) -> None:
        """Apply the update events of `table` (store.spool.updates.apply_updates)."""
        apply_updates(self, table, kinds)
