# proact tokenizer train: trains a byte-level BPE (vocab 2048) on real text, then checks that the
# npm reference @huggingface/tokenizers (tests/tokenizer/encode.mjs) encodes >= 20,000 lines
# exactly as `proact tokenize` does with the written tokenizer.json; training twice gives the
# same bytes; bad input fails with one error line.
source "$(dirname "$0")/lib.sh"
TOKDIR="$SRC/tests/tokenizer"

# --- training text: the fixture's training pairs, else the project's own text and Debian's
# licences -------------------------------------------------------------------------------------
FIXTURE="$SRC/tests/data/fixture"
mapfile -t TRAIN < <(find "$FIXTURE" -type f -name '*train*.tsv' 2>/dev/null | sort)
if [ "${#TRAIN[@]}" -eq 0 ]; then
  mapfile -t TRAIN < <(find "$SRC/README.md" "$SRC/docs" /usr/share/common-licenses -type f \
    \( -name '*.md' -o -path '/usr/share/common-licenses/*' \) 2>/dev/null | sort)
fi
echo "training on ${#TRAIN[@]} files: ${TRAIN[*]}"

start=$(date +%s)
"$PROACT" tokenizer train --vocab-size 2048 -o "$WORK/tok.json" "${TRAIN[@]}" >"$WORK/log"
cat "$WORK/log"
check "summary line" \
  grep -Eq '^summary: [0-9]+ files?, [0-9.]+ MB, [0-9]+ words \([0-9]+ distinct\), [0-9]+ merges' "$WORK/log"
check "vocabulary of 2048" grep -q '^wrote .*: vocab 2048 ' "$WORK/log"
echo "tokenizer.json: $(stat -c %s "$WORK/tok.json") bytes"

"$PROACT" tokenizer train --vocab-size 2048 -o "$WORK/tok2.json" "${TRAIN[@]}" >/dev/null
check "training twice gives the same bytes" cmp "$WORK/tok.json" "$WORK/tok2.json"

# --- >= 20,000 lines encoded by proact and by the JS reference -----------------------------
CORPUS="$WORK/corpus.txt"
if [ -f "$TOKDIR/make_corpus.sh" ]; then
  bash "$TOKDIR/make_corpus.sh" "$CORPUS"
