/* test_runner.c — the streaming runner against full recomputation.
 *
 * A random tiny fx.model (weights scaled so that next-token choices are clear-cut) streams
 * fixture sentences. Checked:
 *  - every decision's cues (entropy, max probability, attention mass on the newest w source
 *    tokens, hidden state) and predicted token equal model_forward over the same rows with the
 *    training layout's visibility, and the final visibility rows equal spsd_batch_add's student
 *    rows for the read schedule the runner followed (streaming and batch agree);
 *  - waitk:k and chunk:c follow their schedules exactly; offline equals plain causal decoding
 *    of the whole source;
 *  - words pushed one at a time give the same output as all at once; seeded sampling repeats;
 *  - head specs: parsing, bad specs, min/max lag, the probe rule.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "io/tokenizer_json.h"
#include "src/base/common.h"
#include "src/stream/decode.h"
#include "src/stream/heads.h"
#include "src/stream/runner.h"
#include "src/text/template.h"
#include "src/text/words.h"
#include "src/train/schedule.h"
#include "tests/support/stream_fixture.h"

#define MAX_DECISIONS 4096

typedef struct {
    RunnerDecision d;
    float hidden[64];
} Rec;

typedef struct {
    Rec rec[MAX_DECISIONS];
    int n;
} Trace;

static StreamFixture fx; /* model, tokenizer, template tokens and stream format */
static char **sources;
static int n_sources;

static void record(void *ctx, const RunnerDecision *d) {
    Trace *t = ctx;
    assert_true(t->n < MAX_DECISIONS);
    Rec *r = &t->rec[t->n++];
    r->d = *d;
    memcpy(r->hidden, d->cues.hidden, sizeof(float) * fx.model.cfg.hidden_size);
}

static int setup(void **state) {
    (void)state;
    if (stream_fixture_init(&fx, 7, 3)) return -1; /* a non-zero group offset, so that positions are exercised */
    /* a few fixture sources (first column) */
    FILE *f = fopen(PROACT_SOURCE_DIR "/tests/data/fixture/john.en-es.test.tsv", "r");
    if (!f) return -1;
    char line[4096];
    sources = calloc(6, sizeof(char *));
    while (n_sources < 6 && fgets(line, sizeof line, f)) {
        char *tab = strchr(line, '\t');
        if (!tab) continue;
        *tab = '\0';
        sources[n_sources++] = strdup(line);
    }
    fclose(f);
    return n_sources == 6 ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    stream_fixture_free(&fx);
    for (int i = 0; i < n_sources; i++) free(sources[i]);
    free(sources);
    return 0;
}

/* One streamed sentence: words, delays, the trace and the final rows. */
typedef struct {
    int n_words; /* written */
    int delays[512];
    char text[8192];
    Trace *trace;
    int *tgt_ids, *tgt_vis, n_tgt, *src_ids, n_src;
    RunnerStats stats;
} Result;

static void result_free(Result *r) {
    free(r->tgt_ids);
    free(r->tgt_vis);
    free(r->src_ids);
    free(r->trace);
}

/* Streams `source` through a head; push_all: queue every word before stepping (else one word at
 * a time, stepping in between). */
