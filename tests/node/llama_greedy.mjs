// llama_greedy.mjs — llama.cpp (npm node-llama-cpp, its prebuilt CPU binary) on a GGUF file, for
// tests/jobs/test_gguf.sh:
//   node llama_greedy.mjs MODEL.gguf --ids 1,2,3 --generate N --vocab V
//       prints JSON {"greedy": [N tokens of greedy decoding after the ids],
//                    "argmax": [per position of ids + greedy, llama.cpp's next token],
//                    "probs": [per position, the softmax over the V tokens (0 where not given)]}
//       (argmax and probs are teacher-forced: one evaluation of ids + greedy in a fresh sequence)
//   node llama_greedy.mjs MODEL.gguf --tokenize FILE   -> one line of ids per line of FILE
// The token ids are evaluated as given (no BOS is added, llama.cpp's tokenizer is not involved).
// Greedy is temperature 0 (argmax), with the EOG tokens yielded like any other. The KV cache is F32
// and flash attention is off, so that an F32 model computes in F32 throughout; one thread keeps the
// sums in a fixed order. Never builds from source and never downloads: build "never", gpu false.
// The package is looked up in PROACT_NODE_DIR (default: <repo>/.deps/node, filled by
// scripts/install-deps.sh), as tests/tokenizer/encode.mjs does.
import {existsSync, readFileSync} from "node:fs";
import {createRequire} from "node:module";
import path from "node:path";
import {fileURLToPath, pathToFileURL} from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const nodeDir = process.env.PROACT_NODE_DIR ?? path.join(here, "..", "..", ".deps", "node");
if (!existsSync(path.join(nodeDir, "node_modules", "node-llama-cpp"))) {
  console.error(`llama_greedy.mjs: node-llama-cpp not found in ${nodeDir}; run scripts/install-deps.sh`);
  process.exit(1);
}
const entry = createRequire(path.join(nodeDir, "package.json")).resolve("node-llama-cpp");
const {getLlama, LlamaLogLevel} = await import(pathToFileURL(entry).href);

const args = process.argv.slice(2);
const modelPath = args[0];
const opt = (name) => {
  const i = args.indexOf(name);
  return i < 0 ? undefined : args[i + 1];
};
if (!modelPath || (!opt("--ids") && !opt("--tokenize"))) {
  console.error("usage: node llama_greedy.mjs MODEL.gguf (--ids 1,2,3 --generate N | --tokenize FILE)");
  process.exit(2);
}

const llama = await getLlama({
  gpu: false, build: "never", usePrebuiltBinaries: true, progressLogs: false, logLevel: LlamaLogLevel.error,
});
const model = await llama.loadModel({modelPath, gpuLayers: 0, useMmap: false});

if (opt("--tokenize")) {
  // specialTokens true: added tokens in the text are matched, as Hugging Face (and proact) do
  const lines = readFileSync(opt("--tokenize"), "utf8").split("\n");
  if (lines.at(-1) === "") lines.pop();
  process.stdout.write(lines.map((l) => model.tokenize(l, true).join(" ")).join("\n") + "\n");
  process.exit(0);
}

const ids = opt("--ids").split(",").map(Number);
const n = Number(opt("--generate") ?? "16");
const vocab = Number(opt("--vocab") ?? "0");
const context = await model.createContext({
  contextSize: Math.max(64, ids.length + n + 8), batchSize: 512, threads: 1, flashAttention: false,
  experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32",
});
const seq = context.getSequence();

// greedy continuation
const greedy = [];
for await (const tok of seq.evaluate(ids, {temperature: 0, yieldEogToken: true})) {
  greedy.push(tok);
  if (greedy.length === n) break;
}

// teacher-forced: the next token and its distribution at every position of ids + greedy
await seq.clearHistory();
const all = ids.concat(greedy);
const next = {token: true, probabilities: true, options: {temperature: 0}};
const res = await seq.controlledEvaluate(all.map((t) => [t, {generateNext: next}]));
const argmax = res.map((r) => r?.next?.token ?? -1);
const probs = res.map((r) => {
  const p = new Array(vocab).fill(0);
  for (const [tok, q] of r?.next?.probabilities ?? []) if (tok < vocab) p[tok] = q;
  return p;
});
process.stdout.write(JSON.stringify({greedy, argmax, probs}) + "\n");
process.exit(0);
