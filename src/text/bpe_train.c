/* bpe_train.c — byte-level BPE training (see bpe_train.h for the recipe, ids and ties).
 *
 * Counting: every distinct word (a byte string) is interned in a string table with its count.
 *
 * Training keeps, for every adjacent pair of symbols, its count (summed over words, weighted by
 * word count) and the list of words it occurs in ("where"). A max-heap orders the pairs by
 * (count desc, left id asc, right id asc). Merging pair (a,b) into n visits only the words in
 * where[(a,b)], rewrites them in place, and adjusts the counts of the neighbouring pairs:
 *
 *     x a b y  ->  x n y:   (x,a) -c  (a,b) -c  (b,y) -c   (x,n) +c  (n,y) +c
 *
 * Counts of existing pairs only fall, so their heap entries are fixed lazily: an entry whose
 * count is stale is pushed back with the current count when it reaches the top. Pairs whose
 * count rises (those with n) get a fresh heap entry after each merge.
 */
#include "src/text/bpe_train.h"

#include <stdlib.h>
#include <string.h>

#include "src/base/common.h"
#include "src/base/hashmap.h"
#include "src/base/heap.h"
#include "src/base/strtab.h"
#include "src/base/vec.h"
#include "src/text/bytelevel.h"
#include "src/text/tokenizer.h"

const char *const BPE_SPECIAL_TOKENS[BPE_N_SPECIAL] = {"<pad>", "<src>", "</src>", "<tgt>", "</tgt>", "<|endoftext|>"};

size_t bpe_bytes_to_unicode(const uint8_t *bytes, size_t len, char *out) { return bytelevel_encode(bytes, len, out); }

/* ---- the trainer: counting words ---------------------------------------------------------- */

struct BpeTrainer {
    StrTab words;
    int64_t *counts; /* [words.n] */
    size_t counts_cap;
    Tokenizer *pre; /* the encoder's pre-tokenizer, set up as tokenizer_write_json describes it */
    BpeTrainerStats stats;
};

/* The pre-tokenizer of the tokenizer.json that io/tokenizer_write.c writes: normalizer NFC,
 * the special tokens as added tokens (normalized false), Split(BPE_SPLIT_REGEX, Isolated), then
 * ByteLevel without prefix space or regex. */
static Tokenizer *new_pretokenizer(void) {
    Tokenizer *t = tokenizer_new("the BPE trainer's pre-tokenizer");
    if (!t) return NULL;
    tokenizer_set_nfc(t, 1);
    int rc = 0;
    for (int k = 0; k < BPE_N_SPECIAL && rc == 0; k++) {
        TokenizerAddedToken a = {
            .content = BPE_SPECIAL_TOKENS[k], .len = strlen(BPE_SPECIAL_TOKENS[k]), .id = k, .special = 1};
        rc = tokenizer_add_added_token(t, &a);
    }
    if (rc == 0) rc = tokenizer_add_split(t, BPE_SPLIT_REGEX, strlen(BPE_SPLIT_REGEX), 1, "BPE_SPLIT_REGEX");
    tokenizer_set_byte_level(t, 0, 0);
    if (rc == 0) rc = tokenizer_finish_pretokenizer(t);
    if (rc) {
        tokenizer_free(t);
        return NULL;
    }
    return t;
}

BpeTrainer *bpe_trainer_new(void) {
    BpeTrainer *tr = px_calloc(1, sizeof *tr, "BPE trainer");
    if (!tr) return NULL;
    tr->pre = new_pretokenizer();
    if (!tr->pre) {
        bpe_trainer_free(tr);
        return NULL;
    }
    return tr;
}

void bpe_trainer_free(BpeTrainer *tr) {
    if (!tr) return;
    strtab_free(&tr->words);
    free(tr->counts);
    tokenizer_free(tr->pre);
    free(tr);
}

