-- ecotop schema version 1: the raw tables of every pillar.
-- Times are TIMESTAMPTZ instants, money is DECIMAL(18,2) CNY. Columns named in the public contract
-- (users, merchants, transactions, groups, channels) must never be renamed.

CREATE TABLE ecotop_meta (
    key   VARCHAR PRIMARY KEY,
    value VARCHAR NOT NULL
);

-- People and businesses ---------------------------------------------------------------------------

CREATE TABLE users (
    user_id       BIGINT PRIMARY KEY,
    registered_at TIMESTAMPTZ NOT NULL,
    city          VARCHAR NOT NULL,
    province      VARCHAR NOT NULL
);

CREATE TABLE merchants (
    merchant_id BIGINT PRIMARY KEY,
    name        VARCHAR NOT NULL,
    industry    VARCHAR NOT NULL,
    city        VARCHAR NOT NULL,
    province    VARCHAR NOT NULL,
    size_weight DOUBLE NOT NULL DEFAULT 1.0,   -- relative size (Zipf), used by generators only
    created_at  TIMESTAMPTZ NOT NULL
);

-- Messaging & social ------------------------------------------------------------------------------

-- One row per app session: a user opening WeChat and what they did in that session.
CREATE TABLE app_sessions (
    ts                 TIMESTAMPTZ NOT NULL,
    user_id            BIGINT NOT NULL,
    opens              INTEGER NOT NULL,
    messages           INTEGER NOT NULL,
    video_call_minutes DOUBLE NOT NULL,      -- > 0 means the user made a video call
    moments_views      INTEGER NOT NULL,     -- > 0 means the user viewed Moments
    moments_posts      INTEGER NOT NULL      -- > 0 means the user posted to Moments
);

-- Chat groups and WeCom customer groups (kind = 'chat' | 'customer'); never more than 500 members.
CREATE TABLE groups (
    group_id     BIGINT PRIMARY KEY,
    kind         VARCHAR NOT NULL CHECK (kind IN ('chat', 'customer')),
    merchant_id  BIGINT,                    -- owner of a customer group; NULL for chat groups
    member_count INTEGER NOT NULL CHECK (member_count BETWEEN 0 AND 500),
    created_at   TIMESTAMPTZ NOT NULL,
    name         VARCHAR
);

-- Official Accounts -------------------------------------------------------------------------------

