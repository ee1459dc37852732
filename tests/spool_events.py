"""A small ecotop file and deterministic event batches of every spool kind, for the spool tests.

`make_db(path)` creates a database with a few of every entity (and some payments and Pay Score orders
to refund or complete); `EventMaker(seed).batch(n, t0)` returns `{kind: pyarrow.Table}` with every
kind, ids consistent with that file and with earlier batches of the same maker (new users and
merchants included), updates (refunds, Pay Score completion and collection, live ends) of rows in the
file or earlier in the same batch.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pyarrow as pa

from ecotop.sample_data.producer import kind_schema
from ecotop.store import create_db

T0 = datetime(2026, 11, 20, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
N_USERS, N_MERCHANTS = 200, 12
INDUSTRIES = ["catering", "beverage", "convenience", "fresh", "transport", "services"]
ENTRIES = ["qr", "face", "mini_program", "in_app", "channels_live"]
SCENARIOS = ["power_bank", "ride_hailing", "bike_sharing", "lodging"]


def make_db(path: Path) -> None:
    """A small ecotop file: 200 users, 12 merchants and a few of everything they own."""
    db = create_db(path)
    con = db.con
    con.execute("BEGIN")
    con.execute(
        "INSERT INTO users SELECT i, $t - INTERVAL 100 DAY, 'Shenzhen', 'Guangdong' "
        "FROM range(1, $n + 1) r(i)",
        {"t": T0, "n": N_USERS},
    )
    con.execute(
        "INSERT INTO merchants SELECT i, 'Shop ' || i, $ind[1 + i % len($ind)], 'Guangzhou', "
        "'Guangdong', 1.0, $t - INTERVAL 200 DAY FROM range(1, $n + 1) r(i)",
        {"t": T0, "n": N_MERCHANTS, "ind": INDUSTRIES},
    )
    con.execute(
        "INSERT INTO official_accounts SELECT i, CASE WHEN i <= 4 THEN i END, 'OA ' || i, "
        "$t - INTERVAL 150 DAY FROM range(1, 7) r(i)",
        {"t": T0},
    )
    con.execute(
        "INSERT INTO oa_articles SELECT i, 1 + i % 6, $t - INTERVAL 1 DAY, 1000, 'A' || i "
        "FROM range(1, 11) r(i)",
        {"t": T0},
    )
    con.execute(
        "INSERT INTO mini_programs SELECT i, i, 'MP ' || i, CASE WHEN i % 2 = 0 THEN 'food' "
        "ELSE 'retail' END FROM range(1, $n + 1) r(i)",
        {"n": N_MERCHANTS},
    )
    con.execute(
        "INSERT INTO wecom_enterprises SELECT i, i, 'Corp ' || i, 20, $t - INTERVAL 100 DAY "
        "FROM range(1, 5) r(i)",
        {"t": T0},
    )
    con.execute(
        "INSERT INTO groups SELECT i, 'customer', 1 + i % 4, 10, $t - INTERVAL 50 DAY, 'G' || i "
        "FROM range(1, 9) r(i)",
        {"t": T0},
    )
    con.execute(
        "INSERT INTO channels SELECT i, CASE WHEN i <= 3 THEN i END, 'Ch ' || i, 100, "
        "$t - INTERVAL 90 DAY FROM range(1, 6) r(i)",
        {"t": T0},
    )
    con.execute(
        "INSERT INTO channel_posts SELECT i, 1 + i % 5, $t - INTERVAL 2 DAY, 30 FROM range(1, 21) r(i)",
        {"t": T0},
    )
    con.execute(
        "INSERT INTO live_sessions SELECT i, i, CASE WHEN i <= 3 THEN i END, $t - INTERVAL 1 HOUR, "
        "NULL, 50 FROM range(1, 4) r(i)",
        {"t": T0},
    )
    con.execute(
        "INSERT INTO transactions SELECT i, $t - INTERVAL 3 HOUR + i * INTERVAL 1 MINUTE, "
        "1 + i % $u, 1 + i % $m, 10 + i, $e[1 + i % 5], 'success', NULL, NULL "
        "FROM range(1, 61) r(i)",
        {"t": T0, "u": N_USERS, "m": N_MERCHANTS, "e": ENTRIES},
    )
    con.execute(
        "INSERT INTO payscore_orders SELECT i, $t - INTERVAL 2 HOUR + i * INTERVAL 1 MINUTE, "
        "1 + i % $u, 1 + i % $m, $s[1 + i % 4], 'doing', 99, 0, NULL, NULL "
        "FROM range(1, 41) r(i)",
        {"t": T0, "u": N_USERS, "m": N_MERCHANTS, "s": SCENARIOS},
    )
    from ecotop.store import rollups

    rollups.rebuild(con)
    con.execute("COMMIT")
    db.close()


class EventMaker:
    """Deterministic mixed batches of every kind, consistent with make_db() and each other."""

    def __init__(self, seed: int = 1) -> None:
        self.r = random.Random(seed)
        self.users = list(range(1, N_USERS + 1))
        self.merchants = list(range(1, N_MERCHANTS + 1))
        self.next = {
            "user": 10_000,
            "merchant": 1_000,
            "tx": 100_000,
            "order": 50_000,
            "article": 1_000,
            "post": 1_000,
            "live": 1_000,
            "group": 1_000,
            "mp": 1_000,
            "account": 1_000,
            "corp": 1_000,
            "channel": 1_000,
        }
        self.refundable = list(range(1, 61))  # successful payments in the file
        self.open_orders = list(range(1, 41))  # 'doing' orders in the file
        self.done_unpaid: list[int] = []
        self.live = [1, 2, 3]
        self.groups = list(range(1, 9))
        self.posts = list(range(1, 21))

    def _id(self, what: str) -> int:
        self.next[what] += 1
        return self.next[what]

    def batch(self, n: int, t0: datetime = T0) -> dict[str, pa.Table]:
        r = self.r
        rows: dict[str, list[dict]] = {}

        def add(kind: str, **v: object) -> None:
            rows.setdefault(kind, []).append(v)

        step = timedelta(seconds=30) / max(n, 1)
        # A few entities first: each is referred to later in the same batch.
        u = self._id("user")
        add("user", user_id=u, registered_at=t0, city="Hangzhou", province="Zhejiang")
        m = self._id("merchant")
        add(
            "merchant",
            merchant_id=m,
            name=f"New shop {m}",
            industry=r.choice(INDUSTRIES),
            city="Hangzhou",
            province="Zhejiang",
            size_weight=1.0,
            created_at=t0,
        )
        acc = self._id("account")
        add("official_account", account_id=acc, merchant_id=m, name=f"OA {acc}", created_at=t0)
        art = self._id("article")
        add(
            "oa_article",
            article_id=art,
            account_id=acc,
            published_at=t0,
            recipients=500,
            title="Hi",
        )
        mp = self._id("mp")
        add("mini_program", mp_id=mp, merchant_id=m, name=f"MP {mp}", category="food")
        corp = self._id("corp")
        add(
            "wecom_enterprise",
            corp_id=corp,
            merchant_id=m,
            name=f"Corp {corp}",
            staff=5,
            created_at=t0,
        )
        g = self._id("group")
        add(
            "group",
            group_id=g,
            group_kind="customer",
            merchant_id=m,
            member_count=0,
            created_at=t0,
            name=None,
        )
        ch = self._id("channel")
        add("channel", channel_id=ch, merchant_id=m, name=f"Ch {ch}", followers=0, created_at=t0)
        post = self._id("post")
        add("channel_post", post_id=post, channel_id=ch, ts=t0, duration_s=40)
        live = self._id("live")
        add(
            "live_session",
            live_id=live,
            channel_id=ch,
            merchant_id=m,
            started_at=t0,
            ended_at=None,
            peak_viewers=0,
        )
        self.users.append(u)
        self.merchants.append(m)
        self.groups.append(g)
        self.posts.append(post)
        self.live.append(live)
        new_tx: list[int] = []
        for i in range(max(0, n - 10)):
            ts = t0 + step * (i + 1)
            user = r.choice(self.users)
            merchant = r.choice(self.merchants)
            x = r.random()
            if x < 0.28:
                add(
                    "session",
                    ts=ts,
                    user_id=user,
                    opens=r.randint(1, 6),
                    messages=r.randint(0, 40),
                    video_call_minutes=r.choice([0.0, 0.0, 0.0, round(r.uniform(1, 20), 1)]),
                    moments_views=r.choice([0, 1, 3, 8]),
                    moments_posts=r.choice([0, 0, 0, 1]),
                )
            elif x < 0.55:
                tx = self._id("tx")
                status = "failed" if r.random() < 0.05 else "success"
                entry = r.choice(ENTRIES)
                add(
                    "transaction",
                    tx_id=tx,
                    ts=ts,
                    user_id=user,
                    merchant_id=merchant,
                    amount=Decimal(r.randint(100, 50000)) / 100,
                    entry=entry,
                    status=status,
                    refunded_at=None,
                    live_id=r.choice(self.live) if entry == "channels_live" else None,
                )
                if status == "success":
                    new_tx.append(tx)
                    if r.random() < 0.1:
                        add(
                            "membership",
                            merchant_id=merchant,
                            user_id=user,
                            enrolled_at=ts,
                            channel="pay_after",
                            tx_id=tx,
                        )
            elif x < 0.64:
                mpid = r.randint(1, N_MERCHANTS)
                add(
                    "mp_visit",
                    ts=ts,
                    mp_id=mpid,
                    merchant_id=mpid,
                    user_id=user,
                    pages=r.randint(1, 9),
                    stay_s=r.randint(5, 600),
                )
            elif x < 0.72:
                a = r.randint(1, 10)
                add(
                    "oa_read",
                    ts=ts,
                    article_id=a,
                    account_id=1 + a % 6,
                    user_id=user,
                    shared=r.random() < 0.1,
                )
            elif x < 0.80:
                if r.random() < 0.7:
                    add(
                        "channel_view",
                        ts=ts,
                        user_id=user,
                        channel_id=1,
                        post_id=r.choice(self.posts),
                        live_id=None,
                        watch_s=r.randint(1, 60),
                        completed=r.random() < 0.4,
                    )
                else:
                    add(
                        "channel_view",
                        ts=ts,
                        user_id=user,
                        channel_id=1,
                        post_id=None,
                        live_id=r.choice(self.live),
                        watch_s=r.randint(1, 600),
                        completed=False,
                    )
            elif x < 0.84:
                o = self._id("order")
                add(
                    "payscore_order",
                    order_id=o,
                    ts=ts,
                    user_id=user,
                    merchant_id=merchant,
                    scenario=r.choice(SCENARIOS),
                    state="doing",
                    deposit_waived=Decimal(99),
                    amount=Decimal(0),
                    completed_at=None,
                    paid_at=None,
                )
                self.open_orders.append(o)
            elif x < 0.86:
                add(
                    "oa_follow",
                    ts=ts,
                    account_id=r.randint(1, 6),
                    user_id=user,
                    action=r.choice(["follow", "follow", "unfollow"]),
                    source=r.choice(["qr", "search"]),
                )
            elif x < 0.88:
                add(
                    "wecom_contact",
                    ts=ts,
                    corp_id=r.randint(1, 4),
                    merchant_id=r.randint(1, 4),
                    staff_id=r.randint(1, 50),
                    user_id=user,
                    action=r.choice(["add", "add", "remove"]),
                )
            elif x < 0.90:
                add(
                    "group_member",
                    ts=ts,
                    group_id=r.choice(self.groups),
                    user_id=user,
                    action=r.choice(["join", "join", "leave"]),
                )
            elif x < 0.91:
                add(
                    "wecom_message",
                    ts=ts,
                    corp_id=r.randint(1, 4),
                    group_id=r.choice([None, 1]),
                    targeted=100,
                    delivered=95,
                    clicked=r.randint(0, 95),
                )
            elif x < 0.94 and (self.refundable or new_tx):
                pool = new_tx if new_tx and r.random() < 0.5 else self.refundable
                if pool:
                    tx = pool.pop(r.randrange(len(pool)))
                    add("refund", tx_id=tx, ts=ts + timedelta(seconds=1))
            elif x < 0.97 and self.open_orders:
                o = self.open_orders.pop(0)
                if r.random() < 0.85:
                    add(
                        "payscore_complete",
                        order_id=o,
                        ts=ts + timedelta(seconds=1),
                        amount=Decimal(r.randint(100, 3000)) / 100,
                    )
                    if r.random() < 0.8:
                        add("payscore_collect", order_id=o, ts=ts + timedelta(seconds=2))
                    else:
                        self.done_unpaid.append(o)
                else:
                    add(
                        "payscore_cancel",
                        order_id=o,
                        ts=ts + timedelta(seconds=1),
                        state=r.choice(["revoked", "expired"]),
                    )
            elif x < 0.98 and self.done_unpaid:
                add(
                    "payscore_collect",
                    order_id=self.done_unpaid.pop(0),
                    ts=ts + timedelta(seconds=3),
                )
            elif x < 0.985 and len(self.live) > 1:
                lid = self.live.pop(0)
                add(
                    "live_end",
                    live_id=lid,
                    ts=ts + timedelta(seconds=1),
                    peak_viewers=r.randint(10, 900),
                )
            else:
                add(
                    "session",
                    ts=ts,
                    user_id=user,
                    opens=1,
                    messages=0,
                    video_call_minutes=0.0,
                    moments_views=0,
                    moments_posts=0,
                )
        self.refundable += new_tx
        out = {}
        for kind, lst in rows.items():
            sch = kind_schema(kind)
            out[kind] = pa.Table.from_pydict(
                {f.name: [d.get(f.name) for d in lst] for f in sch}, schema=sch
            )
        return out
