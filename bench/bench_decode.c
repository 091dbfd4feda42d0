/* bench_decode — the streaming decode benchmarks (docs/performance.md, "Streaming decode").
 *
 * bench_decode decode --model DIR --src-ids IDS|@FILE --first ID [--tokens 128] [--phi 0]
 *                     [--repeat 3] [--warmup 1] [--threads 1] [--weights fp32|bf16|int8] [--kv-cache fp32|bf16]
 *   Greedy incremental decoding with decode.h, as bench/bench_decode.py does it in PyTorch: the
 *   source ids are encoded once (DECODE_SOURCE, positions 0..S-1), then `tokens` target tokens
 *   are decoded one at a time (DECODE_TARGET, positions phi+0.., every row sees the whole source,
 *   argmax of the last row's logits is the next token fed). Only the per-token loop is timed
 *   (warm-up passes first; each pass drops the target cache and starts again from --first).
 *   Prints one JSON line with tokens/s and the decoded ids, and gemv_ms_per_token: the weight
 *   products of one token (the sgemv calls decode_forward makes) timed alone, for the profile.
 *   --weights/--kv-cache: the precision decode runs at (decode_weights.h, as proact run's options);
 *   the profile then times the gemv.h products decode makes with those weights, and the line also
 *   gives the bytes of weights one token reads and the rates they stream at (weight_gb_s: over
 *   the whole token; gemv_gb_s: over the products alone).
 *
 * bench_decode readbw [--mb 1024] [--repeat 5]
 *   One core's read bandwidth: the sum of a buffer of --mb MB (4 independent AVX-512 accumulators,
 *   so that the adds keep up with memory), best of --repeat passes after one
 *   warm-up pass. Prints {"read_gb_s": ...}: the ceiling a decode that streams its weights can
 *   reach on one thread.
 *
 * bench_decode heads --model STREAM_DIR --data TSV [--sentences N] [--head SPEC]... [--repeat 5]
 *                    [--threads 1] [--cue-iters 20000] [--max-lead-words 3]
 *   The full runner (runner_begin, runner_push_word for every source word of the first column,
 *   runner_end_source, runner_step until RUNNER_DONE) over the first N sentences, once per head,
 *   heads interleaved, best of `repeat` passes. For each head it reports the wall time per
 *   written word and per fed token, the decisions taken, and the cost of the cue computation
 *   measured directly (see cue_cost_us below). Prints one JSON line.
 *   --max-lead-words (RunnerOptions.max_lead_words, default 3 here, 100 in the runner) ends a
 *   sentence's output 3 words after its source: an undertrained model that never predicts tgt_end
 *   would otherwise write 100 words past the source and the tail would dominate the timing.
 *   probe:P heads get an in-memory probe (dim probe_feature_dim(d), zero mean, unit scale, small random weights).
 */
#include <cblas.h>
#include <ctype.h>
#include <immintrin.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/hf_model.h"
#include "io/stream_model.h"
#include "jobs/jobs.h"
#include "jobs/options.h"
#include "src/base/common.h"
#include "src/base/rng.h"
#include "src/model/gemv.h"
#include "src/stream/decode.h"
#include "src/stream/heads.h"
#include "src/stream/probe_features.h"
#include "src/stream/runner.h"

/* ------------------------------------------------------------------ helpers */

