/* bleu.h — corpus/sentence BLEU matching sacreBLEU 2.6.
 *
 * Pure compute: strings in, scores out (no file I/O). Strings are UTF-8, one segment each.
 * Tokenizers follow sacreBLEU's 13a, none, intl, char and zh. Several references per segment
 * count as sacreBLEU counts them: the reference length closest to the hypothesis's (the shorter
 * on a tie) and, per n-gram, the largest count any reference has.
 */
#ifndef PROACT_BLEU_H
#define PROACT_BLEU_H

#include <stddef.h>
#include <stdint.h>

#include "src/metrics/chrf.h" /* chrF is declared there; included for the callers of corpus_chrf */

typedef enum { BLEU_TOK_13A, BLEU_TOK_NONE, BLEU_TOK_INTL, BLEU_TOK_CHAR, BLEU_TOK_ZH } BleuTokenizer;

/* "13a", "none", "intl", "char", "zh" -> *out; -1 (px_error) for anything else. */
int bleu_tokenizer_parse(const char *name, BleuTokenizer *out);

/* The tokenizer's name as sacreBLEU's signature writes it ("13a", ...). */
const char *bleu_tokenizer_name(BleuTokenizer tok);

typedef struct {
    double score;
    int64_t counts[4], totals[4];
    int64_t sys_len, ref_len;
    double bp;
    double precisions[4];
} BleuResult;

/* Corpus BLEU, smooth 'exp', no effective order (sacreBLEU corpus_bleu defaults), one reference. */
int corpus_bleu(const char *const *hyps, const char *const *refs, int n, BleuTokenizer tok, int lowercase,
                BleuResult *out);

/* The same with nrefs references per segment: refs[k][i] is reference k of segment i (sacreBLEU's
 * list of reference streams, one per file). */
int corpus_bleu_refs(const char *const *hyps, const char *const *const *refs, int nrefs, int n, BleuTokenizer tok,
                     int lowercase, BleuResult *out);

/* Sentence BLEU, smooth 'exp', effective order on (sacreBLEU sentence_bleu defaults). */
int sentence_bleu(const char *hyp, const char *ref, BleuTokenizer tok, int lowercase, BleuResult *out);

/* The words BLEU counts in one segment, one space apart (malloc'd, NUL-terminated in *out): what
 * ' '.join(BLEU(tokenize=tok, lowercase=lowercase)._preprocess_segment(segment).split()) gives. */
int bleu_tokens(const char *segment, BleuTokenizer tok, int lowercase, char **out);

/* sacreBLEU's corpus signature, e.g. "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0". */
void bleu_signature(BleuTokenizer tok, int lowercase, char *buf, size_t size);
void bleu_signature_refs(int nrefs, BleuTokenizer tok, int lowercase, char *buf, size_t size);

#endif
