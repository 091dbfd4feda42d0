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
 * Everything before BPE is the pre-tokenizer: it hands pieces and added tokens to a sink, which
 * for tokenizer_encode is BPE and for tokenizer_pretokenize the caller (the BPE trainer, so that
 * it learns its merges on exactly the pieces the encoder will see). UTF-8 handling is
 * src/base/utf8.c, the byte ↔ character map src/bytelevel.c.
 *
 * Strings are byte strings throughout: every symbol BPE can produce (the 256 byte characters
 * and the results of the merges) is interned once at load time, so the merge table is keyed
 * by pairs of small integers and the hot path does no string work.
 */
#include "src/text/tokenizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <utf8proc.h>

#include "src/base/common.h"
#include "src/base/hashmap.h"
#include "src/base/heap.h"
#include "src/base/strtab.h"
#include "src/base/utf8.h"
#include "src/base/vec.h"
#include "src/text/bytelevel.h"

#define MAX_TOKEN_ID (1 << 28)       /* ids above this are surely a broken file */
#define MAX_SPLITS 8                 /* Split steps in a pre-tokenizer Sequence */
#define CACHE_MAX_PIECE 256          /* longer pieces are not cached */
#define CACHE_MAX_ENTRIES (1u << 18) /* the piece cache is emptied when it grows past this */
#define JIT_STACK_MAX (8u << 20)     /* PCRE2 JIT stack for very long pieces */
#define DEAD_SYM UINT32_MAX

/* ───────────────────────── growable buffers ───────────────────────── */

typedef struct {
    char *s;
    size_t n, cap;
} Buf;

static int buf_put(Buf *b, const void *p, size_t n) {
    if (vec_reserve(&b->s, &b->cap, b->n + n + 1, 1, "a tokenizer buffer")) return -1;
    if (n) memcpy(b->s + b->n, p, n);
    b->n += n;
    b->s[b->n] = '\0';
    return 0;
}

static int buf_puts(Buf *b, const char *s) { return buf_put(b, s, strlen(s)); }

int idvec_push(IdVec *v, int id) {
    if (vec_reserve(&v->ids, &v->cap, v->n + 1, sizeof(int), "token ids")) return -1;
    v->ids[v->n++] = id;
    return 0;
}

static int idvec_append(IdVec *v, const int32_t *ids, size_t n) {
    if (vec_reserve(&v->ids, &v->cap, v->n + n, sizeof(int), "token ids")) return -1;
    for (size_t i = 0; i < n; i++) v->ids[v->n + i] = ids[i];
    v->n += n;
    return 0;
}

void idvec_free(IdVec *v) {
    free(v->ids);
    v->ids = NULL;
    v->n = v->cap = 0;
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

/* 1 and *val if key s is present, else 0. */
static int strtab_get(const StrTab *m, const char *s, size_t len, int32_t *val) {
    long e = strtab_find(m, s, len);
    if (e < 0) return 0;
    *val = m->e[e].val;
    return 1;
}

/* (left symbol, right symbol) → merge rank and the merged symbol. */
typedef struct {
    uint32_t a, b, rank, merged;
} Merge;

typedef struct {
    Merge *m;
    size_t n, cap;
    HashMap map;
} MergeTable;

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

/* ───────────────────────── UTF-8 ───────────────────────── */

/* Appends text with every maximal invalid subpart replaced by U+FFFD (*replaced: how many). */
static int buf_sanitize(Buf *b, const char *text, size_t n, size_t *replaced) {
    if (vec_reserve(&b->s, &b->cap, b->n + UTF8_SANITIZED_MAX(n) + 1, 1, "text")) return -1;
    b->n += utf8_sanitize(text, n, b->s + b->n, replaced);
    b->s[b->n] = '\0';
    return 0;
}

/* JavaScript's trim() whitespace: WhiteSpace and LineTerminator (note: U+FEFF yes, U+0085 no). */
static int is_js_space(uint32_t c) {
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) ||
           c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000 || c == 0xFEFF;
}

/* ───────────────────────── the tokenizer ───────────────────────── */

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

/* A candidate merge: key = rank << 32 | position of the left symbol (lowest first). */
typedef struct {
    uint64_t key;
    uint32_t left, right, merged;
} HeapEnt;

/* Lowest rank first, then leftmost. */
static int heap_less(const void *a, const void *b) { return ((const HeapEnt *)a)->key < ((const HeapEnt *)b)->key; }
HEAP_DEFINE(merge_heap, HeapEnt, heap_less)

