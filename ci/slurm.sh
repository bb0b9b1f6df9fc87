#!/usr/bin/env bash
# A real one-node Slurm cluster on this machine for tests/slurm.rs, from
# Debian's slurm-wlm and munge: slurmctld in the root namespace (the login
# node, 10.231.88.1) and slurmd in a network namespace of its own, the
# compute node `dp-node` (10.231.88.2), joined by a veth pair. The
# addresses are used by these namespaces only (ci/netns.sh uses
# 10.231.77.0/30).
#
#   bash ci/slurm.sh up     # idempotent; prints the SLURM_CONF to use
#   bash ci/slurm.sh down   # stops the daemons, removes the namespace and the files
#
# Facts this leans on (Slurm 22.05): slurmd dies under `ip netns exec`
# (it remounts /sys and hides the cgroup tree), so it is started with
# `nsenter --net`; SlurmctldHost must be this machine's short hostname;
# pid files stay out of /run. No cgroups: proctrack/linuxproc, task/none.
set -euo pipefail
. "$(dirname "$0")/lib/veth.sh"

NS=dp-slurm
HOST_IF=dp-slurm0
NS_IF=dp-slurm1
HOST_IP=10.231.88.1
NS_IP=10.231.88.2
NODE=dp-node
DIR=/var/tmp/dynamic-port-slurm
CONF=$DIR/slurm.conf

install() {
  if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null; then
    return 0
  fi
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq slurm-wlm munge >/dev/null
}

running() {
  [ -f "$DIR/slurmctld.pid" ] && kill -0 "$(cat "$DIR/slurmctld.pid")" 2>/dev/null &&
    [ -f "$DIR/slurmd.pid" ] && kill -0 "$(cat "$DIR/slurmd.pid")" 2>/dev/null &&
    SLURM_CONF=$CONF sinfo -h -n "$NODE" -o %t 2>/dev/null | grep -qx idle
}

up() {
  install
  if running; then
    echo "$CONF"
    return 0
  fi
  down
  mkdir -p "$DIR/state" "$DIR/spool" "$DIR/munge"
  chmod 700 "$DIR"

  veth_up
  # srun listens on the login node's addresses; the node reaches them all through the veth.
  ip netns exec "$NS" ip route add default via "$HOST_IP"

  # munge: a key of our own, its own socket and files.
  dd if=/dev/urandom of="$DIR/munge/munge.key" bs=1024 count=1 status=none
  chmod 400 "$DIR/munge/munge.key"
  munged --key-file="$DIR/munge/munge.key" --socket="$DIR/munge/munge.socket" \
    --pid-file="$DIR/munge/munged.pid" --log-file="$DIR/munge/munged.log" \
    --seed-file="$DIR/munge/munged.seed" --force

  local host
  host=$(hostname -s)
  cat > "$CONF" <<CONFIG
ClusterName=dynamic-port
SlurmctldHost=$host($HOST_IP)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$DIR/munge/munge.socket
CredType=cred/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/slurmctld.log
SlurmdLogFile=$DIR/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SchedulerType=sched/builtin
SchedulerParameters=batch_sched_delay=0
MpiDefault=none
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
KillWait=5
MinJobAge=2
NodeName=$NODE NodeAddr=$NS_IP CPUs=2 State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
CONFIG

  SLURM_CONF=$CONF slurmctld -f "$CONF" -i
  # The node's own network and hostname (its tasks see `dp-node`).
  SLURM_CONF=$CONF nsenter --net=/run/netns/$NS unshare --uts \
    sh -c "hostname $NODE && exec slurmd -f $CONF -N $NODE"
  for _ in $(seq 300); do
    if running; then
      echo "$CONF"
      return 0
    fi
    sleep 0.1
  done
  echo "ci/slurm.sh: the cluster did not come up; the logs:" >&2
  tail -n 20 "$DIR"/*.log "$DIR/munge/munged.log" >&2 || true
  exit 1
}

down() {
  for pid_file in "$DIR/slurmd.pid" "$DIR/slurmctld.pid" "$DIR/munge/munged.pid"; do
    if [ -f "$pid_file" ]; then
      kill "$(cat "$pid_file")" 2>/dev/null || true
    fi
  done
  # Give them a moment, then make sure.
  for _ in $(seq 50); do
    pgrep -f "$DIR" >/dev/null || break
    sleep 0.1
  done
  pkill -9 -f "$CONF" 2>/dev/null || true
  pkill -9 -f "$DIR/munge" 2>/dev/null || true
  veth_down
  rm -rf "$DIR"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
