#include "io/dataset.h"

#include <stdlib.h>
#include <string.h>

#include "io/files.h"
#include "io/shards.h"
#include "io/tokenizer_json.h"
#include "src/base/common.h"
#include "src/text/template.h"

static int load_tsv(Dataset *d, const char *tokenizer_path, const char *template_name, int max_tokens,
                    PairsReport report, void *report_ctx) {
    if (!tokenizer_path || !tokenizer_path[0])
        return px_error("%s: a .tsv needs a tokenizer (data.tokenizer)", d->path);
    const TemplateSpec *spec = template_find(template_name);
    if (!spec) return -1;
    Tokenizer *tok = NULL;
    TemplatePieces tt = {0};
    ShardWriter *w = NULL;
    template_guess_languages(d->path, d->src_lang, d->tgt_lang, sizeof d->src_lang);
    int rc = tokenizer_load(tokenizer_path, &tok) ||
                     file_read_all(tokenizer_path, &d->tokenizer_json, &d->tokenizer_json_len) ||
                     template_tokenize(spec, tok, d->src_lang, d->tgt_lang, &tt) || !(w = shard_writer_new()) ||
                     pairs_tsv_read(d->path, tok, max_tokens, 0, w, &d->tsv_stats, report, report_ctx)
                 ? -1
                 : 0;
    if (rc == 0) {
        shard_writer_to_pairs(w, &d->pairs);
        w = NULL;
        d->template_tokens = tt; /* the dataset owns them now */
        tt = (TemplatePieces){0};
        d->tokenizer_fingerprint = tokenizer_fingerprint(tok);
        snprintf(d->template_name, sizeof d->template_name, "%s", spec->name);
    }
    shard_writer_free(w);
    template_pieces_free(&tt);
    tokenizer_free(tok);
    return rc;
}

static int open_shards(Dataset *d) {
    ShardInfo info;
    if (shards_read_info(d->path, &info)) return -1;
    d->template_tokens = info.tp;
    d->tokenizer_fingerprint = info.tokenizer_fingerprint;
    snprintf(d->template_name, sizeof d->template_name, "%s", info.template_name);
    snprintf(d->src_lang, sizeof d->src_lang, "%s", info.src_lang);
    snprintf(d->tgt_lang, sizeof d->tgt_lang, "%s", info.tgt_lang);
    d->n_examples = info.n_examples;
    if (shards_read_tokenizer_json(d->path, &d->tokenizer_json, &d->tokenizer_json_len)) return -1;
    d->file = shards_open(d->path);
    return d->file ? 0 : -1;
}

int dataset_open(const char *path, const char *tokenizer_path, const char *template_name, int max_tokens, Dataset *d,
                 PairsReport report, void *report_ctx) {
    memset(d, 0, sizeof *d);
    snprintf(d->path, sizeof d->path, "%s", path);
    int rc = px_ends_with(path, ".tsv") ? load_tsv(d, tokenizer_path, template_name, max_tokens, report, report_ctx)
                                        : open_shards(d);
    if (rc == 0 && !d->file) d->n_examples = d->pairs.count;
    if (rc) dataset_free(d);
    return rc;
}

int dataset_get(Dataset *d, const int64_t *idx, int n, PairSet *out) {
    return d->file ? shards_read_examples(d->file, idx, n, out) : pair_set_select(&d->pairs, idx, n, out);
}

int dataset_lengths(Dataset *d, const int64_t *idx, int n, int *src_tokens, int *tgt_tokens) {
    if (d->file) return shards_read_lengths(d->file, idx, n, src_tokens, tgt_tokens);
    for (int k = 0; k < n; k++) {
        if (idx[k] < 0 || idx[k] >= d->pairs.count)
            return px_error("%s: example %lld is out of range", d->path, (long long)idx[k]);
        src_tokens[k] = (int)(d->pairs.src_off[idx[k] + 1] - d->pairs.src_off[idx[k]]);
        tgt_tokens[k] = (int)(d->pairs.tgt_off[idx[k] + 1] - d->pairs.tgt_off[idx[k]]);
    }
    return 0;
}

static int examples_get(void *ctx, const int64_t *idx, int n, PairSet *out) { return dataset_get(ctx, idx, n, out); }

static int examples_lengths(void *ctx, const int64_t *idx, int n, int *src_tokens, int *tgt_tokens) {
    return dataset_lengths(ctx, idx, n, src_tokens, tgt_tokens);
}

ExampleSource dataset_examples(Dataset *d) {
    return (ExampleSource){.ctx = d,
                           .n_examples = d->n_examples,
                           .template_tokens = &d->template_tokens,
                           .name = d->path,
                           .get = examples_get,
                           .lengths = examples_lengths};
}

void dataset_free(Dataset *d) {
    shards_close(d->file);
    pair_set_free(&d->pairs);
    template_pieces_free(&d->template_tokens);
    free(d->tokenizer_json);
    memset(d, 0, sizeof *d);
}