/* Scratch state of tokenizer_encode; the reason a Tokenizer serves one thread at a time. */
typedef struct {
    Buf clean, norm, prefixed, bl;
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
    StrTab vocab;   /* model.vocab: token → id */
    Buf merge_text; /* merges: "left\0right\0" in rank order */
    size_t n_merges;
    AddedTok *added;
    size_t n_added, cap_added;
    Buf added_text;
    int has_unk;
    Buf unk;
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

static void regex_free(Regex *r) {
    pcre2_match_data_free(r->md);
    pcre2_code_free(r->code);
    free(r->source);
    memset(r, 0, sizeof *r);
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
    for (int i = 0; i < t->n_splits; i++) regex_free(&t->splits[i]);
    regex_free(&t->gpt2);
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
    if (buf_put(&t->merge_text, left, left_len) || buf_put(&t->merge_text, &zero, 1) ||
        buf_put(&t->merge_text, right, right_len) || buf_put(&t->merge_text, &zero, 1))
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
    if (buf_put(&t->added_text, a->content, a->len) || buf_put(&t->added_text, &zero, 1)) return -1;
    t->n_added++;
    return 0;
}

int tokenizer_set_unk_token(Tokenizer *t, const char *token, size_t len) {
    t->unk.n = 0;
    t->has_unk = 1;
    return buf_put(&t->unk, token, len);
}

void tokenizer_set_ignore_merges(Tokenizer *t, int on) { t->ignore_merges = !!on; }
void tokenizer_set_nfc(Tokenizer *t, int on) { t->nfc = !!on; }

void tokenizer_set_byte_level(Tokenizer *t, int add_prefix_space, int use_regex) {
    t->has_byte_level = 1;
    t->add_prefix_space = !!add_prefix_space;
    t->use_regex = !!use_regex;
}

/* ───────────── Oniguruma → PCRE2, the way tokenizers.js rewrites Oniguruma → JavaScript ───────────── */

/* Unicode word characters as tokenizers.js defines \w (Oniguruma's set). */
#define WORD_IN_CLASS "\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}"
#define WORD_CLASS "[" WORD_IN_CLASS "\\x{B2}\\x{B3}\\x{B9}\\x{BC}-\\x{BE}]"
#define NON_WORD_CLASS "[^" WORD_IN_CLASS "\\x{B2}\\x{B3}\\x{B9}\\x{BC}-\\x{BE}]"

typedef struct {
    const char *p; /* the pattern */
    size_t n, i;
    Buf out;
    long atom_start; /* offset in out of the last atom, or -1 */
    int last_quant, fold;
    struct {
        long out_at;
        int fold;
    } groups[64];
    int depth;
    const char *field; /* names the pattern in errors */
    const Tokenizer *t;
} Rx;

static int rx_unsupported(Rx *r, size_t at, const char *what) {
    int show = (int)PX_MIN(r->n - at, 12);
    return px_error("%s: unsupported regex %s '%.*s' at offset %zu (field %s)", r->t->origin, what, show, r->p + at, at,
                    r->field);
}

static uint32_t rx_char(const Rx *r, size_t at, int *len) {
    int k = utf8_step((const unsigned char *)r->p + at, r->n - at);
    *len = k > 0 ? k : 1;
    return k > 0 ? utf8_decode((const unsigned char *)r->p + at, k) : 0xFFFD;
}

static int is_ascii_letter(uint32_t c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }

/* Appends a literal code point; inside (?i:...) an ASCII letter matches both cases (only ASCII
 * folds, as in tokenizers.js). */
static int rx_literal(Buf *o, uint32_t cp, int fold) {
    char tmp[32];
    if (fold && is_ascii_letter(cp))
        snprintf(tmp, sizeof tmp, "[%c%c]", (char)(cp | 0x20), (char)(cp & ~0x20u));
    else if (cp < 0x80 && ((cp | 0x20) - 'a' < 26 || cp - '0' < 10))
        snprintf(tmp, sizeof tmp, "%c", (char)cp);
    else
        snprintf(tmp, sizeof tmp, "\\x{%X}", (unsigned)cp);
    return buf_puts(o, tmp);
}

static int rx_emit_atom(Rx *r, const char *s) {
    r->atom_start = (long)r->out.n;
    r->last_quant = 0;
    return buf_puts(&r->out, s);
}

static int rx_emit_literal(Rx *r, uint32_t cp) {
    r->atom_start = (long)r->out.n;
    r->last_quant = 0;
    return rx_literal(&r->out, cp, r->fold);
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') return (c | 0x20) - 'a' + 10;
    return -1;
}

/* The value of the n hex digits at p (1 to 8 of them), or -1. */
static long parse_hex(const char *p, size_t n) {
    if (n == 0 || n > 8) return -1;
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        int h = hexval(p[i]);
        if (h < 0) return -1;
        v = v * 16 + h;
    }
    return v;
}

/* Escapes shared by classes and the outside: \x{..} \xHH \uHHHH \cX. Returns 1 with *cp and
 * *len if the escape at r->i is one of them. */
static int rx_codepoint_escape(const Rx *r, uint32_t *cp, size_t *len) {
    const char *p = r->p + r->i;
    size_t left = r->n - r->i;
    if (left >= 4 && p[1] == 'x' && p[2] == '{') {
        const char *close = memchr(p + 3, '}', left - 3);
        long v = close ? parse_hex(p + 3, (size_t)(close - p - 3)) : -1;
        if (v < 0 || v > 0x10FFFF) return 0;
        *cp = (uint32_t)v, *len = (size_t)(close - p) + 1;
        return 1;
    }
    if (left >= 4 && p[1] == 'x' && parse_hex(p + 2, 2) >= 0) return *cp = (uint32_t)parse_hex(p + 2, 2), *len = 4, 1;
    if (left >= 6 && p[1] == 'u' && parse_hex(p + 2, 4) >= 0) return *cp = (uint32_t)parse_hex(p + 2, 4), *len = 6, 1;
    if (left >= 3 && p[1] == 'c' && is_ascii_letter((unsigned char)p[2]))
        return *cp = (unsigned char)p[2] % 32, *len = 3, 1;
    return 0;
}

/* \p{Name} or \P{Name} at r->i: its length, 0 if not one. */
static size_t rx_property_len(const Rx *r) {
    const char *p = r->p + r->i;
    size_t left = r->n - r->i;
    if (left < 4 || (p[1] != 'p' && p[1] != 'P') || p[2] != '{') return 0;
    const char *close = memchr(p + 3, '}', left - 3);
    return close && close > p + 3 ? (size_t)(close - p) + 1 : 0;
}

/* The control character of a one-letter escape (\n \r \t \f \v \0), or -1. */
static int control_escape(char c) {
    switch (c) {
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    case 'f': return '\f';
    case 'v': return '\v';
    case '0': return 0;
    default: return -1;
    }
}

/* A shorthand (\s \S \d \D \w \h) inside a class: its PCRE2 class fragment, or NULL. */
static const char *class_shorthand(char c) {
    switch (c) {
    case 's': return "\\p{White_Space}";
    case 'S': return "\\P{White_Space}";
    case 'd': return "\\p{Nd}";
    case 'D': return "\\P{Nd}";
    case 'w': return WORD_IN_CLASS;
    case 'h': return "0-9A-Fa-f";
    default: return NULL;
    }
}

/* POSIX bracket [:name:] inside a class, as tokenizers.js maps them. */
static const char *posix_fragment(const char *name, size_t len) {
    static const char *const map[][2] = {{"alpha", "\\p{Alphabetic}"}, {"alnum", "\\p{Alphabetic}\\p{Nd}"},
                                         {"digit", "\\p{Nd}"},         {"lower", "\\p{Lowercase}"},
                                         {"upper", "\\p{Uppercase}"},  {"space", "\\p{White_Space}"},
                                         {"blank", "\\t\\p{Zs}"},      {"punct", "\\p{P}\\p{S}"},
                                         {"cntrl", "\\p{Cc}"},         {"word", WORD_IN_CLASS},
                                         {"xdigit", "0-9A-Fa-f"}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strlen(map[i][0]) == len && memcmp(map[i][0], name, len) == 0) return map[i][1];
    return NULL;
}