static void stream(const char *source, const char *spec, int push_all, const RunnerOptions *base, Result *res) {
    memset(res, 0, sizeof *res);
    res->trace = calloc(1, sizeof(Trace));
    HeadSpec h;
    assert_int_equal(head_parse(spec, &h), 0);
    RunnerOptions o;
    if (base) o = *base;
    else runner_options_default(&o);
    o.trace = record;
    o.trace_ctx = res->trace;
    if (!o.max_tokens) o.max_tokens = 96;
    Runner *r = runner_new(&fx.model, fx.tok, &fx.fmt, &h, NULL, &o);
    assert_non_null(r);
    assert_int_equal(runner_begin(r), 0);
    WordSpan *w;
    int n = split_words(source, strlen(source), &w);
    assert_true(n > 0);
    int ev = 0;
    RunnerWord out;
    for (int i = 0; i <= n; i++) {
        if (i < n) assert_int_equal(runner_push_word(r, source + w[i].start, w[i].len), 0);
        else assert_int_equal(runner_end_source(r), 0);
        if (push_all && i < n) continue;
        while ((ev = runner_step(r, &out)) == RUNNER_WORD) {
            res->delays[res->n_words++] = out.delay;
            if (res->n_words > 1) strcat(res->text, " ");
            strcat(res->text, out.text);
        }
        assert_true(ev == RUNNER_NEED_SOURCE || ev == RUNNER_DONE);
    }
    assert_int_equal(ev, RUNNER_DONE);
    assert_int_equal(runner_step(r, &out), RUNNER_DONE);
    const int *ti, *tv, *si;
    runner_debug_rows(r, &ti, &tv, &res->n_tgt, &si, &res->n_src);
    res->tgt_ids = malloc(sizeof(int) * (res->n_tgt + 1));
    res->tgt_vis = malloc(sizeof(int) * (res->n_tgt + 1));
    res->src_ids = malloc(sizeof(int) * (res->n_src + 1));
    memcpy(res->tgt_ids, ti, sizeof(int) * res->n_tgt);
    memcpy(res->tgt_vis, tv, sizeof(int) * res->n_tgt);
    memcpy(res->src_ids, si, sizeof(int) * res->n_src);
    runner_stats(r, &res->stats);
    free(w);
    runner_free(r);
}

/* Full recompute: source rows src[0..ns) causal at positions 0..; target rows tgt[0..nt) at
 * phi+i seeing vis[i] source tokens and the target causally (the training layout). */
static void recompute(const int *src, int ns, const int *tgt, const int *vis, int nt, Activations *a) {
    int N = ns + nt;
    int *tokens = malloc(sizeof(int) * N), *pos = malloc(sizeof(int) * N), *vp = malloc(sizeof(int) * N),
        *bs = malloc(sizeof(int) * N), ss[2] = {0, N};
    for (int i = 0; i < ns; i++) tokens[i] = src[i], pos[i] = i, vp[i] = 0, bs[i] = 0;
    for (int i = 0; i < nt; i++)
        tokens[ns + i] = tgt[i], pos[ns + i] = fx.fmt.phi + i, vp[ns + i] = vis[i], bs[ns + i] = ns;
    AttnLayout lay = {.n_rows = N, .n_seqs = 1, .seq_start = ss, .pos = pos, .vis_prefix = vp, .blk_start = bs};
    assert_int_equal(model_forward(&fx.model, a, tokens, &lay), 0);
    free(tokens);
    free(pos);
    free(vp);
    free(bs);
}

static double rel_err(double a, double b) { return fabs(a - b) / (fabs(b) + 1e-3); }

