/* tokenizer.c — byte-level BPE compatible with Hugging Face tokenizer.json.
 *
 * The reference is the npm package @huggingface/tokenizers (tokenizers.js): for every input it
 * must give the same ids. tokenizer_encode runs the same pipeline:
 *
 *   bytes ─ invalid UTF-8 → U+FFFD (WHATWG, as Node's TextDecoder)
 *         ─ split out added tokens matched on the raw text (longest match, left to right)
 *         ─ NFC (utf8proc) of each remaining section
 *         ─ split out added tokens matched on the normalized text
 *         ─ Split regexes (Oniguruma syntax translated to PCRE2 as tokenizers.js translates
 *           it to JavaScript), behaviour Isolated: matches and the gaps between them are pieces
 *         ─ ByteLevel: optional prefix space, optional GPT-2 regex, bytes as GPT-2 characters
 *         ─ BPE: merge the adjacent pair of lowest rank (leftmost on ties) until none applies
 *         ─ ids (pieces are cached: piece bytes → ids)
 *
 * Everything before BPE is the pre-tokenizer (src/text/pretokenizer.c, its regexes translated by
 * src/text/pretokenizer_regex.c): it hands pieces and added tokens to a sink, which for
 * tokenizer_encode is BPE (this file) and for tokenizer_pretokenize the caller (the BPE trainer,
 * so that it learns its merges on exactly the pieces the encoder will see). The Tokenizer's
 * fields are in src/text/tokenizer_internal.h, shared by the two. UTF-8 handling is
 * src/base/utf8.c, the byte ↔ character map src/text/bytelevel.c.
 *
 * Strings are byte strings throughout: every symbol BPE can produce (the 256 byte characters
 * and the results of the merges) is interned once at load time, so the merge table is keyed
 * by pairs of small integers and the hot path does no string work.
 */
#include "src/text/tokenizer.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/base/common.h"
#include "src/base/hashmap.h"
#include "src/base/heap.h"
#include "src/base/strtab.h"
#include "src/base/utf8.h"
#include "src/base/vec.h"
#include "src/text/bytelevel.h"
#include "src/text/tokenizer_internal.h"

#define MAX_TOKEN_ID (1 << 28)       /* ids above this are surely a broken file */
#define CACHE_MAX_PIECE 256          /* longer pieces are not cached */
#define CACHE_MAX_ENTRIES (1u << 18) /* the piece cache is emptied when it grows past this */
#define DEAD_SYM UINT32_MAX

/* ───────────────────────── token ids ───────────────────────── */

static int idvec_append(IdVec *v, const int32_t *ids, size_t n) {
    if (n > (size_t)(INT_MAX - v->n)) return px_error("more than %d token ids in one run", INT_MAX);
    if (vec_reserve(&v->ids, &v->cap, (size_t)v->n + n, sizeof(int), "token ids")) return -1;
    for (size_t i = 0; i < n; i++) v->ids[(size_t)v->n + i] = ids[i];
    v->n += (int)n;
    return 0;
}

int idvec_push(IdVec *v, int id) { return idvec_append(v, &id, 1); }

void idvec_free(IdVec *v) {
    free(v->ids);
    v->ids = NULL;
    v->n = 0;
    v->cap = 0;
}

/* ───────────────────────── maps ───────────────────────── */

/* Sets key s to val in a string table (insert or overwrite: later entries win, as in a
 * JavaScript Map). */
static int strtab_set(StrTab *m, const char *s, size_t len, int32_t val) {
    long e = strtab_intern(m, s, len, val, NULL);
    if (e < 0) return -1;
    m->e[e].val = val;
    return 0;
}

static uint64_t merge_hash(uint32_t a, uint32_t b) { return hash_u64((uint64_t)a << 32 | b); }

static const Merge *merges_find(const MergeTable *t, uint32_t a, uint32_t b) {
    HashProbe p = hashmap_probe(&t->map, merge_hash(a, b));
    for (uint32_t i; hashmap_next(&t->map, &p, &i);)
        if (t->m[i].a == a && t->m[i].b == b) return &t->m[i];
    return NULL;
}

