/* runner.c — the streaming runner (runner.h). One sentence at a time:
 *
 *   begin: encode the prompt into the source cache.
 *   step:  read at least one source word; then at each decision the pending target rows (the
 *          whole tgt_begin before the first word, afterwards the last token of the previous
 *          word) are fed with everything read so far; their last row's cues go to the head.
 *          READ  -> encode the next unit, pop the pending rows (they are fed again next time).
 *          WRITE -> feed the predicted token and decode until the next token starts a word.
 */
#include "src/stream/runner.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "src/base/common.h"
#include "src/base/rng.h"
#include "src/stream/decode.h"
#include "src/stream/probe_features.h"
#include "src/text/words.h"

struct Runner {
    const Model *m;
    const Tokenizer *tok;
    StreamFormat fmt;
    HeadSpec head;
    const Probe *probe;
    RunnerOptions opt;
    KvCache kv;
    DecodeScratch sc;
    unsigned char *starts_word; /* [V] WORD_START | ALL_SPACE flags */
    int tgt_end0;               /* first token of tgt_end: predicting it ends the output */
    uint64_t sentences;         /* sentences begun (sampling seed) */
    Rng rng;
    /* the current sentence */
    IdVec queue;      /* tokens of pushed but unread words */
    IdVec queue_ends; /* per queued word: end index in queue */
    int queue_head;   /* words of the queue already read */
    int queue_tok;    /* tokens of the queue already read */
    int words_pushed, words_read, end_read, source_ended, done;
    IdVec src_ids, tgt_ids, tgt_vis;
    int n_pending;   /* newest target tokens that see the source read so far (refed after a READ) */
    int row_current; /* the last target row's logits, cues and next token are up to date */
    int next_token;
    Cues cues;
    int waiting_read; /* the head decided READ but no unit was available */
    float *probs;     /* [2V] sampling scratch */
    int words_written;
    IdVec word; /* tokens of the word being returned */
    char *word_text;
    int64_t tokens_decoded, tokens_encoded;
    const char *limit;
};

void runner_options_default(RunnerOptions *o) {
    memset(o, 0, sizeof *o);
    o->top_p = 1.0f;
    o->attn_window = CUE_ATTN_WINDOW_DEFAULT;
    o->max_word_tokens = 50;
    o->max_lead_words = 100;
}

/* Shortens [*s, *s + *len) to exclude leading and trailing word separators. */
static void trim_separators(const char **s, size_t *len) {
    while (*len && word_separator((unsigned char)(*s)[0])) ++*s, --*len;
    while (*len && word_separator((unsigned char)(*s)[*len - 1])) --*len;
}

/* starts_word[id] flags: the token's text begins with whitespace (it starts a new word) / is
 * nothing but whitespace (it joins the word that follows instead of being one). */
enum { WORD_START = 1, ALL_SPACE = 2 };

static int build_word_table(Runner *r) {
    const int V = r->m->cfg.vocab_size, TV = tokenizer_vocab_size(r->tok);
    r->starts_word = px_calloc((size_t)V, 1, "the word-start table");
    if (!r->starts_word) return -1;
    for (int id = 0; id < V && id < TV; id++) {
        char *text = NULL;
        size_t len = 0;
        if (!tokenizer_id_to_token(r->tok, id)) continue; /* a hole in the vocabulary */
        if (tokenizer_decode(r->tok, &id, 1, 0, &text, &len)) return -1;
        size_t spaces = 0;
        while (spaces < len && word_separator((unsigned char)text[spaces])) spaces++;
        r->starts_word[id] =
            (unsigned char)((spaces > 0 ? WORD_START : 0) | (len > 0 && spaces == len ? ALL_SPACE : 0));
        free(text);
    }
    return 0;
}

