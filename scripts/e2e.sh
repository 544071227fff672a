#!/usr/bin/env bash
# Browser end-to-end tests against a freshly built chatgql.
#
# Usage: scripts/e2e.sh [in-process|centrifugo]
#
#   in-process (default)  chatgql serves realtime itself (graphql-ws `myEvents`).
#   centrifugo            a real Centrifugo (binary from scripts/centrifugo.sh) runs on a free
#                         port with the repository's centrifugo.json, and chatgql publishes
#                         to it; the browser client must then run in CENTRIFUGO mode.
#
# Starts chatgql (debug build) on a free port over a fresh SQLite file, serving web/dist, runs
# `npm run e2e` with CHATGQL_E2E_REALTIME set to the mode the client must report, then stops
# everything it started. Screenshots: web/e2e-artifacts/ (in-process) and
# web/e2e-artifacts/centrifugo/ (centrifugo).
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"

mode="${1:-in-process}"
case "$mode" in
  in-process | centrifugo) ;;
  *)
    echo "usage: $0 [in-process|centrifugo]" >&2
    exit 2
    ;;
esac

log() { printf '[e2e] %s\n' "$*" >&2; }

server="" cf="" data=""
# Stops one process: TERM, a bounded wait for it to exit, then KILL.
stop() {
  local pid=$1
  [[ -n $pid ]] || return 0
  kill "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
  for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  stop "$server"
  stop "$cf"
  [[ -n $data ]] && rm -rf "$data"
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [[ $mode == centrifugo ]]; then
  cf_bin="$(scripts/centrifugo.sh)"
fi
cargo build -p chatgql

# Two distinct free ports (chatgql, Centrifugo).
read -r port cf_port < <(python3 -c '
import socket
ss = [socket.socket() for _ in range(2)]
for s in ss: s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in ss))
for s in ss: s.close()')
data="$(mktemp -d)"
origin="http://127.0.0.1:$port"

# Every CENTRIFUGO_* variable inherited from the caller, as `env -u NAME` arguments.
unset_centrifugo=()
while IFS= read -r name; do
  unset_centrifugo+=(-u "$name")
done < <(compgen -e | grep '^CENTRIFUGO_' || true)

server_env=()
if [[ $mode == centrifugo ]]; then
  cf_api_key="e2e-api-key-$RANDOM$RANDOM"
  cf_token_secret="e2e-token-secret-$RANDOM$RANDOM-$RANDOM$RANDOM"
  # The repository's centrifugo.json (the namespaces users run), with address, port, secrets and
  # allowed origin overridden by the environment. Centrifugo v6 reads a list of strings from the
  # environment as space-separated words (a JSON array would become one literal origin).
  (
    cd "$data"
    exec env "${unset_centrifugo[@]}" \
      CENTRIFUGO_HTTP_SERVER_ADDRESS=127.0.0.1 \
      CENTRIFUGO_HTTP_SERVER_PORT="$cf_port" \
      CENTRIFUGO_CLIENT_TOKEN_HMAC_SECRET_KEY="$cf_token_secret" \
      CENTRIFUGO_HTTP_API_KEY="$cf_api_key" \
      CENTRIFUGO_HEALTH_ENABLED=true \
      CENTRIFUGO_USAGE_STATS_DISABLED=true \
      CENTRIFUGO_CLIENT_ALLOWED_ORIGINS="$origin" \
      "$cf_bin" -c "$repo/centrifugo.json" >"$data/centrifugo.log" 2>&1
  ) &
  cf=$!
  cf_url="http://127.0.0.1:$cf_port"
  healthy=""
  for _ in $(seq 150); do
    if curl -sf --max-time 1 "$cf_url/health" >/dev/null; then healthy=1; break; fi
    kill -0 "$cf" 2>/dev/null || break
    sleep 0.1
  done
  if [[ -z $healthy ]]; then
    log "centrifugo did not become healthy on $cf_url; its log:"
    tail -n 30 "$data/centrifugo.log" >&2 || true
    exit 1
  fi
  log "centrifugo is up on $cf_url"
  server_env=(CENTRIFUGO_URL="$cf_url" CENTRIFUGO_API_KEY="$cf_api_key" CENTRIFUGO_TOKEN_SECRET="$cf_token_secret")
  expect=CENTRIFUGO
  artifacts="$PWD/web/e2e-artifacts/centrifugo"
else
  expect=IN_PROCESS
  artifacts="$PWD/web/e2e-artifacts"
fi

# The server sees exactly the CENTRIFUGO_* settings of the chosen mode, nothing inherited.
env "${unset_centrifugo[@]}" "${server_env[@]}" \
  CHATGQL_ADDR="127.0.0.1:$port" DATABASE_URL="sqlite://$data/chat.db?mode=rwc" \
  CHATGQL_WEB_DIR="$PWD/web/dist" JWT_SECRET="e2e-secret-e2e-secret-e2e-secret-e2e" RUST_LOG=warn \
  target/debug/chatgql serve &
server=$!

status=0
(cd web && CHATGQL_E2E_URL="$origin" CHATGQL_E2E_REALTIME="$expect" CHATGQL_E2E_ARTIFACTS="$artifacts" npm run e2e) || status=$?
if [[ $status -ne 0 && $mode == centrifugo ]]; then
  log "last lines of the centrifugo log:"
  tail -n 30 "$data/centrifugo.log" >&2 || true
fi
exit "$status"