/* Inserts or overwrites (a later duplicate merge takes the later rank, as in tokenizers.js). */
static int merges_set(MergeTable *t, uint32_t a, uint32_t b, uint32_t rank, uint32_t merged) {
    HashProbe p = hashmap_probe(&t->map, merge_hash(a, b));
    for (uint32_t i; hashmap_next(&t->map, &p, &i);)
        if (t->m[i].a == a && t->m[i].b == b) {
            t->m[i] = (Merge){a, b, rank, merged};
            return 0;
        }
    if (VEC_RESERVE(t->m, t->cap, t->n + 1, "the merge table") || hashmap_insert(&t->map, &p, (uint32_t)t->n))
        return -1;
    t->m[t->n++] = (Merge){a, b, rank, merged};
    return 0;
}

/* ───────────────────────── the tokenizer ───────────────────────── */

/* Lowest rank first, then leftmost. */
static int heap_less(const void *a, const void *b) { return ((const HeapEnt *)a)->key < ((const HeapEnt *)b)->key; }
HEAP_DEFINE(merge_heap, HeapEnt, heap_less)

Tokenizer *tokenizer_new(const char *origin) {
    Tokenizer *t = px_calloc(1, sizeof *t, "a tokenizer");
    if (!t) return NULL;
    t->origin = strdup(origin ? origin : "tokenizer");
    t->work = px_calloc(1, sizeof *t->work, "tokenizer scratch space");
    if (!t->origin || !t->work) {
        px_error("out of memory creating a tokenizer");
        tokenizer_free(t);
        return NULL;
    }
    t->unk_id = -1;
    return t;
}

static void work_free(Work *w) {
    if (!w) return;
    free(w->clean.s);
    free(w->norm.s);
    free(w->prefixed.s);
    free(w->bl.s);
    free(w->spans[0]);
    free(w->spans[1]);
    free(w->ucs);
    free(w->sym);
    free(w->nxt);
    free(w->prv);
    heap_free(&w->heap);
    free(w->ids);
    strtab_free(&w->cache);
    free(w->cache_ids);
    pcre2_match_context_free(w->mctx);
    pcre2_jit_stack_free(w->jit_stack);
    free(w);
}

void tokenizer_free(Tokenizer *t) {
    if (!t) return;
    strtab_free(&t->vocab);
    free(t->merge_text.s);
    free(t->added);
    free(t->added_text.s);
    free(t->unk.s);
    for (int i = 0; i < t->n_splits; i++) pretok_regex_free(&t->splits[i]);
    pretok_regex_free(&t->gpt2);
    strtab_free(&t->tok);
    strtab_free(&t->added_map);
    free(t->raw_set.cand);
    free(t->norm_set.cand);
    free(t->id_token);
    free(t->id_len);
    free(t->id_flags);
    strtab_free(&t->syms);
    free(t->sym_out);
    free(t->merges.m);
    hashmap_free(&t->merges.map);
    work_free(t->work);
    free(t->origin);
    free(t);
}

/* ───────────────────────── building ───────────────────────── */

static int check_id(const Tokenizer *t, int id, const char *what, const char *tok, size_t len) {
    if (id < 0 || id >= MAX_TOKEN_ID)
        return px_error("%s: %s '%.*s' has id %d, outside 0..%d", t->origin, what, (int)PX_MIN(len, 60), tok, id,
                        MAX_TOKEN_ID - 1);
    return 0;
}

int tokenizer_add_vocab(Tokenizer *t, const char *token, size_t len, int id) {
    if (check_id(t, id, "vocabulary token", token, len)) return -1;
    return strtab_set(&t->vocab, token, len, id);
}