/* General_Category long names (JavaScript accepts both forms; PCRE2 only the short one). */
static const char *gc_short(const char *name, size_t len) {
    static const char *const map[][2] = {{"Letter", "L"},
                                         {"Cased_Letter", "LC"},
                                         {"Uppercase_Letter", "Lu"},
                                         {"Lowercase_Letter", "Ll"},
                                         {"Titlecase_Letter", "Lt"},
                                         {"Modifier_Letter", "Lm"},
                                         {"Other_Letter", "Lo"},
                                         {"Mark", "M"},
                                         {"Combining_Mark", "M"},
                                         {"Nonspacing_Mark", "Mn"},
                                         {"Spacing_Mark", "Mc"},
                                         {"Enclosing_Mark", "Me"},
                                         {"Number", "N"},
                                         {"Decimal_Number", "Nd"},
                                         {"digit", "Nd"},
                                         {"Letter_Number", "Nl"},
                                         {"Other_Number", "No"},
                                         {"Punctuation", "P"},
                                         {"punct", "P"},
                                         {"Connector_Punctuation", "Pc"},
                                         {"Dash_Punctuation", "Pd"},
                                         {"Open_Punctuation", "Ps"},
                                         {"Close_Punctuation", "Pe"},
                                         {"Initial_Punctuation", "Pi"},
                                         {"Final_Punctuation", "Pf"},
                                         {"Other_Punctuation", "Po"},
                                         {"Symbol", "S"},
                                         {"Math_Symbol", "Sm"},
                                         {"Currency_Symbol", "Sc"},
                                         {"Modifier_Symbol", "Sk"},
                                         {"Other_Symbol", "So"},
                                         {"Separator", "Z"},
                                         {"Space_Separator", "Zs"},
                                         {"Line_Separator", "Zl"},
                                         {"Paragraph_Separator", "Zp"},
                                         {"Other", "C"},
                                         {"Control", "Cc"},
                                         {"cntrl", "Cc"},
                                         {"Format", "Cf"},
                                         {"Surrogate", "Cs"},
                                         {"Private_Use", "Co"},
                                         {"Unassigned", "Cn"}};
    static const char *const shorts[] = {"L",  "LC", "Lu", "Ll", "Lt", "Lm", "Lo", "M",  "Mn", "Mc", "Me", "N",  "Nd",
                                         "Nl", "No", "P",  "Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "S",  "Sm", "Sc",
                                         "Sk", "So", "Z",  "Zs", "Zl", "Zp", "C",  "Cc", "Cf", "Cs", "Co", "Cn"};
    for (size_t i = 0; i < sizeof shorts / sizeof shorts[0]; i++)
        if (strlen(shorts[i]) == len && memcmp(shorts[i], name, len) == 0) return shorts[i];
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strlen(map[i][0]) == len && memcmp(map[i][0], name, len) == 0) return map[i][1];
    return NULL;
}

/* Binary properties JavaScript accepts without a "name=" prefix. */
static int is_binary_property(const char *name, size_t len) {
    static const char *const names[] = {"ASCII",
                                        "ASCII_Hex_Digit",
                                        "AHex",
                                        "Alphabetic",
                                        "Alpha",
                                        "Any",
                                        "Assigned",
                                        "Bidi_Control",
                                        "Bidi_C",
                                        "Bidi_Mirrored",
                                        "Bidi_M",
                                        "Case_Ignorable",
                                        "CI",
                                        "Cased",
                                        "Changes_When_Casefolded",
                                        "CWCF",
                                        "Changes_When_Casemapped",
                                        "CWCM",
                                        "Changes_When_Lowercased",
                                        "CWL",
                                        "Changes_When_NFKC_Casefolded",
                                        "CWKCF",
                                        "Changes_When_Titlecased",
                                        "CWT",
                                        "Changes_When_Uppercased",
                                        "CWU",
                                        "Dash",
                                        "Default_Ignorable_Code_Point",
                                        "DI",
                                        "Deprecated",
                                        "Dep",
                                        "Diacritic",
                                        "Dia",
                                        "Emoji",
                                        "Emoji_Component",
                                        "EComp",
                                        "Emoji_Modifier",
                                        "EMod",
                                        "Emoji_Modifier_Base",
                                        "EBase",
                                        "Emoji_Presentation",
                                        "EPres",
                                        "Extended_Pictographic",
                                        "ExtPict",
                                        "Extender",
                                        "Ext",
                                        "Grapheme_Base",
                                        "Gr_Base",
                                        "Grapheme_Extend",
                                        "Gr_Ext",
                                        "Hex_Digit",
                                        "Hex",
                                        "IDS_Binary_Operator",
                                        "IDSB",
                                        "IDS_Trinary_Operator",
                                        "IDST",
                                        "ID_Continue",
                                        "IDC",
                                        "ID_Start",
                                        "IDS",
                                        "Ideographic",
                                        "Ideo",
                                        "Join_Control",
                                        "Join_C",
                                        "Logical_Order_Exception",
                                        "LOE",
                                        "Lowercase",
                                        "Lower",
                                        "Math",
                                        "Noncharacter_Code_Point",
                                        "NChar",
                                        "Pattern_Syntax",
                                        "Pat_Syn",
                                        "Pattern_White_Space",
                                        "Pat_WS",
                                        "Quotation_Mark",
                                        "QMark",
                                        "Radical",
                                        "Regional_Indicator",
                                        "RI",
                                        "Sentence_Terminal",
                                        "STerm",
                                        "Soft_Dotted",
                                        "SD",
                                        "Terminal_Punctuation",
                                        "Term",
                                        "Unified_Ideograph",
                                        "UIdeo",
                                        "Uppercase",
                                        "Upper",
                                        "Variation_Selector",
                                        "VS",
                                        "White_Space",
                                        "space",
                                        "XID_Continue",
                                        "XIDC",
                                        "XID_Start",
                                        "XIDS"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strlen(names[i]) == len && memcmp(names[i], name, len) == 0) return 1;
    return 0;
}

/* The PCRE2 form of \p{body} / \P{body} as JavaScript reads it: a general category, a binary
 * property, "Script=X" / "Script_Extensions=X" / "General_Category=X", and any other bare name
 * as a script (tokenizers.js retries an unknown \p{X} as \p{Script=X}). PCRE2 would read a bare
 * script name as Script_Extensions, so scripts are always spelled out. */
static int property_pcre(Rx *r, size_t at, size_t plen, Buf *out) {
    const char *body = r->p + at + 3, *eq = memchr(body, '=', plen - 4);
    size_t blen = plen - 4;
    char neg = r->p[at + 1];
    char tmp[160];
    if (eq) {
        size_t klen = (size_t)(eq - body), vlen = blen - klen - 1;
        const char *gc = gc_short(eq + 1, vlen);
        int script = (klen == 6 && memcmp(body, "Script", 6) == 0) || (klen == 2 && memcmp(body, "sc", 2) == 0);
        int scx =
            (klen == 17 && memcmp(body, "Script_Extensions", 17) == 0) || (klen == 3 && memcmp(body, "scx", 3) == 0);
        int isgc =
            (klen == 16 && memcmp(body, "General_Category", 16) == 0) || (klen == 2 && memcmp(body, "gc", 2) == 0);
        if (isgc && gc)
            snprintf(tmp, sizeof tmp, "\\%c{%s}", neg, gc);
        else if ((script || scx) && vlen < 100)
            snprintf(tmp, sizeof tmp, "\\%c{%s=%.*s}", neg, scx ? "scx" : "sc", (int)vlen, eq + 1);
        else
            return rx_unsupported(r, at, "property");
    } else if (blen >= 100)
        return rx_unsupported(r, at, "property");
    else if (gc_short(body, blen))
        snprintf(tmp, sizeof tmp, "\\%c{%s}", neg, gc_short(body, blen));
    else if (is_binary_property(body, blen))
        snprintf(tmp, sizeof tmp, "\\%c{%.*s}", neg, (int)blen, body);
    else
        snprintf(tmp, sizeof tmp, "\\%c{sc=%.*s}", neg, (int)blen, body);
    return buf_puts(out, tmp);
}

