#!/usr/bin/env bash
# The `scaleout train` command line on tiny configurations (a few seconds on 2 cores):
#   help and flag errors; a tiny GPT whose loss decreases; a straight run, and the same run stopped
#   half-way and resumed in a new process, write byte-identical checkpoints (parameters, optimizer
#   state, step, tokenizer, configuration); BPE resumes too; a corrupt checkpoint, a mismatched
#   configuration and missing data give clear errors with hints; tabular models reach sane accuracy.
# usage: train_cli.sh PATH/TO/scaleout   (exit 0 pass, 1 fail, 77 skip)
set -u
SO=${1:?usage: train_cli.sh PATH/TO/scaleout}
DIR=$(mktemp -d /tmp/so_train_cli.XXXXXX)
trap 'rm -rf "$DIR"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
[ -d "${SO_FORTUNES_DIR:-/usr/share/games/fortunes}" ] || { echo "SKIP: fortunes not installed"; exit 77; }

# --- help and flag errors ---
"$SO" train --help >/dev/null || fail "train --help"
for m in gpt mlp logreg linreg; do
  "$SO" train $m --help | grep -q -- "--" || fail "train $m --help lists no flags"
done
"$SO" train gpt --layerz 2 2>"$DIR/err" && fail "a bad flag was accepted"
grep -q "unknown flag '--layerz'" "$DIR/err" && grep -q hint "$DIR/err" || fail "bad flag message: $(cat "$DIR/err")"
"$SO" train gpt --steps abc 2>"$DIR/err"; [ $? -eq 2 ] || fail "--steps abc: exit code"
"$SO" train gpt --dim 30 --heads 4 2>"$DIR/err"; [ $? -eq 2 ] || fail "dim not divisible by heads"
"$SO" train nosuch 2>/dev/null && fail "unknown model accepted"

TINY="--layers 2 --dim 32 --heads 2 --ctx 32 --batch 4 --max-bytes 200000 --threads 1 --sample-len 16"

# --- a tiny GPT learns: the mean loss of the last 4 steps is well below the first step's ---
"$SO" train gpt $TINY --steps 40 --lr 3e-3 --warmup 4 --log-every 1 --eval-every 0 \
  --safetensors "$DIR/model.safetensors" >"$DIR/learn" ||
  fail "tiny gpt run: $(tail -3 "$DIR/learn")"
first=$(awk '/^step +1\/40 \| loss/ {print $5}' "$DIR/learn")
last=$(awk '/^step +(37|38|39|40)\/40 \| loss/ {s += $5; n++} END {print s / n}' "$DIR/learn")
awk -v a="$first" -v b="$last" 'BEGIN {exit !(b < a - 1.0)}' || fail "loss did not decrease: $first -> $last"
grep -q "^final: val loss" "$DIR/learn" || fail "no final validation line"
grep -q "^--- sample" "$DIR/learn" || fail "no sample"
echo "loss $first -> $last"
# The exported weights are a safetensors file an independent reader (Python's json) accepts.
if [ -x /usr/bin/python3 ]; then
  /usr/bin/python3 - "$DIR/model.safetensors" <<'PY' || fail "safetensors export"
import json, os, struct, sys
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
meta = h.pop("__metadata__")
assert meta["format"] == "scaleout-gpt" and meta["step"] == "40", meta
spans = sorted(tuple(v["data_offsets"]) for v in h.values())
at = 0
for lo, hi in spans:
    assert lo == at, (lo, at)
    at = hi
assert 8 + n + at == len(b), (8 + n + at, len(b))
assert h["wte"]["shape"] == [256, 32] and h["wte"]["dtype"] == "F32", h["wte"]
PY
fi

# --- bitwise resume: straight 12 steps == 6 steps, stop, new process resumes to 12 ---
"$SO" train gpt $TINY --steps 12 --ckpt "$DIR/straight.ckpt" --quiet >/dev/null || fail "straight run"
"$SO" train gpt $TINY --steps 12 --ckpt "$DIR/half.ckpt" --stop-at 6 --quiet >"$DIR/stop" || fail "stopped run"
grep -q "stopped at step 6" "$DIR/stop" || fail "no stop message: $(cat "$DIR/stop")"
"$SO" train gpt $TINY --steps 12 --resume "$DIR/half.ckpt" --ckpt "$DIR/resumed.ckpt" >"$DIR/resume" ||
  fail "resumed run: $(tail -3 "$DIR/resume")"