/* Checks every decision of res against a recompute. */
static void check_decisions(const Result *res, int attn_window) {
    const int V = fx.model.cfg.vocab_size, d = fx.model.cfg.hidden_size, L = fx.model.cfg.n_layers,
              nh = fx.model.cfg.n_heads;
    const int tb = fx.fmt.tp.tgt_begin.n;
    Activations a = {0};
    int *vis = malloc(sizeof(int) * (res->n_tgt + tb + 64));
    for (int k = 0; k < res->trace->n; k++) {
        const RunnerDecision *dec = &res->trace->rec[k].d;
        const int nt = dec->tgt_tokens, ns = dec->src_tokens;
        /* rows before the pending ones keep their final visibility; the pending rows (all of tgt_begin
         * before the first word, else the last token) see everything read so far */
        const int pending = dec->word_index == 1 ? tb : 1;
        for (int i = 0; i < nt; i++) vis[i] = i >= nt - pending ? ns : res->tgt_vis[i];
        recompute(res->src_ids, ns, res->tgt_ids, vis, nt, &a);
        const int row = ns + nt - 1;
        const float *z = a.logits + (size_t)row * V;
        int best = 0, second = -1;
        for (int i = 1; i < V; i++)
            if (z[i] > z[best]) second = best, best = i;
            else if (second < 0 || z[i] > z[second]) second = i;
        double mx = z[best], sum = 0, sz = 0;
        for (int i = 0; i < V; i++) sum += exp(z[i] - mx), sz += exp(z[i] - mx) * (z[i] - mx);
        double H = log(sum) - sz / sum, pmax = 1.0 / sum;
        assert_true(rel_err(dec->cues.entropy, H) < 1e-4);
        assert_true(rel_err(dec->cues.maxprob, pmax) < 1e-4);
        if (z[best] - z[second] > 1e-3) assert_int_equal(dec->next_token, best);
        for (int i = 0; i < d; i++) assert_true(fabs(res->trace->rec[k].hidden[i] - a.lnf[(size_t)row * d + i]) < 1e-4);
        /* attention mass on the newest w source tokens, mean over layers and heads:
         * att is [head][t][j] for the one sequence */
        const int N = ns + nt, from = ns > attn_window ? ns - attn_window : 0;
        double mass = 0;
        for (int l = 0; l < L; l++)
            for (int h = 0; h < nh; h++)
                for (int j = from; j < ns; j++) mass += a.att[l][((size_t)h * N + row) * N + j];
        assert_true(fabs(dec->cues.attn_front - mass / (L * nh)) < 1e-5);
    }
    activations_free(&a);
    free(vis);
}

/* The read schedule g(j) the runner followed: units read at each WRITE of a word. Returns m. */
static int followed_schedule(const Result *res, int *g, int *word_ends) {
    int m = 0;
    const int tb = fx.fmt.tp.tgt_begin.n;
    for (int k = 0; k < res->trace->n; k++) {
        const RunnerDecision *d = &res->trace->rec[k].d;
        if (!d->write || !strcmp(d->reason, "end of output")) continue;
        g[m] = d->units_read;
        if (m) word_ends[m - 1] = d->tgt_tokens - tb; /* word m-1 ends where word m's decision row is */
        m++;
    }
    if (m) word_ends[m - 1] = res->n_tgt - tb;
    return m;
}

/* The runner's final rows equal spsd_batch_add's student rows for the schedule it followed. */
static void check_training_layout(const Result *res, const char *source) {
    const int tb = fx.fmt.tp.tgt_begin.n, np = fx.fmt.tp.prompt.n;
    int g[512], tends[512];
    int m = followed_schedule(res, g, tends);
    assert_true(m > 0);
    /* the example: the source's word tokens, the written target tokens */
    IdVec stoks = {0}, sends = {0};
    int n = tokenize_words(fx.tok, source, strlen(source), &stoks, &sends);
    assert_true(n > 0);
    /* the runner's source cache is a prefix of prompt + words + src_end */
    for (int i = np; i < res->n_src && i < np + (int)stoks.n; i++) assert_int_equal(res->src_ids[i], stoks.ids[i - np]);
    int64_t soff[2] = {0, (int64_t)stoks.n}, toff[2] = {0, res->n_tgt - tb}, swo[2] = {0, n}, two[2] = {0, m};
    PairSet ps = {.first = 0,
                  .count = 1,
                  .src_tokens = stoks.ids,
                  .tgt_tokens = res->tgt_ids + tb,
                  .src_off = soff,
                  .tgt_off = toff,
                  .src_word_ends = sends.ids,
                  .tgt_word_ends = tends,
                  .src_word_off = swo,
                  .tgt_word_off = two};
    PackedBatch b = {0};
    SpsdRows rows;
    assert_int_equal(spsd_batch_add(&b, &ps, &fx.fmt.tp, 0, g, fx.fmt.phi, &rows), 0);
    /* student rows 0..T-2 read copy tokens tgt_begin + target + tgt_end; the runner fed tgt_begin + target */
    const int ended = res->stats.words_read == n && !res->stats.stopped_by_limit;
    const int compare = ended ? res->n_tgt : res->n_tgt - 1; /* a limit-cut last row was never refed */
    for (int i = 0; i < compare; i++) {
        assert_int_equal(b.tokens[rows.student_first + i], res->tgt_ids[i]);
        assert_int_equal(b.pos[rows.student_first + i], fx.fmt.phi + i);
        assert_int_equal(b.vis_prefix[rows.student_first + i], res->tgt_vis[i]);
    }
    packed_batch_free(&b);
    idvec_free(&stoks);
    idvec_free(&sends);
}

