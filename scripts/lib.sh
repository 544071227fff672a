# shellcheck shell=bash
# Shared helpers for the provisioning scripts in this directory.
# Source it; do not execute it. Every helper writes only to stderr, so a
# script's stdout stays reserved for its machine-readable result.

# Name used as the prefix of progress lines, e.g. "[postgres] starting".
CHATGQL_SCRIPT_NAME="${CHATGQL_SCRIPT_NAME:-$(basename "$0" .sh)}"
# Where builds, locks and scratch state live.
CHATGQL_CACHE="${CHATGQL_CACHE:-$HOME/.cache/chatgql}"

log() { printf '[%s] %s\n' "$CHATGQL_SCRIPT_NAME" "$*" >&2; }

die() {
  printf '[%s] error: %s\n' "$CHATGQL_SCRIPT_NAME" "$*" >&2
  exit 1
}

# Run a command without the file descriptors of the locks this script holds.
# Anything that may start a daemon (pg_ctlcluster, redis-server, package
# post-install scripts) must go through this: a daemon that inherits a lock
# descriptor keeps the lock held for as long as it runs.
without_locks() {
  (
    [[ -n ${CHATGQL_LOCK_FD:-} ]] && exec {CHATGQL_LOCK_FD}>&-
    [[ -n ${CHATGQL_APT_LOCK_FD:-} ]] && exec {CHATGQL_APT_LOCK_FD}>&-
    exec "$@"
  )
}

# Run a command as root (directly when already root, else through sudo).
as_root() {
  if [[ $EUID -eq 0 ]]; then
    without_locks "$@"
  elif command -v sudo >/dev/null 2>&1; then
    without_locks sudo -- "$@"
  else
    die "need root (or sudo) to run: $*"
  fi
}

# Run a command as another system user (e.g. postgres), from / so that it
# does not complain about an unreadable working directory.
as_user() {
  local user=$1
  shift
  if [[ $EUID -eq 0 ]]; then
    (cd / && without_locks runuser -u "$user" -- "$@")
  elif command -v sudo >/dev/null 2>&1; then
    (cd / && without_locks sudo -u "$user" -- "$@")
  else
    die "need root (or sudo) to run as $user: $*"
  fi
}

# Take an exclusive lock for the rest of the script (released on exit).
# Usage: take_lock NAME   (serialises concurrent runs of the same step)
take_lock() {
  local dir="$CHATGQL_CACHE/locks"
  mkdir -p "$dir" || die "cannot create lock directory $dir"
  exec {CHATGQL_LOCK_FD}>"$dir/$1.lock" || die "cannot open lock file $dir/$1.lock"
  if ! flock -n "$CHATGQL_LOCK_FD"; then
    log "waiting for another run holding lock '$1'"
    flock -w 1800 "$CHATGQL_LOCK_FD" || die "timed out waiting for lock '$1'"
  fi
}

# Install Debian packages non-interactively; all apt output goes to stderr.
# Usage: apt_install PKG...
apt_install() {
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install $* by hand"
  log "installing Debian packages: $*"
  # Serialise our own apt runs; dpkg's lock timeout covers anyone else's.
  mkdir -p "$CHATGQL_CACHE/locks" || die "cannot create $CHATGQL_CACHE/locks"
  exec {CHATGQL_APT_LOCK_FD}>"$CHATGQL_CACHE/locks/apt.lock" || die "cannot open the apt lock file"
  flock -w 1800 "$CHATGQL_APT_LOCK_FD" || die "timed out waiting for the apt lock"
  as_root env DEBIAN_FRONTEND=noninteractive \
    apt-get -o DPkg::Lock::Timeout=600 update >&2 \
    || die "apt-get update failed"
  as_root env DEBIAN_FRONTEND=noninteractive \
    apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "$@" >&2 \
    || die "apt-get install $* failed"
  exec {CHATGQL_APT_LOCK_FD}>&-
  unset CHATGQL_APT_LOCK_FD
}

# Poll a readiness probe until it succeeds or the timeout expires.
# Usage: wait_until TIMEOUT_SECONDS DESCRIPTION COMMAND...
# Returns 0 when COMMAND succeeded, 1 on timeout. COMMAND output is discarded.
wait_until() {
  local timeout=$1 what=$2
  shift 2
  local deadline=$((SECONDS + timeout))
  log "waiting for $what (up to ${timeout}s)"
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      return 1
    fi
    sleep 0.2 # pause between probes, not a readiness assumption
  done
  return 0
}

# Percent-encode a string for use inside a URL's userinfo or path.
urlencode() {
  local s=$1 out='' c i
  for ((i = 0; i < ${#s}; i++)); do
    c=${s:i:1}
    case $c in
      [A-Za-z0-9._~-]) out+=$c ;;
      *) printf -v c '%%%02X' "'$c"; out+=$c ;;
    esac
  done
  printf '%s' "$out"
}

# True when something accepts TCP connections on 127.0.0.1:PORT.
port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}