enum { TAIL_NONE, TAIL_SCALAR, TAIL_SET, TAIL_RANGE, TAIL_COMPLETE };

/* Appends one class member (scalar code point, or a set fragment) following the range rules of
 * tokenizers.js: a set may not be a range endpoint. */
static int class_member(Rx *r, Buf *body, int *tail, const char *frag, uint32_t cp, size_t at) {
    if (frag && *tail == TAIL_RANGE) return rx_unsupported(r, at, "range with a set endpoint");
    int rc = frag ? buf_puts(body, frag) : rx_literal(body, cp, 0);
    *tail = *tail == TAIL_RANGE ? TAIL_COMPLETE : frag ? TAIL_SET : TAIL_SCALAR;
    return rc;
}

/* The ASCII letters whose other case tokenizers.js adds to a class inside (?i:...): those for
 * which exactly one case is a member. */
static int class_fold_additions(Rx *r, const char *body, Buf *add) {
    Buf pat = {0};
    int rc = buf_puts(&pat, "^[") || buf_puts(&pat, body) || buf_puts(&pat, "]$");
    int err;
    PCRE2_SIZE at;
    pcre2_code *code = rc ? NULL : pcre2_compile((PCRE2_SPTR)pat.s, pat.n, PCRE2_UTF, &err, &at, NULL);
    pcre2_match_data *md = code ? pcre2_match_data_create_from_pattern(code, NULL) : NULL;
    if (!md) rc = rc ? rc : px_error("%s: bad character class in regex (field %s)", r->t->origin, r->field);
    for (char c = 'a'; c <= 'z' && rc == 0; c++) {
        char up = (char)(c - 32);
        int has_lo = pcre2_match(code, (PCRE2_SPTR)&c, 1, 0, 0, md, NULL) >= 0;
        int has_up = pcre2_match(code, (PCRE2_SPTR)&up, 1, 0, 0, md, NULL) >= 0;
        if (has_lo != has_up) rc = rx_literal(add, has_lo ? (uint32_t)up : (uint32_t)c, 0);
    }
    pcre2_match_data_free(md);
    pcre2_code_free(code);
    free(pat.s);
    return rc;
}

/* One escape inside a class at r->i. */
static int class_escape(Rx *r, Buf *body, int *tail) {
    size_t at = r->i, plen = rx_property_len(r), len;
    uint32_t cp;
    if (plen) {
        const char *name = r->p + at + 3;
        size_t nlen = plen - 4;
        int neg = r->p[at + 1] == 'P';
        if (nlen == 4 && memcmp(name, "Word", 4) == 0) {
            if (neg) return rx_unsupported(r, at, "\\P{Word} in a class");
            r->i += plen;
            return class_member(r, body, tail, WORD_IN_CLASS, 0, at);
        }
        Buf f = {0};
        int rc = property_pcre(r, at, plen, &f) || class_member(r, body, tail, f.s, 0, at);
        free(f.s);
        r->i += plen;
        return rc;
    }
    if (rx_codepoint_escape(r, &cp, &len)) {
        r->i += len;
        return class_member(r, body, tail, NULL, cp, at);
    }
    if (at + 1 >= r->n) return rx_unsupported(r, at, "unterminated escape");
    int clen;
    uint32_t next = rx_char(r, at + 1, &clen);
    r->i += 1 + (size_t)clen;
    if (next == 'a' || next == 'e') return class_member(r, body, tail, NULL, next == 'a' ? 7 : 0x1B, at);
    const char *sh = next < 0x80 ? class_shorthand((char)next) : NULL;
    if (sh) return class_member(r, body, tail, sh, 0, at);
    if (next < 0x80 && ((next | 0x20) - 'a' < 26 || next - '0' < 10)) {
        int c = next == 'b' ? 8 : control_escape((char)next); /* \b is backspace in a class */
        if (c < 0) return rx_unsupported(r, at, "escape");
        return class_member(r, body, tail, NULL, (uint32_t)c, at);
    }
    return class_member(r, body, tail, NULL, next, at); /* an escaped literal */
}

/* Translates the character class at r->i ('[') and emits it as one atom. */
static int rx_class(Rx *r) {
    size_t start = r->i++;
    int neg = r->i < r->n && r->p[r->i] == '^';
    if (neg) r->i++;
    size_t first = r->i;
    Buf body = {0};
    int tail = TAIL_NONE, rc = buf_puts(&body, "");
    while (rc == 0) {
        if (r->i >= r->n) {
            rc = rx_unsupported(r, start, "unterminated class");
            break;
        }
        size_t at = r->i;
        int clen;
        uint32_t c = rx_char(r, at, &clen);
        if (c == ']' && at != first) break;
        if (c == '\\')
            rc = class_escape(r, &body, &tail);
        else if (c == '[' && at + 1 < r->n && r->p[at + 1] == ':') {
            const char *end = strstr(r->p + at + 2, ":]");
            int pneg = r->p[at + 2] == '^';
            const char *frag = end ? posix_fragment(r->p + at + 2 + pneg, (size_t)(end - r->p - at - 2 - pneg)) : NULL;
            if (!frag || pneg)
                rc = rx_unsupported(r, at, "POSIX class");
            else
                r->i = (size_t)(end - r->p) + 2, rc = class_member(r, &body, &tail, frag, 0, at);
        } else if (c == '[' || (c == '&' && at + 1 < r->n && r->p[at + 1] == '&'))
            rc = rx_unsupported(r, at, "nested class or intersection");
        else if (c == '-') {
            int terminal = at + 1 < r->n && r->p[at + 1] == ']';
            r->i++;
            if (tail == TAIL_SET && !terminal)
                rc = rx_unsupported(r, at, "range with a set endpoint");
            else if (tail == TAIL_SCALAR && !terminal)
                rc = buf_puts(&body, "-"), tail = TAIL_RANGE;
            else
                rc = class_member(r, &body, &tail, NULL, '-', at);
        } else {
            r->i += (size_t)clen;
            rc = class_member(r, &body, &tail, NULL, c, at);
        }
    }
    if (rc == 0 && tail == TAIL_NONE) rc = rx_unsupported(r, start, "empty class");
    r->i++; /* the ']' */
    Buf add = {0};
    if (rc == 0 && r->fold) rc = class_fold_additions(r, body.s, &add);
    r->atom_start = (long)r->out.n;
    r->last_quant = 0;
    if (rc == 0)
        rc = buf_puts(&r->out, neg ? "[^" : "[") || buf_puts(&r->out, body.s) || (add.n && buf_puts(&r->out, add.s)) ||
             buf_puts(&r->out, "]");
    free(body.s);
    free(add.s);
    return rc;
}