Runner *runner_new(const Model *m, const Tokenizer *tok, const StreamFormat *fmt, const HeadSpec *head,
                   const Probe *probe, const RunnerOptions *opt) {
    if (head->kind == HEAD_PROBE && !probe) {
        px_error("decision head '%s' needs a probe, and this model has none: run proact probe first", head->spec);
        return NULL;
    }
    if (probe && probe->dim != probe_feature_dim(m->cfg.hidden_size)) {
        px_error("the probe has %d features, but the model needs hidden size + %d = %d (%s)", probe->dim,
                 PROBE_EXTRA_FEATURES, probe_feature_dim(m->cfg.hidden_size), PROBE_FEATURE_LIST);
        return NULL;
    }
    if (opt && opt->weights && opt->weights->model != m) {
        px_error("the decode weights were made for another model");
        return NULL;
    }
    if (fmt->tp.tgt_begin.n < 1 || fmt->tp.tgt_end.n < 1) {
        px_error("the stream format has no tgt_begin or tgt_end tokens");
        return NULL;
    }
    Runner *r = px_calloc(1, sizeof *r, "the runner");
    if (!r) return NULL;
    r->m = m;
    r->tok = tok;
    r->fmt = *fmt;
    r->head = *head;
    r->probe = probe;
    if (opt) r->opt = *opt;
    else runner_options_default(&r->opt);
    if (r->opt.max_tokens <= 0) r->opt.max_tokens = m->cfg.max_seq_len > 0 ? m->cfg.max_seq_len : 4096;
    if (r->opt.max_word_tokens <= 0) r->opt.max_word_tokens = 50;
    if (r->opt.max_lead_words <= 0) r->opt.max_lead_words = 100;
    if (r->opt.attn_window <= 0) r->opt.attn_window = CUE_ATTN_WINDOW_DEFAULT;
    if (r->opt.top_p <= 0 || r->opt.top_p > 1) r->opt.top_p = 1.0f;
    for (int i = 0; i < r->opt.n_attn_layers; i++)
        if (r->opt.attn_layers[i] < 0 || r->opt.attn_layers[i] >= m->cfg.n_layers) {
            px_error("attention cue layer %d is outside 0..%d", r->opt.attn_layers[i], m->cfg.n_layers - 1);
            runner_free(r);
            return NULL;
        }
    for (int i = 0; i < r->opt.n_attn_heads; i++)
        if (r->opt.attn_heads[i] < 0 || r->opt.attn_heads[i] >= m->cfg.n_heads) {
            px_error("attention cue head %d is outside 0..%d", r->opt.attn_heads[i], m->cfg.n_heads - 1);
            runner_free(r);
            return NULL;
        }
    r->tgt_end0 = fmt->tp.tgt_end.ids[0];
    r->probs = px_calloc(2 * (size_t)m->cfg.vocab_size, sizeof(float), "the sampling scratch");
    if (!r->probs || kv_cache_init_as(&r->kv, &m->cfg, 64, 64, r->opt.kv_bf16) || build_word_table(r)) {
        runner_free(r);
        return NULL;
    }
    return r;
}

void runner_free(Runner *r) {
    if (!r) return;
    kv_cache_free(&r->kv);
    decode_scratch_free(&r->sc);
    free(r->starts_word);
    free(r->probs);
    idvec_free(&r->queue);
    idvec_free(&r->queue_ends);
    idvec_free(&r->src_ids);
    idvec_free(&r->tgt_ids);
    idvec_free(&r->tgt_vis);
    idvec_free(&r->word);
    free(r->word_text);
    free(r);
}

/* Feeds source tokens (no logits needed). */
static int feed_source(Runner *r, const int *ids, int n) {
    if (n == 0) return 0;
    if (r->kv.src.len + n > r->opt.max_tokens)
        return px_error("the source is longer than %d tokens (the runner's limit)", r->opt.max_tokens);
    if (decode_forward_w(r->m, r->opt.weights, &r->kv, &r->sc, ids, n, DECODE_SOURCE, 0, 0, 0)) return -1;
    for (int i = 0; i < n; i++)
        if (idvec_push(&r->src_ids, ids[i])) return -1;
    r->tokens_encoded += n;
    return 0;
}

int runner_begin(Runner *r) { return runner_begin_sentence(r, r->sentences + 1); }

int runner_begin_sentence(Runner *r, uint64_t sentence) {
    kv_cache_reset(&r->kv);
    r->queue.n = r->queue_ends.n = r->src_ids.n = r->tgt_ids.n = r->tgt_vis.n = r->word.n = 0;
    r->queue_head = r->queue_tok = 0;
    r->words_pushed = r->words_read = r->end_read = r->source_ended = r->done = 0;
    r->n_pending = r->row_current = r->waiting_read = r->words_written = 0;
    r->tokens_decoded = r->tokens_encoded = 0;
    r->limit = NULL;
    r->sentences = sentence;
    rng_seed(&r->rng, r->opt.seed ^ (0x9E3779B97F4A7C15ULL * sentence));
    return feed_source(r, r->fmt.tp.prompt.ids, r->fmt.tp.prompt.n);
}