BpeTrainerStats bpe_trainer_stats(const BpeTrainer *tr) {
    BpeTrainerStats s = tr->stats;
    s.distinct = (int64_t)tr->words.n;
    return s;
}

static int count_word(BpeTrainer *tr, const uint8_t *p, size_t n) {
    if (n == 0) return 0;
    int added;
    long i = strtab_intern(&tr->words, p, n, 0, &added);
    if (i < 0) return -1;
    if (added) {
        if (VEC_RESERVE(tr->counts, tr->counts_cap, tr->words.n, "word counts")) return -1;
        tr->counts[i] = 0;
    }
    tr->counts[i]++;
    tr->stats.pieces++;
    return 0;
}

/* The pre-tokenizer's output: a piece is a word; a special token only counts as one. */
static int count_piece(const char *piece, size_t len, int added_id, void *ctx) {
    BpeTrainer *tr = ctx;
    if (added_id >= 0) {
        tr->stats.specials++;
        return 0;
    }
    return count_word(tr, (const uint8_t *)piece, len);
}

int bpe_trainer_add_text(BpeTrainer *tr, const char *text, size_t len) {
    tr->stats.texts++;
    tr->stats.bytes += (int64_t)len;
    size_t replaced = 0;
    int rc = tokenizer_pretokenize(tr->pre, text, len, count_piece, tr, &replaced);
    tr->stats.replaced += (int64_t)replaced;
    return rc;
}

/* ---- training ----------------------------------------------------------------------------- */

typedef struct { /* 32-bit counts: a Pair is 40 bytes, and there are millions */
    int32_t *w;
    uint32_t n, cap;
} WordList;

typedef struct {
    int32_t a, b;
    int64_t count;
    WordList where; /* the words it occurs in (may hold words that no longer have it) */
    uint32_t stamp; /* the last merge that raised its count */
} Pair;

typedef struct { /* every pair that ever occurred, found by (a,b) through map */
    Pair *p;
    size_t n, cap;
    HashMap map;
} PairTable;

typedef struct {
    int64_t count;
    int32_t a, b;
} HeapItem;

typedef struct {
    int64_t count;
    size_t off;     /* into Run.sym */
    uint32_t len;   /* current number of symbols */
    uint32_t stamp; /* the last merge that rewrote it */
} Word;

static uint64_t pair_hash(int32_t a, int32_t b) { return hash_u64((uint64_t)(uint32_t)a << 32 | (uint32_t)b); }

static void pairs_free(PairTable *t) {
    for (size_t i = 0; i < t->n; i++) free(t->p[i].where.w);
    free(t->p);
    hashmap_free(&t->map);
    memset(t, 0, sizeof *t);
}

/* The index of (a,b), or -1 if it never occurred. */
static int32_t pairs_find(const PairTable *t, int32_t a, int32_t b) {
    HashProbe p = hashmap_probe(&t->map, pair_hash(a, b));
    for (uint32_t i; hashmap_next(&t->map, &p, &i);)
        if (t->p[i].a == a && t->p[i].b == b) return (int32_t)i;
    return -1;
}

/* The index of (a,b), added with count 0 if new; -1 on failure. */
static int32_t pairs_get(PairTable *t, int32_t a, int32_t b) {
    HashProbe p = hashmap_probe(&t->map, pair_hash(a, b));
    for (uint32_t i; hashmap_next(&t->map, &p, &i);)
        if (t->p[i].a == a && t->p[i].b == b) return (int32_t)i;
    if (t->n >= INT32_MAX) return px_error("too many distinct symbol pairs");
    if (VEC_RESERVE(t->p, t->cap, t->n + 1, "symbol pairs") || hashmap_insert(&t->map, &p, (uint32_t)t->n)) return -1;
    t->p[t->n] = (Pair){.a = a, .b = b};
    return (int32_t)t->n++;
}