static void test_streaming_equals_batch(void **state) {
    (void)state;
    const char *specs[] = {"waitk:2", "chunk:3", "entropy:5.5", "maxprob:0.02", "attn:3:0.2", "offline"};
    int reads = 0, writes = 0;
    for (size_t s = 0; s < sizeof specs / sizeof specs[0]; s++)
        for (int i = 0; i < 3; i++) {
            Result res;
            stream(sources[i], specs[s], 1, NULL, &res);
            assert_true(res.n_words > 0);
            for (int k = 0; k < res.trace->n; k++) res.trace->rec[k].d.write ? writes++ : reads++;
            HeadSpec h;
            head_parse(specs[s], &h);
            check_decisions(&res, h.kind == HEAD_ATTN ? h.k : 4);
            check_training_layout(&res, sources[i]);
            result_free(&res);
        }
    /* both kinds of decision were exercised, many times */
    assert_true(reads > 50 && writes > 50);
}

static void test_waitk_and_chunk_follow_schedule(void **state) {
    (void)state;
    for (int k = 1; k <= 4; k++)
        for (int kind = 0; kind < 2; kind++)
            for (int i = 0; i < n_sources; i++) {
                char spec[32];
                snprintf(spec, sizeof spec, "%s:%d", kind ? "chunk" : "waitk", k);
                Result res;
                stream(sources[i], spec, 0, NULL, &res);
                WordSpan *w;
                int n = split_words(sources[i], strlen(sources[i]), &w);
                free(w);
                int g[512], ends[512], m = followed_schedule(&res, g, ends);
                for (int j = 1; j <= m; j++) {
                    int want = kind ? k * ((j + k - 1) / k) : k + j - 1;
                    if (want > n + 1) want = n + 1;
                    if (g[j - 1] != want)
                        for (int t = 0; t < res.trace->n; t++)
                            fprintf(stderr, "%s k=%d n=%d: %s %s j=%d g=%d\n", spec, k, n,
                                    res.trace->rec[t].d.write ? "W" : "R", res.trace->rec[t].d.reason,
                                    res.trace->rec[t].d.word_index, res.trace->rec[t].d.units_read);
                    assert_int_equal(g[j - 1], want);
                }
                /* the head READs exactly while the schedule is not met (the model predicting the end
                 * before the whole source is read is also a READ, whatever the head says) */
                for (int t = 0; t < res.trace->n; t++) {
                    const RunnerDecision *d = &res.trace->rec[t].d;
                    int j = d->word_index, want = kind ? k * ((j + k - 1) / k) : k + j - 1;
                    if (!d->write && !strcmp(d->reason, "head"))
                        assert_true(d->units_read < want && d->units_read <= n);
                    if (!d->write && strcmp(d->reason, "head")) assert_string_equal(d->reason, "end predicted early");
                }
                for (int j = 0; j < res.n_words; j++) assert_true(res.delays[j] <= n);
                result_free(&res);
            }
}

