/* ter.h — translation edit rate (TER) as sacreBLEU 2.6 computes it, with its defaults.
 *
 * Words are the segment split on whitespace, lowercased unless case_sensitive (sacreBLEU's TER is
 * case-insensitive by default); no normalization, punctuation kept, no Asian-specific handling
 * (sacreBLEU's norm:no, punct:yes, asian:no). The edit count is Tercom's: greedy block shifts
 * that lower the word edit distance, then that distance, computed in a beam around the diagonal
 * with sacreBLEU's limits (shift length 10, distance 50, beam 25, 1000 shift candidates per
 * segment). With several references, a segment counts its fewest edits over the references and
 * their mean length. TER = 100 x total edits / total (mean) reference length.
 */
#ifndef PROACT_TER_H
#define PROACT_TER_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    double score;      /* 100 x edits / ref_length (100 when the references are empty and edits > 0) */
    int64_t edits;     /* summed over segments */
    double ref_length; /* summed over segments: each segment's mean reference length */
} TerResult;

/* Corpus TER over n segments with nrefs references each (refs[k][i]: reference k of segment i). */
int corpus_ter(const char *const *hyps, const char *const *const *refs, int nrefs, int n, int case_sensitive,
               TerResult *out);

/* The edits and the reference length of one hypothesis against one reference (words already
 * split): sacreBLEU lib_ter's translation_edit_rate. hyp[0..nh), ref[0..nr) are word ids. */
int ter_edits(const uint32_t *hyp, int nh, const uint32_t *ref, int nr, int64_t *edits);

/* sacreBLEU's TER signature: "nrefs:1|case:lc|tok:tercom|norm:no|punct:yes|asian:no|version:2.6.0". */
void ter_signature(int nrefs, int case_sensitive, char *buf, size_t size);

#endif
