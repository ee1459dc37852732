"""The SQL console (`:`): ad-hoc queries that are safe on a shared server.

Layout: an optional catalog sidebar (`ctrl+b`), the editor, a status line (running time, progress,
row counts), an error box with a caret under the failing spot, and one result tab per statement.

Keys (none is a single letter while the editor has focus, so typing never triggers the dashboard):
  ctrl+j / ctrl+enter  run the selection, or the statement under the cursor (f5: every statement)
  esc / ctrl+c         cancel a running query or export (ctrl+c copies when nothing runs); esc
                       otherwise goes back to the dashboard
  ctrl+r               history (searchable; enter puts a statement back in the editor)
  ctrl+s / f2          pin the statement to the overview as a panel
  ctrl+b               catalog sidebar;  ctrl+space  completion;  tab  moves to the results
  e (on a result)      export the whole result to CSV, Parquet or JSON

Safety: every statement passes the guard through the gateway (the same guard as `ecotop query`):
checked before anything runs (a refusal runs nothing of the batch), then run read-only with the row
limit pushed into DuckDB (tui/console_run.py). Each run has its own cursor in a thread worker (group
"console-query"), so the dashboard's refresh cycle goes on meanwhile; `Job.interrupt()` cancels,
`Job.progress()` is polled from the UI thread (neither blocks).

One piece over ~500 lines: the screen is its keys' handlers (run, cancel, errors, copy, history,
export, pin), each a few lines around a worker; the work itself lives in tui/console_run.py.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Static, TextArea

from ecotop.queries.catalogue import Catalogue as Catalog
from ecotop.tui.console_run import (
    Job,
    Prepared,
    PrepareRefused,
    export_error,
    export_result,
    prepare,
    run_statements,
)
from ecotop.tui.history import DISK, Buffer, Entry, History
from ecotop.tui.screens.console_pin import PinMixin
from ecotop.tui.widgets.catalog import CatalogTree
from ecotop.tui.widgets.results_tabs import (
    ResultData,
    ResultsTabs,
    ResultView,
    format_ms,
    warm_up,
)
from ecotop.tui.widgets.sql_editor import CompletionMenu, SqlEditor
from ecotop.tui.widgets.sql_text import Span, first_line, offset_to_location

_warmed = threading.Event()

#: Rows a result keeps for display; the rest stay in DuckDB ("10,000 of more rows").
DISPLAY_LIMIT = 10_000
#: How often the status line polls elapsed time and progress while a query runs.
POLL_S = 0.1
#: Seconds of quiet typing before the buffer is saved.
SAVE_AFTER_S = 1.0
SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
KEY_HINTS = Text.assemble(
    *(
        part
        for key, what in (
            ("^j", "run"),
            ("f5", "all"),
            ("esc", "cancel/back"),
            ("^r", "history"),
            ("^s", "pin"),
            ("^b", "catalog"),
            ("tab", "results"),
            ("e", "export"),
            ("^p", "palette"),
        )
        for part in ((key, "bold"), f" {what}  ")
    ),
    no_wrap=True,
    overflow="ellipsis",
)


class ConsoleCommands(Provider):
    """Console commands for the palette (ctrl+p)."""

    COMMANDS: ClassVar[list[tuple[str, str, str]]] = [
        ("Run statement", "run", "ctrl+j"),
        ("Run every statement", "run_all", "f5"),
        ("Cancel the running query", "cancel", "esc"),
        ("Query history", "history", "ctrl+r"),
        ("Pin query as a panel on the overview", "pin", "ctrl+s"),
        ("Export result (CSV, Parquet, JSON)", "export", "e"),
        ("Toggle catalog sidebar", "toggle_catalog", "ctrl+b"),
        ("Copy the whole result tab as TSV", "copy_result", ""),
    ]

    def _screen(self) -> ConsoleScreen | None:
        s = self.screen
        return s if isinstance(s, ConsoleScreen) else None

    async def discover(self) -> Hits:
        screen = self._screen()
        if screen is None:
            return
        for title, action, key in self.COMMANDS:
            text = f"{title}  [{key}]" if key else title
            yield DiscoveryHit(text, lambda a=action: screen.run_action(a), help="SQL console")

    async def search(self, query: str) -> Hits:
        screen = self._screen()
        if screen is None:
            return
        matcher = self.matcher(query)
        for title, action, key in self.COMMANDS:
            text = f"{title}  [{key}]" if key else title
            score = matcher.match(text)
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(text),
                    lambda a=action: screen.run_action(a),
                    help="SQL console",
                )


class ConsoleScreen(PinMixin, Screen[None]):
    """The SQL console. Pushed by the app's `:` key."""

    COMMANDS: ClassVar = {ConsoleCommands}
    AUTO_FOCUS = "SqlEditor"

    DEFAULT_CSS = """
    ConsoleScreen { layers: base completion; }
    ConsoleScreen #console-title { height: 1; background: $panel; color: $text; padding: 0 1; }
    ConsoleScreen #console-body { height: 1fr; }
    ConsoleScreen #console-main { height: 1fr; }
    ConsoleScreen SqlEditor { height: 40%; min-height: 4; border: none; }
    ConsoleScreen SqlEditor:focus { border: none; }
    ConsoleScreen #console-status { height: 1; padding: 0 1; background: $boost; color: $text-muted; }
    ConsoleScreen #console-status.-running { color: $text-accent; }
    ConsoleScreen #console-status.-error { color: $text-error; }
    ConsoleScreen #console-error {
        height: auto; max-height: 6; display: none; padding: 0 1; color: $text-error;
        background: $error 10%;
    }
    ConsoleScreen #console-error.-shown { display: block; }
    ConsoleScreen ResultsTabs { height: 1fr; }
    ConsoleScreen #console-keys { height: 1; background: $panel; color: $text-muted; padding: 0 1; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        # not priority: the key then reaches the editor's queue after the keys typed before it
        Binding("ctrl+j,ctrl+enter", "run", "Run"),
        Binding("f5", "run_all", "Run all", show=False),
        Binding("escape", "escape", "Cancel/back", key_display="esc"),
        Binding("ctrl+c", "interrupt_or_copy", "Cancel/copy", show=False, priority=True),
        Binding("ctrl+r", "history", "History"),
        Binding("ctrl+s,f2", "pin", "Pin"),
        Binding("ctrl+b", "toggle_catalog", "Catalog"),
    ]

    @dataclass
    class _Event(Message):
        """A worker's report about job `job_id` (stale ones are ignored)."""

        job_id: int

    @dataclass
    class Started(_Event):
        """The batch passed the guard: these statements will run."""

        prepared: list[Prepared]

    @dataclass
    class StatementDone(_Event):
        """One statement's result (or error)."""

        result: ResultData
        error: BaseException | None
        prepared: Prepared

    @dataclass
    class Refused(_Event):
        """The guard refused `span` (nothing ran), or the connection failed (`span` None)."""

        span: Span | None
        error: BaseException

    @dataclass
    class Finished(_Event):
        """The job's worker ended."""

    @dataclass
    class CatalogRead(Message):
        """The catalogue for completion, or why it could not be read."""

        catalog: Catalog | None
        error: str | None

    @dataclass
    class ExportDone(_Event):
        """An export ended: rows written to `path`, or why not."""

        rows: int
        path: Path
        error: str | None

    def __init__(
        self,
        *,
        history: History | None = None,
        buffer: Buffer | None = None,
        limit: int = DISPLAY_LIMIT,
        name: str | None = None,
        id: str | None = None,  # noqa: A002
    ) -> None:
        super().__init__(name=name, id=id)
        self.history = history or History()
        self.buffer = buffer or Buffer()
        self.limit = limit
        self.job: Job | None = None
        self._job_ids = 0
        self._poll: Any = None
        self._save_timer: Any = None
        self.last_results: list[ResultData] = []
        self.last_error: str | None = None
        self._catalog: Catalog | None = None
        self._catalog_error: str | None = None
        self.painted_at: float | None = None

    # -- layout ----------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static(self._title(), id="console-title")
        # the results and the catalog sidebar are mounted after the first paint (results) or on
        # first use (catalog), so `:` shows an editor ready for typing at once
        with Horizontal(id="console-body"), Vertical(id="console-main"):
            yield SqlEditor(id="editor")
            yield Static(self._idle_status(), id="console-status")
            yield Static("", id="console-error")
        # one line of key hints: Textual's Footer recomposes on every focus change, which cost
        # a third of the time to open the console
        yield Static(KEY_HINTS, id="console-keys")

    def _title(self) -> Text:
        gateway = self._host.gateway
        path = gateway.path
        mode = "read-only" if gateway.read_only else "live: statements still only read"
        t = Text("SQL console", style="bold")
        if path is not None:
            t.append(f"  {Path(path).name}", style="")
        t.append(f"  ({mode})", style="dim")
        return t

    @staticmethod
    def _idle_status() -> str:
        return "ctrl+j runs the statement under the cursor · f5 all · ctrl+r history · esc back"

    @property
    def results(self) -> ResultsTabs:
        return self.query_one(ResultsTabs)

    @property
    def has_results_widget(self) -> bool:
        return bool(self.query(ResultsTabs))

    async def ensure_results(self) -> ResultsTabs:
        """The results tabs, mounted on first need."""
        found = self.query(ResultsTabs)
        if found:
            return found.first()
        tabs = ResultsTabs(id="results")
        tabs.zone = self._host.display_zone
        tabs.show_timing = self._show_timing
        await self.query_one("#console-main").mount(tabs)
        return tabs

    #: True once the last session's buffer is in the editor (it is read on the disk thread).
    buffer_ready = False

    def on_mount(self) -> None:
        self._load_buffer()
        state = self._host.keep.get("console")
        restore = state.get("results") if isinstance(state, dict) else None
        self.call_after_refresh(self._after_first_paint, restore or [])

    async def _after_first_paint(self, restore: list[ResultData]) -> None:
        self.painted_at = time.perf_counter()  # the console is on screen (benchmarks read this)
        menu = CompletionMenu(id="completion")
        await self.mount(menu)
        self.editor.attach_menu(menu)
        tabs = await self.ensure_results()
        if restore and not self.last_results:
            self.last_results = list(restore)
            await tabs.show_results(restore)
        cached = self._host.keep.get("catalogue")
        if isinstance(cached, Catalog):
            self._use_catalog(cached)
        else:
            self._read_catalog()
        if not _warmed.is_set():
            self._warm_up()

    @work(thread=True, exclusive=True, exit_on_error=False, group="console-warm-up")
    def _warm_up(self) -> None:
        with contextlib.suppress(Exception):
            warm_up()
        _warmed.set()

    @property
    def _zone(self) -> Any:
        return self._host.display_zone

    def on_unmount(self) -> None:
        self._save_buffer()
        if self.job is not None:
            self.job.interrupt()
        # leaving: what was queued reaches the disk before the app (or the next console) reads it
        DISK.flush(2.0)
        with contextlib.suppress(Exception):
            self._host.keep["console"] = {"results": self.last_results}

    def on_screen_suspend(self) -> None:
        self._save_buffer()

    # -- the catalog -----------------------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="console-catalog")
    def _read_catalog(self) -> None:
        try:
            catalog = self._host.gateway.catalogue()
            self.post_message(self.CatalogRead(catalog, None))
        except Exception as exc:  # the console works without completion
            self.post_message(self.CatalogRead(None, first_line(str(exc))))

    def on_console_screen_catalog_read(self, message: CatalogRead) -> None:
        if message.catalog is not None:
            with contextlib.suppress(Exception):
                self._host.keep["catalogue"] = message.catalog
            self._use_catalog(message.catalog)
        else:
            self._catalog_error = message.error or "unknown error"
            for tree in self.query(CatalogTree):
                tree.show_error(self._catalog_error)

    def _use_catalog(self, catalog: Catalog) -> None:
        self._catalog = catalog
        self.editor.completer.catalog = catalog
        for tree in self.query(CatalogTree):
            tree.show_catalog(catalog)

    async def action_toggle_catalog(self) -> None:
        found = self.query(CatalogTree)
        if found:
            tree = found.first()
        else:
            tree = CatalogTree(id="catalog")
            body = self.query_one("#console-body")
            await body.mount(tree, before=self.query_one("#console-main"))
            if self._catalog is not None:
                tree.show_catalog(self._catalog)
            elif self._catalog_error is not None:
                tree.show_error(self._catalog_error)
        tree.toggle_class("-shown")
        if tree.has_class("-shown"):
            tree.focus()
        else:
            self.editor.focus()

    def on_catalog_tree_insert_name(self, message: CatalogTree.InsertName) -> None:
        name = message.name
        if not name.replace("_", "").isalnum() or name[:1].isdigit():
            name = '"' + name.replace('"', '""') + '"'
        self.editor.insert_at_cursor(name)

    # -- the buffer ------------------------------------------------------------------------------

    @on(TextArea.Changed, "#editor")
    def _text_changed(self, event: TextArea.Changed) -> None:
        if self._save_timer is not None:
            self._save_timer.stop()
        self._save_timer = self.set_timer(SAVE_AFTER_S, self._save_buffer, name="save-buffer")

    def _save_buffer(self) -> None:
        with contextlib.suppress(Exception):  # the editor may already be gone (unmount)
            DISK.submit(self.buffer.save, self.editor.text)  # written on the disk thread

    @work(thread=True, exclusive=True, exit_on_error=False, group="console-buffer")
    def _load_buffer(self) -> None:
        DISK.flush()  # a save queued by the previous console comes first
        self.app.call_from_thread(self._show_buffer, self.buffer.load())

    def _show_buffer(self, text: str) -> None:
        editor = self.editor
        if text and not editor.text:  # the user has not started typing meanwhile
            editor.load_text(text)
            editor.move_cursor(editor.document.end)
        self.buffer_ready = True

    # -- running ---------------------------------------------------------------------------------

    def action_run(self) -> None:
        self._start_run(run_all=False)

    def action_run_all(self) -> None:
        self._start_run(run_all=True)

    def _start_run(self, run_all: bool) -> None:
        if self.job is not None:
            self.notify("a query is running: esc cancels it", severity="warning", timeout=2)
            return
        editor = self.editor
        editor.hide_menu()
        spans = editor.statements_to_run(run_all=run_all)
        if not spans:
            self._set_status("nothing to run: write a statement first")
            return
        if spans[0].text.lstrip().startswith(":"):  # a k9s-style jump (:merchant NAME), not SQL
            wrong = self.app.jump(spans[0].text.strip().splitlines()[0])  # type: ignore[attr-defined]
            if wrong is not None:
                self._set_status(wrong, "-error")
            return
        self._clear_error()
        self._job_ids += 1
        self.job = Job(self._job_ids, "query", total=len(spans))
        self._set_status(self._running_text(), "-running")
        self._poll = self.set_interval(POLL_S, self._tick, name="console-poll")
        self._run_worker(self.job, spans)

    @work(thread=True, exclusive=False, exit_on_error=False, group="console-query")
    def _run_worker(self, job: Job, spans: list[Span]) -> None:
        """Check every statement, then run them one by one on one cursor of this worker."""
        gateway = self._host.gateway
        try:
            prepared = prepare(spans)
        except PrepareRefused as exc:
            self.post_message(self.Refused(job.id, span=exc.span, error=exc.error))
            self.post_message(self.Finished(job.id))
            return
        job.total = len(prepared)
        self.post_message(self.Started(job.id, prepared=prepared))
        try:
            for p, result, error in run_statements(gateway, job, prepared, self.limit, self._zone):
                self.post_message(
                    self.StatementDone(job.id, result=result, error=error, prepared=p)
                )
        except Exception as exc:
            self.post_message(self.Refused(job.id, span=None, error=exc))
        finally:
            self.post_message(self.Finished(job.id))

    def _current(self, message: _Event) -> bool:
        return self.job is not None and message.job_id == self.job.id

    def on_console_screen_started(self, message: Started) -> None:
        if self._current(message):
            self._set_status(self._running_text(), "-running")

    async def on_console_screen_statement_done(self, message: StatementDone) -> None:
        result, p, error = message.result, message.prepared, message.error
        DISK.submit(
            self.history.add,
            Entry(
                sql=p.sql,
                ran_at=time.time(),
                elapsed_ms=round(result.elapsed_ms or 0, 1),
                rows=None if result.error else result.rows,
                more=result.truncated,
                error=result.error,
            ),
        )
        if not self._current(message):
            return  # a cancelled job's late result
        first = result.index == 0
        if first:
            self.last_results = []
        self.last_results.append(result)
        tabs = await self.ensure_results()
        await tabs.add_result(result, first=first)
        if error is not None and not result.cancelled:
            self._show_error(
                str(error),
                p.sql,
                p.offset,
                getattr(error, "offset", None),
                getattr(error, "length", None),
            )

    def on_console_screen_refused(self, message: Refused) -> None:
        if not self._current(message):
            return
        error, span = message.error, message.span
        text = str(error) if str(error) else type(error).__name__
        if span is None:
            self._show_error(text, "", 0, None, None)
            return
        DISK.submit(
            self.history.add, Entry(sql=span.text, ran_at=time.time(), error=first_line(text))
        )
        err_offset = getattr(error, "offset", None)
        self._show_error(text, span.text, span.start, err_offset, getattr(error, "length", None))
        if err_offset is None:
            # a refusal: point at the refused statement
            refused = getattr(error, "statement", None)
            start = span.start
            if isinstance(refused, str) and refused.strip() and refused in span.text:
                start += span.text.index(refused) + len(refused) - len(refused.lstrip())
            self.editor.mark_error(start, len(span.text))

    def on_console_screen_finished(self, message: Finished) -> None:
        if not self._current(message):
            return
        job = self.job
        self._end_job()
        if job is None:
            return
        elapsed = (time.perf_counter() - job.started) * 1000
        if self.last_error is not None:
            self._set_status(f"failed after {format_ms(elapsed)}", "-error")
            return
        rs = self.last_results
        if not rs:
            self._set_status(self._idle_status())
            return
        n = len(rs)
        took = f" · {format_ms(elapsed)}" if self._show_timing else ""
        self._set_status(
            f"{n} statement{'s' if n != 1 else ''}{took} · "
            "tab: results · e: export · ctrl+s: pin · ctrl+c: copy"
        )

    @property
    def _show_timing(self) -> bool:
        """False in tests that compare screenshots (the app's `show_timing`)."""
        return self._host.show_timing

    def _end_job(self) -> None:
        self.job = None
        if self._poll is not None:
            self._poll.stop()
            self._poll = None

    def _running_text(self) -> str:
        job = self.job
        if job is None:
            return ""
        elapsed = time.perf_counter() - job.started
        spin = SPINNER[int(elapsed / POLL_S) % len(SPINNER)]
        if job.kind == "export":
            return f"{spin} {job.label} · {job.rows:,} rows · {elapsed:.1f} s · esc cancels"
        parts = [f"{spin} running"]
        if job.total > 1:
            parts.append(f"{job.current + 1} of {job.total}")
        parts.append(f"{elapsed:.1f} s")
        progress = job.progress()
        if progress is not None:
            width = 10
            filled = int(round(progress / 100 * width))
            parts.append(f"{'█' * filled}{'░' * (width - filled)} {progress:.0f}%")
        parts.append("esc cancels")
        return " · ".join(parts)

    def _tick(self) -> None:
        if self.job is None:
            return
        self._set_status(self._running_text(), "-running")

    def _set_status(self, text: str, cls: str = "") -> None:
        status = self.query_one("#console-status", Static)
        status.update(Text(text, no_wrap=True, overflow="ellipsis"))
        status.set_class(cls == "-running", "-running")
        status.set_class(cls == "-error", "-error")

    # -- cancelling ------------------------------------------------------------------------------

    def action_cancel(self) -> None:
        job = self.job
        if job is None:
            self.notify("nothing is running", timeout=1.5)
            return
        job.interrupt()
        elapsed = (time.perf_counter() - job.started) * 1000
        self._end_job()
        what = "export" if job.kind == "export" else "query"
        self._set_status(f"{what} cancelled after {format_ms(elapsed)}")

    def action_escape(self) -> None:
        if self.job is not None:
            self.action_cancel()
            return
        if self.editor.menu_shown:
            self.editor.hide_menu()
            return
        self._save_buffer()
        if len(self.app.screen_stack) > 1:
            self.app.pop_screen()

    def action_interrupt_or_copy(self) -> None:
        if self.job is not None:
            self.action_cancel()
            return
        raise SkipAction()  # ctrl+c then copies in the editor or the results

    # -- errors ----------------------------------------------------------------------------------

    def _clear_error(self) -> None:
        self.last_error = None
        box = self.query_one("#console-error", Static)
        box.update("")
        box.remove_class("-shown")

    def _show_error(
        self,
        message: str,
        statement: str,
        statement_offset: int,
        offset: int | None,
        length: int | None,
    ) -> None:
        """The error's message, and when DuckDB said where: the line with a caret under it."""
        self.last_error = message
        text = Text("✖ " + first_line(message), style="bold")
        if offset is not None and statement:
            row, col = offset_to_location(statement, offset)
            line = statement.split("\n")[row]
            start = max(0, col - 60)
            shown = line[start : start + 100]
            text.append("\n  " + shown, style="not bold")
            text.append("\n  " + " " * (col - start) + "^" * max(1, min(length or 1, 40)))
            self.editor.mark_error(statement_offset + offset, length or 1)
        box = self.query_one("#console-error", Static)
        box.update(text)
        box.add_class("-shown")
        self._set_status("error: " + first_line(message), "-error")

    # -- results: copy ---------------------------------------------------------------------------

    def on_data_table_selection_copied(self, message: Any) -> None:
        values = getattr(message, "values", None) or []
        text = "\n".join("\t".join(_cell_text(v) for v in row) for row in values)
        self.app.copy_to_clipboard(text)
        cells = sum(len(r) for r in values)
        self.notify(f"copied {cells:,} cell{'s' if cells != 1 else ''}", timeout=1.5)

    def action_copy_result(self) -> None:
        view = self.results.current if self.has_results_widget else None
        if view is None or view.result.table is None:
            self.notify("no result to copy", timeout=1.5)
            return
        t = view.result.table
        lines = ["\t".join(t.column_names)]
        for row in t.slice(0, 10_000).to_pylist():
            lines.append("\t".join(_cell_text(v) for v in row.values()))
        self.app.copy_to_clipboard("\n".join(lines))
        self.notify(f"copied {t.num_rows:,} rows", timeout=1.5)

    # -- history ---------------------------------------------------------------------------------

    def action_history(self) -> None:
        self._read_history()

    @work(thread=True, exclusive=True, exit_on_error=False, group="console-history")
    def _read_history(self) -> None:
        DISK.flush()  # the statements just run are in it
        self.app.call_from_thread(self._show_history, self.history.entries())

    def _show_history(self, entries: list[Entry]) -> None:
        from ecotop.tui.widgets.sql_dialogs import HistoryScreen

        if not entries:
            self.notify("no history yet", timeout=1.5)
            return

        def chosen(sql: str | None) -> None:
            if not sql:
                return
            editor = self.editor
            text = editor.text
            if text.strip():
                sep = "" if text.endswith("\n\n") else ("\n" if text.endswith("\n") else "\n\n")
                sql_text = sep + sql.rstrip().rstrip(";") + ";"
                editor.move_cursor(editor.document.end)
                editor.insert(sql_text)
            else:
                editor.load_text(sql.rstrip().rstrip(";") + ";")
                editor.move_cursor(editor.document.end)
            editor.focus()

        self.app.push_screen(HistoryScreen(entries), chosen)

    # -- export ----------------------------------------------------------------------------------

    def on_result_view_export_requested(self, message: ResultView.ExportRequested) -> None:
        self._export(message.result)

    def action_export(self) -> None:
        view = self.results.current if self.has_results_widget else None
        if view is None:
            self.notify("run a query first: export writes its whole result", timeout=2)
            return
        self._export(view.result)

    def _export(self, result: ResultData) -> None:
        from ecotop.tui import export
        from ecotop.tui.widgets.sql_dialogs import ExportScreen

        if result.error is not None or result.table is None:
            self.notify("this result has no rows to export", severity="warning", timeout=2)
            return
        if self.job is not None:
            self.notify("a query is running: esc cancels it", severity="warning", timeout=2)
            return
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        default = str(Path.cwd() / f"ecotop-result-{stamp}.csv")
        if not os.access(Path.cwd(), os.W_OK):
            default = str(Path.home() / f"ecotop-result-{stamp}.csv")

        def validate(path: str, overwrite: bool) -> str | None:
            try:
                export.format_for(path)
                export.check_path(path, overwrite=overwrite)
            except export.ExportError as exc:
                return str(exc)
            return None

        def chosen(path: str | None) -> None:
            if not path:
                return
            self._job_ids += 1
            p = Path(path).expanduser()
            self.job = Job(self._job_ids, "export", label=f"exporting to {p.name}")
            self._poll = self.set_interval(POLL_S, self._tick, name="console-poll")
            self._set_status(self._running_text(), "-running")
            self._export_worker(self.job, result.sql, p)

        self.app.push_screen(ExportScreen(default, validate), chosen)

    @work(thread=True, exclusive=False, exit_on_error=False, group="console-export")
    def _export_worker(self, job: Job, sql: str, path: Path) -> None:
        try:
            rows = export_result(self._host.gateway, job, sql, path)
            self.post_message(self.ExportDone(job.id, rows=rows, path=path, error=None))
        except Exception as exc:
            msg = export_error(job, exc)
            self.post_message(self.ExportDone(job.id, rows=0, path=path, error=msg))

    def on_console_screen_export_done(self, message: ExportDone) -> None:
        if self._current(message):
            job = self.job
            self._end_job()
            elapsed = format_ms((time.perf_counter() - job.started) * 1000) if job else ""
            if message.error is None:
                self._set_status(f"exported {message.rows:,} rows to {message.path} · {elapsed}")
            else:
                self._set_status(f"export failed: {message.error}", "-error")
        if message.error is None:
            self.notify(f"exported {message.rows:,} rows to {message.path}", timeout=3)
        elif message.error != "cancelled":
            self.notify(f"export failed: {message.error}", severity="error", timeout=5)


def _cell_text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, datetime):
        return v.isoformat(sep=" ")
    text = str(v)
    return text.replace("\t", " ").replace("\n", " ")