int tokenizer_add_merge(Tokenizer *t, const char *left, size_t left_len, const char *right, size_t right_len) {
    if (!left_len || !right_len || memchr(left, 0, left_len) || memchr(right, 0, right_len))
        return px_error("%s: merge %zu has an empty token or a NUL (field model.merges[%zu])", t->origin, t->n_merges,
                        t->n_merges);
    char zero = '\0'; /* the list is stored NUL-separated */
    if (strbuf_put(&t->merge_text, left, left_len) || strbuf_put(&t->merge_text, &zero, 1) ||
        strbuf_put(&t->merge_text, right, right_len) || strbuf_put(&t->merge_text, &zero, 1))
        return -1;
    t->n_merges++;
    return 0;
}

int tokenizer_add_added_token(Tokenizer *t, const TokenizerAddedToken *a) {
    if (check_id(t, a->id, "added token", a->content, a->len)) return -1;
    if (a->len == 0) return px_error("%s: an added token (id %d) has empty content", t->origin, a->id);
    if (vec_reserve(&t->added, &t->cap_added, t->n_added + 1, sizeof *t->added, "added tokens")) return -1;
    AddedTok *d = &t->added[t->n_added];
    *d = (AddedTok){.off = t->added_text.n,
                    .len = a->len,
                    .id = a->id,
                    .single_word = !!a->single_word,
                    .lstrip = !!a->lstrip,
                    .rstrip = !!a->rstrip,
                    .normalized = !!a->normalized,
                    .special = !!a->special};
    char zero = '\0';
    if (strbuf_put(&t->added_text, a->content, a->len) || strbuf_put(&t->added_text, &zero, 1)) return -1;
    t->n_added++;
    return 0;
}

int tokenizer_set_unk_token(Tokenizer *t, const char *token, size_t len) {
    t->unk.n = 0;
    t->has_unk = 1;
    return strbuf_put(&t->unk, token, len);
}

void tokenizer_set_ignore_merges(Tokenizer *t, int on) { t->ignore_merges = !!on; }
void tokenizer_set_nfc(Tokenizer *t, int on) { t->nfc = !!on; }

void tokenizer_set_byte_level(Tokenizer *t, int add_prefix_space, int use_regex) {
    t->has_byte_level = 1;
    t->add_prefix_space = !!add_prefix_space;
    t->use_regex = !!use_regex;
}

/* ───────────────────────── finishing the tables ───────────────────────── */

/* Longest-first candidate lists per first byte for the added tokens with `normalized_set`. */
static int build_added_set(Tokenizer *t, AddedSet *set, int normalized_set) {
    size_t n = 0;
    uint32_t *idx = px_calloc(t->n_added, sizeof *idx, "added token index");
    if (!idx) return -1;
    for (size_t i = 0; i < t->n_added; i++)
        if ((t->added[i].normalized && t->nfc) == normalized_set) idx[n++] = (uint32_t)i;
    /* insertion sort by (first byte, length descending): few tokens, done once */
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0; j--) {
            const AddedTok *a = &t->added[idx[j - 1]], *b = &t->added[idx[j]];
            const char *as = t->added_text.s + a->noff, *bs = t->added_text.s + b->noff;
            int ka = (unsigned char)as[0], kb = (unsigned char)bs[0];
            if (ka < kb || (ka == kb && a->nlen >= b->nlen)) break;
            uint32_t tmp = idx[j];
            idx[j] = idx[j - 1];
            idx[j - 1] = tmp;
        }
    memset(set->start, 0, sizeof set->start);
    for (size_t i = 0; i < n; i++) set->start[(unsigned char)t->added_text.s[t->added[idx[i]].noff] + 1]++;
    for (int b = 0; b < 256; b++) set->start[b + 1] += set->start[b];
    set->cand = idx;
    return 0;
}

/* Normalized contents (NFC for normalized tokens when the normalizer is NFC), and the maps of
 * tokenizers.js: tokens_to_ids (vocab with added contents over it) and added_tokens_map
 * (content, then normalized content, later tokens overwriting earlier ones). */