int runner_push_word(Runner *r, const char *word, size_t len) {
    if (r->source_ended) return px_error("a source word arrived after the end of the source");
    trim_separators(&word, &len);
    if (!len) return 0;
    char small[256], *buf = len + 2 <= sizeof small ? small : malloc(len + 2);
    if (!buf) return px_error("out of memory");
    size_t k = 0;
    if (r->words_pushed > 0) buf[k++] = ' '; /* non-first words carry their leading space (docs/design.md §2.1) */
    memcpy(buf + k, word, len);
    k += len;
    size_t before = r->queue.n;
    if (r->opt.encode_guard) r->opt.encode_guard(r->opt.encode_guard_ctx, 1);
    int rc = tokenizer_encode(r->tok, buf, k, &r->queue);
    if (r->opt.encode_guard) r->opt.encode_guard(r->opt.encode_guard_ctx, 0);
    if (buf != small) free(buf);
    if (rc) return -1;
    int pending_src = r->kv.src.len + (int)(r->queue.n - (size_t)r->queue_tok) + r->fmt.tp.src_end.n;
    if (pending_src > r->opt.max_tokens) {
        r->queue.n = before;
        return px_error("the source is longer than %d tokens (the runner's limit)", r->opt.max_tokens);
    }
    if (idvec_push(&r->queue_ends, (int)r->queue.n)) return -1;
    r->words_pushed++;
    return 0;
}

int runner_end_source(Runner *r) {
    r->source_ended = 1;
    return 0;
}

/* READ: the next unit (a queued word, or the end marker once the source has ended). 1 if a
 * unit was read, 0 if none is available yet, -1 on error. */
static int read_unit(Runner *r) {
    if (r->queue_head < (int)r->queue_ends.n) {
        int end = r->queue_ends.ids[r->queue_head];
        if (feed_source(r, r->queue.ids + r->queue_tok, end - r->queue_tok)) return -1;
        r->queue_tok = end;
        r->queue_head++;
        r->words_read++;
    } else if (r->source_ended && !r->end_read) {
        if (feed_source(r, r->fmt.tp.src_end.ids, r->fmt.tp.src_end.n)) return -1;
        r->end_read = 1;
    } else {
        return 0;
    }
    /* pop: the pending rows must see the new unit (training's shift by one) */
    kv_cache_pop_target(&r->kv, r->n_pending);
    r->tgt_ids.n -= (size_t)r->n_pending;
    r->tgt_vis.n -= (size_t)r->n_pending;
    r->row_current = 0;
    return 1;
}

/* Next-token choice from the current logits: argmax (lowest id on ties), or a sample from
 * softmax(z / T) restricted to the nucleus (the most likely tokens whose mass reaches top_p). */
static int cmp_desc(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x < y) - (x > y);
}

static int choose_token(Runner *r, int exclude) {
    const float *z = r->sc.logits;
    const int V = r->m->cfg.vocab_size;
    int best = exclude == 0 ? 1 : 0;
    for (int i = best + 1; i < V; i++)
        if (z[i] > z[best] && i != exclude) best = i;
    if (r->opt.temperature <= 0) return best;
    float *p = r->probs;
    double total = 0;
    for (int i = 0; i < V; i++) total += p[i] = i == exclude ? 0.0f : expf((z[i] - z[best]) / r->opt.temperature);
    float cut = 0; /* tokens with p >= cut form the nucleus */
    if (r->opt.top_p < 1.0f) {
        float *sorted = r->probs + V;
        memcpy(sorted, p, sizeof(float) * V);
        qsort(sorted, (size_t)V, sizeof(float), cmp_desc);
        double mass = 0;
        for (int i = 0; i < V; i++) {
            mass += sorted[i] / total;
            cut = sorted[i];
            if (mass >= r->opt.top_p) break;
        }
    }
    double kept = 0;
    for (int i = 0; i < V; i++)
        if (p[i] >= cut && p[i] > 0) kept += p[i];
    double u = rng_uniform(&r->rng) * kept;
    for (int i = 0; i < V; i++) {
        if (p[i] < cut || p[i] == 0) continue;
        if (u < p[i]) return i;
        u -= p[i];
    }
    return best;
}

