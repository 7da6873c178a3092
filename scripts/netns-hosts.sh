#!/usr/bin/env bash
# Several "hosts" on this one machine: each host is a Linux network namespace with its own
# loopback and one Ethernet port, all ports plugged into a bridge (the "switch") that lives in a
# namespace of its own, so the machine's own network is never touched.
#
#   PREFIX-h0 .. PREFIX-h(N-1)   hosts; eth0 = 10.77.0.(i+1)/24, lo up
#   PREFIX-sw                    the switch: bridge br0 with ports p0 .. p(N-1)
#
# scaleout counts ranks in different network namespaces as different hosts (host identity =
# host name + namespace inode), so ranks inside one host use shm and ranks on different hosts
# talk tcp through the bridge, as across real machines.
#
# usage: netns-hosts.sh up N [-p PREFIX] [-d DELAY_MS] [-r RATE]   create N hosts (replaces any
#                                                                  existing set with this prefix)
#        netns-hosts.sh down [-p PREFIX]          delete every namespace of the set
#        netns-hosts.sh isolate I [-p PREFIX]     unplug host I from the switch (link down)
#        netns-hosts.sh kill I [-p PREFIX]        SIGKILL every process inside host I
#        netns-hosts.sh shape [-p PREFIX] [-d DELAY_MS] [-r RATE]   change the links' qdiscs
#        netns-hosts.sh list [-p PREFIX]          the set's namespaces
#        netns-hosts.sh addr I                    print host I's address (10.77.0.(I+1))
#        netns-hosts.sh rsh NS CMD...             run CMD in namespace NS with NS as its host name
#                                                 (mpirun's launch agent: --mca plm_rsh_agent
#                                                 "netns-hosts.sh rsh" and NS names in the hostfile)
#   PREFIX defaults to "so" (hosts so-h0, so-h1, ...; the first one is 10.77.0.1).
#   -d adds `tc netem delay DELAY_MS ms` on every host's egress (a round trip crosses two links:
#   RTT = 2 x DELAY_MS); -r adds a token bucket of RATE (tc's units, e.g. 1gbit) instead or on top.
#   Run a command on host I with: ip netns exec PREFIX-hI COMMAND
#
# Needs root (or CAP_SYS_ADMIN + CAP_NET_ADMIN) and `ip` from iproute2. Exit codes: 0 done,
# 1 failed (a failed `up` removes what it had made), 2 bad usage, 77 not permitted here.
# Limits: at most 250 hosts; two sets with different prefixes may share 10.77.0.x since their
# switches are separate; netem needs the kernel's sch_netem (some minimal kernels lack it).
set -u

usage() { sed -n '13,32p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
die() { echo "netns-hosts: $*" >&2; exit 1; }

cmd=${1:-}; [ -n "$cmd" ] || usage; shift
arg=""
case "$cmd" in
  up|isolate|kill|addr) arg=${1:-}; [ -n "$arg" ] || usage; shift ;;
  rsh)
    # mpirun calls its agent as `AGENT HOST COMMAND-WORDS...`, the words forming one shell
    # command. A UTS namespace of its own gives the daemon the namespace's name as host name,
    # so Open MPI tells the hosts apart (they all share the machine's name otherwise).
    ns=${1:-}; [ -n "$ns" ] && [ $# -ge 2 ] || usage; shift
    exec ip netns exec "$ns" unshare --uts sh -c "hostname '$ns' && $*" ;;
  down|list|shape) ;;
  -h|--help|help) usage ;;
  *) usage ;;
esac
prefix=so delay="" rate=""
while [ $# -gt 0 ]; do
  case "$1" in
    -p) prefix=${2:?-p wants a prefix}; shift 2 ;;
    -d) delay=${2:?-d wants milliseconds}; shift 2 ;;
    -r) rate=${2:?-r wants a rate such as 1gbit}; shift 2 ;;
    *) usage ;;
  esac
done
case "$prefix" in *[!A-Za-z0-9_.-]*|"") die "prefix '$prefix' may hold only letters, digits and . _ -" ;; esac
num() { case "$1" in ''|*[!0-9]*) die "$2 must be a non-negative integer, not '$1'" ;; esac; }

