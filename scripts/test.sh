#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite (ctest): first the
# optimised build (every test), then an ASan+UBSan build (unit tests and CLI bad input).
# Usage: scripts/test.sh [extra ctest arguments, e.g. -L unit]
set -euo pipefail
cd "$(dirname "$0")/.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
jobs=$(nproc)

./scripts/install-deps.sh

echo "== build (Release, warnings are errors)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DPROACT_WERROR=ON >/dev/null
cmake --build build -j"$jobs"
echo "== tests"
ctest --test-dir build --output-on-failure -j"$jobs" "$@"

echo "== build (ASan + UBSan)"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DPROACT_SANITIZE=ON -DPROACT_WERROR=ON >/dev/null
cmake --build build-asan -j"$jobs"
echo "== tests under sanitizers"
# allocator_may_return_null=1: a corrupt file makes HDF5 ask for absurd sizes (~3 PB), which must
# come back NULL (an error we report) rather than abort (tests/CMakeLists.txt adds it to every
# sanitizer test as well, for ctest run by hand)
ASAN_OPTIONS=allocator_may_return_null=1:detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan --output-on-failure -j"$jobs" -L 'unit|sanitize' "$@"
