"""CatalogTree: the console's sidebar listing the database's tables and views with typed columns.

Filled from a `queries.catalogue.Catalogue` (read once in a worker). `enter` on a table or column inserts its
name into the editor (the console handles `CatalogTree.InsertName`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual.message import Message
from textual.widgets import Tree

from ecotop.queries.catalogue import Catalogue as Catalog


class CatalogTree(Tree[str]):
    """Tables (and views) of the open file; expand one to see its columns and their types."""

    DEFAULT_CSS = """
    CatalogTree {
        width: 34;
        height: 1fr;
        border-right: vkey $panel-lighten-2;
        padding: 0 1 0 0;
        display: none;
    }
    CatalogTree.-shown { display: block; }
    """

    @dataclass
    class InsertName(Message):
        """`enter` on a table or column: insert its name in the editor."""

        name: str

    def __init__(self, **kw: Any) -> None:
        super().__init__("tables", **kw)
        self.show_root = False
        self.guide_depth = 2
        self.root.expand()
        self.catalog: Catalog | None = None

    def show_catalog(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.clear()
        if not catalog.tables:
            self.root.add_leaf(Text("(no tables)", style="dim"), data="")
            return
        for table in sorted(catalog.tables, key=lambda t: (t.startswith("ecotop_"), t)):
            cols = catalog.tables[table]
            label = Text(table)
            kind = "view" if table in catalog.views else f"{len(cols)} cols"
            label.append(f"  {kind}", style="dim")
            node = self.root.add(label, data=table, expand=False)
            for name, dtype in cols:
                col = Text(name)
                col.append(f"  {dtype.lower()}", style="dim")
                node.add_leaf(col, data=name)

    def show_error(self, message: str) -> None:
        self.clear()
        self.root.add_leaf(Text(f"catalog unavailable: {message}", style="red"), data="")

    def on_tree_node_selected(self, event: Tree.NodeSelected[str]) -> None:
        event.stop()
        node = event.node
        if node.data and not node.allow_expand:
            self.post_message(self.InsertName(node.data))

    def action_select_cursor(self) -> None:
        node = self.cursor_node
        if node is not None and node.data and node.allow_expand:
            # enter on a table inserts its name; space/arrow keys expand it
            self.post_message(self.InsertName(node.data))
            return
        super().action_select_cursor()
