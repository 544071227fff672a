#!/usr/bin/env bash
# Starts a local Centrifugo (centrifugo.json, port 8000) and chatgql bridged to it.
# Stops Centrifugo again when chatgql exits.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$(scripts/centrifugo.sh)"
# chatgql's own CENTRIFUGO_* variables are not Centrifugo settings: keep them from it.
env -u CENTRIFUGO_URL -u CENTRIFUGO_API_KEY -u CENTRIFUGO_TOKEN_SECRET -u CENTRIFUGO_WS_URL \
  "$bin" -c centrifugo.json &
cf=$!
trap 'kill $cf 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  curl -sf http://127.0.0.1:8000/health >/dev/null && break
  kill -0 $cf 2>/dev/null || { echo "centrifugo failed to start" >&2; exit 1; }
  sleep 0.1
done
curl -sf http://127.0.0.1:8000/health >/dev/null || { echo "centrifugo never became healthy" >&2; exit 1; }
export CENTRIFUGO_URL=http://127.0.0.1:8000
export CENTRIFUGO_API_KEY="$(python3 -c 'import json;print(json.load(open("centrifugo.json"))["http_api"]["key"])')"
export CENTRIFUGO_TOKEN_SECRET="$(python3 -c 'import json;print(json.load(open("centrifugo.json"))["client"]["token"]["hmac_secret_key"])')"
scripts/run.sh "$@"
