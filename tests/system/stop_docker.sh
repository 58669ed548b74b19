#!/usr/bin/env bash
# Stop the dockerd that start_docker.sh started (by its recorded pid); a pre-existing engine is left alone.
set -euo pipefail
source "$(dirname "$0")/_common.sh"
stop_pidfile "$STATE/dockerd.pid" dockerd