static int build_added(Tokenizer *t) {
    for (size_t e = 0; e < t->vocab.n; e++)
        if (strtab_set(&t->tok, strtab_str(&t->vocab, e), t->vocab.e[e].len, t->vocab.e[e].val)) return -1;
    for (size_t i = 0; i < t->n_added; i++) {
        AddedTok *a = &t->added[i];
        a->noff = a->off, a->nlen = a->len;
        if (a->normalized && t->nfc) {
            if (pretok_nfc(t->work, t->added_text.s + a->off, a->len, &t->work->norm)) return -1;
            a->noff = t->added_text.n;
            a->nlen = t->work->norm.n;
            char zero = '\0';
            if (t->work->norm.n == 0) return px_error("%s: added token %d normalizes to nothing", t->origin, a->id);
            if (strbuf_put(&t->added_text, t->work->norm.s, t->work->norm.n) || strbuf_put(&t->added_text, &zero, 1))
                return -1;
        }
        const char *content = t->added_text.s + a->off, *norm = t->added_text.s + a->noff;
        if (strtab_set(&t->tok, content, a->len, a->id) || strtab_set(&t->added_map, content, a->len, (int32_t)i))
            return -1;
        if (a->normalized && t->nfc && strtab_set(&t->added_map, norm, a->nlen, (int32_t)i)) return -1;
    }
    return build_added_set(t, &t->raw_set, 0) || build_added_set(t, &t->norm_set, 1);
}

/* id → token string (vocab, then added contents over it) and the decoder's flags. */
static int build_id_table(Tokenizer *t) {
    int n = 0;
    for (size_t e = 0; e < t->vocab.n; e++) n = PX_MAX(n, t->vocab.e[e].val + 1);
    for (size_t i = 0; i < t->n_added; i++) n = PX_MAX(n, t->added[i].id + 1);
    t->n_ids = n;
    t->id_token = px_calloc((size_t)n, sizeof *t->id_token, "the id table");
    t->id_len = px_calloc((size_t)n, sizeof *t->id_len, "the id table");
    t->id_flags = px_calloc((size_t)n, 1, "the id table");
    if (!t->id_token || !t->id_len || !t->id_flags) return -1;
    for (size_t e = 0; e < t->vocab.n; e++) {
        int id = t->vocab.e[e].val;
        t->id_token[id] = t->vocab.bytes + t->vocab.e[e].off;
        t->id_len[id] = t->vocab.e[e].len;
    }
    for (size_t i = 0; i < t->n_added; i++) {
        const AddedTok *a = &t->added[i];
        t->id_token[a->id] = t->added_text.s + a->off;
        t->id_len[a->id] = (uint32_t)a->len;
    }
    /* the decoder looks token strings up among the added contents: content → flags */
    StrTab contents = {0};
    int rc = 0;
    for (size_t i = 0; i < t->n_added && rc == 0; i++) {
        const AddedTok *a = &t->added[i];
        long e = strtab_intern(&contents, t->added_text.s + a->off, a->len, 0, NULL);
        if (e < 0) rc = -1;
        else contents.e[e].val |= ID_ADDED | (a->special ? ID_SPECIAL : 0);
    }
    for (int id = 0; id < n && rc == 0; id++) {
        int32_t flags;
        if (t->id_token[id] && strtab_get(&contents, t->id_token[id], t->id_len[id], &flags))
            t->id_flags[id] = (unsigned char)flags;
    }
    strtab_free(&contents);
    return rc;
}

/* The id a token string gets in the output (tokenizers.js: added_tokens_map, then
 * tokens_to_ids), or -1 if it is not in tokens_to_ids (then the unknown token applies). */
static int32_t output_id(const Tokenizer *t, const char *s, size_t len) {
    int32_t id, ai;
    if (!strtab_get(&t->tok, s, len, &id)) return -1;
    if (strtab_get(&t->added_map, s, len, &ai)) return t->added[ai].id;
    return id;
}

static int resolve_unk(Tokenizer *t) {
    if (!t->has_unk) return 0;
    int32_t id, ai;
    if (strtab_get(&t->added_map, t->unk.s, t->unk.n, &ai)) t->unk_id = t->added[ai].id;
    else if (strtab_get(&t->tok, t->unk.s, t->unk.n, &id)) t->unk_id = id;
    else return px_error("%s: unk_token '%s' is not in the vocabulary (field model.unk_token)", t->origin, t->unk.s);
    return 0;
}

