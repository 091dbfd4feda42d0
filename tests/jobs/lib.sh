# lib.sh — helpers for the CLI tests. Each test is run as: bash test_X.sh PROACT_BIN REF_DIR PYTHON
set -euo pipefail
PROACT="$1"
REF_DIR="${2:-}"
PYTHON="${3:-/usr/bin/python3}"
SRC="${PROACT_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
# run from the repository root, as users do: the shipped configs name data relative to it
cd "$SRC"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
FAILED=0
PASSED=0

# expect_fail "description" "substring that stderr must contain" cmd...
# The command must exit non-zero, print exactly one error line naming what is wrong, and not crash.
expect_fail() {
  local what="$1" needle="$2"; shift 2
  local rc=0
  "$@" >"$WORK/out" 2>"$WORK/err" || rc=$?
  if [ "$rc" -eq 0 ]; then
    echo "FAIL: $what: exit 0, expected an error"; FAILED=$((FAILED+1)); return
  fi
  if [ "$rc" -ge 128 ]; then
    echo "FAIL: $what: crashed (status $rc)"; cat "$WORK/err"; FAILED=$((FAILED+1)); return
  fi
  if ! grep 'error:' "$WORK/err" | grep -qF -- "$needle"; then
    echo "FAIL: $what: the error line lacks '$needle':"; cat "$WORK/err"; FAILED=$((FAILED+1)); return
  fi
  # one error line (under MPI: one per rank, all the same)
  if [ "$(grep 'error:' "$WORK/err" | sort -u | wc -l)" -ne 1 ]; then
    echo "FAIL: $what: expected one error line:"; cat "$WORK/err"; FAILED=$((FAILED+1)); return
  fi
  echo "ok: $what -> $(grep 'error:' "$WORK/err")"; PASSED=$((PASSED+1))
}

# mpi_train_setup: for the tests that train the tiny config under mpirun: Open MPI as root and
# oversubscribed, no PROACT_FAULT from the caller, and the fixture's training pairs as token shards
# in $WORK/train.h5
mpi_train_setup() {
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
  unset PROACT_FAULT
  FIX="$SRC/tests/data/fixture"
  "$PROACT" prepare --input "$FIX/john.en-es.train.tsv" --tokenizer "$FIX/tokenizer.json" -o "$WORK/train.h5" \
    --max-tokens 96 >/dev/null
}

# need_node_package PKG: node and the npm package PKG must be in .deps/node (scripts/install-deps.sh);
# sets NODE_DIR
need_node_package() {
  NODE_DIR="${PROACT_NODE_DIR:-$SRC/.deps/node}"
  if ! command -v node >/dev/null 2>&1 || [ ! -d "$NODE_DIR/node_modules/$1" ]; then
    echo "FAIL: node or $1 is missing ($NODE_DIR); run scripts/install-deps.sh"
    exit 1
  fi
}

# proact_mpi ARGS...: proact for the commands that start MPI (train, export --checkpoint). Under the
# sanitizer build LeakSanitizer reports Open MPI's own allocations in MPI_Init (see
# make_stream_model.sh), so these run without leak checks; every other command keeps them.
proact_mpi() { ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" "$PROACT" "$@"; }

# export_test_models: the three models the export tests (GGUF, ONNX) compare with another runtime, in
# $WORK/{qwen2,llama,random}: the tiny Qwen2 (tied, q/k/v biases, GQA) and a Llama variant (untied,
# head_dim x heads != d, RoPE theta 500000, GQA), both trained 150 steps on the fixture so that every
# tensor matters, and a random Llama (init_std 0.2) in $WORK/random/model with the fixture's tokenizer
export_test_models() {
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  check "train the tiny qwen2 150 steps" train_tiny qwen2 150
  check "train a llama variant 150 steps" train_tiny llama 150 --set model.arch=llama --set model.head_dim=24 \
    --set model.tie_embeddings=false --set model.rope_theta=500000 --set model.intermediate_size=192
  check "init a random llama (init_std 0.2)" "$PROACT" init --config "$SRC/configs/tiny.ini" -o "$WORK/random/model" \
    --set model.arch=llama --set model.tie_embeddings=false --set model.init_std=0.2 --set model.intermediate_size=192
  cp "$SRC/tests/data/fixture/tokenizer.json" "$WORK/random/model/"
}
train_tiny() { # train_tiny NAME STEPS --set ...: the tiny config on the fixture, into $WORK/NAME
  local name=$1 steps=$2; shift 2
  proact_mpi train --config "$SRC/configs/tiny.ini" --set run.dir="$WORK/$name" --set train.steps="$steps" \
    --set train.eval_every=0 --set train.log_every="$steps" "$@" >"$WORK/$name.log" 2>&1
}

# cpu_bf16: true where the CPU multiplies bf16 natively (AVX-512 BF16), read from /proc/cpuinfo, not
# from proact: there `train.precision = bf16` trains in bf16; elsewhere it falls back to fp32
# (bf16 products would be emulated, slower than fp32) and says so.
cpu_bf16() { grep -qw avx512_bf16 /proc/cpuinfo; }
FALLBACK_LINE="^precision: train.precision = bf16, but this CPU has no AVX-512 BF16: training in fp32"

# same_losses A B: the runs A and B (run directories) logged the same losses, bit for bit
same_losses() {
  "$PYTHON" -c "
import json, sys
def loss(d): return [r['loss'] for r in map(json.loads, open(d + '/metrics.jsonl')) if 'loss' in r]
a, b = loss(sys.argv[1]), loss(sys.argv[2])
assert a and a == b, (a[-1:], b[-1:])" "$1" "$2"
}

check() { # check "description" command... (must succeed)
  local what="$1"; shift
  if "$@"; then echo "ok: $what"; PASSED=$((PASSED+1)); else echo "FAIL: $what"; FAILED=$((FAILED+1)); fi
}

finish() {
  echo "$PASSED passed, $FAILED failed"
  [ "$FAILED" -eq 0 ]
}
