// onnx_decoder.mjs — onnxruntime (npm onnxruntime-node, its prebuilt Linux x64 CPU binary) on the
// decoder that `proact export --format onnx` writes, for tests/jobs/test_onnx.sh:
//   node onnx_decoder.mjs MODEL_DIR/onnx/model.onnx --ids 1,2,3,... --prefill K --chunk C --pad P
//                         [--generate N]
// Runs the ids through the key/value cache as a generator does: call 1 the first K ids with an
// empty past (past_sequence_length 0), call 2 the next C ids at once with the past of call 1,
// then one id per call, each time feeding present.{i}.key/value back as past_key_values.{i}.*;
// with --generate, N more calls of one token each, the argmax of the last logits (greedy), whose
// logits rows are appended to those of the ids.
// Then one batch of 2 without past: row 0 the first K ids, row 1 the first K-P ids after P
// left pads (attention_mask 0, position ids counting from the first real token, as transformers
// makes them). Prints JSON:
//   {"inputs": [input names], "outputs": [output names],
//    "calls": [[start, length, past length] per call over the ids],
//    "logits": [per id, then per generated id but the last, the V logits of the cached run],
//    "greedy": [the N generated ids],
//    "present_dims": [dims of present.0.key after the last call],
//    "batch_row0": [K rows of V logits], "batch_row1": [K-P rows: row 1's real positions]}
// The package is looked up in PROACT_NODE_DIR (default: <repo>/.deps/node, filled by
// scripts/install-deps.sh). One intra-op thread, so that sums run in one fixed order.
import {existsSync} from "node:fs";
import {createRequire} from "node:module";
import path from "node:path";
import {fileURLToPath, pathToFileURL} from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const nodeDir = process.env.PROACT_NODE_DIR ?? path.join(here, "..", "..", ".deps", "node");
if (!existsSync(path.join(nodeDir, "node_modules", "onnxruntime-node"))) {
  console.error(`onnx_decoder.mjs: onnxruntime-node not found in ${nodeDir}; run scripts/install-deps.sh`);
  process.exit(1);
}
const entry = createRequire(path.join(nodeDir, "package.json")).resolve("onnxruntime-node");
const ort = (await import(pathToFileURL(entry).href)).default;

const args = process.argv.slice(2);
const opt = (name) => {
  const i = args.indexOf(name);
  return i < 0 ? undefined : args[i + 1];
};
const modelPath = args[0];
if (!modelPath || !opt("--ids")) {
  console.error("usage: node onnx_decoder.mjs MODEL.onnx --ids 1,2,3 --prefill K --chunk C --pad P");
  process.exit(2);
}
const ids = opt("--ids").split(",").map(Number);
const K = Number(opt("--prefill") ?? ids.length);
const C = Number(opt("--chunk") ?? 1);
const P = Number(opt("--pad") ?? 0);
const N = Number(opt("--generate") ?? 0);
if (!(K >= 1 && K <= ids.length && C >= 1 && P >= 0 && P < K && N >= 0)) {
  console.error(`onnx_decoder.mjs: need 1 <= --prefill (${K}) <= ${ids.length} ids, --chunk >= 1, 0 <= --pad < K`);
  process.exit(2);
}

const session = await ort.InferenceSession.create(modelPath, {intraOpNumThreads: 1, interOpNumThreads: 1});
const pastNames = session.inputNames.filter((n) => n.startsWith("past_key_values."));
const meta = Object.fromEntries(session.inputMetadata.map((m) => [m.name, m]));

const i64 = (rows) => new ort.Tensor("int64", BigInt64Array.from(rows.flat().map(BigInt)), [rows.length, rows[0].length]);
// An empty past for a batch: [batch, n_kv_heads, 0, head_dim] from the input's declared shape.
const emptyPast = (batch) => {
  const feeds = {};
  for (const name of pastNames) {
    const dims = meta[name].shape.map((d, i) => (i === 0 ? batch : typeof d === "number" ? d : 0));
    feeds[name] = new ort.Tensor("float32", new Float32Array(0), dims);
  }
  return feeds;
};
// The V logits of each row position [b][t] of an output [B, S, V].
const rowsOf = (t, b) => {
  const [, S, V] = t.dims;
  const out = [];
  for (let s = 0; s < S; s++) out.push(Array.from(t.data.subarray((b * S + s) * V, (b * S + s + 1) * V)));
  return out;
};

// The first index of the largest value (ties: the lowest id), as proact forward picks.
const argmax = (z) => z.reduce((best, v, j) => (v > z[best] ? j : best), 0);

const logits = [];
const calls = [];
const greedy = [];
let past = emptyPast(1);
let presentDims = null;
// Runs tokens[start, start + len) with the cache holding tokens[0, start); returns its logits rows.
const step = async (tokens, start, len) => {
  const chunk = tokens.slice(start, start + len);
  const out = await session.run({
    input_ids: i64([chunk]),
    attention_mask: i64([Array(start + len).fill(1)]),
    position_ids: i64([chunk.map((_, t) => start + t)]),
    ...past,
  });
  past = {};
  for (const name of pastNames) past[name] = out[name.replace("past_key_values.", "present.")];
  presentDims = out["present.0.key"].dims;
  return rowsOf(out.logits, 0);
};
for (let start = 0; start < ids.length;) {
  const len = start === 0 ? K : start === K ? Math.min(C, ids.length - start) : 1;
  logits.push(...(await step(ids, start, len)));
  calls.push([start, len, start]);
  start += len;
}
const seq = ids.slice();
let last = logits[logits.length - 1];
for (let g = 0; g < N; g++) {
  seq.push(argmax(last));
  greedy.push(seq[seq.length - 1]);
  if (g + 1 < N) {
    last = (await step(seq, seq.length - 1, 1))[0];
    logits.push(last);
  }
}

const row0 = ids.slice(0, K);
const row1 = Array(P).fill(0).concat(ids.slice(0, K - P));
const batch = await session.run({
  input_ids: i64([row0, row1]),
  attention_mask: i64([Array(K).fill(1), Array(P).fill(0).concat(Array(K - P).fill(1))]),
  position_ids: i64([row0.map((_, t) => t), row1.map((_, t) => Math.max(0, t - P))]),
  ...emptyPast(2),
});

console.log(JSON.stringify({
  inputs: session.inputNames,
  outputs: session.outputNames,
  calls,
  logits,
  greedy,
  present_dims: presentDims,
  batch_row0: rowsOf(batch.logits, 0),
  batch_row1: rowsOf(batch.logits, 1).slice(P),
}));
