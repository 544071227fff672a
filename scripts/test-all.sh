#!/usr/bin/env bash
# Runs every check and test of the project, provisioning what they need first:
# formatting, lints, the Rust suite on SQLite and on PostgreSQL, the Centrifugo client
# against a real Centrifugo, the Node interoperability tests and the web client's tests.
# Usage: scripts/test-all.sh        (CI=true turns every missing service into a failure)
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*" >&2; }

step "formatting and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings

step "provisioning: Centrifugo, PostgreSQL, Redis"
CENTRIFUGO_BIN="$(scripts/centrifugo.sh)"
TEST_REDIS_URL="$(scripts/redis.sh 6391)"
export CENTRIFUGO_BIN TEST_REDIS_URL
TEST_PG_ADMIN_URL="$(scripts/postgres.sh)"

step "Rust suite on SQLite (the schema file check included)"
cargo test --workspace

step "Rust API suite on PostgreSQL"
TEST_DATABASE_URL="$TEST_PG_ADMIN_URL" cargo test -p chatgql --test api

step "benchmarks, small versions (fail only on correctness)"
(
  ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
  cargo build -p chatgql -p chatgql-bench
  target/debug/chatgql-bench --small --database sqlite
  target/debug/chatgql-bench --small --database postgres --pg-admin-url "$TEST_PG_ADMIN_URL"
)

step "interoperability: npm graphql-ws and centrifuge clients"
cargo build -p chatgql
(cd tests/node && npm ci --no-audit --no-fund --loglevel=error && CHATGQL_BIN="$PWD/../../target/debug/chatgql" node --test)

step "web client: unit tests and build"
(cd web && npm ci --no-audit --no-fund --loglevel=error && npm test && npm run build)

step "web client: end to end in headless Chromium (in-process realtime)"
scripts/chromium.sh >/dev/null
scripts/e2e.sh

step "web client: end to end in headless Chromium (through a real Centrifugo)"
scripts/e2e.sh centrifugo

step "all checks passed"