/* Interns one merge (rank r): its two parts and their concatenation become symbols. */
static int intern_merge(Tokenizer *t, const char *left, size_t la, const char *right, size_t lb, uint32_t r,
                        StrBuf *joined) {
    joined->n = 0;
    if (strbuf_put(joined, left, la) || strbuf_put(joined, right, lb)) return -1;
    long a = strtab_intern(&t->syms, left, la, 0, NULL), b = strtab_intern(&t->syms, right, lb, 0, NULL);
    long m = strtab_intern(&t->syms, joined->s, joined->n, 0, NULL);
    if (a < 0 || b < 0 || m < 0) return -1;
    return merges_set(&t->merges, (uint32_t)a, (uint32_t)b, r, (uint32_t)m);
}

/* Interns the byte characters and every merge's parts and result as symbols, fills the pair
 * table, and computes each symbol's output id. */
static int build_merges(Tokenizer *t) {
    for (int b = 0; b < 256; b++) {
        char u[2];
        long s = strtab_intern(&t->syms, u, (size_t)bytelevel_utf8((uint8_t)b, u), 0, NULL);
        if (s < 0) return -1;
        t->byte_sym[b] = (uint32_t)s;
    }
    if (hashmap_reserve(&t->merges.map, t->n_merges)) return -1;
    StrBuf joined = {0};
    int rc = 0;
    const char *p = t->merge_text.s;
    for (size_t r = 0; r < t->n_merges && rc == 0; r++) {
        size_t la = strlen(p), lb = strlen(p + la + 1);
        rc = intern_merge(t, p, la, p + la + 1, lb, (uint32_t)r, &joined);
        p += la + lb + 2;
    }
    free(joined.s);
    if (rc) return -1;
    t->sym_out = px_calloc(t->syms.n, sizeof *t->sym_out, "symbol ids");
    if (!t->sym_out) return -1;
    for (size_t s = 0; s < t->syms.n; s++) {
        int32_t id = output_id(t, strtab_str(&t->syms, s), t->syms.e[s].len);
        t->sym_out[s] = id >= 0 ? id : t->unk_id;
    }
    return 0;
}

/* tokenizer_finish with model = 1; tokenizer_finish_pretokenizer with model = 0 (no vocabulary,
 * merges or id table: enough for tokenizer_pretokenize). */
static int finish(Tokenizer *t, int model) {
    if (t->finished) return px_error("%s: tokenizer_finish called twice", t->origin);
    if (!t->has_byte_level) return px_error("%s: the pre-tokenizer has no ByteLevel step", t->origin);
    if (model && t->vocab.n == 0) return px_error("%s: empty vocabulary (field model.vocab)", t->origin);
    if (build_added(t) || (model && (build_id_table(t) || resolve_unk(t) || build_merges(t))) || pretok_finish(t) ||
        hashmap_reserve(&t->work->cache.map, 512))
        return -1;
    t->finished = 1;
    t->has_model = model;
    return 0;
}

int tokenizer_finish(Tokenizer *t) { return finish(t, 1); }
int tokenizer_finish_pretokenizer(Tokenizer *t) { return finish(t, 0); }

/* ───────────────────────── encoding ───────────────────────── */

/* Cache: piece bytes → ids. */
static int cache_put(Work *w, const char *s, size_t n, uint64_t h, const int32_t *ids, size_t k) {
    if (w->cache.n >= CACHE_MAX_ENTRIES) {
        strtab_clear(&w->cache);
        w->cache_n = 0;
    }
    if (vec_reserve(&w->cache_ids, &w->cache_cap, w->cache_n + k + 1, sizeof(int32_t), "the piece cache")) return -1;
    if (strtab_intern_h(&w->cache, s, n, h, (int32_t)w->cache_n, NULL) < 0) return -1;
    w->cache_ids[w->cache_n] = (int32_t)k;
    if (k) memcpy(w->cache_ids + w->cache_n + 1, ids, k * sizeof(int32_t));
    w->cache_n += k + 1;
    return 0;
}

