"""SqlEditor: the console's multi-line SQL editor, with highlighting and a completion dropdown.

A `TextArea` in code-editor mode (tree-sitter SQL highlighting when `tree-sitter-sql` is installed,
plain text otherwise). Typing an identifier opens `CompletionMenu` under the cursor with tables,
columns, functions and keywords (`ctrl+space` opens it on demand); `up`/`down` move in it,
`tab`/`enter` accept, `esc` closes it. Every printable key goes into the text, so no single-letter
key of the dashboard can fire while the editor has focus.
"""

from __future__ import annotations

import threading
from typing import Any, ClassVar

from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.widgets import OptionList, TextArea
from textual.widgets.option_list import Option
from textual.widgets.text_area import Selection

from ecotop.tui.widgets.sql_complete import Candidate, Completer
from ecotop.tui.widgets.sql_text import (
    Span,
    location_to_offset,
    offset_to_location,
    statement_at,
    statement_spans,
)

#: Menu rows shown at once.
MENU_ROWS = 8
_KIND_MARK = {"table": "T", "view": "V", "column": "c", "function": "f", "keyword": "k"}


_QUERY_CACHE: dict[tuple[int, str], Any] = {}
_cache_lock = threading.Lock()


def _install_query_cache() -> None:
    """Compile a tree-sitter highlight query once per process, not once per document.

    Textual compiles the SQL highlight query for every new document (~0.1-0.2 s on this machine),
    and a TextArea makes a new document on `load_text` and on every language change. A compiled
    query does not depend on the document, so it is shared.
    """
    try:
        from textual.document._syntax_aware_document import SyntaxAwareDocument
    except ImportError:  # pragma: no cover - Textual without tree-sitter support
        return
    original = SyntaxAwareDocument.prepare_query
    if getattr(original, "_ecotop_cached", False):
        return

    def prepare_query(self: Any, query: str) -> Any:
        key = (id(self.language), query)
        with _cache_lock:
            found = _QUERY_CACHE.get(key)
        if found is None:
            found = original(self, query)
            with _cache_lock:
                _QUERY_CACHE[key] = found
        return found

    prepare_query._ecotop_cached = True  # type: ignore[attr-defined]
    SyntaxAwareDocument.prepare_query = prepare_query  # type: ignore[method-assign]


def prepare_sql_highlighting() -> bool:
    """Load the SQL grammar and compile its highlight query (slow once; call it in a thread)."""
    try:
        from textual._tree_sitter import get_language
        from textual.document._syntax_aware_document import SyntaxAwareDocument
    except Exception:  # pragma: no cover - Textual without tree-sitter support
        return False
    language = get_language("sql")
    if language is None:
        return False
    _install_query_cache()
    query = TextArea._get_builtin_highlight_query("sql")
    doc = SyntaxAwareDocument("", language)
    doc.prepare_query(query)
    return True


class CompletionMenu(OptionList):
    """The dropdown of suggestions, drawn over the screen at the editor's cursor."""

    DEFAULT_CSS = """
    CompletionMenu {
        overlay: screen;
        position: absolute;
        constrain: inside inside;
        layer: completion;
        display: none;
        width: auto;
        min-width: 24;
        max-width: 60;
        height: auto;
        max-height: 10;
        border: round $accent;
        background: $surface;
        padding: 0;
    }
    CompletionMenu.-shown { display: block; }
    """

    can_focus = False

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.candidates: list[Candidate] = []
        self.prefix = ""

    def show_candidates(
        self, prefix: str, candidates: list[Candidate], at: tuple[int, int]
    ) -> None:
        self.prefix = prefix
        self.candidates = candidates
        self.clear_options()
        width = max((len(c.text) for c in candidates), default=10)
        options = []
        for c in candidates:
            label = Text()
            label.append(f"{_KIND_MARK.get(c.kind, ' ')} ", style="dim")
            label.append(c.text.ljust(width))
            if c.detail:
                label.append(f"  {c.detail}", style="dim")
            options.append(Option(label))
        self.add_options(options)
        self.highlighted = 0 if candidates else None
        self.styles.offset = at
        self.add_class("-shown")

    def hide(self) -> None:
        self.remove_class("-shown")
        self.candidates = []

    @property
    def shown(self) -> bool:
        return self.has_class("-shown") and bool(self.candidates)

    def move(self, delta: int) -> None:
        if not self.candidates:
            return
        cur = self.highlighted or 0
        self.highlighted = (cur + delta) % len(self.candidates)

    @property
    def chosen(self) -> Candidate | None:
        if not self.candidates or self.highlighted is None:
            return None
        return self.candidates[self.highlighted]