/* One escape outside a class at r->i. */
static int rx_escape(Rx *r) {
    size_t at = r->i, plen = rx_property_len(r), len;
    uint32_t cp;
    if (plen) {
        r->i += plen;
        if (plen == 8 && memcmp(r->p + at + 3, "Word", 4) == 0)
            return rx_emit_atom(r, r->p[at + 1] == 'p' ? WORD_CLASS : NON_WORD_CLASS);
        Buf f = {0};
        int rc = property_pcre(r, at, plen, &f) || rx_emit_atom(r, f.s);
        free(f.s);
        return rc;
    }
    if (rx_codepoint_escape(r, &cp, &len)) {
        r->i += len;
        return rx_emit_literal(r, cp);
    }
    if (at + 1 >= r->n) return rx_unsupported(r, at, "trailing backslash");
    int clen;
    uint32_t next = rx_char(r, at + 1, &clen);
    r->i += 1 + (size_t)clen;
    switch (next) {
    case 'G': return 0; /* tokenizers.js drops \G */
    case 'A': return rx_emit_atom(r, "\\A");
    case 'z': return rx_emit_atom(r, "\\z");
    case 'Z': return rx_emit_atom(r, "(?=\\n?\\z)");
    case 'h': return rx_emit_atom(r, "[0-9A-Fa-f]");
    case 'H': return rx_emit_atom(r, "[^0-9A-Fa-f]");
    case 'w': return rx_emit_atom(r, WORD_CLASS);
    case 'W': return rx_emit_atom(r, NON_WORD_CLASS);
    case 'd': return rx_emit_atom(r, "\\p{Nd}");
    case 'D': return rx_emit_atom(r, "\\P{Nd}");
    case 's': return rx_emit_atom(r, "\\p{White_Space}");
    case 'S': return rx_emit_atom(r, "\\P{White_Space}");
    case 'b': return rx_emit_atom(r, "(?:(?<!" WORD_CLASS ")(?=" WORD_CLASS ")|(?<=" WORD_CLASS ")(?!" WORD_CLASS "))");
    case 'B': return rx_emit_atom(r, "(?:(?<!" WORD_CLASS ")(?!" WORD_CLASS ")|(?<=" WORD_CLASS ")(?=" WORD_CLASS "))");
    case 'a': return rx_emit_literal(r, 7);
    case 'e': return rx_emit_literal(r, 0x1B);
    default: break;
    }
    if (next < 0x80 && ((next | 0x20) - 'a' < 26 || next - '0' < 10)) {
        int c = control_escape((char)next);
        if (c < 0) return rx_unsupported(r, at, "escape");
        return rx_emit_literal(r, (uint32_t)c);
    }
    return rx_emit_literal(r, next); /* an escaped literal (also a raw whitespace after '\') */
}

/* '(' at r->i: the group prefixes tokenizers.js accepts; (?i: folds ASCII letters, (?> is
 * treated as a plain group (as tokenizers.js does). */
static int rx_open_group(Rx *r) {
    static const char *const same[] = {"(?:", "(?=", "(?!", "(?<=", "(?<!"};
    const char *p = r->p + r->i;
    size_t left = r->n - r->i, in_len = 1;
    const char *out = "(";
    int fold = r->fold;
    if (left >= 4 && memcmp(p, "(?i:", 4) == 0)
        out = "(?:", in_len = 4, fold = 1;
    else if (left >= 3 && memcmp(p, "(?>", 3) == 0)
        out = "(?:", in_len = 3;
    else if (left >= 2 && p[1] == '?') {
        for (size_t k = 0; k < sizeof same / sizeof same[0] && in_len == 1; k++)
            if (left >= strlen(same[k]) && memcmp(p, same[k], strlen(same[k])) == 0)
                out = same[k], in_len = strlen(same[k]);
        if (in_len == 1) return rx_unsupported(r, r->i, "group");
    }
    if (r->depth == (int)(sizeof r->groups / sizeof r->groups[0])) return rx_unsupported(r, r->i, "nesting depth");
    r->groups[r->depth].out_at = (long)r->out.n;
    r->groups[r->depth++].fold = r->fold;
    r->fold = fold;
    r->last_quant = 0;
    r->i += in_len;
    return buf_puts(&r->out, out);
}

/* '{' at r->i: a quantifier {n}, {n,}, {n,m} or {,m}, else a literal brace. X{n}+ and X{n}*
 * mean (X{n})+ in Oniguruma. */
static int rx_brace(Rx *r) {
    const char *p = r->p + r->i, *end = r->p + r->n, *q = p + 1;
    int digits_a = 0, digits_b = 0, comma = 0;
    while (q < end && *q >= '0' && *q <= '9') q++, digits_a++;
    if (q < end && *q == ',') {
        comma = 1, q++;
        while (q < end && *q >= '0' && *q <= '9') q++, digits_b++;
    }
    int ok = q < end && *q == '}' && (digits_a || (comma && digits_b));
    if (!ok || r->atom_start < 0) {
        r->i++;
        return rx_emit_literal(r, '{');
    }
    Buf body = {0};
    int rc = buf_puts(&body, "{") || (!digits_a && buf_puts(&body, "0")) || buf_put(&body, p + 1, (size_t)(q - p));
    r->i += (size_t)(q - p) + 1;
    if (rc == 0 && r->i < r->n && (r->p[r->i] == '+' || r->p[r->i] == '*')) {
        Buf wrapped = {0};
        char op[2] = {r->p[r->i++], 0};
        rc = buf_put(&wrapped, r->out.s, (size_t)r->atom_start) || buf_puts(&wrapped, "(?:") ||
             buf_puts(&wrapped, r->out.s + r->atom_start) || buf_puts(&wrapped, body.s) || buf_puts(&wrapped, ")") ||
             buf_puts(&wrapped, op);
        free(r->out.s);
        r->out = wrapped;
    } else if (rc == 0)
        rc = buf_puts(&r->out, body.s);
    free(body.s);
    r->last_quant = 1;
    return rc;
}