CREATE TABLE official_accounts (
    account_id  BIGINT PRIMARY KEY,
    merchant_id BIGINT,                     -- NULL for media / personal accounts
    name        VARCHAR NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE oa_follows (
    ts         TIMESTAMPTZ NOT NULL,
    account_id BIGINT NOT NULL,
    user_id    BIGINT NOT NULL,
    action     VARCHAR NOT NULL CHECK (action IN ('follow', 'unfollow')),
    source     VARCHAR NOT NULL             -- search, qr, article, mini_program, channels, ...
);

CREATE TABLE oa_articles (
    article_id   BIGINT PRIMARY KEY,
    account_id   BIGINT NOT NULL,
    published_at TIMESTAMPTZ NOT NULL,
    recipients   INTEGER NOT NULL,          -- followers the article was pushed to (target_user)
    title        VARCHAR
);

CREATE TABLE oa_reads (
    ts         TIMESTAMPTZ NOT NULL,
    article_id BIGINT NOT NULL,
    account_id BIGINT NOT NULL,
    user_id    BIGINT NOT NULL,
    shared     BOOLEAN NOT NULL
);

-- Mini Programs -----------------------------------------------------------------------------------

CREATE TABLE mini_programs (
    mp_id       BIGINT PRIMARY KEY,
    merchant_id BIGINT NOT NULL,
    name        VARCHAR NOT NULL,
    category    VARCHAR NOT NULL
);

CREATE TABLE mp_visits (
    ts          TIMESTAMPTZ NOT NULL,
    mp_id       BIGINT NOT NULL,
    merchant_id BIGINT NOT NULL,
    user_id     BIGINT NOT NULL,
    pages       INTEGER NOT NULL,
    stay_s      INTEGER NOT NULL
);

-- Pay ---------------------------------------------------------------------------------------------

-- Every payment attempt. status: 'success' | 'failed' | 'refunded' (a refunded payment was paid
-- first; refunded_at says when). entry: 'qr' | 'face' | 'mini_program' | 'in_app' | 'channels_live'.
CREATE TABLE transactions (
    tx_id       BIGINT PRIMARY KEY,
    ts          TIMESTAMPTZ NOT NULL,
    user_id     BIGINT NOT NULL,
    merchant_id BIGINT NOT NULL,
    amount      DECIMAL(18, 2) NOT NULL,
    entry       VARCHAR NOT NULL,
    status      VARCHAR NOT NULL,
    refunded_at TIMESTAMPTZ,
    live_id     BIGINT                      -- the Channels live session for entry = 'channels_live'
);

-- Pay-to-become-member and other enrolments in a merchant's membership.
CREATE TABLE memberships (
    merchant_id BIGINT NOT NULL,
    user_id     BIGINT NOT NULL,
    enrolled_at TIMESTAMPTZ NOT NULL,
    channel     VARCHAR NOT NULL,           -- pay_after | mini_program | official_account | wecom | channels
    tx_id       BIGINT                      -- the payment that triggered a pay_after enrolment
);

-- Pay Score ---------------------------------------------------------------------------------------

-- state: 'created' | 'doing' | 'done' | 'revoked' | 'expired'. A 'done' order is collected when
-- paid_at is set; one still unpaid 30 days after completed_at is bad debt.
CREATE TABLE payscore_orders (
    order_id        BIGINT PRIMARY KEY,
    ts              TIMESTAMPTZ NOT NULL,   -- created
    user_id         BIGINT NOT NULL,
    merchant_id     BIGINT NOT NULL,
    scenario        VARCHAR NOT NULL,       -- power_bank | ride_hailing | bike_sharing | lodging | car_rental | courier
    state           VARCHAR NOT NULL,
    deposit_waived  DECIMAL(18, 2) NOT NULL,
    amount          DECIMAL(18, 2) NOT NULL,
    completed_at    TIMESTAMPTZ,
    paid_at         TIMESTAMPTZ
);

-- WeCom -------------------------------------------------------------------------------------------

CREATE TABLE wecom_enterprises (
    corp_id     BIGINT PRIMARY KEY,
    merchant_id BIGINT,
    name        VARCHAR NOT NULL,
    staff       INTEGER NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);

-- A staff member adding (or removing) a WeChat user as an external customer contact.
CREATE TABLE wecom_contacts (
    ts          TIMESTAMPTZ NOT NULL,
    corp_id     BIGINT NOT NULL,
    merchant_id BIGINT,
    staff_id    BIGINT NOT NULL,
    user_id     BIGINT NOT NULL,
    action      VARCHAR NOT NULL CHECK (action IN ('add', 'remove'))
);

-- Joins and leaves of customer groups (groups.kind = 'customer').
CREATE TABLE group_members (
    ts       TIMESTAMPTZ NOT NULL,
    group_id BIGINT NOT NULL,
    user_id  BIGINT NOT NULL,
    action   VARCHAR NOT NULL CHECK (action IN ('join', 'leave'))
);

-- Mass messages from WeCom staff to customers or customer groups.
CREATE TABLE wecom_messages (
    ts          TIMESTAMPTZ NOT NULL,
    corp_id     BIGINT NOT NULL,
    group_id    BIGINT,                     -- NULL for a one-to-one mass send
    targeted    INTEGER NOT NULL,
    delivered   INTEGER NOT NULL,
    clicked     INTEGER NOT NULL
);

-- Channels ----------------------------------------------------------------------------------------

CREATE TABLE channels (
    channel_id  BIGINT PRIMARY KEY,
    merchant_id BIGINT,                     -- NULL for creators who are not merchants
    name        VARCHAR NOT NULL,
    followers   BIGINT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE channel_posts (
    post_id     BIGINT PRIMARY KEY,
    channel_id  BIGINT NOT NULL,
    ts          TIMESTAMPTZ NOT NULL,
    duration_s  INTEGER NOT NULL
);

CREATE TABLE live_sessions (
    live_id      BIGINT PRIMARY KEY,
    channel_id   BIGINT NOT NULL,
    merchant_id  BIGINT,
    started_at   TIMESTAMPTZ NOT NULL,
    ended_at     TIMESTAMPTZ,               -- NULL while live
    peak_viewers INTEGER NOT NULL
);

-- A view of a Channels short video (post_id) or of a live session (live_id).
CREATE TABLE channel_views (
    ts         TIMESTAMPTZ NOT NULL,
    user_id    BIGINT NOT NULL,
    channel_id BIGINT NOT NULL,
    post_id    BIGINT,
    live_id    BIGINT,
    watch_s    INTEGER NOT NULL,
    completed  BOOLEAN NOT NULL
);

-- The merchant closed loop ------------------------------------------------------------------------

-- One row per customer step with a merchant, drawn from the events themselves (so it can never
-- disagree with them). step: oa_read | mp_visit | order | pay | member | wecom_add | group_join | live_view
CREATE VIEW touchpoints AS
    SELECT r.ts, a.merchant_id, r.user_id, 'oa_read' AS step
      FROM oa_reads r JOIN official_accounts a USING (account_id) WHERE a.merchant_id IS NOT NULL
    UNION ALL SELECT ts, merchant_id, user_id, 'mp_visit' FROM mp_visits
    UNION ALL SELECT ts, merchant_id, user_id, 'order' FROM transactions
    UNION ALL SELECT ts, merchant_id, user_id, 'pay' FROM transactions WHERE status <> 'failed'
    UNION ALL SELECT enrolled_at, merchant_id, user_id, 'member' FROM memberships
    UNION ALL SELECT ts, merchant_id, user_id, 'wecom_add' FROM wecom_contacts
      WHERE action = 'add' AND merchant_id IS NOT NULL
    UNION ALL SELECT m.ts, g.merchant_id, m.user_id, 'group_join'
      FROM group_members m JOIN groups g USING (group_id) WHERE m.action = 'join' AND g.merchant_id IS NOT NULL
    UNION ALL SELECT v.ts, l.merchant_id, v.user_id, 'live_view'
      FROM channel_views v JOIN live_sessions l USING (live_id) WHERE l.merchant_id IS NOT NULL;

-- Ingestion ---------------------------------------------------------------------------------------

CREATE TABLE ingest_log (
    name        VARCHAR NOT NULL,
    size        BIGINT NOT NULL,
    checksum    VARCHAR NOT NULL,
    rows        BIGINT NOT NULL,
    ingested_at TIMESTAMPTZ NOT NULL,
    outcome     VARCHAR NOT NULL            -- ingested | duplicate | rejected
);
