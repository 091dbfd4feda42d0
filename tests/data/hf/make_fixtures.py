#!/usr/bin/env python3
"""make_fixtures.py PROACT_BIN OUT_DIR — small tokenizer directories laid out as Hugging Face
transformers' save_pretrained writes them for a Qwen2 and a Llama 3 tokenizer, each with its BPE
merges in both forms tokenizers has written ("a b" strings before tokenizers 0.20, ["a", "b"]
pairs since):

    OUT_DIR/qwen2-pairs/   OUT_DIR/qwen2-strings/   OUT_DIR/llama3-pairs/   OUT_DIR/llama3-strings/
        tokenizer.json  tokenizer_config.json  special_tokens_map.json

The vocabulary and merges are not Qwen's or Meta's: they are a 700-token byte-level BPE that
`proact tokenizer train` learns from tests/tokenizer/multilingual.txt and the fixture's pairs,
renumbered so that the 256 byte tokens come first (as in both models' files), with each model's
first special tokens appended after them. Around them, every component and key is the one the
model's files have: normalizer, pre-tokenizer (its split regex), post-processor, decoder, the BPE
flags (Llama 3: ignore_merges true, null prefixes), added tokens with their flags, and the
tokenizer_config.json keys (tokenizer_class, special tokens, model_max_length, ...). The chat
templates are short ChatML / Llama 3 header templates written for these fixtures.

Deterministic: the same proact gives the same files. tests/data/hf/README.md lists the layouts.
"""
import json
import os
import subprocess
import sys
import tempfile

QWEN2_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
               r"|\s*[\r\n]+|\s+(?!\S)|\s+")
LLAMA3_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                r"|\s*[\r\n]+|\s+(?!\S)|\s+")

QWEN2_SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
LLAMA3_SPECIAL = ["<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>",
                  "<|reserved_special_token_1|>", "<|reserved_special_token_2|>", "<|reserved_special_token_3|>",
                  "<|start_header_id|>", "<|end_header_id|>", "<|reserved_special_token_4|>", "<|eot_id|>"]

QWEN2_CHAT = ("{%- for message in messages -%}{{- '<|im_start|>' + message['role'] + '\n' + message['content'] + "
              "'<|im_end|>\n' -}}{%- endfor -%}{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\n' -}}"
              "{%- endif -%}")
LLAMA3_CHAT = ("{{- bos_token -}}{%- for message in messages -%}{{- '<|start_header_id|>' + message['role'] + "
               "'<|end_header_id|>\n\n' + message['content'] | trim + '<|eot_id|>' -}}{%- endfor -%}"
               "{%- if add_generation_prompt -%}{{- '<|start_header_id|>assistant<|end_header_id|>\n\n' -}}{%- endif -%}")


def byte_level(prefix, trim, regex):
    return {"type": "ByteLevel", "add_prefix_space": prefix, "trim_offsets": trim, "use_regex": regex}


def split(regex):
    return {"type": "Split", "pattern": {"Regex": regex}, "behavior": "Isolated", "invert": False}


def added(i, content):
    return {"id": i, "content": content, "single_word": False, "lstrip": False, "rstrip": False,
            "normalized": False, "special": True}


def base_bpe(proact):
    """vocab (token -> id, bytes first) and merges [[a, b], ...] of a trained tokenizer, its own
    special tokens removed."""
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.normpath(os.path.join(here, "..", "..", ".."))
    texts = [os.path.join(root, "tests", "tokenizer", "multilingual.txt"),
             os.path.join(root, "tests", "data", "fixture", "libreoffice.en-de.train.tsv"),
             os.path.join(root, "tests", "data", "fixture", "john.en-es.train.tsv")]
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "base.json")
        subprocess.run([proact, "tokenizer", "train", "--vocab-size", "700", "-o", out] + texts, check=True,
                       stdout=subprocess.DEVNULL)
        with open(out, encoding="utf-8") as f:
            base = json.load(f)
    n_special = len(base["added_tokens"])
    vocab = {t: i - n_special for t, i in base["model"]["vocab"].items() if i >= n_special}
    return vocab, base["model"]["merges"]


