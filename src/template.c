#include "template.h"

#include <stdio.h>
#include <string.h>

#include "common.h"

static const TemplateSpec templates[] = {
    {"plain", "from-scratch models: <src> source </src> <tgt> target </tgt>", "<src>", "</src>", "<tgt>", "</tgt>",
     {"<src>", "</src>", "<tgt>", "</tgt>", NULL}},
    {"chatml", "Qwen2/Qwen3 chat models (ChatML turns)",
     "<|im_start|>system\nTranslate the user's {src} text into {tgt}.<|im_end|>\n<|im_start|>user\n",
     "<|im_end|>\n", "<|im_start|>assistant\n", "<|im_end|>", {"<|im_start|>", "<|im_end|>", NULL}},
    {"llama3", "Llama 3 instruct models",
     "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nTranslate the user's {src} text into "
     "{tgt}.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n",
     "<|eot_id|>", "<|start_header_id|>assistant<|end_header_id|>\n\n", "<|eot_id|>",
     {"<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>", NULL}},
};
static const int n_templates = (int)(sizeof templates / sizeof templates[0]);

const char *template_names(void) { return "plain, chatml, llama3"; }

const TemplateSpec *template_find(const char *name) {
    for (int i = 0; i < n_templates; i++)
        if (strcmp(templates[i].name, name) == 0) return &templates[i];
    px_error("unknown template '%s' (expected: %s)", name, template_names());
    return NULL;
}

const char *language_name(const char *code) {
    static const char *const names[][2] = {{"en", "English"}, {"de", "German"}, {"es", "Spanish"}, {"fr", "French"},
                                           {"it", "Italian"}, {"nl", "Dutch"},  {"pt", "Portuguese"}, {"zh", "Chinese"},
                                           {"ja", "Japanese"}, {"ru", "Russian"}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(names[i][0], code) == 0) return names[i][1];
    return code;
}

/* Copies `s` into buf with {src} and {tgt} replaced. */
static int fill(char *buf, size_t size, const char *s, const char *src, const char *tgt) {
    size_t k = 0;
    for (const char *p = s; *p;) {
        const char *rep = NULL;
        if (strncmp(p, "{src}", 5) == 0) rep = src;
        else if (strncmp(p, "{tgt}", 5) == 0) rep = tgt;
        size_t n = rep ? strlen(rep) : 1;
        if (k + n + 1 > size) return px_error("template text too long");
        memcpy(buf + k, rep ? rep : p, n);
        k += n;
        p += rep ? 5 : 1;
    }
    buf[k] = '\0';
    return 0;
}

int template_tokenize(const TemplateSpec *spec, const Tokenizer *t, const char *src_lang, const char *tgt_lang,
                      TemplateTokens *out) {
    memset(out, 0, sizeof *out);
    for (int i = 0; spec->required[i]; i++)
        if (tokenizer_token_to_id(t, spec->required[i]) < 0)
            return px_error("template '%s' needs the token '%s', which the tokenizer does not have", spec->name,
                            spec->required[i]);
    const char *src = language_name(src_lang), *tgt = language_name(tgt_lang);
    const char *pieces[4] = {spec->prompt, spec->src_end, spec->tgt_begin, spec->tgt_end};
    IdVec *dest[4] = {&out->prompt, &out->src_end, &out->tgt_begin, &out->tgt_end};
    char buf[1024];
    for (int i = 0; i < 4; i++) {
        if (fill(buf, sizeof buf, pieces[i], src, tgt) || tokenizer_encode(t, buf, strlen(buf), dest[i])) {
            template_tokens_free(out);
            return -1;
        }
    }
    return 0;
}

void template_tokens_free(TemplateTokens *tt) {
    idvec_free(&tt->prompt);
    idvec_free(&tt->src_end);
    idvec_free(&tt->tgt_begin);
    idvec_free(&tt->tgt_end);
}

void template_guess_languages(const char *path, char *src, char *tgt, size_t size) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    for (const char *p = base; *p; p++) {
        size_t a = strspn(p, "abcdefghijklmnopqrstuvwxyz");
        if ((a == 2 || a == 3) && p[a] == '-' && (p == base || p[-1] == '.' || p[-1] == '_')) {
            size_t b = strspn(p + a + 1, "abcdefghijklmnopqrstuvwxyz");
            char after = p[a + 1 + b];
            if ((b == 2 || b == 3) && (after == '.' || after == '_' || after == '\0')) {
                snprintf(src, size, "%.*s", (int)a, p);
                snprintf(tgt, size, "%.*s", (int)b, p + a + 1);
                return;
            }
        }
    }
    snprintf(src, size, "source");
    snprintf(tgt, size, "target");
}
