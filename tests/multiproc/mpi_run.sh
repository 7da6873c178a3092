#!/bin/sh
# Runs tests/multiproc/mpi_coll_matrix under mpirun (the CTest cases of tests/mpi.cmake).
#
#   mpi_run.sh EXE NP TRANSPORT     TRANSPORT = mpi (SO_TRANSPORT=mpi, every peer must be "mpi")
#                                   or shm (the default auto; one host, so every peer is "shm")
#   mpi_run.sh EXE NP fault         rank 1 exits abruptly mid-run: the job must end (mpirun kills
#                                   the others) with a non-zero status within 60 s, not hang
#   mpi_run.sh EXE NP desync        rank 0 calls bcast, the others all-reduce: every rank must
#                                   print DESYNC-OK (failed with the desync named, no timeout)
#   mpi_run.sh EXE NP appinit       the program calls MPI_Init_thread(FUNNELED) itself first
#
# Skips (77) when mpirun is missing. Open MPI runs with the btls self, vader and tcp and
# mpi_yield_when_idle 1: ranks oversubscribe the 2-core machine, and without yielding the busy
# poll of one rank starves the rank it waits for (about 100x slower). Leak checks are off under
# ASan: Open MPI leaks by design.
set -u
EXE=$1
NP=$2
MODE=$3
command -v mpirun >/dev/null 2>&1 || { echo "skip: no mpirun on PATH"; exit 77; }
MPIRUN="mpirun --oversubscribe --allow-run-as-root -np $NP --mca btl self,vader,tcp --mca mpi_yield_when_idle 1 -x ASAN_OPTIONS=detect_leaks=0"
case $MODE in
mpi)
    exec $MPIRUN -x SO_TRANSPORT=mpi -x SO_TIMEOUT_MS=60000 "$EXE" mpi ;;
shm)
    exec $MPIRUN -x SO_TRANSPORT=auto -x SO_TIMEOUT_MS=60000 "$EXE" shm ;;
fault)
    start=$(date +%s)
    timeout -k 5 60 $MPIRUN -x SO_TRANSPORT=mpi -x SO_TIMEOUT_MS=60000 "$EXE" fault
    rc=$?
    took=$(( $(date +%s) - start ))
    echo "mpirun exited with status $rc after ${took} s"
    if [ "$rc" -eq 0 ]; then
        echo "FAIL: the job succeeded although rank 1 exited with status 3"; exit 1
    fi
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ] || [ "$took" -ge 60 ]; then
        echo "FAIL: the survivors hung (killed by the 60 s timeout)"; exit 1
    fi
    echo "ok: the job failed fast"; exit 0 ;;
appinit)
    exec $MPIRUN -x SO_TRANSPORT=mpi -x SO_TIMEOUT_MS=60000 "$EXE" appinit ;;
desync)
    out=$(timeout -k 5 60 $MPIRUN -x SO_TRANSPORT=mpi "$EXE" desync 2>&1)
    echo "$out"
    n=$(echo "$out" | grep -c "DESYNC-OK")
    [ "$n" -eq "$NP" ] || { echo "FAIL: $n of $NP ranks reported the desync"; exit 1; }
    echo "ok: every rank named the desync"; exit 0 ;;
*)
    echo "usage: $0 EXE NP mpi|shm|fault|desync|appinit" >&2; exit 2 ;;
esac
