/* runner.h — the streaming runner (docs/design.md §2.6): one sentence at a time, source words pushed as
 * they arrive, target words produced as soon as the decision head says WRITE.
 *
 *   READ   encode the next source unit (a word, or the end marker once the source is finished)
 *          against the source cache only; then "pop and refeed": the pending target tokens (the
 *          last token of the previous word, or the whole tgt_begin before the first word) are fed
 *          again so that they see the new source, exactly as training's shift-by-one rows do.
 *   WRITE  decode tokens greedily (or sampled) until a word boundary: the next token starts with
 *          whitespace or is the first tgt_end token. The token that starts the next word is not
 *          kept; the decision row's logits predict it again.
 * The decision is taken with the cues of the pending row (heads.h). A predicted tgt_end before
 * the whole source is read counts as READ; after it, the sentence is done.
 *
 * Not thread-safe per Runner; several Runners may share one Model and Tokenizer (tokenizer_encode
 * is guarded by RunnerOptions.encode_guard when given).
 */
#ifndef PROACT_RUNNER_H
#define PROACT_RUNNER_H

#include <stdint.h>

#include "src/model/model.h"
#include "src/stream/decode_weights.h"
#include "src/stream/heads.h"
#include "src/text/tokenizer.h"
#include "src/train/pairs.h"

/* What the exported model directory says about streaming (proact.json). */
typedef struct {
    TemplatePieces tp; /* prompt, src_end, tgt_begin, tgt_end token ids */
    int phi;           /* target position offset */
} StreamFormat;

typedef struct RunnerDecision RunnerDecision;
typedef void (*RunnerTraceFn)(void *ctx, const RunnerDecision *d);

typedef struct {
    float temperature; /* 0 = greedy (default); > 0 samples */
    float top_p;       /* nucleus mass when sampling (1 = all) */
    uint64_t seed;     /* sampling seed (runner_begin mixes in the sentence number) */
    int attn_window;   /* w of A_front when the head does not set it (default 4) */
    const int *attn_layers;
    int n_attn_layers; /* layers for A_front (NULL: all) */
    const int *attn_heads;
    int n_attn_heads;    /* query heads for A_front (NULL: all) */
    int max_word_tokens; /* a word ends after this many tokens (default 50) */
    int max_lead_words;  /* stop when target words exceed source words by this (default 100) */
    int max_tokens;      /* per side: source tokens / target tokens (default: model max_seq_len) */
    RunnerTraceFn trace;
    void *trace_ctx; /* every decision, if set */
    void (*encode_guard)(void *ctx, int enter);
    void *encode_guard_ctx;       /* serializes tokenizer_encode */
    const DecodeWeights *weights; /* the matrices decoding reads, made from the runner's model
                                       (decode_weights.h; NULL: the model's fp32, the default) */
    int kv_bf16;                  /* 1: the KV cache holds bf16 (attention math stays fp32) */
    /* If set, replaces the head's rule (not its floor or ceiling: set none on the head): 1 = WRITE.
     * A WRITE it gives counts as owed to a schedule (a predicted end is suppressed), as a fixed head's.
     * `proact probe` drives the runner with a random policy this way to collect the states it visits. */
    int (*policy)(void *ctx, const HeadState *st);
    void *policy_ctx;
} RunnerOptions;

void runner_options_default(RunnerOptions *o);

/* One READ/WRITE decision, for --trace and the tests. */
struct RunnerDecision {
    int write;           /* 1 WRITE, 0 READ */
    const char *reason;  /* "head", "source finished", "end predicted early", "no more source", "lag floor", ... */
    int word_index;      /* j, 1-based: the word being decided */
    int units_read;      /* source units read when deciding */
    int src_tokens;      /* source tokens in the cache (all visible to the decision row) */
    int tgt_tokens;      /* target tokens fed, the decision row being the last */
    int next_token;      /* the token the decision row predicts */
    Cues cues;           /* valid during the callback */
    const float *logits; /* [vocab] the decision row's next-token logits, valid during the callback */
};

/* One written target word. */
typedef struct {
    const char *text; /* UTF-8 without surrounding whitespace; valid until the next runner call */
    int delay;        /* source words read when it was written (1..n) */
    int index;        /* 1-based */
    int n_tokens;
} RunnerWord;

typedef enum { RUNNER_WORD = 1, RUNNER_NEED_SOURCE = 2, RUNNER_DONE = 3 } RunnerEvent;

typedef struct Runner Runner;

/* The model, tokenizer and format must outlive the runner; the head and options are copied.
 * probe is needed for probe:P heads (NULL otherwise → an error for such a head). */
Runner *runner_new(const Model *m, const Tokenizer *tok, const StreamFormat *fmt, const HeadSpec *head,
                   const Probe *probe, const RunnerOptions *opt);
void runner_free(Runner *r);

/* Starts a new sentence (forgets the previous one). Sentences are numbered 1, 2, ... in the order
 * they begin; the number seeds sampling. */
int runner_begin(Runner *r);
/* The same with the sentence number given, so that a sentence samples the same words whichever
 * process or order runs it (proact eval splits sentences over ranks). */
int runner_begin_sentence(Runner *r, uint64_t sentence);
/* Queues one source word (len bytes of UTF-8, no whitespace inside; leading/trailing whitespace is
 * trimmed, an empty word is ignored). The runner reads it when its head asks for more source. */
int runner_push_word(Runner *r, const char *word, size_t len);
/* Says that no more source words will come for this sentence. */
int runner_end_source(Runner *r);

/* Advances the stream: returns RUNNER_WORD (and fills *w) when a target word is written,
 * RUNNER_NEED_SOURCE when the head wants to read but no queued word is left, RUNNER_DONE when the
 * sentence is finished (tgt_end after the whole source, or a limit), -1 on error (px_error). */
int runner_step(Runner *r, RunnerWord *w);

/* Counters of the current sentence. */
typedef struct {
    int words_pushed, words_read, words_written;
    int src_tokens, tgt_tokens; /* in the caches */
    int64_t tokens_decoded;     /* target tokens fed (refeeds included) */
    int64_t tokens_encoded;     /* source tokens fed */
    int stopped_by_limit;       /* 1 if a limit ended the sentence (max_lead_words, max_tokens) */
    const char *limit;          /* which one */
} RunnerStats;
void runner_stats(const Runner *r, RunnerStats *s);

/* For the tests: the target tokens fed so far and, per token, the source tokens it saw at its
 * last feed; the source tokens. Pointers valid until the next runner call. */
void runner_debug_rows(const Runner *r, const int **tgt_ids, const int **tgt_vis, int *n_tgt, const int **src_ids,
                       int *n_src);

#endif
