#!/usr/bin/env bash
# Make a one-node Slurm cluster on this machine (used by tests/system/test_slurm.py).
#
# As root: installs Debian's slurm-wlm and munge if missing, creates the munge key if missing, starts
# munged (as the munge user), then slurmctld and slurmd with a slurm.conf written to $STATE/slurm/:
# SlurmctldHost = NodeName = `hostname -s`, CPUs = nproc, RealMemory ~90 % of RAM, one partition `debug`
# (Default), no accounting, MinJobAge=600 (so the SLURM executor can read job states with squeue).
# /etc/slurm/slurm.conf becomes a link to it (commands inside jobs read that path); an existing real
# one is never touched (the script fails instead). Daemons this script starts get pid files in $STATE;
# stop_slurm.sh stops exactly those. Idempotent. Prints the path of slurm.conf as the last line.
# Exits non-zero with the reason when the cluster does not come up.
set -euo pipefail
source "$(dirname "$0")/_common.sh"

need_root "start slurmctld/slurmd/munged"
apt_install slurm-wlm munge
dir="$STATE/slurm"
conf="$dir/slurm.conf"
export SLURM_CONF="$conf"
mkdir -p "$dir/ctld" "$dir/d" "$dir/log"

# --- munge: key (munge:munge 0400) and daemon
key=/etc/munge/munge.key
if [ ! -s "$key" ]; then
    mkdir -p /etc/munge
    mungekey --create --keyfile "$key" 2>/dev/null || dd if=/dev/urandom of="$key" bs=1 count=1024 status=none
fi
chown munge:munge /etc/munge "$key"
chmod 0700 /etc/munge
chmod 0400 "$key"
if ! munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; then
    install -d -o munge -g munge -m 0755 /run/munge
    install -d -o munge -g munge -m 0700 /var/lib/munge /var/log/munge
    runuser -u munge -- /usr/sbin/munged --force >"$STATE/munged.out" 2>&1 \
        || die "munged did not start: $(cat "$STATE/munged.out")"
    cp /run/munge/munged.pid "$STATE/munged.pid"
    for _ in $(seq 1 20); do
        munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1 && break
        sleep 0.25
    done
    munge -n </dev/null | unmunge >/dev/null || die "munge does not answer after starting munged"
fi

# --- slurm.conf
host=$(hostname -s)
cpus=$(nproc)
mem_mb=$(awk '/^MemTotal:/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)
cat >"$conf.new" <<CONF
# one-node test cluster written by tests/system/start_slurm.sh
ClusterName=eoesim
SlurmctldHost=$host
SlurmUser=root
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
StateSaveLocation=$dir/ctld
SlurmdSpoolDir=$dir/d
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
AuthType=auth/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
MinJobAge=600
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
NodeName=$host CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
if ! cmp -s "$conf.new" "$conf"; then
    mv "$conf.new" "$conf"
    # a changed config needs fresh daemons
    stop_pidfile "$dir/slurmd.pid" slurmd
    stop_pidfile "$dir/slurmctld.pid" slurmctld
else
    rm -f "$conf.new"
fi

# Commands inside jobs (srun, called by the jobstep executor) get no SLURM_CONF from the submitter:
# they read /etc/slurm/slurm.conf, so point it at ours unless a real configuration is there.
etc=/etc/slurm/slurm.conf
if [ -L "$etc" ] && [ "$(readlink "$etc")" = "$conf" ]; then :
elif [ -e "$etc" ] || [ -L "$etc" ]; then
    die "$etc already exists and is not this test's (a real Slurm installation?); not touching it"
else
    mkdir -p /etc/slurm
    ln -s "$conf" "$etc"
fi

# --- daemons (they daemonize and write their pid files named in slurm.conf)
if ! pid_alive "$dir/slurmctld.pid" slurmctld; then
    slurmctld -f "$conf" >"$dir/log/slurmctld.out" 2>&1 || die "slurmctld failed: $(tail -5 "$dir/log/slurmctld.out" "$dir/log/slurmctld.log" 2>/dev/null)"
fi
if ! pid_alive "$dir/slurmd.pid" slurmd; then
    slurmd -f "$conf" >"$dir/log/slurmd.out" 2>&1 || die "slurmd failed: $(tail -5 "$dir/log/slurmd.out" "$dir/log/slurmd.log" 2>/dev/null)"
fi
state=
for _ in $(seq 1 60); do
    state=$(sinfo -h -N -n "$host" -o %T 2>/dev/null || true)
    case $state in
        idle|mixed|allocated) echo "slurm: node $host $state, partition debug; SLURM_CONF=$conf" >&2; echo "$conf"; exit 0 ;;
        down*|drain*) scontrol update nodename="$host" state=resume >/dev/null 2>&1 || true ;;
    esac
    sleep 0.5
done
die "the node did not become idle (state '${state:-no answer}'); logs:
$(tail -8 "$dir/log/slurmctld.log" "$dir/log/slurmd.log" 2>/dev/null)"
