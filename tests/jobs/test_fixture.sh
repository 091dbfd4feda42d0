# shellcheck shell=bash
# The in-repository data fixture (tests/data/fixture, made by scripts/fetch-data.sh --fixture)
# is well-formed: one pair per line with exactly one tab, both sides non-empty, valid UTF-8,
# no source sentence in both train and test, counts and sizes as its README documents, within
# the size budget, and identical to the checksums pinned in scripts/fetch-data.sha256.
# Needs no network and not the proact binary.
source "$(dirname "$0")/lib.sh"

FIX="$SRC/tests/data/fixture"
FILES=(john.en-es.train.tsv john.en-es.test.tsv libreoffice.en-de.train.tsv libreoffice.en-de.test.tsv)
DATA_BUDGET=220000   # bytes: the four .tsv files and README.md
DIR_BUDGET=300000    # bytes: everything in the directory (with the tokenizer.json beside them)

check "fixture README.md present" test -f "$FIX/README.md"
for f in "${FILES[@]}"; do check "$f present" test -f "$FIX/$f"; done

# Format of one file: prints the number of pairs, fails with the first bad line.
well_formed() {
  "$PYTHON" - "$1" <<'PY'
import sys
path = sys.argv[1]
data = open(path, "rb").read()
if not data.endswith(b"\n"):
    sys.exit("%s: does not end with a newline" % path)
if b"\r" in data:
    sys.exit("%s: has carriage returns" % path)
for n, raw in enumerate(data[:-1].split(b"\n"), 1):
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        sys.exit("%s:%d: invalid UTF-8 (%s)" % (path, n, e))
    if line.count("\t") != 1:
        sys.exit("%s:%d: %d tabs, expected exactly one" % (path, n, line.count("\t")))
    src, tgt = line.split("\t")
    if not src.strip() or not tgt.strip():
        sys.exit("%s:%d: empty side" % (path, n))
PY
}
for f in "${FILES[@]}"; do check "$f: one tab per line, both sides non-empty, UTF-8" well_formed "$FIX/$f"; done

# No source sentence of a test file occurs in the train file of the same corpus.
no_overlap() {
  "$PYTHON" - "$1" "$2" <<'PY'
import sys
def sources(p):
    return {l.split("\t")[0] for l in open(p, encoding="utf-8", errors="replace").read().splitlines()}
both = sources(sys.argv[1]) & sources(sys.argv[2])
if both:
    sys.exit("%d sources in both, e.g. %r" % (len(both), sorted(both)[0]))
PY
}
check "john: train and test sources disjoint" no_overlap "$FIX/john.en-es.train.tsv" "$FIX/john.en-es.test.tsv"
check "libreoffice: train and test sources disjoint" \
  no_overlap "$FIX/libreoffice.en-de.train.tsv" "$FIX/libreoffice.en-de.test.tsv"

# The README's table: | `file` | pairs | bytes | content |
documented() { # documented FILE: the file has the pair and byte counts its README row states
  local f="$1" row pairs bytes
  row=$(grep -F "| \`$f\` |" "$FIX/README.md") || { echo "  README.md has no row for $f"; return 1; }
  pairs=$(echo "$row" | awk -F'|' '{gsub(/ /, "", $3); print $3}')
  bytes=$(echo "$row" | awk -F'|' '{gsub(/ /, "", $4); print $4}')
  [ "$(wc -l < "$FIX/$f")" -eq "$pairs" ] || { echo "  $f: $(wc -l < "$FIX/$f") lines, README says $pairs"; return 1; }
  [ "$(stat -c %s "$FIX/$f")" -eq "$bytes" ] || { echo "  $f: $(stat -c %s "$FIX/$f") bytes, README says $bytes"; return 1; }
}
for f in "${FILES[@]}"; do check "$f: counts as in README.md" documented "$f"; done

within() { # within LIMIT FILE...: the files total at most LIMIT bytes
  local limit="$1" total; shift
  total=$(cat "$@" | wc -c)
  echo "  $total bytes (budget $limit)"
  [ "$total" -le "$limit" ]
}
check "fixture data + README within ${DATA_BUDGET} bytes" \
  within "$DATA_BUDGET" "$FIX/README.md" "${FILES[@]/#/$FIX/}"
check "whole fixture directory within ${DIR_BUDGET} bytes" within "$DIR_BUDGET" "$FIX"/*

check "README.md states the MPL-2.0 notice" grep -q "subject to the terms of the Mozilla Public License, v. 2.0" "$FIX/README.md"
check "README.md states the Bibles are public domain" grep -q "public domain" "$FIX/README.md"
no_ding() { [ -z "$(find "$FIX" -iname '*ding*')" ]; }
check "no Ding (GPL) file in the fixture" no_ding

# The files are what scripts/fetch-data.sh --fixture produced (pinned checksums).
pinned() {
  local pins="$SRC/scripts/fetch-data.sha256" f want have
  for f in README.md "${FILES[@]}"; do
    want=$(awk -v p="fixture/$f" '$2 == p {print $1}' "$pins")
    have=$(sha256sum "$FIX/$f" | cut -d' ' -f1)
    [ -n "$want" ] || { echo "  no pinned checksum for fixture/$f"; return 1; }
    [ "$want" = "$have" ] || { echo "  $f differs from its pinned checksum (edited by hand?)"; return 1; }
  done
}
check "fixture matches the checksums pinned in scripts/fetch-data.sha256" pinned

# the shipped tokenizer is exactly what its documented command produces from this fixture
"$PROACT" tokenizer train --vocab-size 1024 -o "$WORK/tokenizer.json" "$FIX/john.en-es.train.tsv" \
  "$FIX/libreoffice.en-de.train.tsv" >/dev/null
check "tokenizer.json is reproducible from the fixture (README command)" cmp "$WORK/tokenizer.json" "$FIX/tokenizer.json"
finish