/* Queues the pair of symbols at positions a and b (adjacent) if a merge exists for it. Ties
 * between equal ranks go to the leftmost pair, as in tokenizers.js (rank + position/len). */
static int push_pair(const Tokenizer *t, Work *w, int32_t a, int32_t b) {
    const Merge *m = merges_find(&t->merges, w->sym[a], w->sym[b]);
    if (!m) return 0;
    HeapEnt e = {
        .key = (uint64_t)m->rank << 32 | (uint32_t)a, .left = w->sym[a], .right = w->sym[b], .merged = m->merged};
    return merge_heap_push(&w->heap, &e);
}

/* Room for a word of n bytes in the symbol arrays. */
static int ensure_word(Work *w, size_t n) {
    if (n <= w->word_cap) return 0;
    size_t cap = PX_MAX(n, 2 * w->word_cap);
    uint32_t *sym = realloc(w->sym, cap * sizeof *sym);
    if (sym) w->sym = sym;
    int32_t *nxt = sym ? realloc(w->nxt, cap * sizeof *nxt) : NULL;
    if (nxt) w->nxt = nxt;
    int32_t *prv = nxt ? realloc(w->prv, cap * sizeof *prv) : NULL;
    if (!prv) return px_error("out of memory in BPE (a piece of %zu bytes)", n);
    w->prv = prv;
    w->word_cap = cap;
    return 0;
}

/* BPE over the bytes of one piece: the output ids go to w->ids. */
static int bpe_word(const Tokenizer *t, const unsigned char *s, size_t n) {
    Work *w = t->work;
    if (n > INT32_MAX / 2) return px_error("a piece of %zu bytes is too long", n);
    if (ensure_word(w, n)) return -1;
    int32_t len = (int32_t)n;
    for (int32_t i = 0; i < len; i++) w->sym[i] = t->byte_sym[s[i]], w->nxt[i] = i + 1, w->prv[i] = i - 1;
    heap_clear(&w->heap);
    for (int32_t i = 0; i + 1 < len; i++)
        if (push_pair(t, w, i, i + 1)) return -1;
    while (w->heap.n) {
        HeapEnt e;
        merge_heap_pop(&w->heap, &e);
        int32_t a = (int32_t)(e.key & 0xFFFFFFFFu), b = w->nxt[a];
        if (w->sym[a] != e.left || b >= len || w->sym[b] != e.right) continue; /* stale */
        w->sym[a] = e.merged;
        w->sym[b] = DEAD_SYM;
        w->nxt[a] = w->nxt[b];
        if (w->nxt[b] < len) w->prv[w->nxt[b]] = a;
        if ((w->prv[a] >= 0 && push_pair(t, w, w->prv[a], a)) || (w->nxt[a] < len && push_pair(t, w, a, w->nxt[a])))
            return -1;
    }
    for (int32_t i = 0; i < len; i = w->nxt[i]) {
        int32_t id = t->sym_out[w->sym[i]];
        if (id < 0) continue; /* not in the vocabulary and no unknown token: dropped */
        if (vec_reserve(&w->ids, &w->ids_cap, w->ids_n + 1, sizeof *w->ids, "token ids")) return -1;
        w->ids[w->ids_n++] = id;
    }
    return 0;
}

/* ignore_merges (Llama 3): a piece that is itself a token is not split. */
static int whole_piece_id(const Tokenizer *t, const unsigned char *s, size_t n, int32_t *id) {
    StrBuf *bl = &t->work->bl;
    if (vec_reserve(&bl->s, &bl->cap, 2 * n + 1, 1, "a tokenizer buffer")) return -1;
    bl->n = bytelevel_encode(s, n, bl->s);
    *id = output_id(t, bl->s, bl->n);
    return 0;
}

