"""The spool file format: every event kind other processes may drop, its fields and their checks.

One row of a spool file is one event of one kind. A kind either inserts a row into a raw table
(`user`, `transaction`, `session`, ...) or updates one existing row (`refund`, `payscore_complete`,
`payscore_collect`, `payscore_cancel`, `live_end`). The README section "Feeding ecotop: the spool
directory" is written from this table; `tests/test_spool.py` keeps them in step.

Data over ~500 lines: the table of every spool kind and its fields.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pyarrow.compute as pc

# DuckDB types of the raw tables (store/migrations/001_initial.sql).
TS = "TIMESTAMPTZ"
ID = "BIGINT"
INT = "INTEGER"
MONEY = "DECIMAL(18,2)"
DOUBLE = "DOUBLE"
BOOL = "BOOLEAN"
TEXT = "VARCHAR"

ENTRIES = ("qr", "face", "mini_program", "in_app", "channels_live")
TX_STATUSES = ("success", "failed", "refunded")
PS_STATES = ("created", "doing", "done", "revoked", "expired")
MEMBER_CHANNELS = ("pay_after", "mini_program", "official_account", "wecom", "channels")


@dataclass(frozen=True)
class Field:
    """One field of a kind: its name in files, its column, type and checks.

    `ref` names the entity kind an id must refer to (in the database, or created earlier in the same
    file). `check` is SQL that is true for a bad value `{v}` and `message` says why.
    """

    name: str
    type: str
    required: bool = True
    column: str | None = None
    enum: tuple[str, ...] | None = None
    ref: str | None = None
    nonneg: bool = False
    example: object = None
    stored: bool = True  # False: the field steers ingestion and has no column (IF_NEW)

    @property
    def col(self) -> str:
        return self.column or self.name


@dataclass(frozen=True)
class Check:
    """A rule across fields of one row: `sql` is true for a bad row, blamed on `field`."""

    field: str
    sql: str
    message: str

    def arrow(self, cols: dict[str, Any]) -> Any:
        """The same rule over typed Arrow columns by field name: a mask, null meaning not bad."""
        return ARROW_CHECKS[self.message](cols)


@dataclass(frozen=True)
class Kind:
    """An event kind: the table it writes, its fields, its key and whether it inserts or updates."""

    name: str
    table: str
    fields: tuple[Field, ...]
    doc: str
    key: str | None = None  # the id an inserted row creates (primary key), or an update targets
    update: bool = False
    checks: tuple[Check, ...] = field(default_factory=tuple)

    def get(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)


def F(name: str, type_: str, example: object, **kw: object) -> Field:
    return Field(name, type_, example=example, **kw)  # type: ignore[arg-type]


def O(name: str, type_: str, example: object = None, **kw: object) -> Field:  # noqa: E743
    return Field(name, type_, required=False, example=example, **kw)  # type: ignore[arg-type]


T0 = "2026-11-20T12:00:05.120+08:00"

# A producer that re-announces an entity it cannot know the database holds (ecotop simulate, for
# the articles, posts and live sessions its events refer to) marks the row `if_new: true`: it is
# inserted only if its id is new, and skipped, with no error, if the database already has it.
# Without it (or false) an existing id is an error, as for every other row.
IF_NEW = Field("if_new", BOOL, required=False, example=None, stored=False)

_KINDS = [
    # People and businesses --------------------------------------------------------------------
    Kind(
        "user",
        "users",
        (
            F("user_id", ID, 1000001, nonneg=True),
            F("registered_at", TS, T0),
            F("city", TEXT, "Shenzhen"),
            F("province", TEXT, "Guangdong"),
        ),
        "a new WeChat user",
        key="user_id",
    ),
    Kind(
        "merchant",
        "merchants",
        (
            F("merchant_id", ID, 20001, nonneg=True),
            F("name", TEXT, "Lucky Noodles"),
            F("industry", TEXT, "food"),
            F("city", TEXT, "Guangzhou"),
            F("province", TEXT, "Guangdong"),
            O("size_weight", DOUBLE, 1.0, nonneg=True),
            F("created_at", TS, T0),
        ),
        "a new merchant (size_weight defaults to 1.0)",
        key="merchant_id",
    ),
    # Messaging & social ------------------------------------------------------------------------
    Kind(
        "session",
        "app_sessions",
        (
            F("ts", TS, T0),
            F("user_id", ID, 42, ref="user"),
            F("opens", INT, 3, nonneg=True),
            F("messages", INT, 17, nonneg=True),
            F("video_call_minutes", DOUBLE, 4.5, nonneg=True),
            F("moments_views", INT, 6, nonneg=True),
            F("moments_posts", INT, 0, nonneg=True),
        ),
        "an app session: opens, messages sent, video-call minutes, Moments views and posts",
    ),
    Kind(
        "group",
        "groups",
        (
            F("group_id", ID, 900001, nonneg=True),
            F("group_kind", TEXT, "customer", column="kind", enum=("chat", "customer")),
            O("merchant_id", ID, 17, ref="merchant"),
            F("member_count", INT, 0, nonneg=True),
            F("created_at", TS, T0),
            O("name", TEXT, "Lucky Noodles VIP 3"),
        ),
        "a new chat group or WeCom customer group",
        key="group_id",
        checks=(
            Check("member_count", "{member_count} > 500", "a group has at most 500 members"),
            Check(
                "merchant_id",
                "{group_kind} = 'customer' AND {merchant_id} IS NULL",
                "a customer group needs its merchant_id",
            ),
        ),
    ),
    # Official Accounts -------------------------------------------------------------------------
    Kind(
        "official_account",
        "official_accounts",
        (
            F("account_id", ID, 30001, nonneg=True),
            O("merchant_id", ID, 17, ref="merchant"),
            F("name", TEXT, "Lucky Noodles"),
            F("created_at", TS, T0),
        ),
        "a new Official Account (merchant_id empty for media and personal accounts)",
        key="account_id",
    ),
    Kind(
        "oa_follow",
        "oa_follows",
        (
            F("ts", TS, T0),
            F("account_id", ID, 12, ref="official_account"),
            F("user_id", ID, 42, ref="user"),
            F("action", TEXT, "follow", enum=("follow", "unfollow")),
            F("source", TEXT, "qr"),
        ),
        "a user follows or unfollows an Official Account",
    ),
    Kind(
        "oa_article",
        "oa_articles",
        (
            F("article_id", ID, 5000001, nonneg=True),
            F("account_id", ID, 12, ref="official_account"),
            F("published_at", TS, T0),
            F("recipients", INT, 18000, nonneg=True),
            O("title", TEXT, "Winter menu"),
            IF_NEW,
        ),
        "an article pushed to `recipients` followers",
        key="article_id",
    ),
    Kind(
        "oa_read",
        "oa_reads",
        (
            F("ts", TS, T0),
            F("article_id", ID, 4999990, ref="oa_article"),
            F("account_id", ID, 12, ref="official_account"),
            F("user_id", ID, 42, ref="user"),
            F("shared", BOOL, False),
        ),
        "a user reads an article (and maybe shares it)",
    ),
    # Mini Programs -----------------------------------------------------------------------------
    Kind(
        "mini_program",
        "mini_programs",
        (
            F("mp_id", ID, 40001, nonneg=True),
            F("merchant_id", ID, 17, ref="merchant"),
            F("name", TEXT, "Lucky Noodles order"),
            F("category", TEXT, "food"),
        ),
        "a new Mini Program of a merchant",
        key="mp_id",
    ),
    Kind(
        "mp_visit",
        "mp_visits",
        (
            F("ts", TS, T0),
            F("mp_id", ID, 33, ref="mini_program"),
            F("merchant_id", ID, 17, ref="merchant"),
            F("user_id", ID, 42, ref="user"),
            F("pages", INT, 4, nonneg=True),
            F("stay_s", INT, 95, nonneg=True),
        ),
        "a visit to a Mini Program",
    ),
    # Pay ---------------------------------------------------------------------------------------
    Kind(
        "transaction",
        "transactions",
        (
            F("tx_id", ID, 88000001, nonneg=True),
            F("ts", TS, T0),
            F("user_id", ID, 42, ref="user"),
            F("merchant_id", ID, 17, ref="merchant"),
            F("amount", MONEY, "36.50", nonneg=True),
            F("entry", TEXT, "mini_program", enum=ENTRIES),
            F("status", TEXT, "success", enum=TX_STATUSES),
            O("refunded_at", TS),
            O("live_id", ID, None, ref="live_session"),
        ),
        "a payment attempt (a backfilled refunded one carries refunded_at)",
        key="tx_id",
        checks=(
            Check(
                "refunded_at",
                "({status} = 'refunded') <> ({refunded_at} IS NOT NULL)",
                "refunded_at is set exactly when status is 'refunded'",
            ),
            Check("refunded_at", "{refunded_at} < {ts}", "refunded before it was paid"),
        ),
    ),
    Kind(
        "refund",
        "transactions",
        (
            F("tx_id", ID, 88000001, ref="transaction"),
            F("ts", TS, "2026-11-20T12:30:00+08:00"),
        ),
        "a successful payment is refunded at ts (status becomes 'refunded'; counted in the "
        "minute of the payment)",
        key="tx_id",
        update=True,
    ),
    Kind(
        "membership",
        "memberships",
        (
            F("merchant_id", ID, 17, ref="merchant"),
            F("user_id", ID, 42, ref="user"),
            F("enrolled_at", TS, T0),
            F("channel", TEXT, "pay_after", enum=MEMBER_CHANNELS),
            O("tx_id", ID, 88000001, ref="transaction"),
        ),
        "a user joins a merchant's membership (tx_id: the payment of a pay_after enrolment)",
    ),
    # Pay Score ---------------------------------------------------------------------------------
    Kind(
        "payscore_order",
        "payscore_orders",
        (
            F("order_id", ID, 7000001, nonneg=True),
            F("ts", TS, T0),
            F("user_id", ID, 42, ref="user"),
            F("merchant_id", ID, 17, ref="merchant"),
            F("scenario", TEXT, "power_bank"),
            F("state", TEXT, "doing", enum=PS_STATES),
            F("deposit_waived", MONEY, "99.00", nonneg=True),
            F("amount", MONEY, "0.00", nonneg=True),
            O("completed_at", TS),
            O("paid_at", TS),
        ),
        "a Pay Score order is created (a backfilled done one carries completed_at)",
        key="order_id",
        checks=(
            Check(
                "completed_at",
                "({state} = 'done') <> ({completed_at} IS NOT NULL)",
                "completed_at is set exactly when state is 'done'",
            ),
            Check("completed_at", "{completed_at} < {ts}", "completed before it was created"),
            Check(
                "paid_at", "{paid_at} IS NOT NULL AND {completed_at} IS NULL", "paid but not done"
            ),
            Check("paid_at", "{paid_at} < {completed_at}", "paid before it was completed"),
        ),
    ),
    Kind(
        "payscore_complete",
        "payscore_orders",
        (
            F("order_id", ID, 7000001, ref="payscore_order"),
            F("ts", TS, "2026-11-20T13:10:00+08:00"),
            O("amount", MONEY, "6.00", nonneg=True),
        ),
        "the service ends: state becomes done, completed_at = ts, amount = the fee (if given)",
        key="order_id",
        update=True,
    ),
    Kind(
        "payscore_collect",
        "payscore_orders",
        (
            F("order_id", ID, 7000001, ref="payscore_order"),
            F("ts", TS, "2026-11-20T13:10:02+08:00"),
        ),
        "the fee of a done order is collected: paid_at = ts",
        key="order_id",
        update=True,
    ),
    Kind(
        "payscore_cancel",
        "payscore_orders",
        (
            F("order_id", ID, 7000002, ref="payscore_order"),
            F("ts", TS, "2026-11-20T12:20:00+08:00"),
            F("state", TEXT, "revoked", enum=("revoked", "expired")),
        ),
        "an open order is revoked or expires",
        key="order_id",
        update=True,
    ),
    # WeCom -------------------------------------------------------------------------------------
    Kind(
        "wecom_enterprise",
        "wecom_enterprises",
        (
            F("corp_id", ID, 10001, nonneg=True),
            O("merchant_id", ID, 17, ref="merchant"),
            F("name", TEXT, "Lucky Noodles Ltd"),
            F("staff", INT, 120, nonneg=True),
            F("created_at", TS, T0),
        ),
        "a new WeCom organisation",
        key="corp_id",
    ),
    Kind(
        "wecom_contact",
        "wecom_contacts",
        (
            F("ts", TS, T0),
            F("corp_id", ID, 9, ref="wecom_enterprise"),
            O("merchant_id", ID, 17, ref="merchant"),
            F("staff_id", ID, 901, nonneg=True),
            F("user_id", ID, 42, ref="user"),
            F("action", TEXT, "add", enum=("add", "remove")),
        ),
        "a staff member adds or removes a customer contact",
    ),
    Kind(
        "group_member",
        "group_members",
        (
            F("ts", TS, T0),
            F("group_id", ID, 51, ref="group"),
            F("user_id", ID, 42, ref="user"),
            F("action", TEXT, "join", enum=("join", "leave")),
        ),
        "a user joins or leaves a customer group",
    ),
    Kind(
        "wecom_message",
        "wecom_messages",
        (
            F("ts", TS, T0),
            F("corp_id", ID, 9, ref="wecom_enterprise"),
            O("group_id", ID, 51, ref="group"),
            F("targeted", INT, 300, nonneg=True),
            F("delivered", INT, 296, nonneg=True),
            F("clicked", INT, 41, nonneg=True),
        ),
        "a mass message from staff (group_id empty for one-to-one sends)",
        checks=(
            Check("delivered", "{delivered} > {targeted}", "more delivered than targeted"),
            Check("clicked", "{clicked} > {delivered}", "more clicked than delivered"),
        ),
    ),
    # Channels ----------------------------------------------------------------------------------
    Kind(
        "channel",
        "channels",
        (
            F("channel_id", ID, 20001, nonneg=True),
            O("merchant_id", ID, 17, ref="merchant"),
            F("name", TEXT, "Lucky Noodles kitchen"),
            F("followers", ID, 0, nonneg=True),
            F("created_at", TS, T0),
        ),
        "a new Channels account (merchant_id empty for creators)",
        key="channel_id",
    ),
    Kind(
        "channel_post",
        "channel_posts",
        (
            F("post_id", ID, 600001, nonneg=True),
            F("channel_id", ID, 77, ref="channel"),
            F("ts", TS, T0),
            F("duration_s", INT, 45, nonneg=True),
            IF_NEW,
        ),
        "a new short video",
        key="post_id",
    ),
    Kind(
        "live_session",
        "live_sessions",
        (
            F("live_id", ID, 30001, nonneg=True),
            F("channel_id", ID, 77, ref="channel"),
            O("merchant_id", ID, 17, ref="merchant"),
            F("started_at", TS, T0),
            O("ended_at", TS),
            F("peak_viewers", INT, 0, nonneg=True),
            IF_NEW,
        ),
        "a live session starts (ended_at empty while live)",
        key="live_id",
        checks=(Check("ended_at", "{ended_at} < {started_at}", "ended before it started"),),
    ),
    Kind(
        "live_end",
        "live_sessions",
        (
            F("live_id", ID, 30001, ref="live_session"),
            F("ts", TS, "2026-11-20T13:30:00+08:00"),
            O("peak_viewers", INT, 1520, nonneg=True),
        ),
        "a live session ends: ended_at = ts, peak_viewers (if given)",
        key="live_id",
        update=True,
    ),
    Kind(
        "channel_view",
        "channel_views",
        (
            F("ts", TS, T0),
            F("user_id", ID, 42, ref="user"),
            F("channel_id", ID, 77, ref="channel"),
            O("post_id", ID, 599990, ref="channel_post"),
            O("live_id", ID, None, ref="live_session"),
            F("watch_s", INT, 38, nonneg=True),
            F("completed", BOOL, True),
        ),
        "a view of a short video (post_id) or of a live session (live_id)",
        checks=(
            Check(
                "post_id",
                "({post_id} IS NULL) = ({live_id} IS NULL)",
                "exactly one of post_id and live_id is set",
            ),
        ),
    ),
]

KINDS: dict[str, Kind] = {k.name: k for k in _KINDS}

# Each Check's rule over typed Arrow columns (by message; the same rule as its SQL).
ARROW_CHECKS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "a group has at most 500 members": lambda c: pc.greater(c["member_count"], 500),
    "a customer group needs its merchant_id": lambda c: pc.and_(
        pc.equal(c["group_kind"], "customer"), pc.is_null(c["merchant_id"])
    ),
    "refunded_at is set exactly when status is 'refunded'": lambda c: pc.not_equal(
        pc.equal(c["status"], "refunded"), pc.is_valid(c["refunded_at"])
    ),
    "refunded before it was paid": lambda c: pc.less(c["refunded_at"], c["ts"]),
    "completed_at is set exactly when state is 'done'": lambda c: pc.not_equal(
        pc.equal(c["state"], "done"), pc.is_valid(c["completed_at"])
    ),
    "completed before it was created": lambda c: pc.less(c["completed_at"], c["ts"]),
    "paid but not done": lambda c: pc.and_(
        pc.is_valid(c["paid_at"]), pc.is_null(c["completed_at"])
    ),
    "paid before it was completed": lambda c: pc.less(c["paid_at"], c["completed_at"]),
    "more delivered than targeted": lambda c: pc.greater(c["delivered"], c["targeted"]),
    "more clicked than delivered": lambda c: pc.greater(c["clicked"], c["delivered"]),
    "ended before it started": lambda c: pc.less(c["ended_at"], c["started_at"]),
    "exactly one of post_id and live_id is set": lambda c: pc.equal(
        pc.is_null(c["post_id"]), pc.is_null(c["live_id"])
    ),
}
assert {c.message for k in _KINDS for c in k.checks} == set(ARROW_CHECKS)

# A file may also name a kind by its table (transactions-*.csv); updates have no such alias.
ALIASES: dict[str, str] = {k.table: k.name for k in _KINDS if not k.update}

# Every field name any kind uses, in a stable order, with its type (one type per name).
FIELD_TYPES: dict[str, str] = {}
for _k in _KINDS:
    for _f in _k.fields:
        if FIELD_TYPES.setdefault(_f.name, _f.type) != _f.type:
            raise AssertionError(f"field {_f.name} has two types")
ALL_FIELDS: tuple[str, ...] = tuple(FIELD_TYPES)

# The entity kind that creates the id an event refers to: kind -> (table, key column).
ENTITIES: dict[str, tuple[str, str]] = {
    k.name: (k.table, k.key) for k in _KINDS if k.key is not None and not k.update
}


def resolve(name: str) -> str | None:
    """The canonical kind for a kind or table name, or None."""
    if name in KINDS:
        return name
    return ALIASES.get(name)


def example(kind: Kind) -> dict[str, object]:
    """An example NDJSON object of `kind` (required fields and optional ones with an example)."""
    out: dict[str, object] = {"kind": kind.name}
    for f in kind.fields:
        if f.required or f.example is not None:
            out[f.name] = f.example
    return out


# Insert order: entities before the events that refer to them (rollups join merchants, MPs).
INSERT_ORDER = [
    "user",
    "merchant",
    "official_account",
    "mini_program",
    "wecom_enterprise",
    "group",
    "channel",
    "channel_post",
    "live_session",
    "oa_article",
    "transaction",
    "payscore_order",
    "session",
    "oa_follow",
    "oa_read",
    "mp_visit",
    "membership",
    "wecom_contact",
    "group_member",
    "wecom_message",
    "channel_view",
]