static int wordlist_add(WordList *l, int32_t w) {
    if (l->n > 0 && l->w[l->n - 1] == w) return 0; /* a word's occurrences come one after another */
    if (l->n == l->cap) {
        if (l->cap >= UINT32_MAX / 2) return px_error("a symbol pair occurs in too many words");
        size_t cap = l->cap;
        if (vec_reserve(&l->w, &cap, (size_t)l->n + 1, sizeof *l->w, "pair word lists")) return -1;
        l->cap = (uint32_t)cap;
    }
    l->w[l->n++] = w;
    return 0;
}

/* x comes out of the heap before y: larger count, then smaller left id, then smaller right id. */
static int heap_better(const void *px, const void *py) {
    const HeapItem *x = px, *y = py;
    if (x->count != y->count) return x->count > y->count;
    if (x->a != y->a) return x->a < y->a;
    return x->b < y->b;
}

HEAP_DEFINE(pair_heap, HeapItem, heap_better)

/* Everything one training run works on. */
typedef struct {
    Word *words;
    size_t n_words;
    int32_t *sym; /* the words' symbols back to back */
    PairTable pairs;
    Heap heap;
    StrTab tokens;    /* token bytes -> id (specials verbatim, then the bytes, then merges) */
    int32_t *touched; /* pairs whose count rose in this merge */
    size_t n_touched, cap_touched;
    uint8_t *scratch;
    size_t cap_scratch;
    size_t cap_merges[3]; /* capacities of BpeResult.merges, merge_ids, merge_counts */
} Run;

static void run_free(Run *r) {
    free(r->words);
    free(r->sym);
    pairs_free(&r->pairs);
    heap_free(&r->heap);
    strtab_free(&r->tokens);
    free(r->touched);
    free(r->scratch);
}

/* Adds c > 0 to pair (x,y), a pair with the new symbol, which now occurs in word w. */
static int pair_rise(Run *r, int32_t x, int32_t y, int64_t c, int32_t w, uint32_t stamp) {
    int32_t i = pairs_get(&r->pairs, x, y);
    if (i < 0) return -1;
    Pair *p = &r->pairs.p[i];
    p->count += c;
    if (wordlist_add(&p->where, w)) return -1;
    if (p->stamp != stamp) {
        p->stamp = stamp;
        if (VEC_PUSH(r->touched, r->n_touched, r->cap_touched, i, "touched pairs")) return -1;
    }
    return 0;
}

static void pair_fall(Run *r, int32_t x, int32_t y, int64_t c) {
    int32_t i = pairs_find(&r->pairs, x, y);
    if (i >= 0) r->pairs.p[i].count -= c; /* always found: every adjacent pair was counted */
}

/* Rewrites word w with every (a,b) (left to right, non-overlapping) replaced by n; p is the pair
 * (a,b) itself. */
static int merge_word(Run *r, int32_t w, int32_t p, int32_t a, int32_t b, int32_t n, uint32_t stamp) {
    Word *wd = &r->words[w];
    int32_t *s = r->sym + wd->off;
    uint32_t len = wd->len, i = 0, o = 0;
    int64_t c = wd->count;
    while (i < len) {
        if (i + 1 < len && s[i] == a && s[i + 1] == b) {
            if (o > 0) { /* the left neighbour as it is now (it may be an n merged just before) */
                pair_fall(r, s[o - 1], a, c);
                if (pair_rise(r, s[o - 1], n, c, w, stamp)) return -1;
            }
            r->pairs.p[p].count -= c;
            if (i + 2 < len) {
                pair_fall(r, b, s[i + 2], c);
                if (pair_rise(r, n, s[i + 2], c, w, stamp)) return -1;
            }
            s[o++] = n;
            i += 2;
        } else {
            s[o++] = s[i++];
        }
    }
    wd->len = o;
    return 0;
}