/* offline = plain causal decoding over the whole source: recompute everything per token. */
static void test_offline_equals_full_decoding(void **state) {
    (void)state;
    const int V = fx.model.cfg.vocab_size, tb = fx.fmt.tp.tgt_begin.n;
    for (int i = 0; i < 3; i++) {
        Result res;
        stream(sources[i], "offline", 1, NULL, &res);
        /* every word was written after the whole source (with its end marker) was read */
        for (int k = 0; k < res.trace->n; k++)
            if (res.trace->rec[k].d.write) assert_int_equal(res.trace->rec[k].d.units_read, res.stats.words_read + 1);
        IdVec stoks = {0}, sends = {0};
        int n = tokenize_words(fx.tok, sources[i], strlen(sources[i]), &stoks, &sends);
        assert_int_equal(res.stats.words_read, n);
        /* the sequence prompt + source + src_end + tgt_begin, then greedy tokens one at a time */
        int ns = fx.fmt.tp.prompt.n + (int)stoks.n + fx.fmt.tp.src_end.n;
        int *src = malloc(sizeof(int) * ns), *tgt = malloc(sizeof(int) * (res.n_tgt + 2)),
            *vis = malloc(sizeof(int) * (res.n_tgt + 2));
        memcpy(src, fx.fmt.tp.prompt.ids, sizeof(int) * fx.fmt.tp.prompt.n);
        memcpy(src + fx.fmt.tp.prompt.n, stoks.ids, sizeof(int) * stoks.n);
        memcpy(src + fx.fmt.tp.prompt.n + stoks.n, fx.fmt.tp.src_end.ids, sizeof(int) * fx.fmt.tp.src_end.n);
        int nt = tb;
        memcpy(tgt, fx.fmt.tp.tgt_begin.ids, sizeof(int) * tb);
        Activations a = {0};
        while (nt < res.n_tgt) {
            for (int t = 0; t < nt; t++) vis[t] = ns;
            recompute(src, ns, tgt, vis, nt, &a);
            const float *z = a.logits + (size_t)(ns + nt - 1) * V;
            int best = 0;
            for (int v = 1; v < V; v++)
                if (z[v] > z[best]) best = v;
            tgt[nt++] = best;
        }
        for (int t = 0; t < res.n_tgt; t++) assert_int_equal(res.tgt_ids[t], tgt[t]);
        assert_true(res.n_tgt > tb + 3);
        activations_free(&a);
        free(src);
        free(tgt);
        free(vis);
        idvec_free(&stoks);
        idvec_free(&sends);
        result_free(&res);
    }
}

static void test_arrival_timing_does_not_matter(void **state) {
    (void)state;
    const char *specs[] = {"waitk:3", "entropy:5.5", "attn:2:0.3/min-lag=2"};
    for (int s = 0; s < 3; s++)
        for (int i = 0; i < n_sources; i++) {
            Result a, b;
            stream(sources[i], specs[s], 1, NULL, &a);
            stream(sources[i], specs[s], 0, NULL, &b);
            assert_string_equal(a.text, b.text);
            assert_int_equal(a.n_words, b.n_words);
            assert_memory_equal(a.delays, b.delays, sizeof(int) * a.n_words);
            result_free(&a);
            result_free(&b);
        }
}

static void test_seeded_sampling(void **state) {
    (void)state;
    RunnerOptions o;
    runner_options_default(&o);
    o.temperature = 1.0f;
    o.top_p = 0.9f;
    o.seed = 11;
    Result a, b, c, g;
    stream(sources[1], "waitk:2", 1, &o, &a);
    stream(sources[1], "waitk:2", 0, &o, &b);
    o.seed = 12;
    stream(sources[1], "waitk:2", 1, &o, &c);
    stream(sources[1], "waitk:2", 1, NULL, &g);
    assert_string_equal(a.text, b.text);     /* same seed, same words */
    assert_string_not_equal(a.text, c.text); /* another seed, other words */
    assert_string_not_equal(a.text, g.text); /* sampling is not greedy */
    result_free(&a);
    result_free(&b);
    result_free(&c);
    result_free(&g);
}

