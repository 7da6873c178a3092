#!/bin/sh
# Ours vs Open MPI, all-reduce, in one go: `scaleout bench allreduce` and the Open MPI peer
# (build/bench/so_mpi_allreduce: same sizes, fill, check, timing method and JSON keys) at
# np = 2 and 4, over shared memory and over loopback TCP, interleaved (ours then MPI, then MPI
# then ours on the next repeat, so drift in the machine's load hits both), R repeats; then
# `scaleout bench memcpy` (the copy bandwidth that bounds any shm collective), and a table:
# median [min-max] over repeats of the 8 B latency and of the bus bandwidth at every size, with
# the ratio ours/MPI.
#
#   bench/run-allreduce-vs-mpi.sh [-r REPEATS (3)] [-b BUILD_DIR (build)] [-o OUT_DIR]
#                                 [-s SIZES (8,1K,64K,1M,16M,64M)] [-n "2 4"] [-t "shm tcp"]
#                                 [-B BUDGET_SECONDS (0.5)]
#
# Open MPI runs as in ../shared/peers (perf-anchors.md §2-3): shm = the default (vader + CMA);
# tcp = --mca pml ob1 --mca btl tcp,self --mca btl_tcp_if_include lo. JSON lines land in
# OUT_DIR/{ours,mpi,memcpy}.jsonl (bench "ours_coll", case "ours-shm np=2 allreduce 1MiB";
# bench "mpi_coll", case "ompi-shm np=2 allreduce 1MiB"), so they also compare with
#   ../shared/peers/summarize.py OUT_DIR/mpi --compare OUT_DIR/ours \
#       --alias ours_coll=mpi_coll --alias ours-shm=ompi-shm --alias ours-tcp=ompi-tcp
# Time: about 10 s per (np, transport, side) and repeat with the default sizes; ~4 min at R=3.
set -eu

R=3
BUILD=build
OUT=
SIZES=8,1K,64K,1M,16M,64M
NPS="2 4"
TRS="shm tcp"
BUDGET=0.5
while getopts r:b:o:s:n:t:B:h opt; do
    case $opt in
    r) R=$OPTARG ;;
    b) BUILD=$OPTARG ;;
    o) OUT=$OPTARG ;;
    s) SIZES=$OPTARG ;;
    n) NPS=$OPTARG ;;
    t) TRS=$OPTARG ;;
    B) BUDGET=$OPTARG ;;
    *) sed -n '2,24p' "$0"; exit 2 ;;
    esac
done

