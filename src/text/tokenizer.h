/* tokenizer.h — byte-level BPE compatible with Hugging Face tokenizer.json (GPT-2, Llama 3,
 * Qwen2, Qwen3): normalizer (NFC or none) -> added/special tokens matched first -> split
 * pre-tokenizer regex (PCRE2) -> ByteLevel byte-to-unicode mapping -> BPE merges by rank.
 *
 * Invalid UTF-8 in the input is handled deterministically: every maximal invalid
 * subsequence is replaced by U+FFFD before anything else, exactly as the WHATWG
 * TextDecoder (and so Node's reference tokenizer reading the same bytes) does.
 */
#ifndef PROACT_TOKENIZER_H
#define PROACT_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

typedef struct Tokenizer Tokenizer; /* opaque; built by io/tokenizer_json.c */

/* A run of token ids: a text's tokens, a template piece, a word. Growable (idvec_push, and
 * tokenizer_encode appends); n is an int like every token count the model takes. A run that
 * does not own its ids (a view, or a test's static array) has cap 0 and is never pushed to or
 * freed. IdVec v = {0} is empty. */
typedef struct {
    int *ids;
    int n;
    size_t cap; /* allocated ids */
} IdVec;

int idvec_push(IdVec *v, int id); /* 0, or -1 (px_error) */
void idvec_free(IdVec *v);

/* Appends the ids of `text` (len bytes of UTF-8) to *out. No special tokens are added
 * (Hugging Face's add_special_tokens=False); added tokens that occur in the text are
 * matched as Hugging Face does. 0 or -1 (px_error) on allocation failure. */
int tokenizer_encode(const Tokenizer *t, const char *text, size_t len, IdVec *out);

/* --- the pre-tokenizer alone (the BPE trainer) -------------------------------------------
 * tokenizer_pretokenize runs exactly the stages of tokenizer_encode before BPE — invalid UTF-8
 * → U+FFFD, added tokens, normalizer, Split regexes, ByteLevel prefix space and regex — and
 * hands their output to fn in text order instead of encoding it: each added token as (the text
 * it matched, its length, its id) and each piece as (its bytes, length, added_id -1). A piece is
 * never empty; its bytes are the raw UTF-8 that BPE starts from, one symbol per byte (their
 * byte-level characters are in src/text/bytelevel.h). The pointers are valid during the call only,
 * and fn must not use t. fn returns 0 to go on, or -1 after px_error to stop: then
 * tokenizer_pretokenize returns -1. *replaced (if not NULL) = the number of invalid UTF-8
 * subparts replaced. Works on any finished Tokenizer, also one built by
 * tokenizer_finish_pretokenizer. */
typedef int (*TokenizerPieceFn)(const char *piece, size_t len, int added_id, void *ctx);
int tokenizer_pretokenize(const Tokenizer *t, const char *text, size_t len, TokenizerPieceFn fn, void *ctx,
                          size_t *replaced);

/* Decodes ids to UTF-8 into a malloc'ed NUL-terminated string (*out, length *out_len).
 * skip_special drops special added tokens. An id outside the vocabulary -> -1 naming it.
 * Byte sequences that are not valid UTF-8 after decoding become U+FFFD. */
int tokenizer_decode(const Tokenizer *t, const int *ids, size_t n, int skip_special, char **out, size_t *out_len);

/* Largest id + 1 (vocabulary plus added tokens). */
int tokenizer_vocab_size(const Tokenizer *t);
/* Id of a token string (vocabulary or added token), or -1. */
int tokenizer_token_to_id(const Tokenizer *t, const char *token);
/* The special tokens that other formats name (GGUF metadata, Hugging Face configs), -1 where absent:
 * bos <|begin_of_text|> (Llama 3), else <|endoftext|>; eos eos_id when >= 0 (the template's tgt_end),
 * else <|endoftext|>; pad <pad>. proact itself adds none of them: its templates hold their tokens. */
