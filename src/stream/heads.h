/* heads.h — plug-and-play decision heads (docs/design.md §2.5): READ or WRITE from the model's own cues.
 *
 * A head is chosen at run time by a spec string:
 *   entropy:TAU      WRITE if the next-token entropy H (nats) <= TAU
 *   maxprob:P        WRITE if the largest next-token probability >= P
 *   attn:W:TAU       READ if the attention mass on the newest W source tokens > TAU
 *   probe:P          WRITE if sigmoid(w . standardize(x) + b) >= P, x = probe_features.h's list
 *   waitk:K          WRITE target word j once min(K + j - 1, n + 1) source units are read
 *   chunk:C          read C words, write C words: g(j) = min(C * ceil(j / C), n + 1)
 *   offline          read everything first
 * followed by optional "/min-lag=L" (never write word j before L + j - 1 source words: a latency
 * floor) and "/max-lag=L" (always write once L + j - 1 source words are read: a ceiling).
 * Whatever the head says, once the whole source (with its end marker) is read every head writes.
 */
#ifndef PROACT_HEADS_H
#define PROACT_HEADS_H

typedef enum { HEAD_ENTROPY = 0, HEAD_MAXPROB, HEAD_ATTN, HEAD_PROBE, HEAD_WAITK, HEAD_CHUNK, HEAD_OFFLINE } HeadKind;

typedef struct {
    HeadKind kind;
    float threshold;      /* TAU or P */
    int k;                /* waitk K, chunk C, attn W (tokens) */
    int min_lag, max_lag; /* 0 = none */
    char spec[96];        /* the spec as given (normalized) */
} HeadSpec;

/* Parses a spec; -1 with px_error naming the spec and what is wrong. */
int head_parse(const char *spec, HeadSpec *out);
/* "entropy:TAU, maxprob:P, ..." for help and error messages. */
const char *head_spec_help(void);

/* The cues of one decision row. */
typedef struct {
    float entropy;       /* H, nats */
    float maxprob;       /* pmax */
    float attn_front;    /* mass on the newest w source tokens, mean over the chosen layers and heads */
    const float *hidden; /* [d] final hidden state (after the final norm) */
    /* where the stream is (cues_set_position): source units read, target words written before
     * the decision, and their difference, the lag (wait-k states have lag k) */
    float words_read, words_written, lag;
} Cues;

/* The position cues of the decision on target word j (1-based) with `units_read` source units read. */
static inline void cues_set_position(Cues *c, int units_read, int word_index) {
    c->words_read = (float)units_read;
    c->words_written = (float)(word_index - 1);
    c->lag = (float)(units_read - (word_index - 1));
}

/* w of A_front (newest source tokens) when neither the head (attn:W) nor the probe sets it. */
#define CUE_ATTN_WINDOW_DEFAULT 4

/* A linear probe over x = [h; H; pmax; A_front; read; lag] (dim = probe_feature_dim(d): the list and its order are
 * probe_features.h's), standardized feature-wise. */
typedef struct {
    int dim;
    float *w, *mean, *scale; /* [dim] each; x_std = (x - mean) / scale */
    float bias;
    int attn_window; /* w of the A_front feature the probe was fitted with */
} Probe;

void probe_free(Probe *p);
/* sigmoid(w . x_std + b) */
double probe_score(const Probe *p, const Cues *c);

/* Where the stream is when the next target word (1-based index j) is to be decided. */
typedef struct {
    int word_index;  /* j: the word that would be written */
    int units_read;  /* source units read: words, plus 1 once the end marker is read */
    int source_done; /* every unit (n words + end marker) has been read */
} HeadState;

/* 1 = WRITE, 0 = READ. probe may be NULL unless kind == HEAD_PROBE. */
int head_decide(const HeadSpec *h, const Probe *probe, const Cues *c, const HeadState *st);
/* Whether a WRITE is owed to a schedule (a fixed head, or the max-lag ceiling) rather than to the
 * cues: then the runner writes even if the model predicts the end of the output early. */
int head_forced_write(const HeadSpec *h, const HeadState *st);
/* Whether the head reads cues (fixed baselines do not; the runner skips computing them). */
int head_uses_cues(const HeadSpec *h);

#endif