grep -q "continuing from step 6" "$DIR/resume" || fail "resume did not start at step 6"
cmp "$DIR/straight.ckpt" "$DIR/resumed.ckpt" || fail "resumed checkpoint differs from the straight run's"
echo "resume: byte-identical checkpoints at step 12"

# --- the same with BPE tokens and Adam state restored mid-warmup ---
BPE="$TINY --tokenizer bpe --vocab 300 --bpe-bytes 50000"
"$SO" train gpt $BPE --steps 8 --warmup 6 --ckpt "$DIR/bs.ckpt" --quiet >/dev/null || fail "bpe straight"
"$SO" train gpt $BPE --steps 8 --warmup 6 --ckpt "$DIR/bh.ckpt" --stop-at 3 --quiet >/dev/null || fail "bpe stop"
"$SO" train gpt $BPE --steps 8 --warmup 6 --resume "$DIR/bh.ckpt" --ckpt "$DIR/br.ckpt" --quiet >/dev/null || fail "bpe resume"
cmp "$DIR/bs.ckpt" "$DIR/br.ckpt" || fail "bpe resumed checkpoint differs"

# --- errors: corrupt checkpoint, mismatched model, missing data ---
cp "$DIR/straight.ckpt" "$DIR/bad.ckpt"
size=$(stat -c %s "$DIR/bad.ckpt")
printf '\x5a' | dd of="$DIR/bad.ckpt" bs=1 seek=$((size / 2)) conv=notrunc status=none
"$SO" train gpt $TINY --steps 12 --resume "$DIR/bad.ckpt" 2>"$DIR/err" >/dev/null && fail "a corrupt checkpoint was accepted"
grep -q -E "checksum|corrupt" "$DIR/err" && grep -q hint "$DIR/err" || fail "corrupt message: $(cat "$DIR/err")"
head -c 1000 "$DIR/straight.ckpt" >"$DIR/short.ckpt"
"$SO" train gpt $TINY --steps 12 --resume "$DIR/short.ckpt" 2>"$DIR/err" >/dev/null && fail "a truncated checkpoint was accepted"
grep -q truncated "$DIR/err" || fail "truncated message: $(cat "$DIR/err")"
"$SO" train gpt ${TINY/--dim 32/--dim 48} --steps 12 --resume "$DIR/straight.ckpt" 2>"$DIR/err" >/dev/null && fail "mismatched model accepted"
grep -q "does not match" "$DIR/err" || fail "mismatch message: $(cat "$DIR/err")"
SO_FORTUNES_DIR=/nonexistent "$SO" train gpt $TINY --steps 2 2>"$DIR/err" >/dev/null && fail "missing corpus accepted"
grep -q "fortunes" "$DIR/err" && grep -q hint "$DIR/err" || fail "missing corpus message: $(cat "$DIR/err")"
SO_SKLEARN_DATA_DIR=/nonexistent "$SO" train mlp --data iris 2>"$DIR/err" >/dev/null && fail "missing CSV accepted"
grep -q "python3-sklearn" "$DIR/err" || fail "missing CSV message: $(cat "$DIR/err")"
"$SO" train mlp --data mnist 2>"$DIR/err" >/dev/null && fail "unknown dataset accepted"
grep -q "digits, breast-cancer" "$DIR/err" || fail "unknown dataset message"

# --- tabular models (when python3-sklearn's CSVs are present) ---
if [ -f "${SO_SKLEARN_DATA_DIR:-/usr/lib/python3/dist-packages/sklearn/datasets/data}/iris.csv" ]; then
  acc=$("$SO" train mlp --data iris --epochs 20 --quiet | sed -n 's/.*test_accuracy=\([0-9.]*\).*/\1/p')
  awk -v a="$acc" 'BEGIN {exit !(a >= 0.85)}' || fail "mlp iris accuracy $acc"
  acc=$("$SO" train logreg --data breast-cancer --epochs 10 --quiet | sed -n 's/.*test_accuracy=\([0-9.]*\).*/\1/p')
  awk -v a="$acc" 'BEGIN {exit !(a >= 0.9)}' || fail "logreg breast-cancer accuracy $acc"
  r2=$("$SO" train linreg --data diabetes --quiet | sed -n 's/.*test_r2=\([-0-9.]*\).*/\1/p')
  awk -v a="$r2" 'BEGIN {exit !(a >= 0.3)}' || fail "linreg diabetes R^2 $r2"
  echo "tabular: iris mlp ok, breast-cancer logreg ok, diabetes R^2 $r2"
fi
echo "ok"