static int parse_ids(const char *arg, int **out) {
    char *text = NULL;
    if (arg[0] == '@') {
        FILE *f = fopen(arg + 1, "rb");
        if (!f) return px_error("cannot open %s", arg + 1);
        size_t cap = 1 << 16, n = 0;
        text = malloc(cap + 1);
        if (!text) {
            fclose(f);
            return px_error("out of memory");
        }
        size_t got;
        while ((got = fread(text + n, 1, cap - n, f)) > 0) {
            n += got;
            if (n == cap) {
                char *t = realloc(text, 2 * cap + 1);
                if (!t) {
                    free(text);
                    fclose(f);
                    return px_error("out of memory");
                }
                text = t;
                cap *= 2;
            }
        }
        fclose(f);
        text[n] = '\0';
    } else {
        text = strdup(arg);
        if (!text) return px_error("out of memory");
    }
    for (char *p = text; *p; p++)
        if (*p == ',' || isspace((unsigned char)*p)) *p = ' ';
    int n = 0, cap = 64, *ids = malloc(sizeof(int) * cap);
    char *p = text, *end;
    while (ids) {
        long v = strtol(p, &end, 10);
        if (end == p) break;
        if (n == cap) {
            int *t = realloc(ids, sizeof(int) * (cap *= 2));
            if (!t) {
                free(ids);
                ids = NULL;
                break;
            }
            ids = t;
        }
        ids[n++] = (int)v;
        p = end;
    }
    while (*p == ' ') p++;
    int bad = *p != '\0';
    free(text);
    if (!ids) return px_error("out of memory");
    if (bad || n == 0) {
        free(ids);
        return px_error("--src-ids: expected comma-separated token ids");
    }
    *out = ids;
    return n;
}

static int argmax(const float *z, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (z[i] > z[best]) best = i;
    return best;
}

/* ------------------------------------------------------------------ decode vs PyTorch */

