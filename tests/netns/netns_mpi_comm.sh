#!/usr/bin/env bash
# The mpi transport across namespace hosts: mpirun in host 0 starts its daemon on host 1 through
# `netns-hosts.sh rsh` and runs tests/multiproc/mpi_coll_matrix as 4 ranks, 2 per host. With no
# MASTER_ADDR the ranks meet in a TCP store that rank 0 serves and announces over MPI_Bcast.
# Checked: by default same-host peers use shm and the other host's peers mpi ("mixed"), and with
# SO_TRANSPORT=mpi every peer is mpi; both runs match the serial references bitwise. Leak checks
# are off under ASan: Open MPI leaks by design (its plugins are unloaded before the report).
# usage: netns_mpi_comm.sh MPI_COLL_MATRIX NETNS_HOSTS   (exit 0 pass, 1 fail, 77 skip)
set -u
SO=/bin/true; PROG=${1:?usage}; HOSTS=${2:?usage}; N=2; K=2
. "$(dirname "$0")/lib.sh"
command -v mpirun >/dev/null || skip "mpirun is not installed"

netns_up
printf '%s-h0 slots=2\n%s-h1 slots=2\n' "$PREFIX" "$PREFIX" >"$DIR/hostfile"
mpi() {
  timeout -k 2 90 bash "$HOSTS" rsh "$PREFIX-h0" "mpirun --allow-run-as-root --oversubscribe \
    --mca mpi_yield_when_idle 1 --hostfile $DIR/hostfile -np 4 --map-by node -x ASAN_OPTIONS=detect_leaks=0 \
    --mca plm_rsh_agent 'bash $HOSTS rsh' --mca btl vader,tcp,self \
    --mca btl_tcp_if_include 10.77.0.0/24 --mca oob_tcp_if_include 10.77.0.0/24 $*"
}
for spec in "auto mixed" "mpi mpi"; do
  set -- $spec
  mpi -x SO_TRANSPORT="$1" -x SO_TIMEOUT_MS=60000 "$PROG" "$2" >"$DIR/out" 2>&1 ||
    { cat "$DIR/out"; fail "mpi_coll_matrix $2 (SO_TRANSPORT=$1) failed"; }
  cat "$DIR/out"
  [ "$(grep -c ' 0 failed$' "$DIR/out")" = 4 ] || fail "not every rank passed with SO_TRANSPORT=$1"
done
echo "PASS: the mpi transport across two namespace hosts"
