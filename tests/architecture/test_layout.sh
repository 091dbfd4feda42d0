#!/usr/bin/env bash
# test_layout.sh — the architecture's rules, checked on the source tree (docs/architecture.md):
# every source file lives in a concept folder, none is over 900 lines, only mpi/ talks MPI, src/
# includes no MPI or HDF5 header, every src/ folder is its own library, tests mirror the folders,
# and the dependency picture docs/architecture.dot is the build's own target graph.
# Usage: bash test_layout.sh [PYTHON]
set -uo pipefail
SRC="${PROACT_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
PYTHON="${1:-/usr/bin/python3}"
cd "$SRC"
FAILED=0
PASSED=0
check() { # check "description" command... (must succeed)
  local what="$1"; shift
  if "$@"; then echo "ok: $what"; PASSED=$((PASSED+1)); else echo "FAIL: $what"; FAILED=$((FAILED+1)); fi
}
none() { # none "description" lines...: passes when there are no lines, else prints them
  local what="$1" lines="$2"
  if [ -z "$lines" ]; then echo "ok: $what"; PASSED=$((PASSED+1)); else echo "FAIL: $what:"; echo "$lines"; FAILED=$((FAILED+1)); fi
}

sources=$(git ls-files 'src/*.c' 'src/*.h' 'io/*.c' 'io/*.h' 'mpi/*.c' 'mpi/*.h' 'jobs/*.c' 'jobs/*.h' 2>/dev/null ||
          find src io mpi jobs -name '*.[ch]')
none "no source file directly in src/" "$(ls src/*.c src/*.h 2>/dev/null)"
none "no source file over 900 lines" "$(for f in $sources; do n=$(wc -l <"$f"); [ "$n" -gt 900 ] && echo "$f: $n lines"; done)"
none "no MPI_*() call outside mpi/" "$(grep -rnE 'MPI_[A-Za-z_]*\(' src io jobs)"
none "no mpi.h outside mpi/" "$(grep -rn '#include <mpi.h>' src io jobs)"
none "src/ includes no HDF5, jansson or INI header (files are io/'s)" \
  "$(grep -rnE '#include <(hdf5|jansson|ini)\.h>' src)"
none "src/ includes nothing from io/ or jobs/" "$(grep -rnE '#include "(io|jobs)/' src)"
none "io/ includes nothing from jobs/" "$(grep -rn '#include "jobs/' io mpi)"
none "every src/ folder is a library with its own CMakeLists.txt" \
  "$(for d in src/*/; do [ -f "$d/CMakeLists.txt" ] || echo "$d"; done)"
none "every unit test sits in the folder of what it tests" \
  "$(for t in tests/*/test_*.c; do d=$(basename "$(dirname "$t")"); case $d in mpi|jobs|reference) continue;; esac
       [ -d "src/$d" ] || [ -d "$d" ] || echo "$t: no src/$d or $d/"; done)"
check "docs/architecture.dot is the build's target graph" "$PYTHON" scripts/architecture-graph.py --check

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