/* The cues of the decision row (the last row fed). */
static void compute_cues(Runner *r) {
    const int w = r->head.kind == HEAD_ATTN                                             ? r->head.k
                  : r->probe && r->head.kind == HEAD_PROBE && r->probe->attn_window > 0 ? r->probe->attn_window
                                                                                        : r->opt.attn_window;
    decode_cues(r->m, &r->sc, w, r->opt.attn_layers, r->opt.n_attn_layers, r->opt.attn_heads, r->opt.n_attn_heads,
                &r->cues);
    cues_set_position(&r->cues, r->words_read + r->end_read, r->words_written + 1);
}

/* Feeds target tokens that see the whole source read so far; the last row's logits and cues
 * become current. */
static int feed_target(Runner *r, const int *ids, int n) {
    if (r->kv.tgt.len + n > r->opt.max_tokens) {
        r->limit = "max_tokens (target)";
        return 1;
    }
    const int vis = r->kv.src.len;
    if (decode_forward_w(r->m, r->opt.weights, &r->kv, &r->sc, ids, n, DECODE_TARGET, vis, r->fmt.phi, 1)) return -1;
    for (int i = 0; i < n; i++)
        if (idvec_push(&r->tgt_ids, ids[i]) || idvec_push(&r->tgt_vis, vis)) return -1;
    r->tokens_decoded += n;
    r->next_token = choose_token(r, -1);
    r->row_current = 1;
    return 0;
}

static void trace(Runner *r, int write, const char *reason) {
    if (!r->opt.trace) return;
    RunnerDecision d = {.write = write,
                        .reason = reason,
                        .word_index = r->words_written + 1,
                        .units_read = r->words_read + r->end_read,
                        .src_tokens = r->kv.src.len,
                        .tgt_tokens = r->kv.tgt.len,
                        .next_token = r->next_token,
                        .cues = r->cues,
                        .logits = r->sc.logits};
    r->opt.trace(r->opt.trace_ctx, &d);
}

/* Decodes one word starting with the decision row's token. 0, 1 (a limit stopped it), -1. */
static int write_word(Runner *r) {
    r->word.n = 0;
    int tok = r->next_token, rc = 0, has_text = 0;
    for (;;) {
        has_text |= !(r->starts_word[tok] & ALL_SPACE);
        if (idvec_push(&r->word, tok)) return -1;
        if ((rc = feed_target(r, &tok, 1))) {
            r->word.n--; /* not fed: a limit stopped the word */
            break;
        }
        tok = r->next_token;
        /* a word ends where the next one starts, once it has more than whitespace */
        if ((has_text && (r->starts_word[tok] & WORD_START)) || tok == r->tgt_end0 ||
            (int)r->word.n >= r->opt.max_word_tokens)
            break;
    }
    if (rc < 0) return -1;
    r->n_pending = rc ? 0 : 1; /* the word's last token is refed after the next READ */
    return rc;
}

/* The word's text without surrounding whitespace; 0 if it is empty (a whitespace-only token). */
static int word_text(Runner *r, const char **text) {
    free(r->word_text);
    r->word_text = NULL;
    size_t len = 0;
    if (tokenizer_decode(r->tok, r->word.ids, r->word.n, 1, &r->word_text, &len)) return -1;
    const char *s = r->word_text;
    trim_separators(&s, &len);
    r->word_text[(s - r->word_text) + len] = '\0';
    *text = s;
    return len > 0;
}