/* One ByteLevel piece → ids appended to out (through the cache). */
static int encode_piece(const Tokenizer *t, const char *s, size_t n, IdVec *out) {
    Work *w = t->work;
    uint64_t h = hash_bytes(s, n);
    long e = strtab_find_h(&w->cache, s, n, h);
    if (e >= 0) {
        const int32_t *c = w->cache_ids + w->cache.e[e].val;
        return idvec_append(out, c + 1, (size_t)c[0]);
    }
    w->ids_n = 0;
    int32_t whole = -1;
    if (t->ignore_merges && whole_piece_id(t, (const unsigned char *)s, n, &whole)) return -1;
    if (whole >= 0) {
        if (vec_reserve(&w->ids, &w->ids_cap, 1, sizeof *w->ids, "token ids")) return -1;
        w->ids[w->ids_n++] = whole;
    } else if (bpe_word(t, (const unsigned char *)s, n)) return -1;
    if (n <= CACHE_MAX_PIECE && cache_put(w, s, n, h, w->ids, w->ids_n)) return -1;
    return idvec_append(out, w->ids, w->ids_n);
}

typedef struct {
    const Tokenizer *t;
    IdVec *ids;
} EncodeCtx;

/* tokenizer_encode's sink: an added token is its id, a piece goes through BPE. */
static int encode_sink(const char *s, size_t n, int added_id, void *ctx) {
    const EncodeCtx *e = ctx;
    return added_id >= 0 ? idvec_push(e->ids, added_id) : encode_piece(e->t, s, n, e->ids);
}

int tokenizer_encode(const Tokenizer *t, const char *text, size_t len, IdVec *out) {
    if (!t->finished) return px_error("%s: tokenizer used before tokenizer_finish", t->origin);
    if (!t->has_model) return px_error("%s: a pre-tokenizer only (no model): it cannot encode", t->origin);
    EncodeCtx e = {t, out};
    return pretok_run(t, text, len, encode_sink, &e, NULL);
}

/* ───────────────────────── decoding ───────────────────────── */

/* Appends the bytes of a byte-level token; a token with a character outside the GPT-2 map is
 * copied as it is. */
static int decode_byte_level(const char *tok, size_t len, StrBuf *raw) {
    const unsigned char *s = (const unsigned char *)tok;
    size_t start = raw->n;
    for (size_t i = 0; i < len;) {
        int k = utf8_step(s + i, len - i);
        int byte = k > 0 ? bytelevel_byte(utf8_decode(s + i, k)) : -1;
        if (byte < 0) {
            raw->n = start;
            return strbuf_put(raw, tok, len);
        }
        unsigned char b = (unsigned char)byte;
        if (strbuf_put(raw, &b, 1)) return -1;
        i += (size_t)k;
    }
    return 0;
}

int tokenizer_decode(const Tokenizer *t, const int *ids, size_t n, int skip_special, char **out, size_t *out_len) {
    StrBuf raw = {0}, text = {0};
    int rc = strbuf_puts(&raw, "");
    for (size_t i = 0; i < n && rc == 0; i++) {
        int id = ids[i];
        if (id < 0 || id >= t->n_ids || !t->id_token[id]) {
            rc = px_error("token id %d is not in the vocabulary of %s (size %d)", id, t->origin, t->n_ids);
            break;
        }
        if (skip_special && (t->id_flags[id] & ID_SPECIAL)) continue;
        if (t->id_flags[id] & ID_ADDED) rc = strbuf_put(&raw, t->id_token[id], t->id_len[id]); /* verbatim */
        else rc = decode_byte_level(t->id_token[id], t->id_len[id], &raw);
    }
    if (rc == 0) rc = strbuf_puts(&text, "") || pretok_sanitize(&text, raw.s, raw.n, NULL);
    free(raw.s);
    if (rc) {
        free(text.s);
        return -1;
    }
    *out = text.s;
    *out_len = text.n;
    return 0;
}

/* ───────────────────────── queries ───────────────────────── */

int tokenizer_vocab_size(const Tokenizer *t) { return t->n_ids; }

int tokenizer_token_to_id(const Tokenizer *t, const char *token) {
    int32_t id;
    return strtab_get(&t->tok, token, strlen(token), &id) ? id : -1;
}