/* One token of the pattern outside classes. */
static int rx_step(Rx *r) {
    int clen;
    uint32_t c = rx_char(r, r->i, &clen);
    switch (c) {
    case '\\': return rx_escape(r);
    case '[': return rx_class(r);
    case '(': return rx_open_group(r);
    case '{': return rx_brace(r);
    default: break;
    }
    r->i += (size_t)clen;
    switch (c) {
    case ']': return rx_emit_literal(r, ']');
    case '}': return rx_emit_literal(r, '}');
    case '.': return rx_emit_atom(r, "[^\\n]");
    case '^': return rx_emit_atom(r, "(?:\\A|(?<=\\n))");
    case '$': return rx_emit_atom(r, "(?:(?=\\n)|\\z)");
    case ')':
        if (r->depth == 0) return rx_unsupported(r, r->i - 1, "unbalanced ')'");
        r->depth--;
        r->atom_start = r->groups[r->depth].out_at;
        r->fold = r->groups[r->depth].fold;
        r->last_quant = 0;
        return buf_puts(&r->out, ")");
    case '|':
        r->atom_start = -1;
        r->last_quant = 0;
        return buf_puts(&r->out, "|");
    case '+':
        if (r->last_quant) return 0; /* possessive X++ is read as X+ (tokenizers.js) */
        r->last_quant = 1;
        return buf_puts(&r->out, "+");
    case '*':
    case '?': r->last_quant = 1; return buf_puts(&r->out, c == '*' ? "*" : "?");
    default: return rx_emit_literal(r, c);
    }
}

/* Translates an Oniguruma pattern into *out (PCRE2 syntax). */
static int rx_translate(const Tokenizer *t, const char *pat, size_t n, const char *field, Buf *out) {
    Rx r = {.p = pat, .n = n, .atom_start = -1, .field = field, .t = t};
    int rc = buf_puts(&r.out, "");
    while (rc == 0 && r.i < r.n) rc = rx_step(&r);
    if (rc == 0 && r.depth) rc = rx_unsupported(&r, 0, "unbalanced '('");
    if (rc) {
        free(r.out.s);
        return -1;
    }
    *out = r.out;
    return 0;
}

/* Compiles a PCRE2 pattern (with JIT when available). */
static int regex_compile(const Tokenizer *t, Regex *re, const char *pcre_pat, const char *field) {
    int err;
    PCRE2_SIZE at;
    re->code = pcre2_compile((PCRE2_SPTR)pcre_pat, PCRE2_ZERO_TERMINATED, PCRE2_UTF, &err, &at, NULL);
    if (!re->code) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(err, msg, sizeof msg);
        return px_error("%s: cannot compile the regex of %s: %s", t->origin, field, (const char *)msg);
    }
    (void)pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE); /* optional: the interpreter is the fallback */
    re->md = pcre2_match_data_create_from_pattern(re->code, NULL);
    if (!re->md) return px_error("%s: out of memory for regex match data", t->origin);
    return 0;
}

int tokenizer_add_split(Tokenizer *t, const char *pattern, size_t len, int is_regex, const char *field) {
    if (t->n_splits == MAX_SPLITS)
        return px_error("%s: more than %d Split pre-tokenizers (%s)", t->origin, MAX_SPLITS, field);
    Regex *re = &t->splits[t->n_splits];
    Buf pcre = {0};
    re->source = strndup(pattern, len); /* NUL-terminated: the translator may look ahead with strstr */
    if (!re->source) return px_error("out of memory");
    int rc = 0;
    if (is_regex)
        rc = rx_translate(t, re->source, len, field, &pcre);
    else
        for (size_t i = 0; i < len && rc == 0;) { /* a literal string: every code point literal */
            int k = utf8_step((const unsigned char *)pattern + i, len - i);
            if (k <= 0)
                rc = px_error("%s: invalid UTF-8 in %s", t->origin, field);
            else
                rc = rx_literal(&pcre, utf8_decode((const unsigned char *)pattern + i, k), 0), i += (size_t)k;
        }
    if (rc == 0 && pcre.n == 0) rc = px_error("%s: empty Split pattern (field %s)", t->origin, field);
    if (rc == 0) rc = regex_compile(t, re, pcre.s, field);
    free(pcre.s);
    re->is_regex = is_regex;
    if (rc) {
        regex_free(re);
        return -1;
    }
    t->n_splits++;
    return 0;
}

/* ───────────────────────── finishing the tables ───────────────────────── */

/* NFC of s into out (replacing its contents). Text whose code points are all below U+0300 is
 * already NFC (nothing there decomposes into or composes with a combining mark), so it is
 * copied without calling utf8proc. */
