#!/usr/bin/env bash
# net/pair.sh - chapter 1's pair across a network cable, on one machine.
#
# Runs blocking-server --repeat 10000 and echo-client twice: first over loopback,
# then between two network namespaces (two "hosts", each with its own interfaces,
# addresses and routes) joined by a veth pair (a virtual cable) with an MTU of
# 1500 bytes, as on Ethernet, and a rate limit. Over loopback, whose segments
# hold up to 64 KiB, the reply comes in a few big pieces; over the cable it comes
# in TCP segments of 1448 bytes (1500 minus the IPv4 and TCP headers and TCP's
# timestamp option), one per recv(), or several together when they arrived
# before the client read again.
#
# Usage:   net/pair.sh [BIN_DIR]   the two runs (BIN_DIR defaults to build/bin)
#          net/pair.sh --check     make the cable and remove it: can this machine do it?
# `./run net` builds, then runs this. It needs root (CAP_SYS_ADMIN and
# CAP_NET_ADMIN, to create namespaces and links); without, it says so and exits 2.
# The cable's addresses come from 198.18.0.0/15, the range RFC 2544 sets aside for
# benchmarking, and the namespaces have no route out: nothing leaves the machine.
# The namespaces are removed at exit, also after an error, Ctrl-C or SIGTERM
# (not after SIGKILL: then `ip netns list` shows them, `ip netns delete` removes them).
set -euo pipefail

readonly RATE_MBIT=10   # one 1500-byte frame every 1.2 ms: even a busy machine's
                        # client is woken in time to see most segments one by one
readonly MTU=1500
readonly MESSAGE="Hello from muxlab, one short line"   # 33 bytes: a 330001-byte reply
# Named after this process, so that runs side by side do not collide.
readonly SERVER_NS=muxlab-server-$$ CLIENT_NS=muxlab-client-$$
readonly SERVER_ADDR=198.18.0.1 CLIENT_ADDR=198.18.0.2

say() { echo "net/pair.sh: $*" >&2; }

# The capabilities `ip netns add` and `ip link add` need (root has them all).
has_capability() {
  local bit=$1 mask
  mask=$(sed -n 's/^CapEff:[[:space:]]*//p' /proc/self/status)
  (( (16#$mask >> bit) & 1 ))
}
readonly CAP_NET_ADMIN=12 CAP_SYS_ADMIN=21

if ! has_capability $CAP_NET_ADMIN || ! has_capability $CAP_SYS_ADMIN; then
  say "making network namespaces and a veth cable needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN): run it as root, e.g. sudo ./run net"
  exit 2
fi

if [[ ${1:-} == --check ]]; then
  check_only=true bin=
else
  check_only=false bin=${1:-build/bin}
  for program in blocking-server echo-client; do
    [[ -x $bin/$program ]] || { say "no $bin/$program: build first (./run net builds, then runs this)"; exit 1; }
  done
fi

# What this run made, removed at exit whatever happened.
server_pid=
cleanup() {
  # Only in the script itself: a child that bash has forked for a command, but
  # that is not yet running it, has these traps too, and a signal can come then.
  [[ $BASHPID == "$$" ]] || return 0
  if [[ -n $server_pid ]]; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  local ns removed=()
  for ns in "$SERVER_NS" "$CLIENT_NS"; do
    if [[ -e /run/netns/$ns ]]; then ip netns delete "$ns" && removed+=("$ns"); fi
  done
  if ! $check_only && [[ ${#removed[@]} -gt 0 ]]; then echo "== removed the namespaces ${removed[*]}"; fi
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

# The cable. A command that fails here means this machine does not allow it
# (a container without the privilege, a kernel without veth or tbf): exit 2.
trap 'say "cannot make the cable here (the command above failed)"; exit 2' ERR
ip netns add "$SERVER_NS"
ip netns add "$CLIENT_NS"
# Both ends are created inside their namespaces: nothing appears in the machine's own.
ip link add veth0 netns "$SERVER_NS" type veth peer name veth0 netns "$CLIENT_NS"
for ns in "$SERVER_NS" "$CLIENT_NS"; do
  # gso_max_segs 1: the stack hands the cable one frame at a time, as a network
  # card puts them on the wire (a veth would otherwise carry 64 KiB "super-frames").
  ip -n "$ns" link set veth0 mtu $MTU gso_max_segs 1 up
  # The rate limit, tbf (token bucket filter): frames leave at the rate, a
  # 1500-byte one every 1.2 ms at 10 Mbit/s; at most `burst` bytes (two frames)
  # leave at once, and a frame waits at most `latency` in the queue.
  tc -n "$ns" qdisc add dev veth0 root handle 1: tbf rate ${RATE_MBIT}mbit burst 3000 latency 100ms
done
ip -n "$SERVER_NS" address add $SERVER_ADDR/30 dev veth0
ip -n "$CLIENT_NS" address add $CLIENT_ADDR/30 dev veth0
trap - ERR
$check_only && exit 0

# A delay on the cable needs netem, which not every kernel has (tbf delays only
# the frames that queue behind others).
not_shown="propagation delay, jitter, loss and reordering (they need netem, which this kernel lacks)"
if tc -n "$SERVER_NS" qdisc add dev veth0 parent 1:1 netem delay 5ms 2>/dev/null &&
   tc -n "$CLIENT_NS" qdisc add dev veth0 parent 1:1 netem delay 5ms 2>/dev/null; then
  not_shown="jitter, loss and reordering (netem adds a propagation delay of 5 ms each way)"
fi

# An awk program: the client's first 8 and last 2 chunks, and its summary line.
# (awk itself, not a shell function: a function in a pipeline runs in a
# subshell, which would run this script's traps too on Ctrl-C.)
readonly ABRIDGE='
  /^received/ { chunk[++n] = $0; next }
  { for (i = 1; i <= n; ++i)
      if (i <= 8 || i > n - 2) print chunk[i]
      else if (i == 9) printf "... %d more\n", n - 10
    n = 0; print }'

# run_pair ADDRESS [SERVER_NS CLIENT_NS]: the pair, the server listening on
# ADDRESS, each program in its namespace (by default this one, the machine's).
run_pair() {
  local address=$1 in_server=() in_client=() line server_out
  if [[ $# -eq 3 ]]; then in_server=(ip netns exec "$2") in_client=(ip netns exec "$3"); fi
  exec {server_out}< <(exec "${in_server[@]}" "$bin/blocking-server" --host "$address" --port 0 --repeat 10000)
  server_pid=$!
  read -r line <&"$server_out"   # the server's ready line: it listens
  echo "$line"
  "${in_client[@]}" "$bin/echo-client" "$address" "${line##*:}" "$MESSAGE" | awk "$ABRIDGE"
  kill -TERM "$server_pid"
  wait "$server_pid"
  server_pid=
  exec {server_out}<&-
}

echo "== loopback: 127.0.0.1, MTU $(cat /sys/class/net/lo/mtu)"
run_pair 127.0.0.1
echo "== a cable: veth between namespaces $SERVER_NS ($SERVER_ADDR) and $CLIENT_NS ($CLIENT_ADDR), MTU $MTU, $RATE_MBIT Mbit/s"
echo "not shown: $not_shown"
# Nothing can leave the machine: each namespace knows the cable's /30 and no
# other route (no default route, no address outside 198.18.0.0/15).
for ns in "$SERVER_NS" "$CLIENT_NS"; do
  echo "routes in $ns: $(ip -n "$ns" route show | sed "s/ *$//" | paste -sd ";")"
done
run_pair $SERVER_ADDR "$SERVER_NS" "$CLIENT_NS"
