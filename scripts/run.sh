#!/usr/bin/env bash
# Builds the web client (when present) and starts chatgql on its embedded defaults:
# SQLite file ./chatgql.db, in-process realtime, http://127.0.0.1:8080.
# Extra arguments go to `chatgql`, e.g. `scripts/run.sh serve --addr 0.0.0.0:8080`.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -f web/package.json ]; then
  if [ ! -f web/dist/index.html ] || [ -n "$(find web/src web/index.html web/graphiql.html web/package.json -newer web/dist/index.html 2>/dev/null | head -n 1)" ]; then
    echo "building the web client…" >&2
    (cd web && npm ci --no-audit --no-fund --loglevel=error && npm run build) >&2
  fi
fi
exec cargo run --release -p chatgql -- "$@"
