/* hf_export.c — the complete Hugging Face model directory (see hf_export.h).
 * Recipe: read SRC_DIR's proact.json and tokenizer.json (checked against the model) -> choose the
 * special ids -> render the template's pieces and keep them as a chat template if they tokenize
 * to proact.json's template_tokens -> build tokenizer_config.json and generation_config.json ->
 * write config.json + weights, tokenizer.json (copied or with its merges rewritten), the two
 * configs and proact.json. The configs are written as transformers writes them: keys sorted,
 * two-space indentation, UTF-8 unescaped. */
#include "io/hf_export.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/atomic_file.h"
#include "io/files.h"
#include "io/proact_json.h"
#include "io/stream_model.h"
#include "io/tokenizer_json.h"
#include "src/base/common.h"
#include "src/base/vec.h"
#include "src/text/bpe_train.h"
#include "src/text/template.h"

/* DIR/name in buf if that file exists, else NULL. */
static const char *present(char *buf, size_t cap, const char *dir, const char *name) {
    struct stat sb;
    if ((size_t)snprintf(buf, cap, "%s/%s", dir, name) >= cap) return NULL;
    return stat(buf, &sb) == 0 ? buf : NULL;
}

/* ---- the chat template ------------------------------------------------------------------------ */

/* s as a double-quoted Jinja string literal; escapes that both Jinja (Python) and @huggingface/jinja
 * read: backslash, quote, newline, carriage return, tab. */
static int put_jinja_string(StrBuf *b, const char *s) {
    if (strbuf_puts(b, "\"")) return -1;
    for (const char *p = s; *p; p++) {
        const char *esc = *p == '\\'   ? "\\\\"
                          : *p == '"'  ? "\\\""
                          : *p == '\n' ? "\\n"
                          : *p == '\r' ? "\\r"
                          : *p == '\t' ? "\\t"
                                       : NULL;
        if (esc ? strbuf_puts(b, esc) : strbuf_put(b, p, 1)) return -1;
    }
    return strbuf_puts(b, "\"");
}

char *hf_chat_template(const char *prompt, const char *src_end, const char *tgt_begin, const char *tgt_end) {
    StrBuf b = {0};
    /* words: the content split on the runner's separators (src/text/words.h), empty pieces dropped */
    int bad = strbuf_puts(&b, "{%- for message in messages -%}"
                              "{%- set ns = namespace(text='') -%}"
                              "{%- for w in message['content'].replace('\\t', ' ').replace('\\n', ' ')"
                              ".replace('\\r', ' ').replace('\\v', ' ').replace('\\f', ' ').split(' ') -%}"
                              "{%- if w -%}{%- set ns.text = ns.text + ' ' + w if ns.text else w -%}{%- endif -%}"
                              "{%- endfor -%}"
                              "{%- if message['role'] == 'user' -%}{{- ") ||
              put_jinja_string(&b, prompt) || strbuf_puts(&b, " + ns.text + ") || put_jinja_string(&b, src_end) ||
              strbuf_puts(&b, " -}}{%- elif message['role'] == 'assistant' -%}{{- ") ||
              put_jinja_string(&b, tgt_begin) || strbuf_puts(&b, " + ns.text + ") || put_jinja_string(&b, tgt_end) ||
              strbuf_puts(&b, " -}}{%- else -%}{{- raise_exception('proact translation template: messages are the "
                              "source (role user) and the translation (role assistant), got role ' + "
                              "message['role']) -}}{%- endif -%}{%- endfor -%}"
                              "{%- if add_generation_prompt -%}{{- ") ||
              put_jinja_string(&b, tgt_begin) || strbuf_puts(&b, " -}}{%- endif -%}") || strbuf_put(&b, "", 1);
    if (bad) {
        free(b.s);
        px_error("out of memory building the chat template");
        return NULL;
    }
    return b.s;
}

/* The template's pieces as text if they tokenize to proact.json's template_tokens: 1 (texts filled),
 * 0 (why not in note), -1 on error. */
