#!/usr/bin/env bash
# Installs the Debian 12 packages scaleout builds, tests and benchmarks with.
# Idempotent: packages already present are not reinstalled and apt-get is not
# touched at all when everything is there. Run as root (CI and `make` do).
set -euo pipefail

pkgs=(
  build-essential cmake pkg-config
  libopenblas-dev libopenblas0-pthread     # GEMM fast path (ml)
  openmpi-bin libopenmpi-dev               # cluster transport, peer benchmark
  python3                                  # reference vectors for the MT19937 port
  python3-sklearn                          # digits/iris/... CSVs (extracted, no Python at run time)
  python3-torch                            # peer benchmark for the trainer and gloo (bench only)
  fortunes-min fortunes                    # text corpus
  gnuplot-nox                              # plots
  libzstd-dev libjansson-dev libmicrohttpd-dev libsodium-dev libsqlite3-dev
  zlib1g-dev                               # .csv.gz datasets (data)
  iproute2 hyperfine
)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}" >&2
  echo "hint: run 'sudo scripts/install-deps.sh' (needs root for apt-get)" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
