// encode.mjs — the reference side of the tokenizer tests: encodes (or decodes) text with the npm
// package @huggingface/tokenizers, one output line per input line, exactly as
// `proact tokenize` does, so that the two outputs can be compared with cmp.
//
//   node encode.mjs --tokenizer tokenizer.json [--config tokenizer_config.json]
//                   [--input FILE] [--output FILE] [--decode] [--timing]
//
// Lines are split on "\n" (byte 0x0A) only; a final line without "\n" still counts. A "\r"
// stays in its line and is tokenized like any other character. Each line's bytes are decoded
// with TextDecoder (WHATWG: each maximal invalid subsequence becomes U+FFFD; a BOM is kept as
// U+FEFF), then encoded with add_special_tokens false. --decode reads lines of ids.
// --timing prints the load and encode times (seconds) to stderr as one JSON line.
//
// The package is looked up in PROACT_NODE_DIR (default: <repo>/.deps/node, filled by
// scripts/install-deps.sh), so no NODE_PATH or cwd is needed.
import { createRequire } from "node:module";
import { readFileSync, writeFileSync, existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const nodeDir = process.env.PROACT_NODE_DIR ?? path.join(here, "..", "..", ".deps", "node");
if (!existsSync(path.join(nodeDir, "node_modules", "@huggingface", "tokenizers"))) {
  console.error(`encode.mjs: @huggingface/tokenizers not found in ${nodeDir}; run scripts/install-deps.sh`);
  process.exit(1);
}
const require = createRequire(path.join(nodeDir, "package.json"));
const { Tokenizer } = require("@huggingface/tokenizers");

function parseArgs(argv) {
  const opts = { decode: false, timing: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === "--tokenizer") opts.tokenizer = value();
    else if (a === "--config") opts.config = value();
    else if (a === "--input") opts.input = value();
    else if (a === "--output") opts.output = value();
    else if (a === "--decode") opts.decode = true;
    else if (a === "--timing") opts.timing = true;
    else throw new Error(`unknown argument ${a}`);
  }
  if (!opts.tokenizer) throw new Error("--tokenizer is required");
  return opts;
}

// Splits a byte buffer on 0x0A into Buffers (views, no copies); no empty last line.
function splitLines(buf) {
  const lines = [];
  let start = 0;
  for (;;) {
    const nl = buf.indexOf(0x0a, start);
    if (nl < 0) break;
    lines.push(buf.subarray(start, nl));
    start = nl + 1;
  }
  if (start < buf.length) lines.push(buf.subarray(start));
  return lines;
}

function main() {
  const opts = parseArgs(process.argv.slice(2));
  const t0 = performance.now();
  const json = JSON.parse(readFileSync(opts.tokenizer, "utf8"));
  const config = opts.config ? JSON.parse(readFileSync(opts.config, "utf8")) : {};
  const tok = new Tokenizer(json, config);
  const t1 = performance.now();

  const input = readFileSync(opts.input ?? 0);
  const decoder = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });
  const out = [];
  for (const line of splitLines(input)) {
    const text = decoder.decode(line);
    if (opts.decode) {
      const ids = text.split(" ").filter((s) => s.length > 0).map(Number);
      out.push(ids.length ? tok.decode(ids, { clean_up_tokenization_spaces: false }) : "");
    } else {
      out.push(tok.encode(text, { add_special_tokens: false }).ids.join(" "));
    }
  }
  const t2 = performance.now();
  const text = out.length ? out.join("\n") + "\n" : "";
  if (opts.output) writeFileSync(opts.output, text);
  else process.stdout.write(text);
  if (opts.timing) {
    const r = { load_s: (t1 - t0) / 1e3, encode_s: (t2 - t1) / 1e3, bytes: input.length };
    console.error(JSON.stringify(r));
  }
}

try {
  main();
} catch (e) {
  console.error(`encode.mjs: ${e.message}`);
  process.exit(1);
}