class SqlEditor(TextArea):
    """The SQL editor: statements under the cursor, completion, and an error marker."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+space,ctrl+@", "complete", "Complete", show=False),
    ]

    def __init__(self, text: str = "", *, highlight: bool = True, **kw: Any) -> None:
        # Plain text first: the console opens at once; SQL highlighting switches on when its
        # grammar is ready (see `on_mount`).
        super().__init__(
            text,
            language=None,
            theme="css",
            soft_wrap=False,
            tab_behavior="focus",
            show_line_numbers=True,
            **kw,
        )
        self.completer = Completer()
        self._menu: CompletionMenu | None = None
        self._suppress_complete = False
        self.auto_complete = True
        self._highlight = highlight

    def on_mount(self) -> None:
        if self._highlight:
            # after the first paint: compiling the grammar's query must not delay the console
            self.call_after_refresh(
                self.run_worker, self._prepare_highlighting, thread=True, group="sql-highlight"
            )

    def _prepare_highlighting(self) -> None:
        if prepare_sql_highlighting():
            self.app.call_from_thread(self._enable_highlighting)

    def _enable_highlighting(self) -> None:
        if self.language == "sql":
            return
        selection = self.selection
        scroll = self.scroll_offset
        self.language = "sql"
        self.selection = selection
        self.scroll_to(scroll.x, scroll.y, animate=False)

    # -- what to run -----------------------------------------------------------------------------

    @property
    def cursor_offset(self) -> int:
        return location_to_offset(self.text, self.cursor_location)

    def statements_to_run(self, run_all: bool = False) -> list[Span]:
        """The selection's statements, or the one under the cursor (or every one with run_all)."""
        text = self.text
        if run_all:
            return statement_spans(text)
        if not self.selection.is_empty:
            start, end = sorted((self.selection.start, self.selection.end))
            a, b = location_to_offset(text, start), location_to_offset(text, end)
            return [Span(a + s.start, a + s.end, s.text) for s in statement_spans(text[a:b])]
        span = statement_at(text, self.cursor_offset)
        return [span] if span is not None else []

    def mark_error(self, offset: int, length: int = 1) -> None:
        """Put the cursor on the error's place and select the `length` characters it points at."""
        text = self.text
        offset = max(0, min(offset, len(text)))
        end = max(offset, min(len(text), offset + max(1, length)))
        start_loc = offset_to_location(text, offset)
        end_loc = offset_to_location(text, end)
        self.selection = Selection(start_loc, end_loc)
        self.scroll_cursor_visible(center=True)

    def insert_at_cursor(self, text: str) -> None:
        self.insert(text)
        self.focus()

    # -- completion ------------------------------------------------------------------------------

    def attach_menu(self, menu: CompletionMenu) -> None:
        self._menu = menu

    @property
    def menu_shown(self) -> bool:
        return self._menu is not None and self._menu.shown

    def hide_menu(self) -> None:
        if self._menu is not None:
            self._menu.hide()

    def action_complete(self) -> None:
        self._update_menu(explicit=True)

    def _current_statement_text(self) -> str:
        span = statement_at(self.text, self.cursor_offset)
        return span.text if span else ""

    def _text_before_cursor(self) -> str:
        row, col = self.cursor_location
        line = self.document.get_line(row)
        return line[:col]

    def _update_menu(self, explicit: bool = False) -> None:
        menu = self._menu
        if menu is None:
            return
        if not self.selection.is_empty:
            menu.hide()
            return
        before = self._text_before_cursor()
        prefix, cands = self.completer.complete(before, self._current_statement_text())
        qualified = before[: len(before) - len(prefix)].endswith(".")
        if not cands or (not explicit and not qualified and len(prefix) < 2):
            menu.hide()
            return
        cands = cands[:50]
        x, y = self.cursor_screen_offset
        menu.show_candidates(prefix, cands, (max(0, x - len(prefix) - 2), y + 1))

    def _accept(self) -> None:
        menu = self._menu
        if menu is None:
            return
        chosen = menu.chosen
        prefix = menu.prefix
        menu.hide()
        if chosen is None:
            return
        text = chosen.text
        if chosen.kind == "keyword" and prefix and prefix.isupper():
            text = text.upper()
        elif chosen.kind == "function":
            text = text + "("
        if (
            not text.replace("_", "").isalnum()
            and not text.endswith("(")
            and chosen.kind
            in (
                "table",
                "view",
                "column",
            )
        ):
            text = '"' + text.replace('"', '""') + '"'
        row, col = self.cursor_location
        self._suppress_complete = True
        try:
            self.replace(text, (row, col - len(prefix)), (row, col))
        finally:
            self._suppress_complete = False

    async def _on_key(self, event: events.Key) -> None:
        if self.menu_shown:
            key = event.key
            if key in ("up", "down"):
                event.stop()
                event.prevent_default()
                assert self._menu is not None
                self._menu.move(-1 if key == "up" else 1)
                return
            if key in ("tab", "enter"):
                event.stop()
                event.prevent_default()
                self._accept()
                return
            if key == "escape":
                event.stop()
                event.prevent_default()
                self.hide_menu()
                return
        await super()._on_key(event)

    def _on_text_area_changed(self, event: TextArea.Changed) -> None:
        if self._suppress_complete or not self.has_focus:
            return
        if self.auto_complete or self.menu_shown:
            self._update_menu()

    def _on_text_area_selection_changed(self, event: TextArea.SelectionChanged) -> None:
        if self.menu_shown:
            # moving off the word being completed closes the menu
            before = self._text_before_cursor()
            if not before.endswith(self._menu.prefix if self._menu else ""):
                self.hide_menu()

    def _on_blur(self, event: events.Blur) -> None:
        self.hide_menu()