static int run_setup(Run *r, const BpeTrainer *tr) {
    /* The token table: specials, then the bytes in GPT-2 order. */
    int32_t byte_id[256];
    for (int k = 0; k < BPE_N_SPECIAL; k++)
        if (strtab_intern(&r->tokens, BPE_SPECIAL_TOKENS[k], strlen(BPE_SPECIAL_TOKENS[k]), 0, NULL) < 0) return -1;
    uint8_t order[256];
    bytelevel_order(order);
    for (int k = 0; k < 256; k++) {
        long id = strtab_intern(&r->tokens, &order[k], 1, 0, NULL);
        if (id < 0) return -1;
        byte_id[order[k]] = (int32_t)id;
    }
    /* The words as symbol sequences. */
    const StrTab *wt = &tr->words;
    r->n_words = wt->n;
    r->words = px_calloc(wt->n, sizeof *r->words, "BPE words");
    r->sym = px_calloc(wt->nbytes, sizeof *r->sym, "BPE word symbols");
    if (!r->words || !r->sym) return -1;
    for (size_t w = 0; w < wt->n; w++) {
        const StrTabEntry *e = &wt->e[w];
        r->words[w] = (Word){.count = tr->counts[w], .off = e->off, .len = e->len};
        const uint8_t *p = (const uint8_t *)wt->bytes + e->off;
        for (uint32_t k = 0; k < e->len; k++) r->sym[e->off + k] = byte_id[p[k]];
    }
    /* Initial pair counts, word lists and the heap. */
    if (hashmap_reserve(&r->pairs.map, 1 << 15)) return -1;
    for (size_t w = 0; w < r->n_words; w++) {
        const int32_t *s = r->sym + r->words[w].off;
        for (uint32_t k = 0; k + 1 < r->words[w].len; k++) {
            int32_t i = pairs_get(&r->pairs, s[k], s[k + 1]);
            if (i < 0) return -1;
            r->pairs.p[i].count += r->words[w].count;
            if (wordlist_add(&r->pairs.p[i].where, (int32_t)w)) return -1;
        }
    }
    if (heap_reserve(&r->heap, r->pairs.n, sizeof(HeapItem))) return -1;
    for (size_t i = 0; i < r->pairs.n; i++) {
        HeapItem it = {r->pairs.p[i].count, r->pairs.p[i].a, r->pairs.p[i].b};
        if (pair_heap_append(&r->heap, &it)) return -1;
    }
    pair_heap_order(&r->heap);
    return 0;
}

static int record_merge(Run *r, BpeResult *out, int32_t a, int32_t b, int32_t n, int64_t count) {
    size_t m = (size_t)out->n_merges;
    if (m >= INT32_MAX) return px_error("too many merges");
    if (VEC_RESERVE(out->merges, r->cap_merges[0], 2 * (m + 1), "merges") ||
        VEC_RESERVE(out->merge_ids, r->cap_merges[1], m + 1, "merges") ||
        VEC_RESERVE(out->merge_counts, r->cap_merges[2], m + 1, "merges"))
        return -1;
    out->merges[2 * m] = a;
    out->merges[2 * m + 1] = b;
    out->merge_ids[m] = n;
    out->merge_counts[m] = count;
    out->n_merges++;
    return 0;
}

/* One merge: the best pair (a,b) with the given count becomes a token, and every word that
 * holds it is rewritten. */
