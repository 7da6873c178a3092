#!/usr/bin/env bash
# scaleout run --bind-to core pins workers to CPUs when 2+ of them fit one each (as Open MPI
# binds to cores); not by default, with --bind-to none, one worker, or more workers than CPUs.
# Usage: launch_bind.sh SCALEOUT
set -u
so=$1
ncpu=$(nproc)
if [ "$ncpu" -lt 2 ]; then
    echo "SKIP: needs 2 CPUs, this process may use $ncpu"
    exit 77
fi
cpus() { "$so" run "$@" -- sh -c 'grep Cpus_allowed_list /proc/self/status' | sort | awk '{print $NF}'; }
got=$(cpus -n 2 --bind-to core | tr '\n' ' ')
echo "-n 2: $got"
set -- $got
[ "$#" -eq 2 ] && [ "$1" != "$2" ] && [[ "$1" != *[-,]* ]] && [[ "$2" != *[-,]* ]] || {
    echo "FAIL: two workers should be pinned to two different single CPUs, got: $got"; exit 1; }
all=$(grep Cpus_allowed_list /proc/self/status | awk '{print $NF}')
none=$(cpus -n 2 --bind-to none | sort -u | tr '\n' ' ')
[ "$none" = "$all " ] || { echo "FAIL: --bind-to none should leave '$all', got '$none'"; exit 1; }
dflt=$(cpus -n 2 | sort -u | tr '\n' ' ')
[ "$dflt" = "$all " ] || { echo "FAIL: by default workers should not be pinned, got '$dflt'"; exit 1; }
one=$(cpus -n 1 --bind-to core | tr '\n' ' ')
[ "$one" = "$all " ] || { echo "FAIL: a single worker should not be pinned, got '$one'"; exit 1; }
over=$(cpus -n $((ncpu + 1)) --bind-to core | sort -u | tr '\n' ' ')
[ "$over" = "$all " ] || { echo "FAIL: more workers than CPUs should not be pinned, got '$over'"; exit 1; }
"$so" run -n 2 --bind-to socket -- true 2>/dev/null && { echo "FAIL: a bad --bind-to was accepted"; exit 1; }
echo "ok"
