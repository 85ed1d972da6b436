#!/usr/bin/env bash
# A throwaway PostgreSQL server for tests and development, in a temporary data directory.
#
#   scripts/pg_local.sh start   # installs PostgreSQL from the OS packages if missing (as root),
#                               # starts a server on 127.0.0.1:$PG_LOCAL_PORT and prints its URL
#   scripts/pg_local.sh url     # prints the URL of the running server
#   scripts/pg_local.sh stop    # stops it and removes its data directory
#   scripts/pg_local.sh restart [SECONDS]  # stops it (fast: its sessions are cut), keeps its data,
#                               # waits SECONDS (default 0) and starts it again: a restart under load
#
#   QATYSU_TEST_PG=$(scripts/pg_local.sh start) python -m pytest tests/test_db_guards.py
#
# Environment: PG_LOCAL_PORT (default 5433), PG_LOCAL_DIR (default /tmp/qatysu-pg-$PG_LOCAL_PORT).
# Runs as root (the server itself then runs as the "postgres" user) or as any user that can run
# the server binaries. fsync is off: this server is for tests and must never hold real data.
set -euo pipefail

PORT="${PG_LOCAL_PORT:-5433}"
DIR="${PG_LOCAL_DIR:-/tmp/qatysu-pg-$PORT}"
USER_NAME=qatysu
PASSWORD=qatysu
DB_NAME=qatysu
URL="postgresql://$USER_NAME:$PASSWORD@127.0.0.1:$PORT/$DB_NAME"

bindir() {
    local found
    found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [ -z "$found" ] && command -v pg_config >/dev/null; then
        found=$(pg_config --bindir)
    fi
    echo "$found"
}

as_server_user() {  # run a command as the user that owns the data directory
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

start() {
    local bin
    bin=$(bindir)
    if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
        if [ "$(id -u)" -ne 0 ]; then
            echo "pg_local.sh: PostgreSQL is not installed; as root: apt-get install -y postgresql" >&2
            exit 1
        fi
        echo "pg_local.sh: installing PostgreSQL from the OS packages" >&2
        apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
        bin=$(bindir)
    fi
    if [ -f "$DIR/data/postmaster.pid" ] && as_server_user "$bin/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1; then
        echo "$URL"  # already running
        return
    fi
    rm -rf "$DIR"
    mkdir -p "$DIR"
    if [ "$(id -u)" -eq 0 ]; then
        chown postgres: "$DIR"
    fi
    local pwfile="$DIR/pw"
    as_server_user bash -c "umask 077; echo '$PASSWORD' > '$pwfile'"
    as_server_user "$bin/initdb" -D "$DIR/data" -U "$USER_NAME" --pwfile="$pwfile" -A scram-sha-256 \
        -E UTF8 --locale=C.UTF-8 >"$DIR/initdb.log" 2>&1 || { cat "$DIR/initdb.log" >&2; exit 1; }
    local options="-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off \
-c full_page_writes=off -c max_connections=200 -c shared_buffers=64MB"
    echo "$options" > "$DIR/options"  # what a restart starts it with again
    as_server_user "$bin/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 30 start -o "$options" >/dev/null \
        || { cat "$DIR/server.log" >&2; exit 1; }
    PGPASSWORD="$PASSWORD" "$bin/psql" -q -h 127.0.0.1 -p "$PORT" -U "$USER_NAME" -d postgres \
        -c "CREATE DATABASE $DB_NAME" >/dev/null
    echo "$URL"
}

stop() {
    local bin
    bin=$(bindir)
    if [ -n "$bin" ] && [ -f "$DIR/data/postmaster.pid" ]; then
        as_server_user "$bin/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null || true
    fi
    rm -rf "$DIR"
}

restart() {  # what an operator's restart does to the clients: every connection cut, none accepted a while
    local bin down="${1:-0}"
    bin=$(bindir)
    if [ -z "$bin" ] || [ ! -f "$DIR/data/postmaster.pid" ]; then
        echo "pg_local.sh: no server runs in $DIR" >&2
        exit 1
    fi
    as_server_user "$bin/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null
    sleep "$down"
    as_server_user "$bin/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 30 start \
        -o "$(cat "$DIR/options")" >/dev/null || { cat "$DIR/server.log" >&2; exit 1; }
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    restart) restart "${2:-0}" ;;
    url) echo "$URL" ;;
    *) echo "usage: $0 start|stop|restart [SECONDS]|url" >&2; exit 2 ;;
esac