static void test_empty_sentence_and_limits(void **state) {
    (void)state;
    HeadSpec h;
    head_parse("waitk:1", &h);
    RunnerOptions o;
    runner_options_default(&o);
    o.max_tokens = 40;
    o.max_lead_words = 2;
    Runner *r = runner_new(&fx.model, fx.tok, &fx.fmt, &h, NULL, &o);
    RunnerWord w;
    assert_int_equal(runner_begin(r), 0);
    assert_int_equal(runner_step(r, &w), RUNNER_NEED_SOURCE);
    runner_end_source(r);
    assert_int_equal(runner_step(r, &w), RUNNER_DONE); /* nothing heard, nothing said */
    /* lead limit: one source word, at most 1 + 2 target words */
    assert_int_equal(runner_begin(r), 0);
    assert_int_equal(runner_push_word(r, "Jesus", 5), 0);
    runner_end_source(r);
    int words = 0, ev;
    while ((ev = runner_step(r, &w)) == RUNNER_WORD) words++;
    assert_int_equal(ev, RUNNER_DONE);
    RunnerStats st;
    runner_stats(r, &st);
    assert_true(words <= 3);
    /* a source longer than the token limit is refused with a clear error */
    assert_int_equal(runner_begin(r), 0);
    int rc = 0;
    for (int i = 0; i < 100 && rc == 0; i++) rc = runner_push_word(r, "beginning", 9);
    assert_int_equal(rc, -1);
    assert_non_null(strstr(px_error_message(), "longer than 40 tokens"));
    assert_int_equal(runner_push_word(r, "  ", 2), 0); /* whitespace only: ignored */
    runner_free(r);
}

/* Streams the first sources with waitk:3 into res[] (o: the runner's options). */
static void stream_all(const RunnerOptions *o, Result *res) {
    for (int i = 0; i < n_sources; i++) stream(sources[i], "waitk:3", 1, o, &res[i]);
}

/* The runner with other decode weights (src/stream/decode_weights.h):
 *  - fp32 DecodeWeights (views of the model) give the same tokens as none;
 *  - int8 weights give the same words and tokens as the fp32 runner on the model whose matrices
 *    are replaced by their dequantized scale * q (activations are fp32 on both paths; the logits
 *    differ by summation order, ~1e-7 relative in tests/stream/test_decode.c, far below this
 *    model's top-2 margins), through every runner step: source reads, pop and refeed, writes;
 *  - bf16 weights and a bf16 KV cache run every sentence to the end on waitk:3's schedule. Their
 *    tokens are not required to match fp32 on this random model: its logits amplify rounding
 *    (init_std 0.25) and greedy continuations diverge after the first flip; the test prints how
 *    many sentences are identical. Agreement on a trained model is checked in
 *    tests/jobs/test_run.sh, per-step agreement in tests/stream/test_decode.c. */
