#!/usr/bin/env bash
# Build release and run every benchmark scenario on SQLite, then on PostgreSQL.
#
# Usage: scripts/bench.sh [extra chatgql-bench flags, e.g. --small]
#
# Provisions PostgreSQL with scripts/postgres.sh and uses Centrifugo from
# scripts/centrifugo.sh (or CENTRIFUGO_BIN) when it can; without Centrifugo the
# e2e run through it is skipped with a note. Raises the open-file limit for the
# fanout and idle scenarios (tens of thousands of loopback sockets).
# Writes target/bench/sqlite.json and target/bench/postgres.json.
# Exit status is non-zero when any run lost, duplicated or reordered a message.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

hard=$(ulimit -Hn)
if [[ $hard == unlimited || $hard -ge 65536 ]]; then
  ulimit -n 65536
else
  ulimit -n "$hard"
fi
echo "bench: open-file limit $(ulimit -n)" >&2

cargo build --release -p chatgql -p chatgql-bench

pg_url=$(scripts/postgres.sh)
if [[ -z ${CENTRIFUGO_BIN:-} ]]; then
  CENTRIFUGO_BIN=$(scripts/centrifugo.sh) || CENTRIFUGO_BIN=""
fi
export CENTRIFUGO_BIN

mkdir -p target/bench
status=0
target/release/chatgql-bench --database sqlite --room-per-client --centrifugo \
  --json target/bench/sqlite.json "$@" || status=1
target/release/chatgql-bench --database postgres --pg-admin-url "$pg_url" --room-per-client --centrifugo \
  --json target/bench/postgres.json "$@" || status=1
exit "$status"
