/* dataset.h — training and validation data from token shards (.h5) or a TSV of pairs
 * (tokenized on load, exactly as `proact prepare` would). */
#ifndef PROACT_DATASET_H
#define PROACT_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "../src/pairs.h"
#include "pairs_tsv.h"

typedef struct {
    char path[4096];
    PairSet pairs;
    TemplatePieces template_tokens; /* owned */
    char template_name[64], src_lang[32], tgt_lang[32];
    uint64_t tokenizer_fingerprint;
    char *tokenizer_json; /* the tokenizer it was made with (saved beside a trained model) */
    size_t tokenizer_json_len;
    PairsStats tsv_stats; /* for a .tsv: what was kept and skipped */
} Dataset;

/* A .tsv needs tokenizer_path and template_name; malformed lines go to `report`. */
int dataset_load(const char *path, const char *tokenizer_path, const char *template_name, int max_tokens,
                 Dataset *out, PairsReport report, void *report_ctx);
void dataset_free(Dataset *d);

#endif