static int nfc_into(Work *w, const char *s, size_t n, Buf *out) {
    out->n = 0;
    size_t i = 0;
    while (i < n && (unsigned char)s[i] < 0xCC) i++;
    if (i == n) return buf_put(out, s, n);
    utf8proc_option_t opt = UTF8PROC_STABLE | UTF8PROC_COMPOSE;
    utf8proc_ssize_t k = utf8proc_decompose((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n,
                                            (utf8proc_int32_t *)w->ucs, (utf8proc_ssize_t)w->ucs_cap, opt);
    if (k > (utf8proc_ssize_t)w->ucs_cap) {
        if (vec_reserve(&w->ucs, &w->ucs_cap, (size_t)k + 1, sizeof *w->ucs, "NFC")) return -1;
        k = utf8proc_decompose((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, (utf8proc_int32_t *)w->ucs,
                               (utf8proc_ssize_t)w->ucs_cap, opt);
    }
    if (k < 0) return px_error("NFC normalization failed: %s", utf8proc_errmsg(k));
    if (vec_reserve(&w->ucs, &w->ucs_cap, (size_t)k + 1, sizeof *w->ucs, "NFC")) return -1; /* room for the NUL */
    utf8proc_ssize_t m = utf8proc_reencode((utf8proc_int32_t *)w->ucs, k, opt);      /* composes, then UTF-8 in place */
    if (m < 0) return px_error("NFC normalization failed: %s", utf8proc_errmsg(m));
    return buf_put(out, w->ucs, (size_t)m);
}

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
            if (nfc_into(t->work, t->added_text.s + a->off, a->len, &t->work->norm)) return -1;
            a->noff = t->added_text.n;
            a->nlen = t->work->norm.n;
            char zero = '\0';
            if (t->work->norm.n == 0) return px_error("%s: added token %d normalizes to nothing", t->origin, a->id);
            if (buf_put(&t->added_text, t->work->norm.s, t->work->norm.n) || buf_put(&t->added_text, &zero, 1))
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
        if (e < 0)
            rc = -1;
        else
            contents.e[e].val |= ID_ADDED | (a->special ? ID_SPECIAL : 0);
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
    if (strtab_get(&t->added_map, t->unk.s, t->unk.n, &ai))
        t->unk_id = t->added[ai].id;
    else if (strtab_get(&t->tok, t->unk.s, t->unk.n, &id))
        t->unk_id = id;
    else
        return px_error("%s: unk_token '%s' is not in the vocabulary (field model.unk_token)", t->origin, t->unk.s);
    return 0;
}

/* Interns one merge (rank r): its two parts and their concatenation become symbols. */
static int intern_merge(Tokenizer *t, const char *left, size_t la, const char *right, size_t lb, uint32_t r,
                        Buf *joined) {
    joined->n = 0;
    if (buf_put(joined, left, la) || buf_put(joined, right, lb)) return -1;
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
    Buf joined = {0};
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

/* The ByteLevel regex as tokenizers.js runs it: a native JavaScript regex, where \s is
 * JavaScript's whitespace (U+FEFF yes, U+0085 no). */
#define JS_SPACE                                                                                                       \
    "\\t\\n\\x{B}\\f\\r \\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}\\x{FEFF}"
static const char GPT2_PATTERN[] = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^" JS_SPACE
                                   "\\p{L}\\p{N}]+|[" JS_SPACE "]+(?![^" JS_SPACE "])|[" JS_SPACE "]+";

static int build_work(Tokenizer *t) {
    Work *w = t->work;
    w->mctx = pcre2_match_context_create(NULL);
    w->jit_stack = pcre2_jit_stack_create(32 * 1024, JIT_STACK_MAX, NULL);
    if (!w->mctx || !w->jit_stack) return px_error("out of memory for the regex matcher");
    pcre2_jit_stack_assign(w->mctx, NULL, w->jit_stack);
    return hashmap_reserve(&w->cache.map, 512);
}

/* tokenizer_finish with model = 1; tokenizer_finish_pretokenizer with model = 0 (no vocabulary,
 * merges or id table: enough for tokenizer_pretokenize). */
static int finish(Tokenizer *t, int model) {
    if (t->finished) return px_error("%s: tokenizer_finish called twice", t->origin);
    if (!t->has_byte_level) return px_error("%s: the pre-tokenizer has no ByteLevel step", t->origin);
    if (model && t->vocab.n == 0) return px_error("%s: empty vocabulary (field model.vocab)", t->origin);
    if (build_added(t) || (model && (build_id_table(t) || resolve_unk(t) || build_merges(t))) || build_work(t))
        return -1;
    if (t->use_regex && regex_compile(t, &t->gpt2, GPT2_PATTERN, "the ByteLevel regex")) return -1;
    t->finished = 1;
    t->has_model = model;
    return 0;
}

int tokenizer_finish(Tokenizer *t) { return finish(t, 1); }
int tokenizer_finish_pretokenizer(Tokenizer *t) { return finish(t, 0); }

/* ───────────────────────── encoding ───────────────────────── */

/* Splits s[0..n) at the added tokens of `set` (at each position the longest token starting
 * there; positions advance left to right) into spans: text gaps and tokens. */
static int split_added(const Tokenizer *t, const AddedSet *set, const char *s, size_t n, int level) {
    Work *w = t->work;
    w->n_spans[level] = 0;
    size_t gap = 0;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t hit = 0;
        for (uint32_t k = set->start[c]; k < set->start[c + 1]; k++) {
            const AddedTok *a = &t->added[set->cand[k]];
            if (a->nlen <= n - i && memcmp(s + i, t->added_text.s + a->noff, a->nlen) == 0) {
                hit = a->nlen;
                break;
            }
        }
        if (!hit) {
            i++;
            continue;
        }
        if (vec_reserve(&w->spans[level], &w->cap_spans[level], w->n_spans[level] + 2, sizeof(Span), "spans")) return -1;
        if (i > gap) w->spans[level][w->n_spans[level]++] = (Span){gap, i};
        w->spans[level][w->n_spans[level]++] = (Span){i, i + hit};
        i += hit;
        gap = i;
    }
    if (vec_reserve(&w->spans[level], &w->cap_spans[level], w->n_spans[level] + 1, sizeof(Span), "spans")) return -1;
    if (gap < n) w->spans[level][w->n_spans[level]++] = (Span){gap, n};
    return 0;
}

/* The added token whose content (or normalized content) is exactly s[sp], or NULL. */
static const AddedTok *added_lookup(const Tokenizer *t, const char *s, Span sp) {
    int32_t i;
    if (sp.b <= sp.a || !strtab_get(&t->added_map, s + sp.a, sp.b - sp.a, &i)) return NULL;
    return &t->added[i];
}

static void trim_end(const char *s, Span *sp) {
    while (sp->b > sp->a) {
        size_t k = sp->b - 1;
        while (k > sp->a && ((unsigned char)s[k] & 0xC0) == 0x80) k--;
        if (!is_js_space(utf8_decode((const unsigned char *)s + k, (int)(sp->b - k)))) break;
        sp->b = k;
    }
}

static void trim_start(const char *s, Span *sp) {
    while (sp->a < sp->b) {
        int k = utf8_step((const unsigned char *)s + sp->a, sp->b - sp->a);
        if (k <= 0 || !is_js_space(utf8_decode((const unsigned char *)s + sp->a, k))) break;
        sp->a += (size_t)k;
    }
}

/* lstrip / rstrip: a span equal to an added token trims the whitespace of its neighbours, in
 * order, each test seeing the earlier trims (tokenizers.js). */
static void strip_neighbours(const Tokenizer *t, const char *s, int level) {
    Span *sp = t->work->spans[level];
    size_t n = t->work->n_spans[level];
    for (size_t i = 0; i < n; i++) {
        const AddedTok *a = added_lookup(t, s, sp[i]);
        if (!a) continue;
        if (a->lstrip && i > 0) trim_end(s, &sp[i - 1]);
        if (a->rstrip && i + 1 < n) trim_start(s, &sp[i + 1]);
    }
}

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
    Buf *bl = &t->work->bl;
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
    } else if (bpe_word(t, (const unsigned char *)s, n))
        return -1;
    if (n <= CACHE_MAX_PIECE && cache_put(w, s, n, h, w->ids, w->ids_n)) return -1;
    return idvec_append(out, w->ids, w->ids_n);
}

/* Next match of re in s[0..n) at or after *pos: 1 with [*ms, *me), 0 if none, -1 on error.
 * After an empty match the search resumes one character later (JavaScript's matchAll). */
static int regex_next(const Tokenizer *t, const Regex *re, const char *s, size_t n, size_t *pos, size_t *ms,
                      size_t *me) {
    if (*pos > n) return 0;
    int rc = pcre2_match(re->code, (PCRE2_SPTR)s, n, *pos, PCRE2_NO_UTF_CHECK, re->md, t->work->mctx);
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT) /* a huge piece: the interpreter keeps its stack on the heap */
        rc = pcre2_match(re->code, (PCRE2_SPTR)s, n, *pos, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, re->md, t->work->mctx);
    if (rc == PCRE2_ERROR_NOMATCH) return 0;
    if (rc < 0) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(rc, msg, sizeof msg);
        return px_error("%s: regex match failed on a piece of %zu bytes: %s", t->origin, n, (const char *)msg);
    }
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(re->md);
    *ms = ov[0], *me = ov[1];
    if (*me > *ms)
        *pos = *me;
    else if (*me < n)
        *pos = *me + (size_t)utf8_step((const unsigned char *)s + *me, n - *me);
    else
        *pos = n + 1;
    return 1;
}

