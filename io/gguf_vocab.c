/* gguf_vocab.c — a tokenizer.json as GGUF's tokenizer.ggml.* keys (see gguf.h).
 * Recipe: load it as proact does (io/tokenizer_json.c refuses what proact cannot encode) -> read
 * vocab, added tokens and merges again with jansson -> name llama.cpp's pre-tokenizer from the
 * Split regex -> tokens and types in id order, merges as "a b" strings, the special ids. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/gguf.h"
#include "io/tokenizer_json.h"
#include "src/base/common.h"
#include "src/text/bpe_train.h"

/* llama.cpp's token types (llama.h's llama_token_type) */
enum { TT_NORMAL = 1, TT_CONTROL = 3, TT_USER_DEFINED = 4, TT_UNUSED = 5 };
#define PAD_SLOT 24 /* bytes for "[PAD<int>]" and its NUL */

/* The Split regexes llama.cpp knows by the name of their pre-tokenizer (llama-vocab.cpp). */
#define LLAMA3_REGEX                                                                                         \
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|" \
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"

static json_t *member(json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    return json_is_null(v) ? NULL : v;
}

static const char *type_of(json_t *o) {
    json_t *t = json_is_object(o) ? member(o, "type") : NULL;
    return json_is_string(t) ? json_string_value(t) : "";
}

/* llama.cpp's name of the pre-tokenizer: "qwen2" (Qwen2/Qwen3 and proact's trained tokenizers),
 * "llama-bpe" (Llama 3), "gpt-2" (ByteLevel with its own regex); anything else is an error. */
static int pre_name(const char *path, json_t *root, const char **out) {
    json_t *pre = member(root, "pre_tokenizer");
    const char *type = type_of(pre);
    if (strcmp(type, "ByteLevel") == 0) {
        json_t *ur = member(pre, "use_regex"), *aps = member(pre, "add_prefix_space");
        if ((ur && !json_is_true(ur)) || json_is_true(aps))
            return px_error("%s: field pre_tokenizer: a ByteLevel pre-tokenizer without GPT-2's regex (or with "
                            "add_prefix_space) has no llama.cpp equivalent",
                            path);
        *out = "gpt-2";
        return 0;
    }
    json_t *list = strcmp(type, "Sequence") == 0 ? member(pre, "pretokenizers") : NULL;
    if (json_array_size(list) == 2 && strcmp(type_of(json_array_get(list, 0)), "Split") == 0 &&
        strcmp(type_of(json_array_get(list, 1)), "ByteLevel") == 0) {
        json_t *pattern = member(json_array_get(list, 0), "pattern");
        json_t *rx = json_is_object(pattern) ? member(pattern, "Regex") : NULL;
        json_t *bl = json_array_get(list, 1);
        int plain_bl = !json_is_true(member(bl, "use_regex")) && !json_is_true(member(bl, "add_prefix_space"));
        const char *s = json_is_string(rx) ? json_string_value(rx) : "";
        if (plain_bl && strcmp(s, BPE_SPLIT_REGEX) == 0) *out = "qwen2";
        else if (plain_bl && strcmp(s, LLAMA3_REGEX) == 0) *out = "llama-bpe";
        else *out = NULL;
        if (*out) return 0;
        return px_error("%s: field pre_tokenizer.pretokenizers[0].pattern.Regex: '%.120s' is not a regex llama.cpp "
                        "knows (Qwen2's or Llama 3's)",
                        path, s);
    }
    return px_error("%s: field pre_tokenizer: only ByteLevel (GPT-2) or Split(regex) + ByteLevel (Qwen2, Llama 3) "
                    "have a llama.cpp pre-tokenizer",
                    path);
}

typedef struct {
    const char **tok; /* [n_vocab] token text (into the JSON tree or pad) */
    size_t *len;
    int32_t *type;
    char *pad; /* "[PADi]" texts, PAD_SLOT bytes each */
    const char **mstr;
    size_t *mlen;
    StrBuf mtext; /* merges given as [a, b] pairs, joined "a b" */
} Vocab;

static void vocab_free(Vocab *v) {
    free(v->tok);
    free(v->len);
    free(v->type);
    free(v->pad);
    free(v->mstr);
    free(v->mlen);
    free(v->mtext.s);
}

/* tokens and types in id order from model.vocab and added_tokens */
static int read_tokens(const char *path, json_t *root, int n_vocab, Vocab *v) {
    json_t *vocab = member(member(root, "model"), "vocab"), *added = member(root, "added_tokens");
    const char *key;
    json_t *val;
    json_object_foreach(vocab, key, val) {
        json_int_t id = json_integer_value(val);
        if (id < 0 || id >= n_vocab)
            return px_error("%s: token '%s' has id %lld, outside the model's vocabulary of %d (field model.vocab)",
                            path, key, (long long)id, n_vocab);
        if (v->tok[id])
            return px_error("%s: id %lld is given to both '%s' and '%s' (field model.vocab)", path, (long long)id,
                            v->tok[id], key);
        v->tok[id] = key;
        v->len[id] = strlen(key);
        v->type[id] = TT_NORMAL;
    }
    size_t i;
    json_array_foreach(added, i, val) {
        json_t *id_j = member(val, "id"), *content = member(val, "content");
        json_int_t id = json_integer_value(id_j);
        if (!json_is_integer(id_j) || !json_is_string(content) || id < 0 || id >= n_vocab)
            return px_error("%s: added_tokens[%zu]: id %lld is outside the model's vocabulary of %d", path, i,
                            (long long)id, n_vocab);
        v->tok[id] = json_string_value(content);
        v->len[id] = json_string_length(content);
        v->type[id] = json_is_true(member(val, "special")) ? TT_CONTROL : TT_USER_DEFINED;
    }
    v->pad = px_calloc((size_t)n_vocab, PAD_SLOT, "GGUF padding tokens");
    if (!v->pad) return -1;
    for (int id = 0; id < n_vocab; id++) { /* rows of the embedding the tokenizer never produces */
        if (v->tok[id]) continue;
        char *p = v->pad + PAD_SLOT * (size_t)id;
        snprintf(p, PAD_SLOT, "[PAD%d]", id);
        v->tok[id] = p;
        v->len[id] = strlen(p);
        v->type[id] = TT_UNUSED;
    }
    return 0;
}

