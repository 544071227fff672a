#!/usr/bin/env bash
# Provision a throwaway local Redis server on a given port.
#
# Usage: scripts/redis.sh [PORT]        (PORT defaults to 6379)
#
# Installs Debian's `redis-server` when missing. When nothing answers
# `redis-cli -p PORT ping`, starts a daemonised, non-persistent server
#   redis-server --daemonize yes --port PORT --save "" --appendonly no
# bound to loopback, and waits until it answers PONG. Its log, pid file and
# working directory are in ${CHATGQL_CACHE:-$HOME/.cache/chatgql}/redis-PORT/;
# stop it with `redis-cli -p PORT shutdown nosave`.
#
# stdout: exactly one line, the server URL, e.g. redis://127.0.0.1:6379
# stderr: progress and errors. Exit status is non-zero on failure.
#
# Environment (optional):
#   CHATGQL_REDIS_TIMEOUT   seconds to wait for PONG (default: 30)
set -euo pipefail

CHATGQL_SCRIPT_NAME=redis
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

(($# <= 1)) || die "usage: $0 [PORT]"
PORT="${1:-6379}"
if ! [[ $PORT =~ ^[0-9]{1,5}$ ]] || ((10#$PORT < 1 || 10#$PORT > 65535)); then
  die "PORT must be a number from 1 to 65535, got '$PORT'"
fi
PORT=$((10#$PORT))
TIMEOUT="${CHATGQL_REDIS_TIMEOUT:-30}"
URL="redis://127.0.0.1:$PORT"

pong() { [[ $(redis-cli -h 127.0.0.1 -p "$PORT" ping 2>/dev/null) == PONG ]]; }

# Fast path: already installed and answering.
if command -v redis-cli >/dev/null 2>&1 && pong; then
  log "Redis already answers on 127.0.0.1:$PORT"
  printf '%s\n' "$URL"
  exit 0
fi

take_lock "redis-$PORT"

if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
  apt_install redis-server
  command -v redis-server >/dev/null 2>&1 || die "redis-server is still missing after installing it"
  # Debian's package may start its own instance on 6379; that is fine, it
  # answers PING like ours would.
fi

if ! pong; then
  if port_open "$PORT"; then
    die "port $PORT is in use by something that does not answer Redis PING without a password"
  fi
  dir="$CHATGQL_CACHE/redis-$PORT"
  mkdir -p "$dir" || die "cannot create $dir"
  : >"$dir/redis.log"
  log "starting redis-server on 127.0.0.1:$PORT (log: $dir/redis.log)"
  without_locks redis-server \
    --daemonize yes \
    --port "$PORT" \
    --bind 127.0.0.1 -::1 \
    --save "" \
    --appendonly no \
    --dir "$dir" \
    --logfile "$dir/redis.log" \
    --pidfile "$dir/redis.pid" \
    >&2 || die "redis-server failed to start on port $PORT; see $dir/redis.log"
  if ! wait_until "$TIMEOUT" "PONG from 127.0.0.1:$PORT" pong; then
    tail -n 5 "$dir/redis.log" >&2 2>/dev/null || true
    die "Redis on port $PORT did not answer PING within ${TIMEOUT}s; see $dir/redis.log"
  fi
fi

log "Redis ready on 127.0.0.1:$PORT"
printf '%s\n' "$URL"
