#!/usr/bin/env bash
# test_forward_vs_twin.sh PROACT_BIN REF_DIR PYTHON
#
# `proact forward` against the PyTorch twin, for each reference case (written by
# tests/reference/make_reference.py --out REF_DIR):
#   1. with -o: the saved logits [12, V] must match REF_DIR/<case>/forward_logits.npy,
#      max|c - ref| <= 1e-4 * max|ref|;
#   2. without -o: the printed lines '<position> <argmax id>' must be 0..11 in order with
#      numpy's argmax of the reference logits (a different id is accepted only for a
#      near-tie: its reference logit within the tolerance of the maximum).
set -euo pipefail

if [ $# -ne 3 ]; then
  echo "usage: bash $0 PROACT_BIN REF_DIR PYTHON" >&2
  exit 2
fi
BIN=$1
REF=$2
PY=$3

if [ ! -x "$BIN" ]; then
  echo "FAIL: proact binary '$BIN' is missing or not executable" >&2
  exit 1
fi

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

for case in qwen2 llama; do
  dir=$REF/$case
  for f in model/config.json forward_ids.txt forward_logits.npy; do
    if [ ! -f "$dir/$f" ]; then
      echo "FAIL: reference file '$dir/$f' is missing (generate with: $PY tests/reference/make_reference.py --out $REF)" >&2
      exit 1
    fi
  done
  ids=$(tr -d '[:space:]' < "$dir/forward_ids.txt")

  if ! "$BIN" forward --model "$dir/model" --ids "$ids" -o "$TMP/$case.npy" 2> "$TMP/$case.err1"; then
    echo "FAIL: $case: 'proact forward ... -o' exited non-zero:" >&2
    cat "$TMP/$case.err1" >&2
    exit 1
  fi
  if ! "$BIN" forward --model "$dir/model" --ids "$ids" > "$TMP/$case.out" 2> "$TMP/$case.err2"; then
    echo "FAIL: $case: 'proact forward' (printing argmax) exited non-zero:" >&2
    cat "$TMP/$case.err2" >&2
    exit 1
  fi

  "$PY" - "$case" "$TMP/$case.npy" "$dir/forward_logits.npy" "$TMP/$case.out" <<'PYEOF'
import sys
import numpy as np

case, got_path, ref_path, out_path = sys.argv[1:5]

def fail(msg):
    print(f"FAIL: {case}: {msg}", file=sys.stderr)
    sys.exit(1)

got = np.load(got_path)
ref = np.load(ref_path)
if got.dtype != np.float32:
    fail(f"logits .npy has dtype {got.dtype}, expected float32")
if got.shape != ref.shape:
    fail(f"logits shape {got.shape}, expected {ref.shape}")
if not np.all(np.isfinite(got)):
    fail("logits contain non-finite values")
err = float(np.max(np.abs(got.astype(np.float64) - ref)))
scale = float(np.max(np.abs(ref)))
tol = 1e-4 * scale
if err > tol:
    r, c = np.unravel_index(np.argmax(np.abs(got.astype(np.float64) - ref)), ref.shape)
    fail(f"logits max abs error {err:.3e} > {tol:.3e} (1e-4 * max|ref|); worst at position {r}, "
         f"id {c}: proact {got[r, c]:.7g}, twin {ref[r, c]:.7g}")

lines = [ln.split() for ln in open(out_path).read().splitlines() if ln.strip()]
T = ref.shape[0]
if len(lines) != T:
    fail(f"printed {len(lines)} lines, expected {T} ('<position> <argmax id>' per position)")
want = np.argmax(ref, axis=1)
for t, fields in enumerate(lines):
    if len(fields) != 2 or not all(f.lstrip("-").isdigit() for f in fields):
        fail(f"line {t + 1} is {' '.join(fields)!r}, expected '<position> <argmax id>'")
    pos, tok = int(fields[0]), int(fields[1])
    if pos != t:
        fail(f"line {t + 1} has position {pos}, expected {t}")
    if tok != want[t]:
        near_tie = 0 <= tok < ref.shape[1] and ref[t, tok] >= ref[t, want[t]] - tol
        if not near_tie:
            fail(f"position {t}: proact argmax {tok}, twin argmax {want[t]} "
                 f"(twin logits {ref[t, tok] if 0 <= tok < ref.shape[1] else float('nan'):.6g} vs {ref[t, want[t]]:.6g})")
print(f"{case}: logits max abs error {err:.2e} (max|ref| {scale:.3g}, relative {err / scale:.2e}); "
      f"argmax of {T} positions ok")
PYEOF
done
echo "forward vs twin: ok"
