# Shared by the tests in tests/netns/: a private set of namespace hosts that is removed on any
# exit, one `scaleout run` launcher per host started in the background, and small checks.
# The caller sets SO (the scaleout binary), PROG (netns_coll), HOSTS (scripts/netns-hosts.sh),
# N (hosts) and K (ranks per host) before sourcing it.

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }

[ "$(id -u)" = 0 ] || skip "not root: network namespaces need CAP_SYS_ADMIN"
command -v ip >/dev/null || skip "ip (iproute2) is not installed"
for f in "$SO" "$PROG" "$HOSTS"; do [ -e "$f" ] || fail "missing $f"; done

# A prefix of our own (pid + random) keeps parallel CTest runs apart.
PREFIX="sot$$r$RANDOM"
DIR=$(mktemp -d "/tmp/so_netns.XXXXXX")
LPIDS=()
PORT=29500

netns_cleanup() {
  local p
  for p in "${LPIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
  bash "$HOSTS" down -p "$PREFIX"
  if [ -n "${KEEP_NETNS_LOGS:-}" ]; then echo "logs kept in $DIR"; else rm -rf "$DIR"; fi
}
trap netns_cleanup EXIT
trap 'exit 1' INT TERM HUP

# Sets left by a test that was SIGKILLed (a CTest timeout): their prefix holds a dead pid.
for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^sot[0-9]+r[0-9]+-' | sed 's/-.*//' | sort -u); do
  pid=${ns#sot}
  pid=${pid%%r*}
  kill -0 "$pid" 2>/dev/null || bash "$HOSTS" down -p "$ns"
done

netns_up() {
  bash "$HOSTS" up "$N" -p "$PREFIX"
  local rc=$?
  [ $rc = 77 ] && skip "'ip netns add' is not permitted here"
  [ $rc = 0 ] || fail "netns-hosts.sh up $N failed"
}

# netns_launch I SECONDS ARGS...: starts host I's launcher (node rank I) in the background with
# a hard limit of SECONDS; its exit code lands in $DIR/rc.I, its output in $DIR/{out,err}.I.
netns_launch() {
  local i=$1 secs=$2
  shift 2
  (
    ip netns exec "$PREFIX-h$i" timeout -k 2 "$secs" "$SO" run --nnodes "$N" --node-rank "$i" \
      --master "10.77.0.1:$PORT" -n "$K" -- "$PROG" "$@" >"$DIR/out.$i" 2>"$DIR/err.$i"
    echo $? >"$DIR/rc.$i"
  ) &
  LPIDS+=($!)
}

# netns_wait_rc I SECONDS: waits until host I's launcher ended (prints its exit code) or fails.
netns_wait_rc() {
  local i=$1 t=0
  while [ ! -s "$DIR/rc.$i" ]; do
    sleep 0.05
    t=$((t + 1))
    [ $t -lt $(($2 * 20)) ] || { netns_dump; fail "host $i's launcher still runs after $2 s"; }
  done
  cat "$DIR/rc.$i"
}

netns_dump() {
  local i
  for ((i = 0; i < N; i++)); do
    echo "--- host $i (exit ${DIR:+$(cat "$DIR/rc.$i" 2>/dev/null)})"
    cat "$DIR/out.$i" "$DIR/err.$i" 2>/dev/null | tail -n 30
  done
}
