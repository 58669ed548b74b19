# shellcheck shell=bash
# Shared by the tests/system scripts (sourced, not run). Everything here is idempotent.
# State (pid files, daemon logs) lives in $EOESIM_SYSTEM_STATE, default /var/tmp/eoesim-system.
STATE=${EOESIM_SYSTEM_STATE:-/var/tmp/eoesim-system}
mkdir -p "$STATE"
_apt_updated=

die() {
    echo "$(basename "$0"): FAILED: $*" >&2
    exit 1
}

need_root() {
    [ "$(id -u)" -eq 0 ] || die "must run as root to $1 (run the system tests as root, as CI does)"
}

# apt_install PKG...: install Debian packages that are missing (apt-get update once, on demand).
apt_install() {
    local missing=() pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    need_root "install ${missing[*]}"
    command -v apt-get >/dev/null || die "apt-get not found: cannot install ${missing[*]} (Debian/Ubuntu needed)"
    if [ -z "$_apt_updated" ]; then
        apt-get update -q >"$STATE/apt-update.log" 2>&1 || die "apt-get update failed: $(tail -5 "$STATE/apt-update.log")"
        _apt_updated=1
    fi
    echo "installing ${missing[*]}" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" \
        >"$STATE/apt-install.log" 2>&1 || die "apt-get install ${missing[*]} failed: $(tail -5 "$STATE/apt-install.log")"
}

# pid_alive PIDFILE NAME: true if the pid in PIDFILE is a running process whose command is NAME.
pid_alive() {
    local pid
    [ -f "$1" ] || return 1
    pid=$(cat "$1")
    [ -n "$pid" ] && [ "$(ps -o comm= -p "$pid" 2>/dev/null)" = "$2" ]
}

# stop_pidfile PIDFILE NAME: SIGTERM the process we started (only if it is still NAME), wait, remove PIDFILE.
stop_pidfile() {
    local pid
    if pid_alive "$1" "$2"; then
        pid=$(cat "$1")
        kill -TERM "$pid"
        for _ in $(seq 1 60); do
            pid_alive "$1" "$2" || break
            sleep 0.5
        done
        if pid_alive "$1" "$2"; then
            kill -KILL "$pid" 2>/dev/null || true
        fi
        echo "stopped $2 (pid $pid)" >&2
    fi
    rm -f "$1"
}
