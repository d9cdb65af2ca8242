#!/usr/bin/env bash
# Start a throw-away PostgreSQL server for the tests and print its URL on stdout.
# Uses Debian's postgresql package (installed here when missing and we are root). Prints nothing
# and exits 0 when no server can be had: the PostgreSQL half of the tests then skips, saying why.
set -uo pipefail
PORT="${ARXIV_RECO_TEST_POSTGRES_PORT:-54329}"
DIR="${TMPDIR:-/tmp}/arxiv-reco-ci-postgres"
bin_dir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }
if [ -z "$(bin_dir)" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; } \
    >&2 || echo "could not install postgresql: the PostgreSQL tests will be skipped" >&2
fi
BIN="$(bin_dir)"
if [ -z "$BIN" ]; then
  echo "no PostgreSQL binaries: the PostgreSQL tests will be skipped" >&2
  exit 0
fi
# The server refuses to run as root: run it as the postgres user where we are root.
as_owner() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
if [ -d "$DIR" ]; then as_owner "$BIN/pg_ctl" -D "$DIR/data" -m immediate stop >/dev/null 2>&1; fi
rm -rf "$DIR" && mkdir -p "$DIR"
[ "$(id -u)" = 0 ] && chown postgres "$DIR"
if ! as_owner "$BIN/initdb" -D "$DIR/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >"$DIR/initdb.log" 2>&1; then
  echo "initdb failed (see $DIR/initdb.log): the PostgreSQL tests will be skipped" >&2
  exit 0
fi
if ! as_owner "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w \
    -o "-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
    start >&2; then
  echo "the PostgreSQL server did not start (see $DIR/server.log): its tests will be skipped" >&2
  exit 0
fi
echo "postgresql+psycopg://postgres@127.0.0.1:$PORT/postgres"