int runner_step(Runner *r, RunnerWord *out) {
    if (r->done) return RUNNER_DONE;
    for (;;) {
        /* the first decision needs at least one source unit (g(1) >= 1) */
        if (r->words_read + r->end_read == 0) {
            if (r->source_ended && r->words_pushed == 0) { /* an empty sentence: nothing to say */
                r->done = 1;
                return RUNNER_DONE;
            }
            int got = read_unit(r);
            if (got < 0) return -1;
            if (!got) return RUNNER_NEED_SOURCE;
            continue;
        }
        if (r->waiting_read) { /* a READ decided earlier waits for its unit */
            int got = read_unit(r);
            if (got < 0) return -1;
            if (!got) return RUNNER_NEED_SOURCE;
            r->waiting_read = 0;
            continue;
        }
        if (!r->row_current) {
            const int *pend = r->words_written == 0 && r->tgt_ids.n == 0 ? r->fmt.tp.tgt_begin.ids : NULL;
            int rc;
            if (pend) {
                rc = feed_target(r, pend, r->fmt.tp.tgt_begin.n);
                r->n_pending = r->fmt.tp.tgt_begin.n;
            } else { /* refeed the popped last token of the previous word */
                int last = r->word.ids[r->word.n - 1];
                rc = feed_target(r, &last, 1);
                r->n_pending = 1;
            }
            if (rc < 0) return -1;
            if (rc > 0) break;
        }
        /* the scratch still holds the decision row: it was fed last. Fixed heads need no cues
         * (only the trace shows them). */
        if (head_uses_cues(&r->head) || r->opt.trace) compute_cues(r);
        const int source_done = r->end_read;
        HeadState st = {
            .word_index = r->words_written + 1, .units_read = r->words_read + r->end_read, .source_done = source_done};
        const int by_policy = r->opt.policy && !source_done;
        int write = by_policy ? r->opt.policy(r->opt.policy_ctx, &st) : head_decide(&r->head, r->probe, &r->cues, &st);
        const char *reason = source_done ? "source finished" : by_policy ? "policy" : "head";
        int suppress_end = 0;
        if (write && !source_done && r->next_token == r->tgt_end0) {
            /* the model would end the output, but more source is coming: an adaptive head reads
             * on; a schedule (fixed heads, the max-lag ceiling) writes the best other token */
            if (by_policy || head_forced_write(&r->head, &st)) {
                reason = "schedule, end suppressed";
                suppress_end = 1;
            } else {
                write = 0;
                reason = "end predicted early";
            }
        }
        if (!write) {
            trace(r, 0, reason);
            int got = read_unit(r);
            if (got < 0) return -1;
            if (!got) {
                r->waiting_read = 1;
                return RUNNER_NEED_SOURCE;
            }
            continue;
        }
        if (r->next_token == r->tgt_end0 && !suppress_end) {
            trace(r, 1, "end of output");
            r->done = 1;
            return RUNNER_DONE;
        }
        if (r->words_written - r->words_read >= r->opt.max_lead_words) {
            r->limit = "max_lead_words";
            break;
        }
        trace(r, 1, reason);
        if (suppress_end) r->next_token = choose_token(r, r->tgt_end0);
        int rc = write_word(r);
        if (rc < 0) return -1;
        const char *text;
        int nonempty = word_text(r, &text);
        if (nonempty < 0) return -1;
        if (nonempty) {
            r->words_written++;
            out->text = text;
            out->delay = r->words_read;
            out->index = r->words_written;
            out->n_tokens = (int)r->word.n;
            if (rc > 0) r->done = 1; /* the limit hit after this word: the next call says DONE */
            return RUNNER_WORD;
        }
        if (rc > 0) break;
    }
    r->done = 1;
    return RUNNER_DONE;
}

void runner_stats(const Runner *r, RunnerStats *s) {
    s->words_pushed = r->words_pushed;
    s->words_read = r->words_read;
    s->words_written = r->words_written;
    s->src_tokens = r->kv.src.len;
    s->tgt_tokens = r->kv.tgt.len;
    s->tokens_decoded = r->tokens_decoded;
    s->tokens_encoded = r->tokens_encoded;
    s->stopped_by_limit = r->limit != NULL;
    s->limit = r->limit;
}

void runner_debug_rows(const Runner *r, const int **tgt_ids, const int **tgt_vis, int *n_tgt, const int **src_ids,
                       int *n_src) {
    *tgt_ids = r->tgt_ids.ids;
    *tgt_vis = r->tgt_vis.ids;
    *n_tgt = (int)r->tgt_ids.n;
    *src_ids = r->src_ids.ids;
    *n_src = (int)r->src_ids.n;
}
