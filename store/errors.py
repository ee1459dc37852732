"""Errors the store raises: each carries a one-line message meant for a person at a terminal."""

from __future__ import annotations

from pathlib import Path


class StoreError(Exception):
    """Base of every error a user can cause; str() is a one-line message, `exit_code` is for commands."""

    exit_code = 1


class Missing(StoreError):
    """The path does not exist (only `ecotop generate` creates files)."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"{path}: no such file (create one with `ecotop generate --out {path}`)")
        self.path = path


class Exists(StoreError):
    """A file would be overwritten."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"{path}: already exists (use --force to replace it)")
        self.path = path


class NotADatabase(StoreError):
    """The file is not a DuckDB database."""

    def __init__(self, path: Path, why: str = "it is not a DuckDB database") -> None:
        super().__init__(f"{path}: cannot open: {why}")
        self.path = path


class Damaged(StoreError):
    """DuckDB could not read the file."""

    def __init__(self, path: Path, detail: str) -> None:
        super().__init__(f"{path}: cannot open: the database is damaged or unreadable ({detail})")
        self.path = path


class NotEcotop(StoreError):
    """A DuckDB file without an ecotop schema."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"{path}: not an ecotop database (no ecotop_meta table)")
        self.path = path


class Locked(StoreError):
    """Another process holds the file open for writing."""

    def __init__(self, path: Path, pid: int | None) -> None:
        who = f"process {pid}" if pid else "another process"
        super().__init__(f"{path}: locked by {who}, which has it open for writing")
        self.path = path
        self.pid = pid


class SchemaTooNew(StoreError):
    """The file's schema is newer than this build understands."""

    def __init__(self, path: Path, found: int, supported: int) -> None:
        super().__init__(
            f"{path}: schema version {found} is newer than this ecotop supports "
            f"({supported}); upgrade ecotop"
        )
        self.path = path


class SchemaTooOld(StoreError):
    """The file's schema is older than this build; `ecotop migrate` upgrades it."""

    def __init__(self, path: Path, found: int, supported: int) -> None:
        super().__init__(
            f"{path}: schema version {found} is older than this ecotop's ({supported}); "
            f"run `ecotop migrate {path}` (it writes a backup first)"
        )
        self.path = path


class NotGenerated(StoreError):
    """The simulator refuses to add invented events to a file `generate` did not make."""

    def __init__(self, path: Path) -> None:
        super().__init__(
            f"{path}: was not made by `ecotop generate`; refusing to mix simulated events "
            "into real data"
        )
        self.path = path


class BadInput(StoreError):
    """A value from the user that cannot be used (range, option, ...)."""


class SqlRefused(StoreError):
    """The SQL guard refused an ad-hoc statement."""


class SqlError(StoreError):
    """An ad-hoc statement failed in DuckDB (syntax, binder, ...)."""