static void test_decode_weights_in_the_runner(void **state) {
    (void)state;
    Result ref[6], got[6];
    RunnerOptions o;
    runner_options_default(&o);
    stream_all(&o, ref);
    DecodeWeights f32, i8, bf16;
    assert_int_equal(decode_weights_make(&f32, &fx.model, DECODE_FP32), 0);
    assert_int_equal(decode_weights_make(&i8, &fx.model, DECODE_INT8), 0);
    assert_int_equal(decode_weights_make(&bf16, &fx.model, DECODE_BF16), 0);

    o.weights = &f32;
    stream_all(&o, got);
    for (int i = 0; i < n_sources; i++) {
        assert_int_equal(got[i].n_tgt, ref[i].n_tgt);
        assert_memory_equal(got[i].tgt_ids, ref[i].tgt_ids, sizeof(int) * ref[i].n_tgt);
        result_free(&got[i]);
    }

    /* int8 against fp32 on the dequantized model: the fixture's matrices overwritten, then restored */
    o.weights = &i8;
    stream_all(&o, got);
    float *saved = malloc(sizeof(float) * fx.model.n_params);
    assert_non_null(saved);
    memcpy(saved, fx.model.params, sizeof(float) * fx.model.n_params);
    const ModelConfig *c = &fx.model.cfg;
    const int d = c->hidden_size, f = c->intermediate_size;
    for (int l = 0; l <= c->n_layers; l++) {
        const GemmMat *src[4] = {&i8.lm_head};
        float *dst[4] = {fx.model.w.lm_head};
        int rows[4] = {c->vocab_size}, n = 1;
        if (l < c->n_layers) {
            const DecodeLayer *dl = &i8.layers[l];
            const LayerWeights *w = &fx.model.w.layers[l];
            src[0] = &dl->wqkv, src[1] = &dl->wo, src[2] = &dl->wgu, src[3] = &dl->wdown;
            dst[0] = w->wqkv, dst[1] = w->wo, dst[2] = w->wgu, dst[3] = w->wdown;
            rows[0] = (c->n_heads + 2 * c->n_kv_heads) * c->head_dim, rows[1] = d, rows[2] = 2 * f, rows[3] = d;
            n = 4;
        }
        for (int k = 0; k < n; k++)
            for (size_t e = 0; e < (size_t)rows[k] * src[k]->ld; e++)
                dst[k][e] = src[k]->scale[e / src[k]->ld] * ((const int8_t *)src[k]->data)[e];
    }
    Result dq[6];
    RunnerOptions plain;
    runner_options_default(&plain);
    stream_all(&plain, dq);
    memcpy(fx.model.params, saved, sizeof(float) * fx.model.n_params);
    free(saved);
    for (int i = 0; i < n_sources; i++) {
        assert_string_equal(got[i].text, dq[i].text);
        assert_int_equal(got[i].n_tgt, dq[i].n_tgt);
        assert_memory_equal(got[i].tgt_ids, dq[i].tgt_ids, sizeof(int) * dq[i].n_tgt);
        assert_true(got[i].n_words > 0);
        result_free(&got[i]);
        result_free(&dq[i]);
    }

    const struct {
        const DecodeWeights *w;
        int kv_bf16;
        const char *name;
    } variants[] = {{&bf16, 0, "bf16 weights"}, {NULL, 1, "bf16 KV cache"}, {&bf16, 1, "bf16 weights, bf16 KV"}};
    for (int v = 0; v < 3; v++) {
        o.weights = variants[v].w;
        o.kv_bf16 = variants[v].kv_bf16;
        stream_all(&o, got);
        int same = 0;
        for (int i = 0; i < n_sources; i++) {
            assert_true(got[i].n_words > 0);
            for (int j = 0; j < got[i].n_words; j++) /* waitk:3's schedule: min(3 + j, n) */
                assert_int_equal(got[i].delays[j], PX_MIN(3 + j, got[i].stats.words_pushed));
            same += !strcmp(got[i].text, ref[i].text);
            result_free(&got[i]);
        }
        printf("%s: %d of %d sentences identical to fp32 on the random fixture model\n", variants[v].name, same,
               n_sources);
    }
    for (int i = 0; i < n_sources; i++) result_free(&ref[i]);

    /* weights made from another model are refused */
    Model other;
    assert_int_equal(model_create(&other, c), 0);
    HeadSpec h;
    assert_int_equal(head_parse("waitk:3", &h), 0);
    RunnerOptions bad;
    runner_options_default(&bad);
    bad.weights = &bf16;
    assert_null(runner_new(&other, fx.tok, &fx.fmt, &h, NULL, &bad));
    assert_non_null(strstr(px_error_message(), "another model"));
    model_free(&other);
    decode_weights_free(&f32);
    decode_weights_free(&i8);
    decode_weights_free(&bf16);
}

