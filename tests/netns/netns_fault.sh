#!/usr/bin/env bash
# The failure model across hosts. N namespace hosts x K ranks run all-reduces in a loop
# (netns_coll loop) with SO_TIMEOUT_MS=3000; then host LOST (default the last one; host 0 also
# serves the rendezvous store) is lost:
#   kill      every process inside it gets SIGKILL (the peers see the connections reset)
#   isolate   its port on the switch goes down (nothing is reset: the peers must time out)
# Asserted: every other host's launcher exits non-zero within the deadline plus slack (and so
# does the isolated host's own launcher), the ranks' errors name a rank of the lost host, and
# nothing hangs (each launcher also runs under a hard `timeout`).
# usage: netns_fault.sh SCALEOUT NETNS_COLL NETNS_HOSTS N K kill|isolate [LOST]
#        (exit 0 pass, 1 fail, 77 skip)
set -u
SO=${1:?usage}; PROG=${2:?usage}; HOSTS=${3:?usage}; N=${4:?usage}; K=${5:?usage}; MODE=${6:?usage}; LOST=${7:-$((N - 1))}
. "$(dirname "$0")/lib.sh"
[ "$N" -ge 2 ] || fail "needs at least two hosts"
export SO_TIMEOUT_MS=3000
SLACK=7 # seconds beyond the 3 s deadline: launcher shutdown, a loaded 2-core machine

netns_up
for ((i = N - 1; i >= 0; i--)); do netns_launch "$i" 60 loop 45; done
# Wait until every rank is inside the loop.
for ((t = 0; ; t++)); do
  started=$(cat "$DIR"/out.* 2>/dev/null | grep -c "loop started")
  [ "$started" -ge $((N * K)) ] && break
  [ $t -lt 400 ] || { netns_dump; fail "only $started of $((N * K)) ranks started the loop"; }
  sleep 0.05
done
sleep 1
lost=$LOST
[ "$lost" -ge 0 ] && [ "$lost" -lt "$N" ] || fail "no host $lost among $N"
t0=$EPOCHREALTIME
case "$MODE" in
  kill) bash "$HOSTS" kill "$lost" -p "$PREFIX" ;;
  isolate) bash "$HOSTS" isolate "$lost" -p "$PREFIX" || fail "cannot isolate host $lost" ;;
  *) fail "mode must be kill or isolate, not $MODE" ;;
esac

# Ranks of the lost host, as the library names them: "rank R (pid" when this rank saw it go,
# "... involving rank R" when another rank gave up on the group because of it.
ranks="($(seq -s '|' $((lost * K)) $((lost * K + K - 1))))"
lost_re="rank $ranks \(pid|involving rank $ranks\b"
named=0
for ((i = 0; i < N; i++)); do
  [ "$i" != "$lost" ] || continue
  rc=$(netns_wait_rc "$i" $((3 + SLACK)))
  dt=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.2f", b - a}')
  echo "host $i: launcher exited $rc about $dt s after host $lost was lost"
  [ "$rc" != 0 ] || { netns_dump; fail "host $i's launcher exited 0 after losing host $lost"; }
  [ "$rc" != 124 ] && [ "$rc" != 137 ] || { netns_dump; fail "host $i's launcher hung (killed by timeout)"; }
  awk -v d="$dt" -v m=$((3 + SLACK)) 'BEGIN {exit !(d <= m)}' ||
    { netns_dump; fail "host $i's launcher took $dt s, more than the 3 s deadline + ${SLACK} s"; }
  grep -q "scaleout run: rank [0-9]* exited with code 3" "$DIR/err.$i" ||
    { netns_dump; fail "host $i's launcher did not report the failed rank"; }
  grep -h "failed after" "$DIR/err.$i" | head -n 2
  if grep -Eq "$lost_re" "$DIR/err.$i"; then
    named=$((named + 1))
  elif [ "$MODE" = kill ]; then
    # A reset connection is seen at once by the ranks talking to the lost host, so every
    # surviving host must blame it (a timeout may name an intermediate rank instead).
    netns_dump
    fail "host $i's errors do not name a rank of the lost host $lost"
  fi
done
[ $named -ge 1 ] || { netns_dump; fail "no surviving host named a rank of the lost host $lost"; }
if [ "$MODE" = isolate ]; then
  # The unplugged host's own ranks time out too (it lost everyone else).
  rc=$(netns_wait_rc "$lost" $((3 + SLACK)))
  echo "host $lost (isolated): launcher exited $rc"
  [ "$rc" != 0 ] && [ "$rc" != 124 ] && [ "$rc" != 137 ] || { netns_dump; fail "isolated host's launcher exited $rc"; }
fi
echo "PASS: losing host $lost by $MODE fails the others within the deadline"
