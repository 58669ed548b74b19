#!/usr/bin/env bash
# Stop the slurmd, slurmctld and munged that start_slurm.sh started (by their recorded pids) and remove
# its /etc/slurm/slurm.conf link.
set -euo pipefail
source "$(dirname "$0")/_common.sh"
stop_pidfile "$STATE/slurm/slurmd.pid" slurmd
stop_pidfile "$STATE/slurm/slurmctld.pid" slurmctld
stop_pidfile "$STATE/munged.pid" munged
conf="$STATE/slurm/slurm.conf"
if [ -L /etc/slurm/slurm.conf ] && [ "$(readlink /etc/slurm/slurm.conf)" = "$conf" ]; then
    rm -f /etc/slurm/slurm.conf
fi
