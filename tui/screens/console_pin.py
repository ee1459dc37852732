"""The console's pin (ctrl+s / f2): save the statement under the cursor as an overview panel.

A mixin of `ConsoleScreen`. The guard check, the names already taken and the write to the pins file
(`tui.pins`: the --config FILE, else the user's config) all run in workers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from textual import work
from textual.message import Message
from textual.screen import Screen

from ecotop.queries.errors import StoreError
from ecotop.queries.gateway import split_statements
from ecotop.tui.host import Host
from ecotop.tui.widgets.sql_editor import SqlEditor
from ecotop.tui.widgets.sql_text import Span


class PinMixin(Screen[None]):
    """ctrl+s: check the statement, ask for a name and a kind, write it to the pins file."""

    @property
    def editor(self) -> SqlEditor:
        return self.query_one(SqlEditor)

    @property
    def _host(self) -> Host:
        return self.app  # type: ignore[return-value]

    def _show_error(
        self,
        message: str,
        statement: str,
        statement_offset: int,
        offset: int | None,
        length: int | None,
    ) -> None:
        raise NotImplementedError  # ConsoleScreen shows it under the editor

    @dataclass
    class PinChecked(Message):
        """The pin check's result (worker): the statement to pin and the names taken, or why not."""

        span: Span
        sql: str | None
        error: StoreError | None
        taken: set[str]

    @dataclass
    class Pinned(Message):
        """The pin writer's result (worker): the file written, or why not."""

        name: str
        where: Path | None
        error: str | None

    def action_pin(self) -> None:
        spans = self.editor.statements_to_run()
        if len(spans) != 1:
            self.notify(
                "put the cursor on one statement (or select one) to pin it",
                severity="warning",
                timeout=3,
            )
            return
        self._pin_check(spans[0])

    @work(thread=True, exclusive=True, exit_on_error=False, group="console-pin")
    def _pin_check(self, span: Span) -> None:
        from ecotop.tui.pins import load_panels

        taken = {p.name for p in load_panels(self._host.config_path)}
        try:
            statements = split_statements(span.text)
        except StoreError as exc:
            self.post_message(self.PinChecked(span, None, exc, taken))
            return
        if len(statements) != 1:
            self.post_message(self.PinChecked(span, None, None, taken))
            return
        sql = statements[0].strip().rstrip(";").strip()
        self.post_message(self.PinChecked(span, sql, None, taken))

    def on_pin_mixin_pin_checked(self, message: PinChecked) -> None:
        from ecotop.tui.pins import default_panel_name
        from ecotop.tui.widgets.sql_dialogs import PinScreen

        span, sql, exc = message.span, message.sql, message.error
        if exc is not None:
            self._show_error(
                str(exc),
                span.text,
                span.start,
                getattr(exc, "offset", None),
                getattr(exc, "length", None),
            )
            return
        if sql is None:
            self.notify("a panel runs one statement", severity="warning", timeout=3)
            return
        taken = message.taken
        name = default_panel_name(sql, taken)

        def chosen(answer: tuple[str, str] | None) -> None:
            if answer:
                self._pin_write(answer[0], sql, answer[1])

        self.app.push_screen(PinScreen(sql, name, taken=taken), chosen)

    @work(thread=True, exclusive=True, exit_on_error=False, group="console-pin")
    def _pin_write(self, name: str, sql: str, kind: str) -> None:
        from ecotop.tui.pins import pin_panel

        try:
            where = pin_panel(self._host.config_path, name, sql, kind)
        except StoreError as exc:
            self.post_message(self.Pinned(name, None, str(exc)))
        except (OSError, ValueError) as exc:
            self.post_message(self.Pinned(name, None, f"cannot pin: {exc}"))
        else:
            self.post_message(self.Pinned(name, where, None))

    def on_pin_mixin_pinned(self, message: Pinned) -> None:
        if message.error is not None:
            self.notify(message.error, severity="error", timeout=6)
            return
        self._host.pins_version += 1
        self.notify(
            f"pinned {message.name!r} to the overview (saved in {message.where})", timeout=4
        )
