#!/bin/sh
# Golden check of `scaleout model all`: the printed tables contain the book's numbers (chapters
# 1-5) at the book's precision. Usage: model_cli_check.sh path/to/scaleout
set -u
bin=$1
out=$("$bin" model all | tr -s ' ')
[ -n "$out" ] || { echo "scaleout model all printed nothing"; exit 1; }
fail=0
while IFS= read -r want; do
    [ -z "$want" ] && continue
    if ! printf '%s\n' "$out" | grep -qF -- "$want"; then
        echo "missing: $want"
        fail=1
    fi
done <<'LIST'
= 512
= 160
scale-up: 46.30 h, $833.33
 2 144.44 577.78 yes
 64 15.28 1955.56 no
0.853553
healthy 40.0 71.1 90.3
= 233.9 in flight
leaving 17.6 ms
 5 1 2 [834,1000) 166 worker
 10000 1.000000
 1000 0.999957
1138 s (19.0 min)
 120 25.278
 3600 9.167
 1024 10.756
 256 7.769 3.294 57.6%
LAN 214.7 0.003
WAN 2147.5 0.033
65536x
 0.05 512 19.2844 0.0377
 2000 7.46 7.50 3 vertical
 3000 16.13 9.50 4 horizontal
 8000 103.97 23.50 11 horizontal
 16000 inf 61.50 30 horizontal
 8 0.1988 5.031 62.9
 128 0.1274 7.848 6.1 1.0700 93.5
 1024 524800 1023 10 102.30
 500000500000 999999 20 49999.95 15645.0
ridge 295.2 FLOP/B
matmul 8192^3 2730.7 989.0 TF 100.0%
elementwise add 0.2 0.6 TF 0.1%
 1024 10.2300 2.095 12.325
cheapest K = 8 ($4.173, E 77.28%); fastest K = 25 (0.105 h, $6.445, +$2.272)
 4 68.92 35.00 0.508
 1024 0.27 46.62 173.164 comm-bound
NVLink 1 300 0.90 1.0x
25G Ethernet 30 3.1 86.62 96.7x
 1024 1383.277 13.522 11.571
 256 MiB 338.859 32.272 5.915
5.68e+06 bytes
cross-node 150.39
24.0x slower
flat ring over the network 166.74
hierarchical total 138.74
1.20x faster
 8 245.2 160.9 83.3%
ideal (compute only) 144.0 ms
1.58x faster
 8 3.85 2.60 32
 0.6160
 400 10.00 6.93 46.05
LIF 3.199
 0 3276 0.400 1996
 1 1638 0.200 358
overlap + compression 9.0 0.050 95.2
MFU 40.6%
$0.0726
0.082 J
8.6 gCO2e
LIST
# Exercises change flags, not code: 3.5.1 and 5.2.1 through flags.
ex=$("$bin" model amdahl --serial .5,.1,.02 --k 64,1024 | tr -s ' ')
for want in " 0.5 1024 1.9980 0.0020 99.9 " " 512.50" " 0.1 64 8.7671 " " 921.70" " 0.02 1024 47.7167 0.0466 95.4 " " 1003.54"; do
    printf '%s\n' "$ex" | grep -qF -- "$want" || { echo "missing (3.5.1): $want"; fail=1; }
done
ex=$("$bin" model scaling --serial .04 --parallel .96 --comm .01 --log-offset 1 --k 1,2,4,8,16)
printf '%s\n' "$ex" | grep -qF "first K with strong efficiency below 0.70: 8" ||
    { echo "missing (5.2.1): first K = 8"; fail=1; }
"$bin" model allreduce --bogus >/dev/null 2>&1 && { echo "an unknown flag was accepted"; fail=1; }
[ $fail = 0 ] && echo "scaleout model: every checked book number is printed"
exit $fail
