/* dataset.h — training and validation data from token shards (.h5) or a TSV of pairs
 * (tokenized on load, exactly as `proact prepare` would). */
#ifndef PROACT_DATASET_H
#define PROACT_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "io/pairs_tsv.h"
#include "src/train/batch_source.h"
#include "src/train/pairs.h"

typedef struct {
    char path[4096];
    int64_t n_examples;
    PairSet pairs;                  /* .tsv: every example, in memory */
    struct ShardFile *file;         /* .h5: examples are read on request (by hyperslab) */
    TemplatePieces template_tokens; /* owned */
    char template_name[64], src_lang[32], tgt_lang[32];
    uint64_t tokenizer_fingerprint;
    char *tokenizer_json; /* the tokenizer it was made with (saved beside a trained model) */
    size_t tokenizer_json_len;
    PairsStats tsv_stats; /* for a .tsv: what was kept and skipped */
} Dataset;

/* Opens a data set: a .h5 stays on disk (its attributes are read), a .tsv is tokenized into
 * memory (it needs tokenizer_path and template_name; malformed lines go to `report`). */
int dataset_open(const char *path, const char *tokenizer_path, const char *template_name, int max_tokens, Dataset *out,
                 PairsReport report, void *report_ctx);
void dataset_free(Dataset *d);
/* Examples idx[0..n-1] (0-based in the data set) into *out. */
int dataset_get(Dataset *d, const int64_t *idx, int n, PairSet *out);
/* Source and target token counts of examples idx[0..n-1], without reading the examples. */
int dataset_lengths(Dataset *d, const int64_t *idx, int n, int *src_tokens, int *tgt_tokens);
/* The data set as the trainer reads it (src/train/batch_source.h): dataset_get and
 * dataset_lengths behind the ExampleSource interface. d must outlive it. */
ExampleSource dataset_examples(Dataset *d);

#endif
