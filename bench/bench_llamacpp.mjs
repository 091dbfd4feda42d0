// bench_llamacpp.mjs — llama.cpp's greedy decode speed on a GGUF file (npm node-llama-cpp, its
// prebuilt CPU binary), the peer of `bench_decode decode` in scripts/bench.sh:
//   node bench/bench_llamacpp.mjs MODEL.gguf --ids 1,2,3 --tokens N --threads T [--repeat R]
// Evaluates the ids (the prompt, untimed), then times N greedy tokens one at a time, best of R runs
// in a fresh sequence; prints one JSON line {"impl", "threads", "tokens_per_s", "ms_per_token",
// "tokens"}. The KV cache is llama.cpp's default (F16) and flash attention off: its usual CPU setup.
import {existsSync} from "node:fs";
import {createRequire} from "node:module";
import path from "node:path";
import {fileURLToPath, pathToFileURL} from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const nodeDir = process.env.PROACT_NODE_DIR ?? path.join(here, "..", ".deps", "node");
if (!existsSync(path.join(nodeDir, "node_modules", "node-llama-cpp"))) {
  console.error(`bench_llamacpp.mjs: node-llama-cpp not found in ${nodeDir}; run scripts/install-deps.sh`);
  process.exit(1);
}
const entry = createRequire(path.join(nodeDir, "package.json")).resolve("node-llama-cpp");
const {getLlama, LlamaLogLevel} = await import(pathToFileURL(entry).href);

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(name);
  return i < 0 ? def : args[i + 1];
};
const modelPath = args[0];
if (!modelPath || !opt("--ids")) {
  console.error("usage: node bench_llamacpp.mjs MODEL.gguf --ids 1,2,3 --tokens N --threads T [--repeat R]");
  process.exit(2);
}
const ids = opt("--ids").split(",").map(Number);
const n = Number(opt("--tokens", "128"));
const threads = Number(opt("--threads", "1"));
const repeat = Number(opt("--repeat", "3"));

const llama = await getLlama({
  gpu: false, build: "never", usePrebuiltBinaries: true, progressLogs: false, logLevel: LlamaLogLevel.error,
});
const model = await llama.loadModel({modelPath, gpuLayers: 0});
const context = await model.createContext({contextSize: ids.length + n + 16, batchSize: 512, threads,
                                           flashAttention: false});
const seq = context.getSequence();

let best = Infinity, tokens = [];
for (let r = 0; r < repeat; r++) {
  await seq.clearHistory();
  const got = [];
  let t0 = 0;
  // the first token comes with the prompt's evaluation: the clock starts after it
  for await (const tok of seq.evaluate(ids, {temperature: 0, yieldEogToken: true})) {
    got.push(tok);
    if (got.length === 1) t0 = performance.now();
    if (got.length === n + 1) break;
  }
  const dt = (performance.now() - t0) / 1000;
  if (dt < best) best = dt;
  tokens = got;
}
process.stdout.write(JSON.stringify({
  impl: "llama.cpp (node-llama-cpp 3.21.1)", threads, tokens_per_s: n / best, ms_per_token: 1000 * best / n,
  tokens,
}) + "\n");
process.exit(0);
