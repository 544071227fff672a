#!/usr/bin/env bash
# Build (once) the pinned Centrifugo server binary.
#
# Usage: scripts/centrifugo.sh
#
# There is no Debian or npm package of the server, so it is built from the Go
# module proxy with `go install` (several minutes on two cores, under `nice`)
# into ${CHATGQL_CACHE:-$HOME/.cache/chatgql}/centrifugo-<version>/. When that
# binary exists and `centrifugo version` runs, nothing is rebuilt.
# Point tests at it with e.g. CENTRIFUGO_BIN="$(scripts/centrifugo.sh)".
# The version is stamped with -ldflags as release builds do; a binary built
# by a plain `go install` into the same directory (reporting 0.0.0) is
# accepted as well, since the directory name carries the pinned version.
#
# stdout: exactly one line, the absolute path of the centrifugo binary.
# stderr: progress and errors. Exit status is non-zero on failure.
set -euo pipefail

# The one place the server version is pinned.
CENTRIFUGO_VERSION=v6.9.1
CENTRIFUGO_MODULE=github.com/centrifugal/centrifugo/v6

CHATGQL_SCRIPT_NAME=centrifugo
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

mkdir -p "$CHATGQL_CACHE" || die "cannot create cache directory $CHATGQL_CACHE"
CHATGQL_CACHE=$(cd "$CHATGQL_CACHE" && pwd -P)
DIR="$CHATGQL_CACHE/centrifugo-$CENTRIFUGO_VERSION"
BIN="$DIR/centrifugo"

usable() { [[ -x $BIN ]] && "$BIN" version >/dev/null 2>&1; }

if usable; then
  log "centrifugo $CENTRIFUGO_VERSION already built at $BIN"
  printf '%s\n' "$BIN"
  exit 0
fi

take_lock "centrifugo-$CENTRIFUGO_VERSION"
# Another run may have finished the build while we waited for the lock.
if usable; then
  log "centrifugo $CENTRIFUGO_VERSION already built at $BIN"
  printf '%s\n' "$BIN"
  exit 0
fi

command -v go >/dev/null 2>&1 || die "go is not installed (needed to build centrifugo $CENTRIFUGO_VERSION; it requires Go 1.26 or newer)"

mkdir -p "$DIR" || die "cannot create $DIR"
# Build into a scratch GOBIN and move the result into place, so an
# interrupted build never leaves a half-written binary at $BIN.
tmp=$(mktemp -d "$DIR/.build.XXXXXX") || die "cannot create a scratch directory in $DIR"
trap 'rm -rf "$tmp"' EXIT

log "building $CENTRIFUGO_MODULE@$CENTRIFUGO_VERSION with $(go version) (takes several minutes)"
start=$SECONDS
# Stamp the version the way release builds do, so `centrifugo version` and the
# startup log report it instead of 0.0.0 and a "development build" warning.
GOBIN="$tmp" nice -n 10 go install \
  -ldflags "-X $CENTRIFUGO_MODULE/internal/build.Version=${CENTRIFUGO_VERSION#v}" \
  "$CENTRIFUGO_MODULE@$CENTRIFUGO_VERSION" >&2 \
  || die "go install $CENTRIFUGO_MODULE@$CENTRIFUGO_VERSION failed (see the go output above)"
[[ -x $tmp/centrifugo ]] || die "go install finished but produced no centrifugo binary"
mv -f "$tmp/centrifugo" "$BIN" || die "cannot move the built binary to $BIN"
usable || die "built $BIN but '$BIN version' does not run"
log "built $BIN in $((SECONDS - start))s"

printf '%s\n' "$BIN"
