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

check() { # check "description" command... (must succeed)
  local what="$1"; shift
  if "$@"; then echo "ok: $what"; PASSED=$((PASSED+1)); else echo "FAIL: $what"; FAILED=$((FAILED+1)); fi
}

finish() {
  echo "$PASSED passed, $FAILED failed"
  [ "$FAILED" -eq 0 ]
}
