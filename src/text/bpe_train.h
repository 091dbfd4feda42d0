/* bpe_train.h — train a byte-level BPE tokenizer (the GPT-2 / Llama 3 / Qwen2 kind).
 *
 * Recipe: the text is split by the encoder's own pre-tokenizer (tokenizer_pretokenize of
 * src/text/tokenizer.h, set up as the tokenizer.json that io/tokenizer_write.c writes), so that the
 * merges are learned on exactly the pieces the encoder will see:
 *
 *   text ─ invalid UTF-8 → U+FFFD (each maximal invalid subpart, like the WHATWG TextDecoder)
 *        ─ split out special tokens (matched verbatim, as added tokens with normalized=false)
 *        ─ NFC (utf8proc)
 *        ─ split with BPE_SPLIT_REGEX (translated to PCRE2 as for any tokenizer.json; behaviour
 *          "Isolated": matches and gaps are pieces)
 *        ─ count each piece ("word") as a byte string.
 *
 * Training starts from one symbol per byte and repeatedly merges the adjacent pair of symbols
 * with the largest count (summed over words, weighted by word frequency) into a new token.
 *
 * Token ids: the special tokens first (BPE_SPECIAL_TOKENS: <pad> 0, <src> 1, </src> 2, <tgt> 3,
 * </tgt> 4, <|endoftext|> 5), then the 256 bytes in GPT-2's vocabulary order (bytes sorted by
 * the code point of their bytes_to_unicode character: '!'..'~', '¡'..'¬', '®'..'ÿ', then the
 * remaining bytes 0x00.., which map to U+0100..), then one id per merge in merge order.
 *
 * Ties: among pairs with the same count the pair with the smallest (left id, right id) wins —
 * the rule of Hugging Face's BpeTrainer, and with the same ids. If a merge produces a byte
 * string that is already a token (e.g. "ab"+"c" after "a"+"bc"), the merge is recorded with the
 * existing id and the vocabulary does not grow (Hugging Face does the same).
 *
 * Training stops when the vocabulary reaches vocab_size, or when no pair occurs at least
 * min_frequency times (then the vocabulary is smaller than asked).
 */
#ifndef PROACT_BPE_TRAIN_H
#define PROACT_BPE_TRAIN_H

#include <stddef.h>
#include <stdint.h>

/* The pre-tokenizer split pattern (Hugging Face / Oniguruma syntax) that the trainer splits with
 * and io/tokenizer_write.c writes to tokenizer.json (Qwen2 / Llama 3 style: English
 * contractions, letters with one optional leading non-letter, single digits, punctuation runs
 * with a leading space, whitespace). A word keeps its leading space. */
#define BPE_SPLIT_REGEX                                                                                 \
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|" \
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"

#define BPE_N_SPECIAL 6
/* docs/design.md §2.1: the special tokens, with ids 0..5 in this order. */
extern const char *const BPE_SPECIAL_TOKENS[BPE_N_SPECIAL];

/* Smallest vocabulary: the special tokens and the 256 bytes. */
#define BPE_MIN_VOCAB (BPE_N_SPECIAL + 256)

typedef struct BpeTrainer BpeTrainer; /* opaque: the word counts */

/* Progress during training: called after every merge (cheap; the caller decides what to print). */
typedef void (*BpeProgressFn)(int merges_done, int vocab_now, int vocab_target, int64_t last_count, void *ctx);

typedef struct {
    int vocab_size;         /* target size, including the special tokens and the 256 bytes */
    int64_t min_frequency;  /* a pair must occur at least this often to be merged (>= 1) */
    BpeProgressFn progress; /* optional */
    void *progress_ctx;
} BpeTrainParams;

typedef struct {
    int n_tokens;  /* the vocabulary: ids 0 .. n_tokens-1 */
    char **tokens; /* [n_tokens] NUL-terminated token strings as tokenizer.json stores them:
                      special tokens verbatim, all others in byte-level form (each byte as
                      its bytes_to_unicode character, UTF-8 encoded) */
    int n_special; /* ids 0 .. n_special-1 are the special (added) tokens */
    int n_merges;
    int32_t *merges;       /* [2 * n_merges]: left id, right id, in merge (rank) order */
    int32_t *merge_ids;    /* [n_merges]: the id each merge produces */
    int64_t *merge_counts; /* [n_merges]: the pair's count when it was merged */
} BpeResult;

typedef struct {
    int64_t texts;    /* bpe_trainer_add_text calls */
    int64_t bytes;    /* input bytes */
    int64_t pieces;   /* pre-tokenizer pieces (words) counted, with repetition */
    int64_t distinct; /* distinct words */
    int64_t specials; /* special-token occurrences split out of the text */
    int64_t replaced; /* invalid UTF-8 subparts replaced by U+FFFD */
} BpeTrainerStats;

/* A new, empty trainer (builds its pre-tokenizer). NULL with px_error on failure. */
BpeTrainer *bpe_trainer_new(void);
void bpe_trainer_free(BpeTrainer *tr);

/* Counts the words of one text (len bytes, any bytes; it is one unit: pieces never span two
 * calls). 0, or -1 with px_error (out of memory). */
int bpe_trainer_add_text(BpeTrainer *tr, const char *text, size_t len);

BpeTrainerStats bpe_trainer_stats(const BpeTrainer *tr);

/* Runs BPE over the words counted so far and fills *out (free with bpe_result_free). The
 * trainer keeps its counts and may be trained again. -1 with px_error on a vocab_size below
 * BPE_MIN_VOCAB, a min_frequency below 1, or out of memory. */
int bpe_trainer_train(const BpeTrainer *tr, const BpeTrainParams *params, BpeResult *out);

void bpe_result_free(BpeResult *r);

/* The byte-level form of a byte string (GPT-2's bytes_to_unicode, UTF-8 encoded) into out,
 * which must hold 2 * len + 1 bytes; returns the length written (NUL-terminated). The same as
 * bytelevel_encode of src/bytelevel.h. */
size_t bpe_bytes_to_unicode(const uint8_t *bytes, size_t len, char *out);

#endif
