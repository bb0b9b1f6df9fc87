# Shared by ci/netns.sh and ci/slurm.sh (sourced): a network namespace
# joined to the root one by a veth pair, and its removal.
# Uses NS, HOST_IF, NS_IF, HOST_IP and NS_IP (/30 addresses) from the caller.

veth_up() {
  ip netns add "$NS"
  ip link add "$HOST_IF" type veth peer name "$NS_IF"
  ip link set "$NS_IF" netns "$NS"
  ip addr add "$HOST_IP/30" dev "$HOST_IF"
  ip link set "$HOST_IF" up
  ip netns exec "$NS" ip addr add "$NS_IP/30" dev "$NS_IF"
  ip netns exec "$NS" ip link set "$NS_IF" up
  ip netns exec "$NS" ip link set lo up
}

veth_down() {
  if ip netns list | grep -qw "$NS"; then
    # Anything still running in the namespace goes with it.
    for pid in $(ip netns pids "$NS"); do kill -9 "$pid" 2>/dev/null || true; done
    ip netns del "$NS"
  fi
  ip link del "$HOST_IF" 2>/dev/null || true
}
