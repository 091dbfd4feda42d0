# Bad input to the CLI: each case gets one clear error line naming the file/field, a
# non-zero exit, and no crash.
source "$(dirname "$0")/lib.sh"

# a valid tiny model to corrupt
"$PROACT" init --config "$SRC/configs/tiny.ini" -o "$WORK/good" >/dev/null
ST="$WORK/good/model.safetensors"

mk() { rm -rf "$WORK/$1"; cp -r "$WORK/good" "$WORK/$1"; echo "$WORK/$1"; }

d=$(mk truncated); head -c $(( $(stat -c %s "$ST") - 100 )) "$ST" > "$d/model.safetensors"
expect_fail "truncated safetensors" "model.safetensors" "$PROACT" forward --model "$d" --ids 1,2

d=$(mk liar); "$PYTHON" - "$d/model.safetensors" <<'PY'
import json, struct, sys
p = sys.argv[1]; b = open(p, "rb").read(); n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8+n]); name = "model.norm.weight"
h[name]["data_offsets"][1] += 4096          # claims bytes past the end of the file
hb = json.dumps(h).encode(); hb += b" " * (-len(hb) % 8)
open(p, "wb").write(struct.pack("<Q", len(hb)) + hb + b[8+n:])
PY
expect_fail "offsets beyond the data" "model.norm.weight" "$PROACT" forward --model "$d" --ids 1,2

d=$(mk dtype); "$PYTHON" - "$d/model.safetensors" <<'PY'
import json, struct, sys
p = sys.argv[1]; b = open(p, "rb").read(); n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8+n]); h["model.norm.weight"]["dtype"] = "I32"   # same size, wrong kind
hb = json.dumps(h).encode(); hb += b" " * (-len(hb) % 8)
open(p, "wb").write(struct.pack("<Q", len(hb)) + hb + b[8+n:])
PY
expect_fail "unsupported dtype" "I32" "$PROACT" forward --model "$d" --ids 1,2

d=$(mk nofield); "$PYTHON" -c "import json,sys; p=sys.argv[1]; c=json.load(open(p)); del c['hidden_size']; json.dump(c,open(p,'w'))" "$d/config.json"
expect_fail "config.json missing hidden_size" "hidden_size" "$PROACT" forward --model "$d" --ids 1,2

d=$(mk arch); "$PYTHON" -c "import json,sys; p=sys.argv[1]; c=json.load(open(p)); c['architectures']=['GPT2LMHeadModel']; json.dump(c,open(p,'w'))" "$d/config.json"
expect_fail "unknown architecture" "GPT2LMHeadModel" "$PROACT" forward --model "$d" --ids 1,2

expect_fail "missing model directory" "config.json" "$PROACT" forward --model "$WORK/nowhere" --ids 1,2
expect_fail "token id outside the vocabulary" "outside the vocabulary" "$PROACT" forward --model "$WORK/good" --ids 1,99999
expect_fail "malformed --ids" "--ids" "$PROACT" forward --model "$WORK/good" --ids 1,x,3

printf '[model]\nhidden_sise = 64\n' > "$WORK/typo.ini"
expect_fail "unknown config key" "hidden_sise" "$PROACT" init --config "$WORK/typo.ini" -o "$WORK/x"
expect_fail "unknown --set key" "bogus" "$PROACT" train --config "$SRC/configs/tiny.ini" --set train.bogus=1
expect_fail "unknown data source" "data.source" "$PROACT" train --config "$SRC/configs/tiny.ini" --set data.source=shards --set train.steps=1 --set run.dir="$WORK/run"

rc=0; "$PROACT" frobnicate >/dev/null 2>&1 || rc=$?
check "unknown command exits 2" [ "$rc" -eq 2 ]
finish