static int template_texts(const Tokenizer *t, const ProactJson *pj, char texts[TEMPLATE_PIECES][1024], char *note,
                          size_t note_cap) {
    const TemplateSpec *spec = template_find(pj->template_name);
    if (!spec) {
        snprintf(note, note_cap, "proact.json's template '%.60s' is not one proact knows", pj->template_name);
        return 0;
    }
    for (int i = 0; i < TEMPLATE_PIECES; i++) {
        IdVec ids = {0};
        if (template_piece_text(spec, i, pj->src_lang, pj->tgt_lang, texts[i], sizeof texts[i]) ||
            tokenizer_encode(t, texts[i], strlen(texts[i]), &ids)) {
            idvec_free(&ids);
            return -1;
        }
        const IdVec *want = template_piece_const(&pj->tokens, i);
        int same = ids.n == want->n && (ids.n == 0 || memcmp(ids.ids, want->ids, ids.n * sizeof *ids.ids) == 0);
        idvec_free(&ids);
        if (!same) {
            snprintf(note, note_cap, "proact.json's template_tokens.%s is not template '%s''s text tokenized",
                     TEMPLATE_PIECE_NAMES[i], spec->name);
            return 0;
        }
    }
    return 1;
}

/* ---- the two configs -------------------------------------------------------------------------- */

static HfTokenIds pick_ids(const Tokenizer *t, const ProactJson *pj) {
    HfTokenIds ids = {-1, -1, -1};
    if (t)
        tokenizer_special_ids(t, pj && pj->tokens.tgt_end.n == 1 ? pj->tokens.tgt_end.ids[0] : -1, &ids.bos, &ids.eos,
                              &ids.pad);
    else if (pj && pj->tokens.tgt_end.n == 1) ids.eos = pj->tokens.tgt_end.ids[0];
    return ids;
}

/* Qwen2's own class for a Qwen2 model whose tokenizer is laid out as Qwen2's (NFC, Qwen2's split
 * regex); the generic class, which takes tokenizer.json as it is, for everything else. */
static const char *tokenizer_class(json_t *tok, ModelArch arch) {
    json_t *norm = json_object_get(tok, "normalizer"), *pre = json_object_get(tok, "pre_tokenizer");
    json_t *split = json_array_get(json_object_get(pre, "pretokenizers"), 0);
    const char *nt = json_string_value(json_object_get(norm, "type"));
    const char *re = json_string_value(json_object_get(json_object_get(split, "pattern"), "Regex"));
    int qwen = nt && strcmp(nt, "NFC") == 0 && re && strcmp(re, BPE_SPLIT_REGEX) == 0;
    return arch == MODEL_ARCH_QWEN2 && qwen ? "Qwen2Tokenizer" : "PreTrainedTokenizerFast";
}

/* Whether tokenizer.json's post-processor puts special tokens before (*bos) or after (*eos) one
 * encoded text: TemplateProcessing's "single" (alone or in a Sequence). ByteLevel adds nothing;
 * proact's encoder adds nothing either way (its templates hold their special tokens). */
static void post_processor_adds(json_t *pp, int *bos, int *eos) {
    const char *type = json_string_value(json_object_get(pp, "type"));
    if (!type) return;
    if (strcmp(type, "Sequence") == 0) {
        size_t i;
        json_t *step;
        json_array_foreach(json_object_get(pp, "processors"), i, step) post_processor_adds(step, bos, eos);
        return;
    }
    if (strcmp(type, "TemplateProcessing") != 0) return;
    int seen_text = 0;
    size_t i;
    json_t *piece;
    json_array_foreach(json_object_get(pp, "single"), i, piece) {
        if (json_object_get(piece, "Sequence")) seen_text = 1;
        else if (json_object_get(piece, "SpecialToken")) *(seen_text ? eos : bos) = 1;
    }
}

static int set(json_t *o, const char *key, json_t *v) { return v ? json_object_set_new(o, key, v) : -1; }

/* A token's content as JSON (null for id < 0). */
static json_t *token_or_null(const Tokenizer *t, int id) {
    const char *s = id >= 0 ? tokenizer_id_to_token(t, id) : NULL;
    return s ? json_string(s) : json_null();
}

/* added_tokens_decoder and additional_special_tokens (the special added tokens that are none of
 * bos/eos/pad/unk), from tokenizer.json's added_tokens. */