/* model.merges as "a b" strings (either form of tokenizer.json) */
static int read_merges(const char *path, json_t *root, Vocab *v, size_t *n_merges) {
    json_t *merges = member(member(root, "model"), "merges");
    size_t n = json_array_size(merges), i;
    *n_merges = n;
    v->mstr = px_calloc(n ? n : 1, sizeof *v->mstr, "GGUF merges");
    v->mlen = px_calloc(n ? n : 1, sizeof *v->mlen, "GGUF merges");
    size_t *off = px_calloc(n ? n : 1, sizeof *off, "GGUF merges");
    if (!v->mstr || !v->mlen || !off) {
        free(off);
        return -1;
    }
    json_t *m;
    int rc = 0;
    json_array_foreach(merges, i, m) {
        const char *a, *b;
        size_t alen, blen;
        if (tokenizer_json_merge(path, m, i, &a, &alen, &b, &blen)) {
            rc = -1;
            break;
        }
        v->mlen[i] = alen + 1 + blen;
        if (json_is_string(m)) { /* "a b" already: GGUF's form */
            v->mstr[i] = a;
            continue;
        }
        off[i] = v->mtext.n;
        if (strbuf_put(&v->mtext, a, alen) || strbuf_put(&v->mtext, " ", 1) || strbuf_put(&v->mtext, b, blen)) {
            rc = -1;
            break;
        }
        v->mstr[i] = NULL; /* set below: mtext may still move */
    }
    for (i = 0; rc == 0 && i < n; i++)
        if (!v->mstr[i]) v->mstr[i] = v->mtext.s + off[i];
    free(off);
    return rc;
}

int gguf_vocab_meta(GgufMeta *g, const char *path, int n_vocab, int eos_id) {
    Tokenizer *t = NULL;
    if (tokenizer_load(path, &t)) return -1; /* what proact cannot encode is refused here */
    int tok_size = tokenizer_vocab_size(t), bos, eos, pad;
    tokenizer_special_ids(t, eos_id, &bos, &eos, &pad);
    tokenizer_free(t);
    if (tok_size > n_vocab)
        return px_error("%s: the tokenizer has %d tokens, more than the model's vocabulary of %d", path, tok_size,
                        n_vocab);
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    if (!root) return px_error("%s: not valid JSON (line %d: %s)", path, jerr.line, jerr.text);
    Vocab v = {0};
    size_t n_merges = 0;
    const char *pre = NULL;
    int rc = -1;
    v.tok = px_calloc((size_t)n_vocab, sizeof *v.tok, "GGUF tokens");
    v.len = px_calloc((size_t)n_vocab, sizeof *v.len, "GGUF tokens");
    v.type = px_calloc((size_t)n_vocab, sizeof *v.type, "GGUF token types");
    if (!v.tok || !v.len || !v.type || pre_name(path, root, &pre) || read_tokens(path, root, n_vocab, &v) ||
        read_merges(path, root, &v, &n_merges))
        goto done;
    if (gguf_put_str(g, "tokenizer.ggml.model", "gpt2", 4) || gguf_put_str(g, "tokenizer.ggml.pre", pre, strlen(pre)) ||
        gguf_put_str_array(g, "tokenizer.ggml.tokens", v.tok, v.len, (uint64_t)n_vocab) ||
        gguf_put_i32_array(g, "tokenizer.ggml.token_type", v.type, (uint64_t)n_vocab) ||
        gguf_put_str_array(g, "tokenizer.ggml.merges", v.mstr, v.mlen, n_merges) ||
        (bos >= 0 && gguf_put_u32(g, "tokenizer.ggml.bos_token_id", (uint32_t)bos)) ||
        (eos >= 0 && gguf_put_u32(g, "tokenizer.ggml.eos_token_id", (uint32_t)eos)) ||
        (pad >= 0 && gguf_put_u32(g, "tokenizer.ggml.padding_token_id", (uint32_t)pad)) ||
        gguf_put_bool(g, "tokenizer.ggml.add_bos_token", 0) || gguf_put_bool(g, "tokenizer.ggml.add_eos_token", 0)) {
        px_error("%s: out of memory building the GGUF tokenizer", path);
        goto done;
    }
    rc = 0;
done:
    vocab_free(&v);
    json_decref(root);
    return rc;
}