static int run_decode(int argc, char **argv) {
    const char *model_dir = NULL, *src_arg = NULL;
    int first = -1, n_tokens = 128, phi = 0, repeat = 3, warmup = 1, threads = 1, kv_bf16 = 0;
    DecodeWeightType wtype = DECODE_FP32;
    for (int i = 2; i < argc; i++) {
        if (i + 1 >= argc) return job_fail("bench_decode: every option takes a value");
        if (!strcmp(argv[i], "--model")) model_dir = argv[++i];
        else if (!strcmp(argv[i], "--weights")) {
            if (decode_weight_type_parse(argv[++i], &wtype)) return job_fail(px_error_message());
        } else if (!strcmp(argv[i], "--kv-cache")) {
            if (opt_parse_kv_cache("--kv-cache", argv[++i], &kv_bf16)) return job_fail(px_error_message());
        } else if (!strcmp(argv[i], "--src-ids")) src_arg = argv[++i];
        else if (!strcmp(argv[i], "--first")) first = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--tokens")) n_tokens = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--phi")) phi = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--repeat")) repeat = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--warmup")) warmup = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[++i]);
        else
            return job_fail("bench_decode decode: unknown option (see the comment at the top of bench/bench_decode.c)");
    }
    if (!model_dir || !src_arg || first < 0 || n_tokens < 1 || repeat < 1 || warmup < 0 || phi < 0)
        return job_fail("bench_decode decode: needs --model, --src-ids and --first (see bench/bench_decode.c)");
    int *src = NULL, n_src = parse_ids(src_arg, &src);
    if (n_src < 0) return job_fail(px_error_message());
    runtime_set_threads(threads);
    Model m;
    if (hf_load_model(model_dir, &m)) return job_fail(px_error_message());
    KvCache kv;
    DecodeScratch sc = {0};
    DecodeWeights dw;
    int *out = malloc(sizeof(int) * n_tokens);
    if (!out || kv_cache_init_as(&kv, &m.cfg, n_src, n_tokens + 1, kv_bf16) || decode_weights_make(&dw, &m, wtype))
        return job_fail(px_error_message());

    double t0 = runtime_now();
    if (decode_forward_w(&m, &dw, &kv, &sc, src, n_src, DECODE_SOURCE, 0, 0, 0)) return job_fail(px_error_message());
    double encode_s = runtime_now() - t0, total = 0, best = 1e30;
    for (int pass = 0; pass < warmup + repeat; pass++) {
        kv_cache_pop_target(&kv, kv.tgt.len);
        int tok = first;
        t0 = runtime_now();
        for (int i = 0; i < n_tokens; i++) {
            if (decode_forward_w(&m, &dw, &kv, &sc, &tok, 1, DECODE_TARGET, kv.src.len, phi, 1))
                return job_fail(px_error_message());
            tok = out[i] = argmax(sc.logits, m.cfg.vocab_size);
        }
        double dt = runtime_now() - t0;
        if (pass >= warmup) {
            total += dt;
            best = dt < best ? dt : best;
        }
    }
    /* profile: the weight products of one token alone (the sgemv calls decode_forward makes for one
     * row: q/k/v, o, gate/up, down per layer, then the LM head), on the model's own weights */
    const ModelConfig *c = &m.cfg;
    const int qkv_dim = (c->n_heads + 2 * c->n_kv_heads) * c->head_dim, q_dim = c->n_heads * c->head_dim;
    const int width = PX_MAX(PX_MAX(c->hidden_size, q_dim), c->intermediate_size);
    float *vin = px_calloc((size_t)width, sizeof(float), "profile"),
          *vout = px_calloc((size_t)PX_MAX(PX_MAX(qkv_dim, 2 * c->intermediate_size), c->vocab_size), sizeof(float),
                            "profile");
    if (!vin || !vout) return job_fail(px_error_message());
    for (int i = 0; i < width; i++) vin[i] = 0.01f * (float)(i % 13);
    t0 = runtime_now();
    for (int pass = 0; pass < repeat; pass++)
        for (int i = 0; i < n_tokens; i++) {
            const int d = c->hidden_size, f = c->intermediate_size;
            if (wtype != DECODE_FP32) { /* the gemv.h products decode_forward_w makes */
                for (int l = 0; l < c->n_layers; l++) {
                    const DecodeLayer *w = &dw.layers[l];
                    gemv(1, qkv_dim, d, 1.0f, vin, d, w->wqkv, 0.0f, vout, qkv_dim);
                    gemv(1, d, q_dim, 1.0f, vin, q_dim, w->wo, 0.0f, vout, d);
                    gemv(1, 2 * f, d, 1.0f, vin, d, w->wgu, 0.0f, vout, 2 * f);
                    gemv(1, d, f, 1.0f, vin, f, w->wdown, 0.0f, vout, d);
                }
                gemv(1, c->vocab_size, d, 1.0f, vin, d, dw.lm_head, 0.0f, vout, c->vocab_size);
                continue;
            }
            for (int l = 0; l < c->n_layers; l++) {
                const LayerWeights *w = &m.w.layers[l];
                cblas_sgemv(CblasRowMajor, CblasNoTrans, qkv_dim, d, 1.0f, w->wqkv, d, vin, 1, 0.0f, vout, 1);
                cblas_sgemv(CblasRowMajor, CblasNoTrans, d, q_dim, 1.0f, w->wo, q_dim, vin, 1, 0.0f, vout, 1);
                cblas_sgemv(CblasRowMajor, CblasNoTrans, 2 * f, d, 1.0f, w->wgu, d, vin, 1, 0.0f, vout, 1);
                cblas_sgemv(CblasRowMajor, CblasNoTrans, d, f, 1.0f, w->wdown, f, vin, 1, 0.0f, vout, 1);
            }
            cblas_sgemv(CblasRowMajor, CblasNoTrans, c->vocab_size, c->hidden_size, 1.0f, m.w.lm_head, c->hidden_size,
                        vin, 1, 0.0f, vout, 1);
        }
    const double gemv_ms = 1e3 * (runtime_now() - t0) / ((double)n_tokens * repeat);
    free(vin);
    free(vout);
    const double tps = n_tokens * repeat / total;
    printf("{\"impl\": \"proact\", \"core\": \"%s\", \"threads\": %d, \"params\": %zu, \"src_tokens\": %d, "
           "\"decoded\": %d, \"tokens_per_s\": %.2f, \"ms_per_token\": %.4f, \"ms_per_token_best_pass\": %.4f, "
           "\"encode_ms\": %.3f, \"gemv_ms_per_token\": %.4f, \"weights\": \"%s\", \"kv_cache\": \"%s\", "
           "\"gemv_kernels\": \"%s\", \"weight_bytes_per_token\": %zu, \"weight_gb_s\": %.3f, \"gemv_gb_s\": %.3f, "
           "\"tokens\": [",
           runtime_blas_core(), threads, m.n_params, n_src, n_tokens, tps, 1e3 * total / ((double)n_tokens * repeat),
           1e3 * best / n_tokens, 1e3 * encode_s, gemv_ms, decode_weight_type_name(wtype), kv_bf16 ? "bf16" : "fp32",
           wtype == DECODE_FP32 ? "openblas sgemv" : gemv_describe(), dw.bytes, dw.bytes * tps / 1e9,
           dw.bytes / (gemv_ms * 1e-3) / 1e9);
    for (int i = 0; i < n_tokens; i++) printf("%s%d", i ? ", " : "", out[i]);
    printf("]}\n");
    free(out);
    free(src);
    decode_weights_free(&dw);
    kv_cache_free(&kv);
    decode_scratch_free(&sc);
    model_free(&m);
    return 0;
}

