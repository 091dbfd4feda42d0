#!/usr/bin/env bash
# test_format.sh — every C file is formatted as .clang-format says (Debian's clang-format 14,
# installed by scripts/install-deps.sh). To fix: git ls-files '*.c' '*.h' | xargs clang-format -i
set -uo pipefail
SRC="${PROACT_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
cd "$SRC"
if ! command -v clang-format >/dev/null; then
  echo "FAIL: clang-format is not installed (scripts/install-deps.sh installs it)"; exit 1
fi
files=$(git ls-files '*.c' '*.h' 2>/dev/null || find src io mpi jobs bench tests -name '*.[ch]')
bad=0
for f in $files; do
  if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then echo "not formatted: $f"; bad=$((bad+1)); fi
done
echo "$(echo "$files" | wc -w) files checked with $(clang-format --version | head -1), $bad not formatted"
[ "$bad" -eq 0 ]