void tokenizer_special_ids(const Tokenizer *t, int eos_id, int *bos, int *eos, int *pad);
/* Token string of an id (as stored in tokenizer.json), or NULL. */
const char *tokenizer_id_to_token(const Tokenizer *t, int id);
/* A stable 64-bit hash of everything that decides the encoding (vocabulary, merges, added
 * tokens, normalizer, pre-tokenizer): two tokenizers that encode alike hash alike. Token
 * shards record it so that shards made with another tokenizer are refused. */
uint64_t tokenizer_fingerprint(const Tokenizer *t);

void tokenizer_free(Tokenizer *t);

/* Thread safety: tokenizer_encode (and tokenizer_pretokenize) keeps a cache of pieces and scratch
 * buffers inside the Tokenizer, so one Tokenizer must not encode in two threads at once (load one
 * per thread).
 * Everything else is read-only after tokenizer_finish.
 *
 * Behaviour follows the npm reference @huggingface/tokenizers where it differs from the Rust
 * library: added tokens' single_word flag is kept but not used; lstrip/rstrip trim
 * JavaScript whitespace; the ByteLevel regex uses JavaScript's \s (U+FEFF yes, U+0085 no),
 * Split regexes use Unicode White_Space for \s; (?i:...) folds ASCII letters only. */

/* --- building a Tokenizer (io/tokenizer_json.c, tests) ----------------------------------
 * tokenizer_new, then any of the add/set calls in any order, then tokenizer_finish once. All
 * errors name `origin` (normally the tokenizer.json path). */

/* One entry of tokenizer.json's added_tokens (content: len bytes of UTF-8). */
typedef struct {
    const char *content;
    size_t len;
    int id;
    int single_word, lstrip, rstrip, normalized, special; /* booleans */
} TokenizerAddedToken;

Tokenizer *tokenizer_new(const char *origin); /* NULL (px_error) if out of memory */
/* model.vocab: token (byte-level form) -> id; a later duplicate overwrites. */
int tokenizer_add_vocab(Tokenizer *t, const char *token, size_t len, int id);
/* model.merges: appends the merge (left, right); its rank is the number of merges before it. */
int tokenizer_add_merge(Tokenizer *t, const char *left, size_t left_len, const char *right, size_t right_len);
int tokenizer_add_added_token(Tokenizer *t, const TokenizerAddedToken *a);
int tokenizer_set_unk_token(Tokenizer *t, const char *token, size_t len); /* model.unk_token */
void tokenizer_set_ignore_merges(Tokenizer *t, int on);                   /* model.ignore_merges */
void tokenizer_set_nfc(Tokenizer *t, int on);                             /* normalizer NFC */
/* A Split pre-tokenizer step (behaviour Isolated, invert false), applied in the order added.
 * is_regex: `pattern` is an Oniguruma regex ({"Regex": ...}), else a literal ({"String": ...}).
 * An unsupported construct is an error naming `field`. */
int tokenizer_add_split(Tokenizer *t, const char *pattern, size_t len, int is_regex, const char *field);
/* The ByteLevel pre-tokenizer step (last); use_regex: GPT-2's split regex. */
void tokenizer_set_byte_level(Tokenizer *t, int add_prefix_space, int use_regex);
/* Builds the lookup tables (vocabulary, merges, added tokens). -1 (px_error) on an unknown
 * unk_token, an empty vocabulary, a missing ByteLevel step, or out of memory. */
int tokenizer_finish(Tokenizer *t);
/* Instead of tokenizer_finish: builds only the pre-tokenizer (normalizer, added tokens, Split
 * steps, ByteLevel), for tokenizer_pretokenize. No vocabulary or merges are needed (any given
 * are ignored); such a Tokenizer cannot encode (-1 naming origin) and decodes no id. */
int tokenizer_finish_pretokenizer(Tokenizer *t);

#endif