def tokenizer_json(kind, vocab, merges, strings):
    n = len(vocab)
    special = QWEN2_SPECIAL if kind == "qwen2" else LLAMA3_SPECIAL
    merges = [f"{a} {b}" for a, b in merges] if strings else [[a, b] for a, b in merges]
    if kind == "qwen2":
        doc = {"version": "1.0", "truncation": None, "padding": None,
               "added_tokens": [added(n + i, s) for i, s in enumerate(special)],
               "normalizer": {"type": "NFC"},
               "pre_tokenizer": {"type": "Sequence", "pretokenizers": [split(QWEN2_SPLIT),
                                                                       byte_level(False, False, False)]},
               "post_processor": byte_level(False, False, False),
               "decoder": byte_level(False, False, False),
               "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
                         "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False,
                         "ignore_merges": False, "vocab": vocab, "merges": merges}}
    else:
        bos = {"id": "<|begin_of_text|>", "type_id": 0}
        template = {"type": "TemplateProcessing",
                    "single": [{"SpecialToken": bos}, {"Sequence": {"id": "A", "type_id": 0}}],
                    "pair": [{"SpecialToken": bos}, {"Sequence": {"id": "A", "type_id": 0}},
                             {"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 1}},
                             {"Sequence": {"id": "B", "type_id": 1}}],
                    "special_tokens": {"<|begin_of_text|>": {"id": "<|begin_of_text|>", "ids": [n],
                                                             "tokens": ["<|begin_of_text|>"]}}}
        doc = {"version": "1.0", "truncation": None, "padding": None,
               "added_tokens": [added(n + i, s) for i, s in enumerate(special)],
               "normalizer": None,
               "pre_tokenizer": {"type": "Sequence", "pretokenizers": [split(LLAMA3_SPLIT),
                                                                       byte_level(False, True, False)]},
               "post_processor": {"type": "Sequence", "processors": [byte_level(True, False, True), template]},
               "decoder": byte_level(True, True, True),
               "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                         "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
                         "ignore_merges": True, "vocab": vocab, "merges": merges}}
    return doc


def token_entry(content):
    return {"content": content, "lstrip": False, "normalized": False, "rstrip": False, "single_word": False}


def configs(kind, n):
    """tokenizer_config.json and special_tokens_map.json, as save_pretrained writes them."""
    special = QWEN2_SPECIAL if kind == "qwen2" else LLAMA3_SPECIAL
    decoder = {str(n + i): dict(token_entry(s), special=True) for i, s in enumerate(special)}
    if kind == "qwen2":
        cfg = {"add_bos_token": False, "add_prefix_space": False, "added_tokens_decoder": decoder,
               "additional_special_tokens": ["<|im_start|>", "<|im_end|>"], "bos_token": None,
               "chat_template": QWEN2_CHAT, "clean_up_tokenization_spaces": False, "eos_token": "<|im_end|>",
               "errors": "replace", "model_max_length": 32768, "pad_token": "<|endoftext|>",
               "split_special_tokens": False, "tokenizer_class": "Qwen2Tokenizer", "unk_token": None}
        smap = {"additional_special_tokens": ["<|im_start|>", "<|im_end|>"], "eos_token": token_entry("<|im_end|>"),
                "pad_token": token_entry("<|endoftext|>")}
    else:
        cfg = {"added_tokens_decoder": decoder, "bos_token": "<|begin_of_text|>", "chat_template": LLAMA3_CHAT,
               "clean_up_tokenization_spaces": True, "eos_token": "<|eot_id|>",
               "model_input_names": ["input_ids", "attention_mask"],
               "model_max_length": 1000000000000000019884624838656, "tokenizer_class": "PreTrainedTokenizerFast"}
        smap = {"bos_token": token_entry("<|begin_of_text|>"), "eos_token": token_entry("<|eot_id|>")}
    return cfg, smap


def write(path, doc):
    # as transformers: two-space indentation, UTF-8 unescaped; tokenizers writes tokenizer.json
    # with its keys in its own order (kept), transformers sorts the config keys
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=2, ensure_ascii=False, sort_keys=not path.endswith("tokenizer.json"))
        f.write("\n")


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: make_fixtures.py PROACT_BIN OUT_DIR")
    proact, out = sys.argv[1:]
    vocab, merges = base_bpe(proact)
    for kind in ("qwen2", "llama3"):
        for form in ("pairs", "strings"):
            d = os.path.join(out, f"{kind}-{form}")
            os.makedirs(d, exist_ok=True)
            write(os.path.join(d, "tokenizer.json"), tokenizer_json(kind, vocab, merges, form == "strings"))
            cfg, smap = configs(kind, len(vocab))
            write(os.path.join(d, "tokenizer_config.json"), cfg)
            write(os.path.join(d, "special_tokens_map.json"), smap)
            print(f"{d}: {len(vocab)} tokens + {len(cfg['added_tokens_decoder'])} added, {len(merges)} merges "
                  f"as {form}")


if __name__ == "__main__":
    main()
