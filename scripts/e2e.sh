#!/usr/bin/env bash
# Starts chatgql (debug build) on a free port over a fresh SQLite file, serving web/dist,
# runs the browser end-to-end tests against it, then stops it.
# Extra environment (e.g. CENTRIFUGO_URL) is passed to the server.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -p chatgql
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
data="$(mktemp -d)"
CHATGQL_ADDR="127.0.0.1:$port" DATABASE_URL="sqlite://$data/chat.db?mode=rwc" \
  CHATGQL_WEB_DIR="$PWD/web/dist" JWT_SECRET="e2e-secret-e2e-secret-e2e-secret-e2e" RUST_LOG=warn \
  target/debug/chatgql serve &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -rf "$data"' EXIT
(cd web && CHATGQL_E2E_URL="http://127.0.0.1:$port" npm run e2e)