static int do_merge(Run *r, BpeResult *out, int32_t p, uint32_t stamp) {
    int32_t a = r->pairs.p[p].a, b = r->pairs.p[p].b;
    /* The new token: the concatenation of the pair's byte strings (maybe an existing token). */
    size_t la = r->tokens.e[a].len, lb = r->tokens.e[b].len;
    if (VEC_RESERVE(r->scratch, r->cap_scratch, la + lb, "token bytes")) return -1;
    memcpy(r->scratch, strtab_str(&r->tokens, (size_t)a), la);
    memcpy(r->scratch + la, strtab_str(&r->tokens, (size_t)b), lb);
    long n = strtab_intern(&r->tokens, r->scratch, la + lb, 0, NULL);
    if (n < 0) return -1;
    if (record_merge(r, out, a, b, n, r->pairs.p[p].count)) return -1;

    /* The pair's word list is taken out of the table: the pairs that gain words all contain n,
     * so nothing is added to it while we walk it. */
    WordList wl = r->pairs.p[p].where;
    r->pairs.p[p].where = (WordList){0};
    r->n_touched = 0;
    int rc = 0;
    for (uint32_t k = 0; k < wl.n && rc == 0; k++) {
        int32_t w = wl.w[k];
        if (r->words[w].stamp == stamp) continue; /* listed twice */
        r->words[w].stamp = stamp;
        rc = merge_word(r, w, p, a, b, n, stamp);
    }
    free(wl.w);
    for (size_t k = 0; k < r->n_touched && rc == 0; k++) {
        const Pair *q = &r->pairs.p[r->touched[k]];
        HeapItem it = {q->count, q->a, q->b};
        if (q->count > 0) rc = pair_heap_push(&r->heap, &it);
    }
    return rc;
}

/* Copies the run's tokens into *out. */
static int fill_tokens(const Run *r, BpeResult *out) {
    out->n_special = BPE_N_SPECIAL;
    out->tokens = px_calloc(r->tokens.n, sizeof *out->tokens, "token strings");
    if (!out->tokens) return -1;
    out->n_tokens = (int)r->tokens.n;
    for (size_t i = 0; i < r->tokens.n; i++) {
        const uint8_t *p = (const uint8_t *)strtab_str(&r->tokens, i);
        size_t len = r->tokens.e[i].len;
        out->tokens[i] = malloc(2 * len + 1);
        if (!out->tokens[i]) return px_error("out of memory: token strings");
        if (i < BPE_N_SPECIAL) {
            memcpy(out->tokens[i], p, len);
            out->tokens[i][len] = '\0';
        } else {
            bytelevel_encode(p, len, out->tokens[i]);
        }
    }
    return 0;
}

int bpe_trainer_train(const BpeTrainer *tr, const BpeTrainParams *params, BpeResult *out) {
    memset(out, 0, sizeof *out);
    if (params->vocab_size < BPE_MIN_VOCAB)
        return px_error("vocab_size %d is below the minimum %d (%d special tokens + 256 bytes)", params->vocab_size,
                        BPE_MIN_VOCAB, BPE_N_SPECIAL);
    if (params->min_frequency < 1)
        return px_error("min_frequency %lld must be at least 1", (long long)params->min_frequency);
    Run r = {0};
    int rc = run_setup(&r, tr);
    uint32_t stamp = 0;
    while (rc == 0 && (int)r.tokens.n < params->vocab_size && r.heap.n > 0) {
        HeapItem top;
        pair_heap_pop(&r.heap, &top);
        int32_t p = pairs_find(&r.pairs, top.a, top.b);
        int64_t cur = r.pairs.p[p].count;
        if (cur != top.count) { /* stale: counts of existing pairs only fall */
            HeapItem again = {cur, top.a, top.b};
            if (cur > 0 && cur < top.count) rc = pair_heap_push(&r.heap, &again);
            continue;
        }
        if (cur < params->min_frequency) break;
        rc = do_merge(&r, out, p, ++stamp);
        if (rc == 0 && params->progress)
            params->progress(out->n_merges, (int)r.tokens.n, params->vocab_size, cur, params->progress_ctx);
    }
    if (rc == 0) rc = fill_tokens(&r, out);
    run_free(&r);
    if (rc) bpe_result_free(out);
    return rc;
}

void bpe_result_free(BpeResult *r) {
    if (r->tokens)
        for (int i = 0; i < r->n_tokens; i++) free(r->tokens[i]);
    free(r->tokens);
    free(r->merges);
    free(r->merge_ids);
    free(r->merge_counts);
    memset(r, 0, sizeof *r);
}