static void test_head_specs(void **state) {
    (void)state;
    HeadSpec h;
    assert_int_equal(head_parse("entropy:0.5", &h), 0);
    assert_int_equal(h.kind, HEAD_ENTROPY);
    assert_true(fabsf(h.threshold - 0.5f) < 1e-7);
    assert_int_equal(head_parse("attn:4:0.3/min-lag=2/max-lag=6", &h), 0);
    assert_int_equal(h.kind, HEAD_ATTN);
    assert_int_equal(h.k, 4);
    assert_int_equal(h.min_lag, 2);
    assert_int_equal(h.max_lag, 6);
    assert_int_equal(head_parse("offline", &h), 0);
    const char *bad[] = {"",
                         "entropy",
                         "entropy:",
                         "entropy:-1",
                         "entropy:abc",
                         "maxprob:1.5",
                         "attn:0:0.5",
                         "attn:4",
                         "waitk:0",
                         "waitk:2.5",
                         "chunk:-3",
                         "offline:1",
                         "bogus:1",
                         "waitk:3/min-lag=0",
                         "waitk:3/lag=2",
                         "waitk:3/",
                         "waitk:3//min-lag=1",
                         "waitk:3/min-lag=1/",
                         "entropy:1/min-lag=5/max-lag=2",
                         "probe:2"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(head_parse(bad[i], &h), -1);
        assert_true(strlen(px_error_message()) > 10);
    }
    assert_non_null(strstr((head_parse("bogus:1", &h), px_error_message()), "unknown decision head 'bogus:1'"));
    assert_non_null(strstr((head_parse("waitk:0", &h), px_error_message()), "waitk:K (K >= 1)"));

    /* rules */
    float hid[64] = {0};
    Cues c = {.entropy = 1.0f, .maxprob = 0.6f, .attn_front = 0.4f, .hidden = hid};
    HeadState st = {.word_index = 2, .units_read = 3, .source_done = 0};
    head_parse("entropy:1.0", &h);
    assert_int_equal(head_decide(&h, NULL, &c, &st), 1);
    head_parse("entropy:0.99", &h);
    assert_int_equal(head_decide(&h, NULL, &c, &st), 0);
    head_parse("maxprob:0.6", &h);
    assert_int_equal(head_decide(&h, NULL, &c, &st), 1);
    head_parse("attn:4:0.39", &h);
    assert_int_equal(head_decide(&h, NULL, &c, &st), 0); /* still leaning on the newest input */
    head_parse("attn:4:0.4", &h);
    assert_int_equal(head_decide(&h, NULL, &c, &st), 1);
    head_parse("entropy:9/min-lag=3", &h); /* floor: word 2 needs 3 + 1 units */
    assert_int_equal(head_decide(&h, NULL, &c, &st), 0);
    head_parse("entropy:0/max-lag=2", &h); /* ceiling: word 2 is written once 2 + 1 units are read */
    assert_int_equal(head_decide(&h, NULL, &c, &st), 1);
    head_parse("offline", &h);
    assert_int_equal(head_decide(&h, NULL, &c, &st), 0);
    st.source_done = 1;
    assert_int_equal(head_decide(&h, NULL, &c, &st), 1); /* everything read: every head writes */

    /* probe: sigmoid(w . (x - mean) / scale + b) */
    float w[67] = {0}, mean[67] = {0}, scale[67];
    for (int i = 0; i < 67; i++) scale[i] = 1.0f;
    w[64] = -2.0f; /* entropy */
    w[65] = 1.0f;  /* maxprob */
    mean[64] = 0.5f;
    scale[65] = 0.5f;
    Probe p = {.dim = 67, .w = w, .mean = mean, .scale = scale, .bias = 0.25f, .attn_window = 4};
    double z = 0.25 - 2.0 * (1.0 - 0.5) + 1.0 * (0.6 / 0.5);
    assert_true(fabs(probe_score(&p, &c) - 1.0 / (1.0 + exp(-z))) < 1e-6);
    head_parse("probe:0.6", &h);
    st.source_done = 0;
    assert_int_equal(head_decide(&h, &p, &c, &st), probe_score(&p, &c) >= 0.6);
    /* a probe head without a probe is refused by the runner */
    assert_null(runner_new(&fx.model, fx.tok, &fx.fmt, &h, NULL, NULL));
    assert_non_null(strstr(px_error_message(), "needs a probe"));
    Probe wrong = p;
    wrong.dim = 10;
    assert_null(runner_new(&fx.model, fx.tok, &fx.fmt, &h, &wrong, NULL));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_head_specs),
        cmocka_unit_test(test_streaming_equals_batch),
        cmocka_unit_test(test_waitk_and_chunk_follow_schedule),
        cmocka_unit_test(test_offline_equals_full_decoding),
        cmocka_unit_test(test_arrival_timing_does_not_matter),
        cmocka_unit_test(test_seeded_sampling),
        cmocka_unit_test(test_empty_sentence_and_limits),
        cmocka_unit_test(test_decode_weights_in_the_runner),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
