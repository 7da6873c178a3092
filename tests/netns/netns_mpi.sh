#!/usr/bin/env bash
# Open MPI across namespace hosts, the peer the tcp numbers are compared with: mpirun runs in
# host 0 and starts its daemon on host 1 through `netns-hosts.sh rsh` (no ssh needed; each
# daemon gets the namespace's name as host name). Checked: the ranks report two different host
# names, and the MPI all-reduce peer (so_mpi_allreduce) reports no wrong element, with 1 and 2
# ranks per host.
# usage: netns_mpi.sh SO_MPI_ALLREDUCE NETNS_HOSTS   (exit 0 pass, 1 fail, 77 skip)
set -u
SO=/bin/true; PROG=${1:?usage}; HOSTS=${2:?usage}; N=2; K=1
. "$(dirname "$0")/lib.sh"
command -v mpirun >/dev/null || skip "mpirun is not installed"

netns_up
printf '%s-h0 slots=2\n%s-h1 slots=2\n' "$PREFIX" "$PREFIX" >"$DIR/hostfile"
mpi() {
  local np=$1 btl=$2
  shift 2
  timeout -k 2 60 bash "$HOSTS" rsh "$PREFIX-h0" "mpirun --allow-run-as-root --oversubscribe \
    --mca mpi_yield_when_idle 1 --hostfile $DIR/hostfile -np $np --map-by node \
    --mca plm_rsh_agent 'bash $HOSTS rsh' --mca btl $btl --mca btl_tcp_if_include 10.77.0.0/24 \
    --mca oob_tcp_if_include 10.77.0.0/24 $*"
}
names=$(mpi 2 tcp,self hostname 2>"$DIR/err") || { cat "$DIR/err"; fail "mpirun hostname failed"; }
[ "$(echo "$names" | sort -u | tr '\n' ' ')" = "$PREFIX-h0 $PREFIX-h1 " ] ||
  fail "the ranks did not run on the two hosts: $names"
for spec in "2 tcp,self" "4 vader,tcp,self"; do
  set -- $spec
  mpi "$1" "$2" "$PROG" --sizes 8,64K,1M --budget 0.05 >"$DIR/out" 2>&1 ||
    { cat "$DIR/out"; fail "so_mpi_allreduce -np $1 failed"; }
  grep -q "^# allreduce: no wrong elements" "$DIR/out" || { cat "$DIR/out"; fail "wrong elements with -np $1"; }
  grep -v "^#" "$DIR/out"
done
echo "PASS: Open MPI across two namespace hosts"