static int put_added_tokens(json_t *cfg, json_t *tok, const HfTokenIds *ids, const char *unk) {
    json_t *dec = json_object(), *extra = json_array();
    int bad = !dec || !extra;
    const char *flags[] = {"lstrip", "normalized", "rstrip", "single_word", "special"};
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(tok, "added_tokens"), i, a) {
        json_t *id = json_object_get(a, "id"), *content = json_object_get(a, "content");
        if (bad || !json_is_integer(id) || !json_is_string(content)) continue; /* tokenizer_load checked them */
        json_t *e = json_object();
        bad = set(e, "content", json_copy(content));
        for (size_t f = 0; !bad && f < sizeof flags / sizeof *flags; f++) {
            json_t *v = json_object_get(a, flags[f]);
            int on = json_is_true(v) ||
                     (!v && strcmp(flags[f], "normalized") == 0 && !json_is_true(json_object_get(a, "special")));
            bad = set(e, flags[f], json_boolean(on));
        }
        char key[24];
        snprintf(key, sizeof key, "%lld", (long long)json_integer_value(id));
        if (!bad) bad = set(dec, key, e);
        else json_decref(e);
        int n = (int)json_integer_value(id);
        int named =
            n == ids->bos || n == ids->eos || n == ids->pad || (unk && strcmp(unk, json_string_value(content)) == 0);
        if (!bad && json_is_true(json_object_get(a, "special")) && !named)
            bad = json_array_append_new(extra, json_copy(content));
    }
    if (!bad) {
        bad = set(cfg, "added_tokens_decoder", dec) || set(cfg, "additional_special_tokens", extra);
        dec = extra = NULL;
    }
    json_decref(dec);
    json_decref(extra);
    return bad ? -1 : 0;
}

/* tokenizer_config.json; chat (NULL: none). */
static json_t *tokenizer_config(json_t *tok, const Tokenizer *t, const Model *m, const HfTokenIds *ids,
                                const char *chat) {
    json_t *model = json_object_get(tok, "model"), *unk = json_object_get(model, "unk_token");
    const char *unk_s = json_is_string(unk) ? json_string_value(unk) : NULL;
    int add_bos = 0, add_eos = 0;
    post_processor_adds(json_object_get(tok, "post_processor"), &add_bos, &add_eos);
    json_t *cfg = json_object();
    int bad = !cfg || set(cfg, "add_bos_token", json_boolean(add_bos)) ||
              set(cfg, "add_eos_token", json_boolean(add_eos)) || put_added_tokens(cfg, tok, ids, unk_s) ||
              set(cfg, "bos_token", token_or_null(t, ids->bos)) || set(cfg, "eos_token", token_or_null(t, ids->eos)) ||
              set(cfg, "pad_token", token_or_null(t, ids->pad)) ||
              set(cfg, "unk_token", unk_s ? json_string(unk_s) : json_null()) ||
              set(cfg, "clean_up_tokenization_spaces", json_false()) ||
              set(cfg, "model_max_length", json_integer(m->cfg.max_seq_len)) ||
              set(cfg, "split_special_tokens", json_false()) ||
              set(cfg, "tokenizer_class", json_string(tokenizer_class(tok, m->cfg.arch))) ||
              (chat && set(cfg, "chat_template", json_string(chat)));
    if (bad) {
        json_decref(cfg);
        return NULL;
    }
    return cfg;
}

/* generation_config.json: the ids, the model's length, greedy decoding (proact's offline decoding). */
static json_t *generation_config(const Model *m, const HfTokenIds *ids) {
    json_t *g = json_object();
    int bad = !g || set(g, "do_sample", json_false()) || set(g, "num_beams", json_integer(1)) ||
              set(g, "max_length", json_integer(m->cfg.max_seq_len)) ||
              (ids->bos >= 0 && set(g, "bos_token_id", json_integer(ids->bos))) ||
              (ids->eos >= 0 && set(g, "eos_token_id", json_integer(ids->eos))) ||
              (ids->pad >= 0 && set(g, "pad_token_id", json_integer(ids->pad)));
    if (bad) {
        json_decref(g);
        return NULL;
    }
    return g;
}

