/* bleu.h — corpus/sentence BLEU and chrF(++) matching sacreBLEU 2.x.
 *
 * Pure compute: strings in, scores out (no file I/O). Strings are UTF-8, one segment each,
 * one reference per segment. Tokenizers follow sacreBLEU's 13a, none, intl and char.
 */
#ifndef PROACT_BLEU_H
#define PROACT_BLEU_H

#include <stddef.h>
#include <stdint.h>

typedef enum { BLEU_TOK_13A, BLEU_TOK_NONE, BLEU_TOK_INTL, BLEU_TOK_CHAR } BleuTokenizer;

/* "13a", "none", "intl", "char" -> *out; -1 (px_error) for anything else. */
int bleu_tokenizer_parse(const char *name, BleuTokenizer *out);

typedef struct {
    double score;
    int64_t counts[4], totals[4];
    int64_t sys_len, ref_len;
    double bp;
    double precisions[4];
} BleuResult;

/* Corpus BLEU, smooth 'exp', no effective order (sacreBLEU corpus_bleu defaults). */
int corpus_bleu(const char *const *hyps, const char *const *refs, int n, BleuTokenizer tok, int lowercase,
                BleuResult *out);

/* Sentence BLEU, smooth 'exp', effective order on (sacreBLEU sentence_bleu defaults). */
int sentence_bleu(const char *hyp, const char *ref, BleuTokenizer tok, int lowercase, BleuResult *out);

/* sacreBLEU's corpus signature, e.g. "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0". */
void bleu_signature(BleuTokenizer tok, int lowercase, char *buf, size_t size);

/* Corpus chrF: char order 6, beta 2, whitespace excluded; word_order 0 = chrF2, 2 = chrF++.
 * Statistics are summed over segments, score in [0, 100]. */
int corpus_chrf(const char *const *hyps, const char *const *refs, int n, int word_order, double *score);

#endif
