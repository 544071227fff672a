#!/usr/bin/env bash
# Provision the system Chromium used by browser tests.
#
# Usage: scripts/chromium.sh
#
# Installs Debian's `chromium` when /usr/bin/chromium is missing. Browser
# tooling must use this binary (e.g. playwright-core with
# executablePath: '/usr/bin/chromium'); never let a tool download its own.
# Launch it headless with --headless --no-sandbox --disable-gpu
# --disable-background-networking --disable-component-update --disable-sync
# --no-first-run.
#
# stdout: exactly one line, the absolute path of the browser binary.
# stderr: progress and errors. Exit status is non-zero on failure.
set -euo pipefail

CHATGQL_SCRIPT_NAME=chromium
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BIN=/usr/bin/chromium

if [[ ! -x $BIN ]]; then
  take_lock chromium
  if [[ ! -x $BIN ]]; then
    apt_install chromium
  fi
  [[ -x $BIN ]] || die "$BIN is still missing after installing the chromium package"
  version=$("$BIN" --version 2>/dev/null) || die "$BIN is installed but does not run ($BIN --version failed)"
  log "installed $version"
else
  log "$BIN already installed"
fi

printf '%s\n' "$BIN"