/* ------------------------------------------------------------------ decision-head overhead */

typedef struct {
    char **words;
    int n;
} Sentence;

static int read_sentences(const char *path, int max, Sentence **out) {
    FILE *f = fopen(path, "rb");
    if (!f) return px_error("cannot open %s", path);
    Sentence *s = NULL;
    int n = 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while (n < max && (len = getline(&line, &cap, f)) >= 0) {
        char *tab = strchr(line, '\t');
        if (tab) *tab = '\0';
        Sentence cur = {0};
        for (char *w = strtok(line, " \t\r\n"); w; w = strtok(NULL, " \t\r\n")) {
            char **t = realloc(cur.words, sizeof(char *) * (cur.n + 1));
            if (!t || !(t[cur.n] = strdup(w))) return px_error("out of memory");
            cur.words = t;
            cur.n++;
        }
        if (!cur.n) continue;
        Sentence *t = realloc(s, sizeof *s * (n + 1));
        if (!t) return px_error("out of memory");
        s = t;
        s[n++] = cur;
    }
    free(line);
    fclose(f);
    if (!n) return px_error("%s: no sentences", path);
    *out = s;
    return n;
}

typedef struct {
    HeadSpec head;
    double best_s;
    int64_t words, decisions, tokens_decoded, tokens_encoded;
    double cue_us;                                      /* one cue computation + head_decide, measured directly */
    double mean_entropy, mean_maxprob, mean_attn_front; /* at the decisions (0 when the runner skips cues) */
} HeadRun;

/* The trace callback: counts decisions and sums the cues (for choosing thresholds). */
typedef struct {
    int64_t n;
    double entropy, maxprob, attn_front;
} DecisionTally;

static void count_decision(void *ctx, const RunnerDecision *d) {
    DecisionTally *t = ctx;
    t->n++;
    t->entropy += d->cues.entropy;
    t->maxprob += d->cues.maxprob;
    t->attn_front += d->cues.attn_front;
}

/* One pass of the runner over the sentences. */
static int run_sentences(Runner *r, const Sentence *s, int n, HeadRun *hr, DecisionTally *tally) {
    hr->words = hr->tokens_decoded = hr->tokens_encoded = 0;
    memset(tally, 0, sizeof *tally);
    for (int i = 0; i < n; i++) {
        if (runner_begin(r)) return -1;
        for (int w = 0; w < s[i].n; w++)
            if (runner_push_word(r, s[i].words[w], strlen(s[i].words[w]))) return -1;
        if (runner_end_source(r)) return -1;
        RunnerWord word;
        int ev;
        while ((ev = runner_step(r, &word)) == RUNNER_WORD) hr->words++;
        if (ev != RUNNER_DONE) return ev < 0 ? -1 : px_error("runner asked for source after the end of the source");
        RunnerStats st;
        runner_stats(r, &st);
        hr->tokens_decoded += st.tokens_decoded;
        hr->tokens_encoded += st.tokens_encoded;
    }
    hr->decisions = tally->n;
    hr->mean_entropy = tally->entropy / PX_MAX(tally->n, 1);
    hr->mean_maxprob = tally->maxprob / PX_MAX(tally->n, 1);
    hr->mean_attn_front = tally->attn_front / PX_MAX(tally->n, 1);
    return 0;
}

