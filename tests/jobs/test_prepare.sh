# proact prepare: malformed lines are reported with file:line and counted, --strict fails and
# writes nothing, the output appears only when complete, and h5py reads the documented layout
# with word boundaries that decode back to the words.
source "$(dirname "$0")/lib.sh"
TOK="$SRC/tests/data/fixture/tokenizer.json"
IN="$WORK/pairs.en-de.tsv"
{
  printf 'Open the file.\tÖffnen Sie die Datei.\n'
  printf 'no tab on this line\n'
  printf 'two\ttabs\there\n'
  printf '   \tLeer\n'
  printf 'Empty target\t  \n'
  printf 'bad \xff byte\tschlecht\n'
  printf 'Save   the  document now.\tSpeichern Sie das Dokument jetzt.\r\n'
  printf 'a b c d e f g h i j k l m n o p q r s t u v w x y z\tlong\n'
} > "$IN"

"$PROACT" prepare --input "$IN" --tokenizer "$TOK" -o "$WORK/out.h5" --max-tokens 20 >"$WORK/log" 2>"$WORK/err"
cat "$WORK/log" "$WORK/err"
check "line 2 reported: no tab" grep -q "pairs.en-de.tsv:2: skipped: no tab" "$WORK/err"
check "line 3 reported: more than one tab" grep -q ":3: skipped: more than one tab" "$WORK/err"
check "line 4 reported: empty source" grep -q ":4: skipped: empty source" "$WORK/err"
check "line 5 reported: empty target" grep -q ":5: skipped: empty target" "$WORK/err"
check "line 6 reported: invalid UTF-8 at byte 5" grep -q ":6: skipped: invalid UTF-8 (byte 5)" "$WORK/err"
check "line 8 reported: too long" grep -q ":8: skipped: too long" "$WORK/err"
check "summary counts kept and skipped by reason" grep -q "kept 2 of 8 lines; skipped 6 (no tab: 1, more than one tab: 1, empty source: 1, empty target: 1, invalid UTF-8: 1, too long: 1)" "$WORK/log"
check "languages guessed from the file name" h5dump -a tgt_lang "$WORK/out.h5"

"$PYTHON" - "$WORK/out.h5" "$PROACT" "$TOK" <<'PY' && check "h5py reads the layout; word boundaries decode to the words" true || check "h5py layout" false
import subprocess, sys
import h5py, numpy as np
path, proact, tok = sys.argv[1:4]
f = h5py.File(path, "r")
assert f.attrs["format"] == b"proact-shards" or f.attrs["format"] == "proact-shards", f.attrs["format"]
assert int(f.attrs["n_examples"]) == 2 and f.attrs["src_lang"] in (b"en", "en") and f.attrs["tgt_lang"] in (b"de", "de")
for k in ["src_tokens", "tgt_tokens", "src_offsets", "src_word_ends", "src_word_offsets", "src_text", "lengths", "line", "template/prompt", "tokenizer_json"]:
    assert k in f, k
assert list(f["line"][:]) == [1, 7]
def decode(ids):
    out = subprocess.run([proact, "tokenize", "--tokenizer", tok, "--decode"], input=" ".join(map(str, ids)) + "\n",
                         capture_output=True, text=True, check=True).stdout
    return out[:-1] if out.endswith("\n") else out
for side in ("src", "tgt"):
    toks, off = f[f"{side}_tokens"][:], f[f"{side}_offsets"][:]
    ends, woff = f[f"{side}_word_ends"][:], f[f"{side}_word_offsets"][:]
    text, toff = f[f"{side}_text"][:].tobytes(), f[f"{side}_text_offsets"][:]
    for e in range(2):
        t = toks[off[e]:off[e + 1]]
        words = text[toff[e]:toff[e + 1]].decode().split()
        we = ends[woff[e]:woff[e + 1]]
        assert len(we) == len(words) and we[-1] == len(t), (we, words)
        start = 0
        for i, end in enumerate(we):
            want = words[i] if i == 0 else " " + words[i]
            got = decode(t[start:end])
            assert got == want, (side, e, i, got, want)
            start = end
        assert f["lengths"][e][0 if side == "src" else 2] == len(words)
print("h5py: layout and word boundaries ok")
PY

rm -f "$WORK/strict.h5"
expect_fail "--strict fails on the first malformed line" "line 2: no tab" \
  "$PROACT" prepare --input "$IN" --tokenizer "$TOK" -o "$WORK/strict.h5" --strict
check "--strict wrote nothing" test ! -e "$WORK/strict.h5"
check "no temporary file left behind" bash -c "! ls '$WORK' | grep -q tmp"
expect_fail "missing input file" "nowhere.tsv" "$PROACT" prepare --input "$WORK/nowhere.tsv" --tokenizer "$TOK" -o "$WORK/x.h5"
"$PROACT" init --config "$SRC/configs/tiny.ini" -o "$WORK/model" >/dev/null
expect_fail "a model's config.json given as the tokenizer" "not a tokenizer.json" \
  "$PROACT" prepare --input "$IN" --tokenizer "$WORK/model/config.json" -o "$WORK/x.h5"
expect_fail "template the tokenizer cannot express" "<|im_start|>" \
  "$PROACT" prepare --input "$IN" --tokenizer "$TOK" -o "$WORK/x.h5" --template chatml
expect_fail "unwritable output directory" "no/such/dir" \
  "$PROACT" prepare --input "$IN" --tokenizer "$TOK" -o "$WORK/no/such/dir/x.h5"
# tokenize --fingerprint: what the shards record (train compares it), the same for the same tokenizer
# written another way (merges as "a b" strings, other indentation), another for another tokenizer
fp=$("$PROACT" tokenize --tokenizer "$TOK" --fingerprint </dev/null)
shard_fp=$(h5dump -a tokenizer_fingerprint "$WORK/out.h5" | sed -n 's/.*(0): "\([0-9a-f]*\)".*/\1/p')
check "tokenize --fingerprint prints the 16 hex digits the shards record ($fp)" \
  bash -c "[ '$fp' = '$shard_fp' ] && grep -Eqx '[0-9a-f]{16}' <<<'$fp'"
"$PYTHON" - "$TOK" "$WORK/rewritten.json" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))
t["model"]["merges"] = [" ".join(m) for m in t["model"]["merges"]]
json.dump(t, open(sys.argv[2], "w"), indent=1, ensure_ascii=True)
PY
fp_rewritten=$("$PROACT" tokenize --tokenizer "$WORK/rewritten.json" --fingerprint)
check "the same tokenizer in another file (merges as strings) has the same fingerprint" \
  bash -c "! cmp -s '$TOK' '$WORK/rewritten.json' && [ '$fp_rewritten' = '$fp' ]"
"$PROACT" tokenizer train --vocab-size 300 -o "$WORK/other.json" "$SRC/tests/data/fixture/libreoffice.en-de.train.tsv" \
  >/dev/null 2>&1
fp_other=$("$PROACT" tokenize --tokenizer "$WORK/other.json" --fingerprint)
check "another tokenizer has another fingerprint ($fp_other)" \
  bash -c "grep -Eqx '[0-9a-f]{16}' <<<'$fp_other' && [ '$fp_other' != '$fp' ]"
expect_fail "tokenize --fingerprint of a file that is not a tokenizer" "not a tokenizer.json" \
  "$PROACT" tokenize --tokenizer "$WORK/model/config.json" --fingerprint
finish