/* Where the pre-tokenizer's output goes, in text order: each piece (added_id -1) and each added
 * token (its id). tokenizer_encode's sink runs BPE; tokenizer_pretokenize's is the caller's. */
typedef struct {
    TokenizerPieceFn fn;
    void *ctx;
} Sink;

/* The ByteLevel step on one piece: prefix space, GPT-2 regex (use_regex), then the sink. */
static int byte_level(const Tokenizer *t, const char *s, size_t n, const Sink *out) {
    if (t->add_prefix_space && (n == 0 || s[0] != ' ')) {
        Buf *p = &t->work->prefixed;
        p->n = 0;
        if (buf_put(p, " ", 1) || buf_put(p, s, n)) return -1;
        s = p->s, n = p->n;
    }
    if (!t->use_regex) return out->fn(s, n, -1, out->ctx) ? -1 : 0;
    size_t pos = 0, ms, me;
    int rc;
    while ((rc = regex_next(t, &t->gpt2, s, n, &pos, &ms, &me)) == 1)
        if (me > ms && out->fn(s + ms, me - ms, -1, out->ctx)) return -1;
    return rc;
}

/* Split step k (Isolated: matches and gaps are pieces), then the steps after it. */
static int pre_tokenize(const Tokenizer *t, int k, const char *s, size_t n, const Sink *out) {
    if (k == t->n_splits) return byte_level(t, s, n, out);
    size_t pos = 0, prev = 0, ms, me;
    int rc;
    while ((rc = regex_next(t, &t->splits[k], s, n, &pos, &ms, &me)) == 1) {
        if (ms > prev && pre_tokenize(t, k + 1, s + prev, ms - prev, out)) return -1;
        if (me > ms && pre_tokenize(t, k + 1, s + ms, me - ms, out)) return -1;
        prev = me;
    }
    if (rc < 0) return -1;
    return prev < n ? pre_tokenize(t, k + 1, s + prev, n - prev, out) : 0;
}

/* An added token found in the text (s[sp]) goes to the sink with its id. */
static int put_added(const AddedTok *a, const char *s, Span sp, const Sink *out) {
    return out->fn(s + sp.a, sp.b - sp.a, a->id, out->ctx) ? -1 : 0;
}

/* A section after normalization: split out normalized added tokens, pre-tokenize the rest. */
static int split_normalized(const Tokenizer *t, const char *s, size_t n, const Sink *out) {
    if (split_added(t, &t->norm_set, s, n, 1)) return -1;
    strip_neighbours(t, s, 1);
    for (size_t i = 0; i < t->work->n_spans[1]; i++) {
        Span sp = t->work->spans[1][i];
        if (sp.b <= sp.a) continue;
        const AddedTok *a = added_lookup(t, s, sp);
        if (a ? put_added(a, s, sp, out) : pre_tokenize(t, 0, s + sp.a, sp.b - sp.a, out)) return -1;
    }
    return 0;
}

/* Valid UTF-8 text: split out raw added tokens, normalize and pre-tokenize the sections between. */
static int split_valid(const Tokenizer *t, const char *s, size_t n, const Sink *out) {
    Work *w = t->work;
    if (split_added(t, &t->raw_set, s, n, 0)) return -1;
    strip_neighbours(t, s, 0);
    for (size_t i = 0; i < w->n_spans[0]; i++) {
        Span sp = w->spans[0][i];
        if (sp.b <= sp.a) continue;
        const AddedTok *a = added_lookup(t, s, sp);
        if (a) {
            if (put_added(a, s, sp, out)) return -1;
            continue;
        }
        const char *ns = s + sp.a;
        size_t nn = sp.b - sp.a;
        if (t->nfc) {
            if (nfc_into(w, ns, nn, &w->norm)) return -1;
            ns = w->norm.s, nn = w->norm.n;
        }
        if (nn && split_normalized(t, ns, nn, out)) return -1;
    }
    return 0;
}

/* Any bytes: invalid UTF-8 → U+FFFD, then the pipeline into out. */
static int split_text(const Tokenizer *t, const char *text, size_t len, const Sink *out, size_t *replaced) {
    if (replaced) *replaced = 0;
    size_t bad = utf8_first_invalid(text, len);
    if (bad == len) return split_valid(t, text, len, out);
    Buf *clean = &t->work->clean;
    clean->n = 0;
    if (buf_put(clean, text, bad) || buf_sanitize(clean, text + bad, len - bad, replaced)) return -1;
    return split_valid(t, clean->s, clean->n, out);
}

int tokenizer_pretokenize(const Tokenizer *t, const char *text, size_t len, TokenizerPieceFn fn, void *ctx,
                          size_t *replaced) {
    if (!t->finished) return px_error("%s: tokenizer used before tokenizer_finish", t->origin);
    Sink out = {fn, ctx};
    return split_text(t, text, len, &out, replaced);
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
    Sink sink = {encode_sink, &e};
    return split_text(t, text, len, &sink, NULL);
}

/* ───────────────────────── decoding ───────────────────────── */

/* Appends the bytes of a byte-level token; a token with a character outside the GPT-2 map is
 * copied as it is. */
static int decode_byte_level(const char *tok, size_t len, Buf *raw) {
    const unsigned char *s = (const unsigned char *)tok;
    size_t start = raw->n;
    for (size_t i = 0; i < len;) {
        int k = utf8_step(s + i, len - i);
        int byte = k > 0 ? bytelevel_byte(utf8_decode(s + i, k)) : -1;
        if (byte < 0) {
            raw->n = start;
            return buf_put(raw, tok, len);
        }
        unsigned char b = (unsigned char)byte;
        if (buf_put(raw, &b, 1)) return -1;
        i += (size_t)k;
    }
    return 0;
}

int tokenizer_decode(const Tokenizer *t, const int *ids, size_t n, int skip_special, char **out, size_t *out_len) {
    Buf raw = {0}, text = {0};
    int rc = buf_puts(&raw, "");
    for (size_t i = 0; i < n && rc == 0; i++) {
        int id = ids[i];
        if (id < 0 || id >= t->n_ids || !t->id_token[id]) {
            rc = px_error("token id %d is not in the vocabulary of %s (size %d)", id, t->origin, t->n_ids);
            break;
        }
        if (skip_special && (t->id_flags[id] & ID_SPECIAL)) continue;
        if (t->id_flags[id] & ID_ADDED)
            rc = buf_put(&raw, t->id_token[id], t->id_len[id]); /* verbatim */
        else
            rc = decode_byte_level(t->id_token[id], t->id_len[id], &raw);
    }
    if (rc == 0) rc = buf_puts(&text, "") || buf_sanitize(&text, raw.s, raw.n, NULL);
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
        if (v)
            v[i] = it;
        else
            h = fnv_u64(fnv_str(h, it.s, it.len), (uint64_t)it.id); /* no memory: map order, still deterministic */
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
