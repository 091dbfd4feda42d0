# Corrupt checkpoints (issue 17, defect D4): a reader of a damaged checkpoint (export, train
# --resume) ends with a non-zero exit below 128 and one `proact: error:` line, or (a mutation
# the reader never looks at) succeeds; never a crash, a hang, or a sanitizer report.
# The mutations (tests/jobs/corrupt_checkpoint.py) hit the HDF5 metadata, not the float data:
# fixed cases found by fuzzing (among them a local heap whose length makes HDF5 ask malloc for
# ~3.1 PB: under ASan that aborts unless ASAN_OPTIONS has allocator_may_return_null=1, which
# tests/CMakeLists.txt gives every sanitizer run; this test deliberately does not set it) and a
# fixed-seed random set. Labels cli;sanitize: it matters most in the ASan/UBSan build.
source "$(dirname "$0")/lib.sh"
# Open MPI's own allocations at MPI_Init are not ours (make_stream_model.sh)
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
RANDOM_CASES=${PROACT_CORRUPT_CASES:-40} # ~0.6 s each under ASan

"$PROACT" train --config "$SRC/configs/tiny.ini" --set train.steps=2 --set checkpoint.every=1 --set data.valid= \
  --set run.dir="$WORK/run" >/dev/null 2>&1
GOOD="$WORK/run/checkpoints/step-00000002.h5"
check "the uncorrupted checkpoint exports" "$PROACT" export --checkpoint "$GOOD" -o "$WORK/good" >/dev/null
"$PYTHON" "$SRC/tests/jobs/corrupt_checkpoint.py" "$GOOD" "$WORK/mut" --cases --random "$RANDOM_CASES" --seed 17

SANITIZER='ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY: (Address|Undefined|Leak)Sanitizer'
# HDF5 1.10's attribute-message decoder trusts lengths in the file (an over-read in
# H5O__msg_iterate_real under H5Aexists, fixed upstream in 1.14): not ours, and nothing we call
# first could catch it; reported as such, not failed.
hdf5_attr_bug() {
  grep -q 'AddressSanitizer: heap-buffer-overflow' "$1" && grep -A4 '^READ of size' "$1" | grep -q 'H5O__msg_iterate_real'
}

# Cases that still break HDF5 1.10.8 whatever we do first: the root group's local heap with an
# undefined data address is looked up cleanly through MPI-IO, but H5Fclose then loops in H5C_dest
# or leaves the file for MPI_Finalize, which segfaults (the default sec2 driver segfaults even
# earlier, at the first lookup). Run and reported, not failed.
KNOWN_HDF5_CASES=" heap-addr-undef#0 "

# read_case "what" cmd...: runs a reader of a corrupt checkpoint, sorts its outcome into
# clean-error / accepted / known-hdf5 / BAD (a report, a crash, a hang, not one error line)
clean=0 accepted=0 known=0 bad=0
read_case() {
  local what=$1; shift
  local rc=0 limit=60
  [[ "$KNOWN_HDF5_CASES" != *" ${what##* } "* ]] || limit=15
  timeout $limit "$@" >"$WORK/out" 2>"$WORK/err" || rc=$?
  local line; line=$(grep -m1 'error:' "$WORK/err" || true)
  if [[ "$KNOWN_HDF5_CASES" == *" ${what##* } "* ]] && { [ "$rc" -gt 1 ] || grep -qE "$SANITIZER" "$WORK/err"; }; then
    echo "known HDF5 bug: $what: exit $rc $(grep -m1 -E "$SANITIZER" "$WORK/err" || true)"; known=$((known+1)); return
  fi
  if grep -qE "$SANITIZER" "$WORK/err"; then
    if hdf5_attr_bug "$WORK/err"; then
      echo "known HDF5 bug: $what: $(grep -m1 'ERROR:' "$WORK/err")"; known=$((known+1)); return
    fi
    echo "BAD: $what: a sanitizer report (exit $rc):"; grep -A12 -E "$SANITIZER" "$WORK/err" | head -30
  elif [ "$rc" -eq 124 ]; then
    echo "BAD: $what: no answer within $limit s (hang)"
  elif [ "$rc" -ge 128 ]; then
    echo "BAD: $what: crashed (status $rc)"; tail -5 "$WORK/err"
  elif [ "$rc" -eq 0 ]; then
    echo "accepted: $what (exit 0)"; accepted=$((accepted+1)); return
  elif [ "$(grep -c 'error:' "$WORK/err")" -ne 1 ] || [[ "$line" != "proact: error: "* ]]; then
    echo "BAD: $what: exit $rc without exactly one 'proact: error:' line:"; cat "$WORK/err"
  else
    echo "clean: $what: exit $rc: $line"; clean=$((clean+1)); return
  fi
  bad=$((bad+1))
}

start=$SECONDS
while IFS=$'\t' read -r file what; do
  read_case "export $what" "$PROACT" export --checkpoint "$file" -o "$WORK/exported"
  rm -rf "$WORK/exported"
done <"$WORK/mut/manifest.tsv"
echo "export: $clean clean errors, $accepted accepted, $known known HDF5 bugs, $bad bad ($((SECONDS - start)) s)"
check "export: no crash, hang, sanitizer report or messy error" [ "$bad" -eq 0 ]
check "export: most corruptions are refused" [ "$clean" -gt $(((clean + accepted) / 3)) ]

# train --resume on a copy of the run: the corrupt newest checkpoint is skipped with a warning...
case_file() { awk -F'\t' -v w="$1" '$2 == w {print $1}' "$WORK/mut/manifest.tsv"; }
resume_copy() { # resume_copy NAME CASE [drop-older]
  rm -rf "$WORK/$1"; cp -r "$WORK/run" "$WORK/$1"
  cp "$(case_file "$2")" "$WORK/$1/checkpoints/step-00000002.h5"
  [ -z "${3:-}" ] || rm "$WORK/$1/checkpoints/step-00000001.h5"
}
bad=0 clean=0 accepted=0
resume_copy older heap-size-3PB#1
read_case "resume past a ~3 PB heap" "$PROACT" train --resume "$WORK/older"
check "resume: the corrupt checkpoint was skipped for the older one" \
  grep -q 'step-00000002.h5: .*trying the previous checkpoint' "$WORK/err"
# ... and with no older one the resume fails with one error line
for c in heap-size-3PB#1 heap-addr-undef#1 float-size-4GB rank-2; do
  resume_copy alone "$c" drop-older
  read_case "resume from $c alone" "$PROACT" train --resume "$WORK/alone"
done
check "resume: no crash, hang, sanitizer report or messy error" [ "$bad" -eq 0 ]
check "resume: a lone corrupt checkpoint is refused" [ "$clean" -eq 4 ]
finish
