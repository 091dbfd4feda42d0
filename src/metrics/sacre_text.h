/* sacre_text.h — the text handling BLEU, chrF and TER share, as sacreBLEU 2.x does it in Python.
 *
 * A segment is decoded from UTF-8 to code points (optionally lowercased first with Python's
 * str.lower rules, through ICU), split on Python's str.split() whitespace, and its words interned
 * to integer ids, so n-grams are compared as id sequences. Internal to src/metrics.
 */
#ifndef PROACT_SACRE_TEXT_H
#define PROACT_SACRE_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "src/base/hashmap.h"
#include "src/base/strtab.h"

/* A growable sequence of code points (or of word ids). */
typedef struct {
    uint32_t *v;
    size_t n, cap;
} CpBuf;

int cpbuf_push(CpBuf *b, uint32_t c);
void cpbuf_swap(CpBuf *a, CpBuf *b);

/* Python's str.isspace() set: what str.split() and str.strip() with no argument split on. */
int sacre_py_space(uint32_t c);

/* UTF-8 -> code points in *out; invalid bytes map to U+DC80.. (Python's surrogateescape). With
 * lowercase, the text is first lowercased as Python's str.lower does (full Unicode mappings, Greek
 * final sigma by its context in the whole segment), by ICU's root-locale case mapping. */
int sacre_decode(const char *s, int lowercase, CpBuf *out);

/* Drops every whitespace code point (chrF's ''.join(line.split())). */
void sacre_strip_space(CpBuf *a);

/* Splits a on Python whitespace and appends each word's id (its number in `in`) to ids (cleared
 * first). With punct_split, chrF++'s _remove_punctuation: a word longer than one character loses
 * a trailing, else a leading, ASCII punctuation character as a separate word. */
int sacre_split_words(const CpBuf *a, StrTab *in, CpBuf *ids, int punct_split);

/* Appends the id of the token c[0..n). */
int sacre_add_token(StrTab *in, CpBuf *ids, const uint32_t *c, size_t n);

/* Scratch space for n-gram matching (zero-initialised; sacre_ngrams_free releases it). */
typedef struct {
    HashMap map;
    struct SacreGram *g;
    size_t n, cap;
} SacreNgrams;

void sacre_ngrams_free(SacreNgrams *sc);

/* Clipped matches of order-grams of h against the references r[0..nrefs): the sum over h's
 * distinct n-grams of min(count in h, max over the references of its count there), as BLEU's
 * multi-reference counts (one reference: chrF's match count). */
int sacre_ngram_matches(const CpBuf *h, const CpBuf *const *r, int nrefs, size_t order, SacreNgrams *sc,
                        int64_t *match);

#endif
