/* tokenizer_internal.h — the inside of a Tokenizer, shared by src/text/tokenizer.c (building,
 * BPE, decoding) and src/text/pretokenizer.c (added tokens, normalizer, Split and ByteLevel
 * steps). Private to those two files: everything else goes through src/text/tokenizer.h. */
#ifndef PROACT_TOKENIZER_INTERNAL_H
#define PROACT_TOKENIZER_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "src/base/heap.h"
#include "src/base/strtab.h"
#include "src/base/vec.h"
#include "src/text/tokenizer.h"

#define MAX_SPLITS 8             /* Split steps in a pre-tokenizer Sequence */
#define JIT_STACK_MAX (8u << 20) /* PCRE2 JIT stack for very long pieces */

typedef struct {
    size_t off, len;   /* content in Tokenizer.added_text */
    size_t noff, nlen; /* normalized content (== content unless normalized under NFC) */
    int id, single_word, lstrip, rstrip, normalized, special;
} AddedTok;

/* The added tokens matched by one splitter: candidates bucketed by first byte, longest first. */
typedef struct {
    uint32_t *cand; /* indices into Tokenizer.added, grouped by first byte */
    uint32_t start[257];
} AddedSet;

typedef struct {
    pcre2_code *code;
    pcre2_match_data *md;
    char *source; /* the pattern as written in tokenizer.json (fingerprint) */
    int is_regex;
} Regex;

typedef struct {
    size_t a, b;
} Span;

/* (left symbol, right symbol) → merge rank and the merged symbol. */
typedef struct {
    uint32_t a, b, rank, merged;
} Merge;

typedef struct {
    Merge *m;
    size_t n, cap;
    HashMap map;
} MergeTable;

/* A candidate merge: key = rank << 32 | position of the left symbol (lowest first). */
typedef struct {
    uint64_t key;
    uint32_t left, right, merged;
} HeapEnt;

/* Scratch state of tokenizer_encode; the reason a Tokenizer serves one thread at a time. */
typedef struct {
    StrBuf clean, norm, prefixed, bl;
    Span *spans[2];
    size_t n_spans[2], cap_spans[2];
    uint32_t *ucs;
    size_t ucs_cap;
    uint32_t *sym;
    int32_t *nxt, *prv;
    size_t word_cap;
    Heap heap; /* of HeapEnt */
    int32_t *ids;
    size_t ids_n, ids_cap;
    StrTab cache; /* piece bytes → offset into cache_ids: [count, ids...] */
    int32_t *cache_ids;
    size_t cache_n, cache_cap;
    pcre2_match_context *mctx;
    pcre2_jit_stack *jit_stack;
} Work;

struct Tokenizer {
    char *origin; /* file name, for messages */
    /* as loaded */
    StrTab vocab;      /* model.vocab: token → id */
    StrBuf merge_text; /* merges: "left\0right\0" in rank order */
    size_t n_merges;
    AddedTok *added;
    size_t n_added, cap_added;
    StrBuf added_text;
    int has_unk;
    StrBuf unk;
    int ignore_merges, nfc;
    Regex splits[MAX_SPLITS];
    int n_splits;
    int has_byte_level, add_prefix_space, use_regex;
    int finished;  /* tokenizer_finish or tokenizer_finish_pretokenizer done */
    int has_model; /* vocabulary, merges and id table built (tokenizer_finish) */
    /* built by tokenizer_finish */
    StrTab tok;       /* vocab with the added tokens' contents over it (tokenizers.js tokens_to_ids) */
    StrTab added_map; /* added token content and normalized content → index into added */
    AddedSet raw_set, norm_set;
    char **id_token; /* id → token string (NULL for gaps) */
    uint32_t *id_len;
    unsigned char *id_flags; /* ID_ADDED, ID_SPECIAL */
    int n_ids;
    StrTab syms;      /* every string BPE can produce → symbol */
    int32_t *sym_out; /* symbol → output id, or -1 (dropped) */
    uint32_t byte_sym[256];
    MergeTable merges;
    int32_t unk_id; /* -1 without unk token */
    Regex gpt2;     /* the ByteLevel regex (use_regex) */
    Work *work;
};

enum { ID_ADDED = 1, ID_SPECIAL = 2 };

/* The value of key s in a string table: 1 and *val if present, else 0. */
static inline int strtab_get(const StrTab *m, const char *s, size_t len, int32_t *val) {
    long e = strtab_find(m, s, len);
    if (e < 0) return 0;
    *val = m->e[e].val;
    return 1;
}

/* ---- the pre-tokenizer's side (src/text/pretokenizer.c) ---- */

/* Builds what the pre-tokenizer runs with: the ByteLevel regex (use_regex) and the regex
 * matcher's context and JIT stack. Part of tokenizer_finish. */
int pretok_finish(Tokenizer *t);
void pretok_regex_free(Regex *r);
/* NFC of s[0..n) into out (replacing its contents). */
int pretok_nfc(Work *w, const char *s, size_t n, StrBuf *out);
/* Appends text with every maximal invalid UTF-8 subpart replaced by U+FFFD (*replaced: how many). */
int pretok_sanitize(StrBuf *b, const char *text, size_t n, size_t *replaced);
/* The pipeline up to BPE on any bytes, its output to fn (as tokenizer_pretokenize). */
int pretok_run(const Tokenizer *t, const char *text, size_t len, TokenizerPieceFn fn, void *ctx, size_t *replaced);

#endif
