# proact export: a checkpoint -> a Hugging Face directory that the PyTorch twin loads and that
# reproduces `proact forward`; bf16 too; it works as model.init; bad checkpoints are refused.
source "$(dirname "$0")/lib.sh"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
check "train 30 steps on 2 ranks" timeout 300 mpirun -np 2 "$PROACT" train --config "$SRC/configs/tiny.ini" \
  --set train.steps=30 --set train.eval_every=0 --set run.dir="$WORK/run" >"$WORK/train.log" 2>&1
check "export the run directory (f32)" "$PROACT" export --checkpoint "$WORK/run" -o "$WORK/f32"
check "export the checkpoint file (bf16)" "$PROACT" export \
  --checkpoint "$WORK/run/checkpoints/step-00000030.h5" -o "$WORK/bf16" --dtype bf16
for f in config.json model.safetensors tokenizer.json proact.json; do
  check "the export has $f" test -s "$WORK/f32/$f"
done
check "the f32 export equals the final model of the run" cmp "$WORK/f32/model.safetensors" "$WORK/run/model/model.safetensors"
ids=$(printf '<src>In the beginning was the Word</src><tgt>\n' | "$PROACT" tokenize --tokenizer "$WORK/f32/tokenizer.json" | tr ' ' ',')
for kind in f32 bf16; do
  "$PROACT" forward --model "$WORK/$kind" --ids "$ids" -o "$WORK/$kind.npy" 2>/dev/null
  check "the PyTorch twin loads the $kind export and reproduces proact forward" "$PYTHON" - "$WORK/$kind" "$WORK/$kind.npy" "$ids" <<'PY'
import os, sys
import numpy as np, torch
sys.path.insert(0, os.environ["PROACT_SOURCE_DIR"] + "/tests/reference")
import twin
model = twin.load_hf_dir(sys.argv[1])
ids = [int(x) for x in sys.argv[3].split(",")]
n = len(ids)
layout = twin.Layout.causal([n])
with torch.no_grad():
    ref = model(torch.tensor(ids), layout).double().numpy()
got = np.load(sys.argv[2]).astype(np.float64)
err = np.abs(got - ref).max() / np.abs(ref).max()
assert err < 1e-4, err
print(f"max relative difference {err:.2e}")
PY
done
check "the export works as model.init" bash -c "timeout 120 '$PROACT' train --config '$SRC/configs/tiny.ini' \
  --set model.init='$WORK/f32' --set train.steps=2 --set train.eval_every=0 --set run.dir='$WORK/again' > '$WORK/again.log' 2>&1"
check "and training started from its weights" grep -q "from $WORK/f32" "$WORK/again.log"
"$PYTHON" -c "
import h5py; f = h5py.File('$WORK/run/checkpoints/step-00000030.h5', 'r+'); d = f['model/model.norm.weight']; d[0] = d[0] + 1; f.close()"
expect_fail "a checkpoint whose data does not match its checksum" "model.norm.weight" \
  "$PROACT" export --checkpoint "$WORK/run" -o "$WORK/bad"
check "nothing exported from it" test ! -e "$WORK/bad/model.safetensors"
expect_fail "a missing checkpoint" "cannot open checkpoint" "$PROACT" export --checkpoint "$WORK/nowhere" -o "$WORK/x"
finish