/* DIR/name <- root, as transformers writes its configs. */
static int write_config(const char *dir, const char *name, const json_t *root) {
    char path[PX_PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *text = json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (!text) return px_error("%s: out of memory", path);
    StrBuf b = {0};
    int rc = strbuf_puts(&b, text) || strbuf_puts(&b, "\n") ? -1 : atomic_write_buffer(path, b.s, b.n);
    free(text);
    free(b.s);
    return rc;
}

/* ---- the directory ---------------------------------------------------------------------------- */

typedef struct {
    const char *tok_path, *pj_path;
    Tokenizer *t;
    json_t *tok; /* tokenizer.json's tree */
    ProactJson pj;
    int have_pj;
    json_t *tok_cfg, *gen_cfg;
} Plan;

static void plan_free(Plan *p) {
    tokenizer_free(p->t);
    json_decref(p->tok);
    json_decref(p->tok_cfg);
    json_decref(p->gen_cfg);
    if (p->have_pj) proact_json_free(&p->pj);
}

/* Reads and checks everything, builds the configs: nothing written yet. */
static int plan_export(Plan *p, const Model *m, const char *src_dir, const char *default_head, HfExportReport *r) {
    if (p->pj_path) {
        if (proact_json_read(p->pj_path, &p->pj)) return -1;
        p->have_pj = 1;
        if (proact_json_check(p->pj_path, &p->pj, m->cfg.vocab_size, m->cfg.hidden_size)) return -1;
    }
    if (default_head) { /* the head `proact run` will pick: usable with this model, or no export */
        HeadSpec h;
        if (!p->have_pj) return px_error("%s: no proact.json to set the default head in", src_dir);
        if (stream_head_for(default_head, p->pj.has_probe, src_dir, &h)) return -1;
        snprintf(p->pj.default_head, sizeof p->pj.default_head, "%s", h.spec);
    }
    if (p->tok_path) {
        json_error_t err;
        if (tokenizer_load(p->tok_path, &p->t)) return -1;
        if (tokenizer_vocab_size(p->t) > m->cfg.vocab_size)
            return px_error("%s: the tokenizer has %d tokens, more than the model's vocabulary of %d", p->tok_path,
                            tokenizer_vocab_size(p->t), m->cfg.vocab_size);
        if (!(p->tok = json_load_file(p->tok_path, JSON_ALLOW_NUL, &err)))
            return px_error("%s: not valid JSON (line %d: %s)", p->tok_path, err.line, err.text);
    }
    r->ids = pick_ids(p->t, p->have_pj ? &p->pj : NULL);
    char *chat = NULL;
    if (p->t && p->have_pj) {
        char texts[TEMPLATE_PIECES][1024];
        int fits = template_texts(p->t, &p->pj, texts, r->no_template, sizeof r->no_template);
        if (fits < 0) return -1;
        if (fits && !(chat = hf_chat_template(texts[0], texts[1], texts[2], texts[3]))) return -1;
    } else {
        snprintf(r->no_template, sizeof r->no_template, "no %s", p->t ? "proact.json" : "tokenizer.json");
    }
    r->chat_template = chat != NULL;
    if (p->t) {
        p->tok_cfg = tokenizer_config(p->tok, p->t, m, &r->ids, chat);
        r->tokenizer_class = tokenizer_class(p->tok, m->cfg.arch);
    }
    free(chat);
    p->gen_cfg = generation_config(m, &r->ids);
    if ((p->t && !p->tok_cfg) || !p->gen_cfg) return px_error("out of memory building the Hugging Face configs");
    return 0;
}

/* tokenizer.json, copied or with its merges rewritten; a rewrite must encode as the original. */
static int write_tokenizer(const Plan *p, const char *out, int merges) {
    char dst[PX_PATH_MAX + 32];
    snprintf(dst, sizeof dst, "%s/tokenizer.json", out);
    if (merges == HF_MERGES_KEEP) return file_copy(p->tok_path, dst);
    if (tokenizer_rewrite_merges(p->tok_path, dst, (TokenizerMerges)merges)) return -1;
    Tokenizer *back = NULL;
    if (tokenizer_load(dst, &back)) return -1;
    int same = tokenizer_fingerprint(back) == tokenizer_fingerprint(p->t);
    tokenizer_free(back);
    return same ? 0 : px_error("%s: the rewritten merges do not encode as %s (a bug)", dst, p->tok_path);
}

int hf_export(const char *out, const Model *m, const char *src_dir, const HfExportOptions *o, HfExportReport *r) {
    memset(r, 0, sizeof *r);
    char tok[PX_PATH_MAX + 32], pj[PX_PATH_MAX + 32];
    Plan p = {.tok_path = present(tok, sizeof tok, src_dir, "tokenizer.json"),
              .pj_path = present(pj, sizeof pj, src_dir, "proact.json")};
    if (o->merges != HF_MERGES_KEEP && !p.tok_path)
        return px_error("%s: no tokenizer.json to write merges of", src_dir);
    int rc = plan_export(&p, m, src_dir, o->default_head, r);
    if (rc == 0) rc = hf_save_model_ids(out, m, o->bf16, &r->ids);
    if (rc == 0 && p.tok_path)
        rc = write_tokenizer(&p, out, o->merges) || write_config(out, "tokenizer_config.json", p.tok_cfg);
    if (rc == 0) rc = write_config(out, "generation_config.json", p.gen_cfg);
    if (rc == 0 && p.pj_path) {
        char dst[PX_PATH_MAX + 32];
        snprintf(dst, sizeof dst, "%s/proact.json", out);
        rc = o->default_head ? proact_json_write(dst, &p.pj) : file_copy(p.pj_path, dst);
    }
    r->tokenizer = p.tok_path != NULL;
    r->proact_json = p.pj_path != NULL;
    plan_free(&p);
    return rc ? -1 : 0;
}
