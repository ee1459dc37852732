"""The errors a user can cause, as the interface sees them (raised by the store, re-exported here so
that ecotop.tui never imports ecotop.store). Each has a one-line message and an `exit_code`."""

from ecotop.store.errors import (
    BadInput,
    Damaged,
    Exists,
    Locked,
    Missing,
    NotADatabase,
    NotEcotop,
    NotGenerated,
    SchemaTooNew,
    SchemaTooOld,
    SqlError,
    SqlRefused,
    StoreError,
)
from ecotop.store.threadguard import UIThreadViolation

__all__ = [
    "BadInput",
    "Damaged",
    "Exists",
    "Locked",
    "Missing",
    "NotADatabase",
    "NotEcotop",
    "NotGenerated",
    "SchemaTooNew",
    "SchemaTooOld",
    "SqlError",
    "SqlRefused",
    "StoreError",
    "UIThreadViolation",
]
