#!/usr/bin/env bash
# N namespace hosts x K ranks each, one `scaleout run` launcher per host (node 0's launcher serves
# the store at 10.77.0.1): every rank checks it sees N hosts, reaches the ranks of its own host
# over shm and the others over tcp, then runs the collective matrix (netns_coll matrix: every
# all-reduce algorithm incl. hier, reduce-scatter, all-gather, all-to-all, bcast; counts 0, 1,
# 1000, 65539) bitwise against a serial reference. Every launcher must exit 0.
# usage: netns_matrix.sh SCALEOUT NETNS_COLL NETNS_HOSTS N K   (exit 0 pass, 1 fail, 77 skip)
set -u
SO=${1:?usage}; PROG=${2:?usage}; HOSTS=${3:?usage}; N=${4:?usage}; K=${5:?usage}
. "$(dirname "$0")/lib.sh"

netns_up
# The last node first: its workers must wait for node 0's store to appear.
for ((i = N - 1; i >= 0; i--)); do netns_launch "$i" 60 matrix "$N"; done
for ((i = 0; i < N; i++)); do
  rc=$(netns_wait_rc "$i" 70)
  [ "$rc" = 0 ] || { netns_dump; fail "host $i's launcher exited $rc"; }
done
for ((i = 0; i < N; i++)); do
  for ((l = 0; l < K; l++)); do
    r=$((i * K + l))
    grep -q "^\[rank $r\] rank $r/$((N * K)) host $i of $N local $l/$K peers:" "$DIR/out.$i" ||
      { netns_dump; fail "rank $r did not report host $i of $N"; }
    grep -q "^\[rank $r\] matrix ok" "$DIR/out.$i" || { netns_dump; fail "rank $r: no 'matrix ok'"; }
  done
  grep -h "peers:" "$DIR/out.$i"
done
grep -h "matrix ok" "$DIR/out.0" | head -n 1
echo "PASS: $N hosts x $K ranks"