/* The cue computation of one decision as the runner does it (decode_cues: entropy and max
 * probability over the vocabulary, attention mass on the newest w source keys over every layer and
 * head) plus head_decide (which scores the probe for probe:P), timed on the scratch of a real
 * decision row. */
static volatile float sink;

static double cue_cost_us(const Model *m, const HeadSpec *h, const Probe *probe, int iters) {
    /* a decision row: 24 source tokens, 3 target tokens, as in a sentence of the fixture */
    KvCache kv;
    DecodeScratch sc = {0};
    int src[24], tgt[3];
    for (int i = 0; i < 24; i++) src[i] = (7 + 37 * i) % m->cfg.vocab_size;
    for (int i = 0; i < 3; i++) tgt[i] = (11 + 53 * i) % m->cfg.vocab_size;
    if (kv_cache_init(&kv, &m->cfg, 32, 8) || decode_forward(m, &kv, &sc, src, 24, DECODE_SOURCE, 0, 0, 0) ||
        decode_forward(m, &kv, &sc, tgt, 3, DECODE_TARGET, 24, 0, 1))
        return -1;
    const int w = h->kind == HEAD_ATTN ? h->k : probe && h->kind == HEAD_PROBE ? probe->attn_window : 4;
    HeadState st = {.word_index = 2, .units_read = 3, .source_done = 0};
    int uses = head_uses_cues(h), writes = 0;
    Cues c = {0};
    c.hidden = sc.hidden;
    double t0 = runtime_now();
    for (int it = 0; it < iters; it++) {
        if (uses) decode_cues(m, &sc, w, NULL, 0, NULL, 0, &c);
        writes += head_decide(h, probe, &c, &st);
    }
    double dt = runtime_now() - t0;
    sink = (float)writes + c.entropy;
    kv_cache_free(&kv);
    decode_scratch_free(&sc);
    return 1e6 * dt / iters;
}

static int make_probe(Probe *p, int d, uint64_t seed) {
    memset(p, 0, sizeof *p);
    p->dim = probe_feature_dim(d);
    p->w = px_calloc((size_t)p->dim, sizeof(float), "probe");
    p->mean = px_calloc((size_t)p->dim, sizeof(float), "probe");
    p->scale = px_calloc((size_t)p->dim, sizeof(float), "probe");
    if (!p->w || !p->mean || !p->scale) return -1;
    Rng rng;
    rng_seed(&rng, seed);
    for (int i = 0; i < p->dim; i++) {
        p->w[i] = (float)(0.05 * rng_normal(&rng));
        p->scale[i] = 1.0f;
    }
    p->bias = 0.0f;
    p->attn_window = CUE_ATTN_WINDOW_DEFAULT;
    return 0;
}

