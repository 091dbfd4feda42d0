// hf_transformers.mjs — the transformers.js side of the Hugging Face tests: loads a model
// directory's tokenizer with @huggingface/transformers' AutoTokenizer.from_pretrained (local files
// only: tokenizer.json + tokenizer_config.json, as transformers.js reads any Hub model) and
//
//   --info                 prints what it read as one JSON line: the class it chose, the special
//                          tokens and their ids, model_max_length, whether it has a chat template
//   --encode FILE          encodes each record of FILE and prints its ids separated by spaces, one
//                          output record per input record (as `proact tokenize`); add_special_tokens
//                          false, or the library's default (true) with --default-special
//   --chat FILE            FILE is a JSON array of {"messages": [...], "add_generation_prompt": b};
//                          prints each rendered chat template as one record
//
// Records end with "\n" or, with --null, with a NUL byte (texts that hold newlines), in and out.
// Input bytes are decoded with TextDecoder (invalid UTF-8 -> U+FFFD), as encode.mjs does.
//
//   node hf_transformers.mjs --model DIR (--info | --encode FILE | --chat FILE) [--null]
//                            [--default-special]
//
// The package is looked up in PROACT_NODE_DIR (default: <repo>/.deps/node, filled by
// scripts/install-deps.sh).
import { createRequire } from "node:module";
import { readFileSync, existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const nodeDir = process.env.PROACT_NODE_DIR ?? path.join(here, "..", "..", ".deps", "node");
if (!existsSync(path.join(nodeDir, "node_modules", "@huggingface", "transformers"))) {
  console.error(`hf_transformers.mjs: @huggingface/transformers not found in ${nodeDir}; run scripts/install-deps.sh`);
  process.exit(1);
}
const require = createRequire(path.join(nodeDir, "package.json"));
const { AutoTokenizer, env } = require("@huggingface/transformers");

function parseArgs(argv) {
  const opts = { null: false, defaultSpecial: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === "--model") opts.model = value();
    else if (a === "--info") opts.info = true;
    else if (a === "--encode") opts.encode = value();
    else if (a === "--chat") opts.chat = value();
    else if (a === "--null") opts.null = true;
    else if (a === "--default-special") opts.defaultSpecial = true;
    else throw new Error(`unknown argument ${a}`);
  }
  if (!opts.model) throw new Error("--model is required");
  if (!!opts.info + !!opts.encode + !!opts.chat !== 1) throw new Error("give one of --info, --encode, --chat");
  return opts;
}

// Splits a byte buffer into records ending with `end`; a last record without it still counts.
function splitRecords(buf, end) {
  const out = [];
  let start = 0;
  for (;;) {
    const k = buf.indexOf(end, start);
    if (k < 0) break;
    out.push(buf.subarray(start, k));
    start = k + 1;
  }
  if (start < buf.length) out.push(buf.subarray(start));
  return out;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  // nothing from the network, nothing cached: the directory as it is
  env.allowRemoteModels = false;
  env.useFSCache = false;
  env.useBrowserCache = false;
  const tok = await AutoTokenizer.from_pretrained(path.resolve(opts.model), { local_files_only: true });
  const sep = opts.null ? "\0" : "\n";
  if (opts.info) {
    const info = {
      class: tok.constructor.name,
      bos_token: tok.bos_token ?? null,
      bos_token_id: tok.bos_token_id ?? null,
      eos_token: tok.eos_token ?? null,
      eos_token_id: tok.eos_token_id ?? null,
      pad_token: tok.pad_token ?? null,
      pad_token_id: tok.pad_token_id ?? null,
      unk_token: tok.unk_token ?? null,
      model_max_length: tok.model_max_length,
      chat_template: typeof tok.chat_template === "string",
    };
    process.stdout.write(JSON.stringify(info) + "\n");
    return;
  }
  const out = [];
  if (opts.encode) {
    const decoder = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });
    for (const rec of splitRecords(readFileSync(opts.encode), opts.null ? 0 : 0x0a)) {
      const text = decoder.decode(rec);
      const ids = opts.defaultSpecial ? tok.encode(text) : tok.encode(text, { add_special_tokens: false });
      out.push(ids.join(" "));
    }
  } else {
    for (const c of JSON.parse(readFileSync(opts.chat, "utf8"))) {
      out.push(
        tok.apply_chat_template(c.messages, { tokenize: false, add_generation_prompt: !!c.add_generation_prompt }),
      );
    }
  }
  process.stdout.write(out.map((s) => s + sep).join(""));
}

main().catch((e) => {
  console.error(`hf_transformers.mjs: ${e.message}`);
  process.exit(1);
});