else # the training text (TSV rows and plain lines), the sources, and hand-made edge cases
  cat "${TRAIN[@]}" >"$CORPUS"
  find "$SRC/src" "$SRC/io" "$SRC/jobs" "$SRC/docs" -type f | sort | xargs cat >>"$CORPUS"
  while [ "$(wc -l <"$CORPUS")" -lt 20000 ]; do cat /usr/share/common-licenses/* >>"$CORPUS"; done
fi
printf '%b\n' 'cafe\xcc\x81 re\xcc\x81sume\xcc\x81 caf\xc3\xa9' \
  'bad \xff\xfe \xe0\x80 \xed\xa0\x80 \xf0\x9f\x98 end\xc3' \
  '<src> Hallo Welt </src><tgt>Hello world</tgt><|endoftext|><pad>' 'tab\there\r' '  two  spaces   and 12345 digits' \
  "it's we'LL THEY'RE O'Neil" \
  '日本語のテキスト 中文 한국어 русский текст 🙂🙂 ﬁ ǅ' >>"$CORPUS"
lines=$(wc -l <"$CORPUS")
check "corpus has >= 20000 lines ($lines)" test "$lines" -ge 20000

"$PROACT" tokenize --tokenizer "$WORK/tok.json" <"$CORPUS" >"$WORK/ids_proact"
node "$TOKDIR/encode.mjs" --tokenizer "$WORK/tok.json" --input "$CORPUS" --output "$WORK/ids_js"
check "proact and @huggingface/tokenizers give the same ids on $lines lines" cmp "$WORK/ids_proact" "$WORK/ids_js"
if ! cmp -s "$WORK/ids_proact" "$WORK/ids_js"; then
  n=$(cmp "$WORK/ids_proact" "$WORK/ids_js" | sed -n 's/.* line \([0-9]*\)$/\1/p')
  [ -n "$n" ] && { echo "first difference, line $n:"; sed -n "${n}p" "$CORPUS" | head -c 300; echo;
    echo "proact: $(sed -n "${n}p" "$WORK/ids_proact" | head -c 300)"
    echo "js:     $(sed -n "${n}p" "$WORK/ids_js" | head -c 300)"; }
fi
# a tokenizer trained on the varied corpus itself (whitespace runs, U+FFFD, emoji, scripts, code
# become tokens; written --compact) must encode it alike too
"$PROACT" tokenizer train --vocab-size 8000 --min-frequency 1 --compact -o "$WORK/self.json" "$CORPUS" >/dev/null
"$PROACT" tokenize --tokenizer "$WORK/self.json" <"$CORPUS" >"$WORK/self_proact"
node "$TOKDIR/encode.mjs" --tokenizer "$WORK/self.json" --input "$CORPUS" --output "$WORK/self_js"
check "same ids with a tokenizer trained on the corpus itself (vocab 8000)" cmp "$WORK/self_proact" "$WORK/self_js"

# held-out text of the same kind (the fixture's test pairs; else the training text itself)
mapfile -t HELD < <(find "$FIXTURE" -type f -name '*test*.tsv' 2>/dev/null | sort)
[ "${#HELD[@]}" -gt 0 ] || HELD=("${TRAIN[@]}")
tokens=$(cat "${HELD[@]}" | "$PROACT" tokenize --tokenizer "$WORK/tok.json" | wc -w)
bytes=$(cat "${HELD[@]}" | wc -c)
ratio=$(awk -v b="$bytes" -v t="$tokens" 'BEGIN{printf "%.2f", b/t}')
echo "held-out text: $bytes bytes, $tokens tokens ($ratio bytes/token)"
check "the merges compress held-out text (> 2.5 bytes/token)" test "$((5 * tokens))" -lt "$((2 * bytes))"

# --- help and bad input ------------------------------------------------------------------------
check "tokenizer --help" bash -c '"$1" tokenizer --help | grep -q "^usage: proact tokenizer train"' _ "$PROACT"
check "tokenizer train --help" bash -c '"$1" tokenizer train --help | grep -q -- "--min-frequency N"' _ "$PROACT"
: >"$WORK/empty.txt"
printf '\n\t\n<src></src>\n' >"$WORK/blank.txt"
expect_fail "missing input file" "$WORK/missing.txt" \
  "$PROACT" tokenizer train --vocab-size 300 -o "$WORK/x.json" "${TRAIN[0]}" "$WORK/missing.txt"
expect_fail "vocabulary below 262" "--vocab-size: 261 is outside 262..1000000" \
  "$PROACT" tokenizer train --vocab-size 261 -o "$WORK/x.json" "${TRAIN[0]}"
expect_fail "vocabulary above 1,000,000" "--vocab-size" \
  "$PROACT" tokenizer train --vocab-size 1000001 -o "$WORK/x.json" "${TRAIN[0]}"
expect_fail "vocabulary not a number" "--vocab-size: '2k' is not a whole number" \
  "$PROACT" tokenizer train --vocab-size 2k -o "$WORK/x.json" "${TRAIN[0]}"
expect_fail "min frequency 0" "--min-frequency" \
  "$PROACT" tokenizer train --vocab-size 300 --min-frequency 0 -o "$WORK/x.json" "${TRAIN[0]}"
expect_fail "no text" "no text to train on" \
  "$PROACT" tokenizer train --vocab-size 300 -o "$WORK/x.json" "$WORK/empty.txt" "$WORK/blank.txt"
expect_fail "unwritable output" "$WORK/no/such/dir/tok.json" \
  "$PROACT" tokenizer train --vocab-size 300 -o "$WORK/no/such/dir/tok.json" "${TRAIN[0]}"
expect_fail "a directory as input" "$WORK" \
  "$PROACT" tokenizer train --vocab-size 300 -o "$WORK/x.json" "$WORK"
expect_fail "unknown subcommand" "unknown subcommand 'tarin'" "$PROACT" tokenizer tarin
check "no file written by failed runs" test ! -e "$WORK/x.json"
echo "took $(( $(date +%s) - start )) s"
finish