HERE=$(cd "$(dirname "$0")/.." && pwd)
case $BUILD in /*) ;; *) BUILD=$HERE/$BUILD ;; esac
SO=$BUILD/cli/scaleout
PEER=$BUILD/bench/so_mpi_allreduce
[ -x "$SO" ] || { echo "no $SO: build first (cmake --build $BUILD)" >&2; exit 1; }
[ -x "$PEER" ] || { echo "no $PEER: Open MPI was not found at configure time" >&2; exit 1; }
command -v mpirun >/dev/null || { echo "no mpirun on PATH" >&2; exit 1; }
[ -n "$OUT" ] || OUT=$HERE/results/vs-mpi-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$OUT/ours" "$OUT/mpi" "$OUT/memcpy"
: >"$OUT/ours/ours.jsonl"
: >"$OUT/mpi/mpi.jsonl"
: >"$OUT/memcpy/memcpy.jsonl"
LOG=$OUT/log.txt
: >"$LOG"

run_ours() { # np transport
    "$SO" bench allreduce -n "$1" --transport "$2" --sizes "$SIZES" --budget "$BUDGET" \
        --label "ours-$2" --json "$OUT/ours/ours.jsonl" >>"$LOG" 2>&1 ||
        echo "  ours np=$1 $2 FAILED (see $LOG)" >&2
}
run_mpi() { # np transport
    if [ "$2" = tcp ]; then
        set -- "$1" "$2" --mca pml ob1 --mca btl tcp,self --mca btl_tcp_if_include lo
    else
        set -- "$1" "$2"
    fi
    np=$1 tr=$2
    shift 2
    mpirun --allow-run-as-root --oversubscribe -np "$np" --mca oob_tcp_if_include lo "$@" \
        "$PEER" --sizes "$SIZES" --budget "$BUDGET" --label "ompi-$tr" \
        --json "$OUT/mpi/mpi.jsonl" >>"$LOG" 2>&1 ||
        echo "  mpi np=$np $tr FAILED (see $LOG)" >&2
}

echo "# ours vs Open MPI all-reduce: R=$R, np in {$NPS}, transports {$TRS}, sizes $SIZES"
echo "# load: $(cut -d' ' -f1-3 /proc/loadavg); results in $OUT"
rep=1
while [ "$rep" -le "$R" ]; do
    for np in $NPS; do
        for tr in $TRS; do
            echo "  repeat $rep/$R np=$np $tr"
            if [ $((rep % 2)) -eq 1 ]; then
                run_ours "$np" "$tr"
                run_mpi "$np" "$tr"
            else
                run_mpi "$np" "$tr"
                run_ours "$np" "$tr"
            fi
        done
    done
    rep=$((rep + 1))
done
for t in 1 2; do
    "$SO" bench memcpy --threads $t --min 1M --max 256M --json "$OUT/memcpy/memcpy.jsonl" >>"$LOG" 2>&1
done

/usr/bin/python3 - "$OUT" <<'EOF'
import collections, json, os, statistics, sys

out = sys.argv[1]
vals = collections.defaultdict(list)  # (side, tr, np, size, metric) -> values over repeats
order = []
for side, path in (("ours", "ours/ours.jsonl"), ("mpi", "mpi/mpi.jsonl")):
    for line in open(os.path.join(out, path)):
        d = json.loads(line)
        if not d.get("ok", True):
            print("WRONG RESULT:", line.strip())
            continue
        label, np_, _op, size = d["case"].split(" ")
        tr = label.split("-", 1)[1]
        key = (tr, int(np_[3:]), size)
        if key not in order:
            order.append(key)
        vals[(side,) + key + (d["metric"],)].append(d["value"])


def fmt(v):
    if not v:
        return "-"
    med = statistics.median(v)
    g = lambda x: f"{x:.3g}" if abs(x) < 1000 else f"{x:,.0f}"
    return f"{g(med)} [{g(min(v))}-{g(max(v))}]" if len(v) > 1 else g(med)


def ratio(a, b):
    if not a or not b or statistics.median(b) == 0:
        return "-"
    return f"{statistics.median(a) / statistics.median(b):.2f}"


print()
print("| transport | np | size | ours lat_us | MPI lat_us | ours busbw GB/s | MPI busbw GB/s | busbw ours/MPI |")
print("|---|---|---|---|---|---|---|---|")
for tr, np_, size in order:
    o_l, m_l = vals[("ours", tr, np_, size, "lat_us")], vals[("mpi", tr, np_, size, "lat_us")]
    o_b, m_b = vals[("ours", tr, np_, size, "busbw_GBps")], vals[("mpi", tr, np_, size, "busbw_GBps")]
    print(f"| {tr} | {np_} | {size} | {fmt(o_l)} | {fmt(m_l)} | {fmt(o_b)} | {fmt(m_b)} | {ratio(o_b, m_b)} |")
print()
print("8 B latency, ours/MPI (lower is better for ours):", ", ".join(
    f"{tr} np={np_}: {ratio(vals[('ours', tr, np_, size, 'lat_us')], vals[('mpi', tr, np_, size, 'lat_us')])}"
    for tr, np_, size in order if size == "8B"))
mc = collections.defaultdict(list)
for line in open(os.path.join(out, "memcpy/memcpy.jsonl")):
    d = json.loads(line)
    if d["metric"] == "median_GBps":
        mc[d["case"]].append(d["value"])
print()
print("memcpy (bytes copied/s, GB/s; the ceiling for shm collectives):",
      ", ".join(f"{c} {statistics.median(v):.1f}" for c, v in mc.items()))
print(f"\nJSON lines in {out}/{{ours,mpi,memcpy}}; median [min-max] over repeats; one rank per core"
      " is not available at np=4 (2 cores): both sides time-slice.")
EOF
