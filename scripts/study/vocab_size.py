#!/usr/bin/env python3
"""The vocabulary size a model needs for a tokenizer.json: 1 + its largest token id (the merged
vocabulary and the added special tokens), as scripts/reproduce.sh and scripts/ship-model.sh set
model.vocab_size.

    scripts/study/vocab_size.py TOKENIZER_JSON   -> prints the size
"""
import json
import sys

if len(sys.argv) != 2:
    sys.exit(__doc__.strip())
try:
    with open(sys.argv[1]) as f:
        t = json.load(f)
    print(1 + max(list(t["model"]["vocab"].values()) + [a["id"] for a in t.get("added_tokens", [])]))
except (OSError, ValueError, KeyError, TypeError) as e:
    sys.exit(f"vocab_size: {sys.argv[1]}: {e}")
