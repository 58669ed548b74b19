#!/usr/bin/env bash
# Make a Docker engine and docker-compose available (used by tests/system/test_containers.py).
#
# If `docker info` already answers, nothing is done. Otherwise (as root) Debian's docker.io and
# docker-compose are installed if missing and `dockerd --iptables=false --bridge=none` is started in the
# background; its pid goes to $STATE/dockerd.pid so that stop_docker.sh stops exactly that process.
# Exits non-zero with the reason when no engine can be made available.
set -euo pipefail
source "$(dirname "$0")/_common.sh"

if ! command -v docker-compose >/dev/null && ! docker compose version >/dev/null 2>&1; then
    apt_install docker-compose
fi
if docker info >/dev/null 2>&1; then
    echo "docker engine already running"
    exit 0
fi
need_root "start a Docker engine"
command -v dockerd >/dev/null || apt_install docker.io
command -v dockerd >/dev/null || die "dockerd not found after installing docker.io"
if ! pid_alive "$STATE/dockerd.pid" dockerd; then
    # --iptables=false --bridge=none: no network setup needed; every container here runs --network none
    setsid dockerd --iptables=false --bridge=none >"$STATE/dockerd.log" 2>&1 </dev/null &
    echo $! >"$STATE/dockerd.pid"
fi
for _ in $(seq 1 120); do
    if docker info >/dev/null 2>&1; then
        echo "started dockerd (pid $(cat "$STATE/dockerd.pid"), log $STATE/dockerd.log)"
        exit 0
    fi
    pid_alive "$STATE/dockerd.pid" dockerd || break
    sleep 0.5
done
die "dockerd did not come up; last lines of $STATE/dockerd.log:
$(tail -20 "$STATE/dockerd.log" 2>/dev/null)"