# Namespaces of the set, one per line.
members() { ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^${prefix//./\\.}-(h[0-9]+|sw)$"; }

down() {
  local ns
  for ns in $(members); do
    # Whatever still runs inside a host (a launcher, its workers) dies with it: a namespace with
    # live processes would otherwise linger after `ip netns del`.
    ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
    ip netns del "$ns" 2>/dev/null || true
  done
  return 0
}

# Replaces the root qdisc of one host's eth0 by netem and/or tbf as asked (none: the default).
shape_one() {
  local ns=$1
  ip netns exec "$ns" tc qdisc del dev eth0 root 2>/dev/null
  if [ -n "$delay" ] && [ -n "$rate" ]; then
    ip netns exec "$ns" tc qdisc add dev eth0 root handle 1: netem delay "${delay}ms" || return 1
    ip netns exec "$ns" tc qdisc add dev eth0 parent 1: handle 2: tbf rate "$rate" burst 256k latency 100ms || return 1
  elif [ -n "$delay" ]; then
    ip netns exec "$ns" tc qdisc add dev eth0 root netem delay "${delay}ms" || return 1
  elif [ -n "$rate" ]; then
    ip netns exec "$ns" tc qdisc add dev eth0 root tbf rate "$rate" burst 256k latency 100ms || return 1
  fi
  return 0
}

hosts() { members | grep -E -- '-h[0-9]+$'; }

case "$cmd" in
addr)
  num "$arg" "host index"; echo "10.77.0.$((arg + 1))" ;;
list)
  members ;;
down)
  down ;;
kill)
  num "$arg" "host index"
  ip netns pids "$prefix-h$arg" 2>/dev/null | xargs -r kill -9 2>/dev/null
  exit 0 ;;
isolate)
  num "$arg" "host index"
  ip -n "$prefix-sw" link set "p$arg" down || die "no port p$arg on switch $prefix-sw" ;;
shape)
  [ -n "$(hosts)" ] || die "no hosts with prefix '$prefix'"
  for ns in $(hosts); do
    shape_one "$ns" || die "tc on $ns failed (netem missing from this kernel? try -r only)"
  done ;;
up)
  num "$arg" "host count"
  [ "$arg" -ge 1 ] && [ "$arg" -le 250 ] || die "host count must be 1..250, not $arg"
  [ -n "$delay" ] && num "$delay" "delay"
  command -v ip >/dev/null || die "ip (iproute2) is not installed"
  # Permission probe: an unprivileged user, or a container without CAP_SYS_ADMIN, stops here.
  probe="$prefix-probe$$"
  if ! ip netns add "$probe" 2>/dev/null; then
    echo "netns-hosts: 'ip netns add' is not permitted here (root with CAP_SYS_ADMIN needed)" >&2
    exit 77
  fi
  ip netns del "$probe"
  down
  trap 'rc=$?; if [ $rc -ne 0 ]; then down; fi; exit $rc' EXIT
  trap 'exit 130' INT TERM
  sw="$prefix-sw"
  ip netns add "$sw" || die "cannot create $sw"
  ip -n "$sw" link set lo up
  ip -n "$sw" link add br0 type bridge || die "cannot create a bridge in $sw"
  # Forward at once: no spanning-tree listening/learning delay before the first frame passes.
  ip -n "$sw" link set br0 type bridge forward_delay 0 stp_state 0 2>/dev/null
  ip -n "$sw" link set br0 up
  for ((i = 0; i < arg; i++)); do
    h="$prefix-h$i"
    ip netns add "$h" || die "cannot create $h"
    ip -n "$h" link set lo up
    ip -n "$sw" link add "p$i" type veth peer name eth0 netns "$h" || die "cannot create veth for $h"
    ip -n "$sw" link set "p$i" master br0
    ip -n "$sw" link set "p$i" up
    ip -n "$h" addr add "10.77.0.$((i + 1))/24" dev eth0
    ip -n "$h" link set eth0 up
    if [ -n "$delay$rate" ]; then
      shape_one "$h" || die "tc on $h failed (netem missing from this kernel? try -r only)"
    fi
  done
  # Every host must reach host 0 (where the store lives) before we say the set is up (checked
  # with ping when it is installed).
  if command -v ping >/dev/null; then
    for ((i = 1; i < arg; i++)); do
      ok=0
      for _ in 1 2 3 4 5 6 7 8 9 10; do
        if ip netns exec "$prefix-h$i" ping -c 1 -W 1 -q 10.77.0.1 >/dev/null 2>&1; then ok=1; break; fi
        sleep 0.2
      done
      [ $ok = 1 ] || die "host $i cannot reach 10.77.0.1 through $sw"
    done
  fi
  trap - EXIT
  ;;
esac
exit 0
