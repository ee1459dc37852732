#!/usr/bin/env bash
# Start a private Postgres for the lake tests: initdb into a temporary directory, a free port on
# 127.0.0.1, trust auth over the unix socket and TCP on loopback only. Source it (". .ci/postgres.sh")
# so ECOTOP_TEST_PG (a libpq connection string) is exported and the server is stopped at exit.
# Runs initdb/pg_ctl as the `postgres` user when root (initdb refuses root); installs Postgres from
# the distribution when it is missing.
set -euo pipefail

_pg_bin() {
    local d
    if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
        dirname "$(command -v initdb)"
        return
    fi
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then echo "$d"; return; fi
    done
}

PG_BIN="$(_pg_bin || true)"
if [ -z "$PG_BIN" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
        PG_BIN="$(_pg_bin)"
    else
        echo "postgres.sh: initdb/pg_ctl not found and cannot install postgresql" >&2
        return 1 2>/dev/null || exit 1
    fi
fi

ECOTOP_PG_DIR="$(mktemp -d /tmp/ecotop-pg.XXXXXX)"
chmod 700 "$ECOTOP_PG_DIR"
_as_pg() { "$@"; }
if [ "$(id -u)" = 0 ]; then
    chown postgres: "$ECOTOP_PG_DIR"
    _as_pg() { runuser -u postgres -- "$@"; }
fi
ECOTOP_PG_PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
_as_pg "$PG_BIN/initdb" -D "$ECOTOP_PG_DIR/data" -A trust -U postgres >/dev/null
# One role logs in with a password (the lake tests' wrong-password case); the rest is trusted on
# this private, loopback-only server.
sed -i '1i host all ecotop_pw 127.0.0.1/32 scram-sha-256' "$ECOTOP_PG_DIR/data/pg_hba.conf"
_as_pg "$PG_BIN/pg_ctl" -D "$ECOTOP_PG_DIR/data" -l "$ECOTOP_PG_DIR/log" -w \
    -o "-p $ECOTOP_PG_PORT -k $ECOTOP_PG_DIR -c listen_addresses=127.0.0.1" start >/dev/null
_ecotop_pg_stop() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$ECOTOP_PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
    else
        "$PG_BIN/pg_ctl" -D "$ECOTOP_PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
    fi
    rm -rf "$ECOTOP_PG_DIR"
}
trap _ecotop_pg_stop EXIT
export ECOTOP_TEST_PG="host=127.0.0.1 port=$ECOTOP_PG_PORT user=postgres dbname=postgres"
export ECOTOP_TEST_PG_BIN="$PG_BIN"
echo "postgres.sh: private Postgres on 127.0.0.1:$ECOTOP_PG_PORT ($ECOTOP_PG_DIR)" >&2
