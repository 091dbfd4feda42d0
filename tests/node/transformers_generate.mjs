// transformers_generate.mjs — transformers.js (npm @huggingface/transformers) loads a directory
// that `proact export --format onnx` wrote (config.json + onnx/model.onnx) as AutoModelForCausalLM
// and decodes greedily, for tests/jobs/test_onnx.sh:
//   node transformers_generate.mjs MODEL_DIR --ids 1,2,3 --generate N [--source K --phi F]
//   node transformers_generate.mjs MODEL_DIR --text SOURCE --generate N [--source K --phi F]
// With --text, the ids are the exported tokenizer's (AutoTokenizer) rendering of the source through
// the exported chat template (apply_chat_template with one user message and the generation prompt),
// and the JSON also holds "ids" (those ids) and "text" (tokenizer.decode of the "generate" ids).
// Prints JSON:
//   {"generate": [N ids]: model.generate({input_ids, max_new_tokens: N, do_sample: false}) with no
//                eos (so that exactly N come): transformers' own loop, whose position ids count
//                0, 1, 2, ... over prompt and continuation,
//    "group": [N ids]: with --source, the same greedy decoding through the model's forward
//             (model({input_ids, attention_mask, position_ids, past_key_values})), one call for the
//             ids and one per new token, with proact's group positions: the first K ids (the
//             source block) at 0 .. K-1, every later token at F, F+1, ... (the target block), as
//             the streaming runner places them. generate() cannot take such positions: it derives
//             them from the attention mask at every step.}
// Offline: local files only, no remote models. The package is looked up in PROACT_NODE_DIR
// (default: <repo>/.deps/node, filled by scripts/install-deps.sh).
import {existsSync} from "node:fs";
import {createRequire} from "node:module";
import path from "node:path";
import {fileURLToPath, pathToFileURL} from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const nodeDir = process.env.PROACT_NODE_DIR ?? path.join(here, "..", "..", ".deps", "node");
if (!existsSync(path.join(nodeDir, "node_modules", "@huggingface", "transformers"))) {
  console.error(`transformers_generate.mjs: @huggingface/transformers not found in ${nodeDir}; run scripts/install-deps.sh`);
  process.exit(1);
}
const entry = createRequire(path.join(nodeDir, "package.json")).resolve("@huggingface/transformers");
const {AutoModelForCausalLM, AutoTokenizer, Tensor, env} = await import(pathToFileURL(entry).href);

const args = process.argv.slice(2);
const opt = (name) => {
  const i = args.indexOf(name);
  return i < 0 ? undefined : args[i + 1];
};
const dir = args[0];
if (!dir || !(opt("--ids") || opt("--text")) || !opt("--generate")) {
  console.error("usage: node transformers_generate.mjs MODEL_DIR (--ids 1,2,3 | --text SOURCE) --generate N [--source K --phi F]");
  process.exit(2);
}
const N = Number(opt("--generate"));
const K = opt("--source") === undefined ? -1 : Number(opt("--source"));
const F = Number(opt("--phi") ?? 0);

env.allowRemoteModels = false;
env.allowLocalModels = true;
env.localModelPath = path.dirname(path.resolve(dir));
const tokenizer = opt("--text") === undefined ? null :
  await AutoTokenizer.from_pretrained(path.basename(path.resolve(dir)), {local_files_only: true});
const ids = tokenizer ? tokenizer.apply_chat_template([{role: "user", content: opt("--text")}],
  {tokenize: true, add_generation_prompt: true, return_tensor: false, return_dict: false}).map(Number) :
  opt("--ids").split(",").map(Number);
const model = await AutoModelForCausalLM.from_pretrained(path.basename(path.resolve(dir)), {
  local_files_only: true,
  dtype: "fp32",
  device: "cpu",
  session_options: {intraOpNumThreads: 1, interOpNumThreads: 1},
});

const i64 = (v) => new Tensor("int64", BigInt64Array.from(v.map(BigInt)), [1, v.length]);
// The first index of the largest value (ties: the lowest id), as proact picks.
const argmax = (z) => z.reduce((best, v, j) => (v > z[best] ? j : best), 0);

const out = await model.generate({
  input_ids: i64(ids),
  attention_mask: i64(ids.map(() => 1)),
  max_new_tokens: N,
  min_new_tokens: N,
  do_sample: false,
  eos_token_id: null,
});
const result = {generate: Array.from(out.data.slice(ids.length), Number)};
if (tokenizer) {
  result.ids = ids;
  result.text = tokenizer.decode(result.generate, {skip_special_tokens: false});
}

if (K >= 0) {
  const pos = (i) => (i < K ? i : F + i - K);
  const seq = ids.slice();
  let past = null;
  result.group = [];
  for (let start = 0; result.group.length < N;) {
    const chunk = seq.slice(start);
    const r = await model({
      input_ids: i64(chunk),
      attention_mask: i64(seq.map(() => 1)),
      position_ids: i64(chunk.map((_, t) => pos(start + t))),
      ...(past ? {past_key_values: past} : {}),
    });
    const V = r.logits.dims[2];
    const last = Array.from(r.logits.data.slice((chunk.length - 1) * V, chunk.length * V));
    past = {};
    for (const [name, t] of Object.entries(r))
      if (name.startsWith("present.")) past[name.replace("present.", "past_key_values.")] = t;
    start = seq.length;
    seq.push(argmax(last));
    result.group.push(seq[seq.length - 1]);
  }
}
console.log(JSON.stringify(result));