void tokenizer_special_ids(const Tokenizer *t, int eos_id, int *bos, int *eos, int *pad) {
    *bos = tokenizer_token_to_id(t, "<|begin_of_text|>");
    if (*bos < 0) *bos = tokenizer_token_to_id(t, "<|endoftext|>");
    *eos = eos_id >= 0 ? eos_id : tokenizer_token_to_id(t, "<|endoftext|>");
    *pad = tokenizer_token_to_id(t, "<pad>");
}

const char *tokenizer_id_to_token(const Tokenizer *t, int id) {
    return id >= 0 && id < t->n_ids ? t->id_token[id] : NULL;
}

/* FNV-1a 64 over a canonical serialization; strings are length-prefixed. */
static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 0x100000001b3ULL;
    return h;
}

static uint64_t fnv_u64(uint64_t h, uint64_t v) {
    unsigned char b[8];
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(v >> (8 * i));
    return fnv(h, b, 8);
}

static uint64_t fnv_str(uint64_t h, const char *s, size_t n) { return fnv(fnv_u64(h, n), s, n); }

typedef struct {
    const char *s;
    uint32_t len;
    int32_t id;
} VocabItem;

/* Orders the vocabulary by (id, token), independent of the order of the JSON object. */
static int vocab_cmp(const void *pa, const void *pb) {
    const VocabItem *a = pa, *b = pb;
    if (a->id != b->id) return a->id < b->id ? -1 : 1;
    int c = memcmp(a->s, b->s, PX_MIN(a->len, b->len));
    return c ? c : (a->len > b->len) - (a->len < b->len);
}

static uint64_t fingerprint_vocab(const Tokenizer *t, uint64_t h) {
    VocabItem *v = malloc((t->vocab.n ? t->vocab.n : 1) * sizeof *v);
    h = fnv_u64(h, t->vocab.n);
    for (size_t i = 0; i < t->vocab.n; i++) {
        const StrTabEntry *e = &t->vocab.e[i];
        VocabItem it = {t->vocab.bytes + e->off, e->len, e->val};
        if (v) v[i] = it;
        else h = fnv_u64(fnv_str(h, it.s, it.len), (uint64_t)it.id); /* no memory: map order, still deterministic */
    }
    if (!v) return h;
    qsort(v, t->vocab.n, sizeof *v, vocab_cmp);
    for (size_t i = 0; i < t->vocab.n; i++) h = fnv_u64(fnv_str(h, v[i].s, v[i].len), (uint64_t)v[i].id);
    free(v);
    return h;
}

uint64_t tokenizer_fingerprint(const Tokenizer *t) {
    uint64_t h = 0xcbf29ce484222325ULL;
    h = fnv_str(h, "proact-tokenizer-v1", 19);
    h = fingerprint_vocab(t, h);
    h = fnv_u64(h, t->n_merges);
    h = fnv_str(h, t->merge_text.s ? t->merge_text.s : "", t->merge_text.n);
    h = fnv_u64(h, t->n_added);
    for (size_t i = 0; i < t->n_added; i++) {
        const AddedTok *a = &t->added[i];
        h = fnv_str(h, t->added_text.s + a->off, a->len);
        uint64_t flags = (uint64_t)a->single_word | (uint64_t)a->lstrip << 1 | (uint64_t)a->rstrip << 2 |
                         (uint64_t)a->normalized << 3 | (uint64_t)a->special << 4;
        h = fnv_u64(fnv_u64(h, (uint64_t)a->id), flags);
    }
    h = fnv_u64(h, (uint64_t)t->nfc | (uint64_t)t->ignore_merges << 1 | (uint64_t)t->add_prefix_space << 2 |
                       (uint64_t)t->use_regex << 3 | (uint64_t)t->has_unk << 4);
    if (t->has_unk) h = fnv_str(h, t->unk.s, t->unk.n);
    h = fnv_u64(h, (uint64_t)t->n_splits);
    for (int i = 0; i < t->n_splits; i++)
        h = fnv_u64(fnv_str(h, t->splits[i].source, strlen(t->splits[i].source)), (uint64_t)t->splits[i].is_regex);
    return h;
}