static int run_heads(int argc, char **argv) {
    const char *model_dir = NULL, *data = "tests/data/fixture/john.en-es.test.tsv", *specs[16];
    int n_specs = 0, max_sentences = 1000, repeat = 5, threads = 1, cue_iters = 20000, max_lead = 3;
    for (int i = 2; i < argc; i++) {
        if (i + 1 >= argc) return job_fail("bench_decode: every option takes a value");
        if (!strcmp(argv[i], "--model")) model_dir = argv[++i];
        else if (!strcmp(argv[i], "--data")) data = argv[++i];
        else if (!strcmp(argv[i], "--sentences")) max_sentences = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--head") && n_specs < 16) specs[n_specs++] = argv[++i];
        else if (!strcmp(argv[i], "--repeat")) repeat = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--cue-iters")) cue_iters = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--max-lead-words")) max_lead = atoi(argv[++i]);
        else return job_fail("bench_decode heads: unknown option (see the comment at the top of bench/bench_decode.c)");
    }
    if (!model_dir || !n_specs || repeat < 1 || cue_iters < 1)
        return job_fail("bench_decode heads: needs --model and at least one --head (see bench/bench_decode.c)");
    HeadRun runs[16];
    for (int h = 0; h < n_specs; h++) { /* bad specs fail before anything is loaded */
        memset(&runs[h], 0, sizeof runs[h]);
        runs[h].best_s = 1e30;
        if (head_parse(specs[h], &runs[h].head)) return job_fail(px_error_message());
    }
    runtime_set_threads(threads);
    Sentence *sent = NULL;
    int n_sent = read_sentences(data, max_sentences, &sent);
    if (n_sent < 0) return job_fail(px_error_message());
    StreamModel sm;
    if (stream_model_load(model_dir, &sm)) return job_fail(px_error_message());
    const Model *m = &sm.model;
    Probe probe;
    if (make_probe(&probe, m->cfg.hidden_size, 7)) return job_fail(px_error_message());

    Runner *runners[16];
    DecisionTally tally;
    RunnerOptions opt;
    runner_options_default(&opt);
    opt.max_lead_words = max_lead;
    opt.trace = count_decision;
    opt.trace_ctx = &tally;
    for (int h = 0; h < n_specs; h++) {
        runners[h] = runner_new(m, sm.tokenizer, &sm.format, &runs[h].head,
                                runs[h].head.kind == HEAD_PROBE ? &probe : NULL, &opt);
        if (!runners[h]) return job_fail(px_error_message());
        if (run_sentences(runners[h], sent, n_sent, &runs[h], &tally)) return job_fail(px_error_message()); /* warm */
    }
    for (int pass = 0; pass < repeat; pass++)
        for (int h = 0; h < n_specs; h++) {
            double t0 = runtime_now();
            if (run_sentences(runners[h], sent, n_sent, &runs[h], &tally)) return job_fail(px_error_message());
            double dt = runtime_now() - t0;
            if (dt < runs[h].best_s) runs[h].best_s = dt;
        }
    for (int h = 0; h < n_specs; h++) {
        runs[h].cue_us = cue_cost_us(m, &runs[h].head, &probe, cue_iters);
        if (runs[h].cue_us < 0) return job_fail(px_error_message());
    }

    printf("{\"impl\": \"proact\", \"core\": \"%s\", \"threads\": %d, \"model\": \"%s\", \"params\": %zu, "
           "\"d\": %d, \"layers\": %d, \"vocab\": %d, \"sentences\": %d, \"max_lead_words\": %d, \"heads\": [",
           runtime_blas_core(), threads, model_dir, m->n_params, m->cfg.hidden_size, m->cfg.n_layers, m->cfg.vocab_size,
           n_sent, max_lead);
    for (int h = 0; h < n_specs; h++) {
        const HeadRun *r = &runs[h];
        const double fed = (double)(r->tokens_decoded + r->tokens_encoded);
        const double cue_s = r->decisions * r->cue_us * 1e-6;
        printf("%s{\"head\": \"%s\", \"uses_cues\": %d, \"seconds\": %.5f, \"words\": %lld, \"decisions\": %lld, "
               "\"tokens_decoded\": %lld, \"tokens_encoded\": %lld, \"ms_per_word\": %.4f, \"us_per_fed_token\": %.3f, "
               "\"cue_us_per_decision\": %.4f, \"cue_fraction\": %.5f, \"mean_entropy\": %.4f, \"mean_maxprob\": %.4f, "
               "\"mean_attn_front\": %.4f}",
               h ? ", " : "", specs[h], head_uses_cues(&r->head), r->best_s, (long long)r->words,
               (long long)r->decisions, (long long)r->tokens_decoded, (long long)r->tokens_encoded,
               r->words ? 1e3 * r->best_s / r->words : 0.0, fed > 0 ? 1e6 * r->best_s / fed : 0.0, r->cue_us,
               head_uses_cues(&r->head) ? cue_s / (r->best_s - cue_s) : 0.0, r->mean_entropy, r->mean_maxprob,
               r->mean_attn_front);
        runner_free(runners[h]);
    }
    printf("]}\n");
    probe_free(&probe);
    stream_model_free(&sm);
    for (int i = 0; i < n_sent; i++) {
        for (int w = 0; w < sent[i].n; w++) free(sent[i].words[w]);
        free(sent[i].words);
    }
    free(sent);
    return 0;
}

