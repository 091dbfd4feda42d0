/* chrf.h — corpus chrF and chrF++ matching sacreBLEU 2.6.
 *
 * Character n-grams up to order 6 with whitespace removed, word n-grams up to word_order (2 is
 * chrF++) after separating leading/trailing ASCII punctuation, beta 2, effective-order averaging.
 * Statistics are summed over segments; with several references, each segment takes the statistics
 * of the reference with the best F-score (the first on a tie), as sacreBLEU does.
 */
#ifndef PROACT_CHRF_H
#define PROACT_CHRF_H

#include <stddef.h>

/* Corpus chrF, case-sensitive, one reference; word_order 0 = chrF2, 2 = chrF++. Score in [0, 100]. */
int corpus_chrf(const char *const *hyps, const char *const *refs, int n, int word_order, double *score);

/* The same with nrefs references per segment (refs[k][i]: reference k of segment i) and, on
 * request, lowercased text (sacreBLEU's --chrf-lowercase). */
int corpus_chrf_refs(const char *const *hyps, const char *const *const *refs, int nrefs, int n, int word_order,
                     int lowercase, double *score);

/* sacreBLEU's chrF name and signature: "chrF2" / "chrF2++", "nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|
 * version:2.6.0". */
void chrf_name(int word_order, char *buf, size_t size);
void chrf_signature(int nrefs, int word_order, int lowercase, char *buf, size_t size);

#endif
