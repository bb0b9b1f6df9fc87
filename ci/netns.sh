#!/usr/bin/env bash
# Two test hosts on this machine for tests/remote.rs: the root namespace
# (10.231.77.1) and a network namespace `dp-remote` (10.231.77.2), joined by
# a veth pair, with an sshd (Debian's openssh-server) in the namespace that
# takes the key made here for root.
#
#   bash ci/netns.sh up     # idempotent; prints nothing on success
#   bash ci/netns.sh down   # removes the namespace, the sshd and the keys
#
# Needs root and iproute2. The addresses are used by these namespaces only.
set -euo pipefail
. "$(dirname "$0")/lib/veth.sh"

NS=dp-remote
HOST_IF=dp-veth0
NS_IF=dp-veth1
HOST_IP=10.231.77.1
NS_IP=10.231.77.2
DIR=/tmp/dynamic-port-netns

up() {
  if ip netns list | grep -qw "$NS" && [ -f "$DIR/sshd.pid" ] && kill -0 "$(cat "$DIR/sshd.pid")" 2>/dev/null; then
    return 0
  fi
  down
  veth_up

  mkdir -p "$DIR" /run/sshd
  chmod 700 "$DIR"
  ssh-keygen -q -t ed25519 -N '' -f "$DIR/host_key"
  ssh-keygen -q -t ed25519 -N '' -f "$DIR/client_key"
  cp "$DIR/client_key.pub" "$DIR/authorized_keys"
  cat > "$DIR/sshd_config" <<CONFIG
ListenAddress $NS_IP:22
HostKey $DIR/host_key
AuthorizedKeysFile $DIR/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PidFile $DIR/sshd.pid
AcceptEnv DYNAMIC_PORT_WRITER
CONFIG
  ip netns exec "$NS" /usr/sbin/sshd -f "$DIR/sshd_config"
  # Wait until it answers.
  for _ in $(seq 100); do
    if ssh_ok; then return 0; fi
    sleep 0.05
  done
  echo "ci/netns.sh: sshd in $NS does not answer" >&2
  exit 1
}

ssh_ok() {
  ssh -q -i "$DIR/client_key" -o BatchMode=yes -o StrictHostKeyChecking=no \
    -o UserKnownHostsFile=/dev/null -o ConnectTimeout=2 "root@$NS_IP" true 2>/dev/null
}

down() {
  if [ -f "$DIR/sshd.pid" ]; then
    kill "$(cat "$DIR/sshd.pid")" 2>/dev/null || true
  fi
  veth_down
  rm -rf "$DIR"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  *) echo "usage: ci/netns.sh up|down" >&2; exit 2 ;;
esac