/* ------------------------------------------------------------------ one core's read bandwidth */

/* Sum of a[0..n), n a multiple of 64: four AVX-512 accumulators, so that the adds never wait on
 * each other and only memory limits the loop (what gemv's kernels need to keep up with too). */
__attribute__((target("avx512f"))) static float sum_avx512(const float *a, size_t n) {
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    for (size_t i = 0; i < n; i += 64) {
        s0 = _mm512_add_ps(s0, _mm512_load_ps(a + i));
        s1 = _mm512_add_ps(s1, _mm512_load_ps(a + i + 16));
        s2 = _mm512_add_ps(s2, _mm512_load_ps(a + i + 32));
        s3 = _mm512_add_ps(s3, _mm512_load_ps(a + i + 48));
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

static float sum_portable(const float *a, size_t n) {
    float acc[16] = {0};
    for (size_t i = 0; i < n; i += 16)
        for (int j = 0; j < 16; j++) acc[j] += a[i + j];
    float s = 0;
    for (int j = 0; j < 16; j++) s += acc[j];
    return s;
}

static int run_readbw(int argc, char **argv) {
    int mb = 1024, repeat = 5;
    for (int i = 2; i < argc; i++) {
        if (i + 1 >= argc) return job_fail("bench_decode: every option takes a value");
        if (!strcmp(argv[i], "--mb")) mb = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--repeat")) repeat = atoi(argv[++i]);
        else
            return job_fail("bench_decode readbw: unknown option (see the comment at the top of bench/bench_decode.c)");
    }
    if (mb < 1 || repeat < 1) return job_fail("bench_decode readbw: --mb and --repeat must be >= 1");
    const size_t n = (size_t)mb << 18; /* floats: mb MB */
    float *a = aligned_alloc(64, n * sizeof(float));
    if (!a) return job_fail("bench_decode readbw: out of memory");
    for (size_t i = 0; i < n; i++) a[i] = (float)(i & 7); /* touches every page */
    double best = 1e30, total = 0;
    __builtin_cpu_init();
    const int avx512 = __builtin_cpu_supports("avx512f");
    for (int pass = 0; pass <= repeat; pass++) {
        double t0 = runtime_now();
        total += avx512 ? sum_avx512(a, n) : sum_portable(a, n);
        double dt = runtime_now() - t0;
        if (pass > 0 && dt < best) best = dt; /* pass 0 warms up */
    }
    sink = (float)total;
    printf("{\"mb\": %d, \"read_gb_s\": %.3f}\n", mb, (double)n * sizeof(float) / best / 1e9);
    free(a);
    return 0;
}

int main(int argc, char **argv) {
    runtime_fix_blas_core(argv);
    if (argc >= 2 && !strcmp(argv[1], "decode")) return run_decode(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "heads")) return run_heads(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "readbw")) return run_readbw(argc, argv);
    fprintf(stderr,
            "usage: bench_decode decode|heads|readbw ... (see the comment at the top of bench/bench_decode.c)\n");
    return 2;
}
