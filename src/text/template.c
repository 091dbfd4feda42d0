#include "src/text/template.h"

#include <stdio.h>
#include <string.h>

#include "src/base/common.h"

static const TemplateSpec templates[] = {
    {"plain",
     "from-scratch models: <src> source </src> <tgt> target </tgt>",
     "<src>",
     "</src>",
     "<tgt>",
     "</tgt>",
     {"<src>", "</src>", "<tgt>", "</tgt>", NULL}},
    {"chatml",
     "Qwen2/Qwen3 chat models (ChatML turns)",
     "<|im_start|>system\nTranslate the user's {src} text into {tgt}.<|im_end|>\n<|im_start|>user\n",
     "<|im_end|>\n",
     "<|im_start|>assistant\n",
     "<|im_end|>",
     {"<|im_start|>", "<|im_end|>", NULL}},
    {"llama3",
     "Llama 3 instruct models",
     "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nTranslate the user's {src} text into "
     "{tgt}.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n",
     "<|eot_id|>",
     "<|start_header_id|>assistant<|end_header_id|>\n\n",
     "<|eot_id|>",
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
    static const char *const names[][2] = {
        {"en", "English"}, {"de", "German"},     {"es", "Spanish"}, {"fr", "French"},   {"it", "Italian"},
        {"nl", "Dutch"},   {"pt", "Portuguese"}, {"zh", "Chinese"}, {"ja", "Japanese"}, {"ru", "Russian"}};
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

int template_piece_text(const TemplateSpec *spec, int i, const char *src_lang, const char *tgt_lang, char *buf,
                        size_t size) {
    const char *pieces[TEMPLATE_PIECES] = {spec->prompt, spec->src_end, spec->tgt_begin, spec->tgt_end};
    return fill(buf, size, pieces[i], language_name(src_lang), language_name(tgt_lang));
}

int template_tokenize(const TemplateSpec *spec, const Tokenizer *t, const char *src_lang, const char *tgt_lang,
                      TemplatePieces *out) {
    memset(out, 0, sizeof *out);
    for (int i = 0; spec->required[i]; i++)
        if (tokenizer_token_to_id(t, spec->required[i]) < 0)
            return px_error("template '%s' needs the token '%s', which the tokenizer does not have", spec->name,
                            spec->required[i]);
    char buf[1024];
    for (int i = 0; i < TEMPLATE_PIECES; i++) {
        if (template_piece_text(spec, i, src_lang, tgt_lang, buf, sizeof buf) ||
            tokenizer_encode(t, buf, strlen(buf), template_piece(out, i))) {
            template_pieces_free(out);
            return -1;
        }
    }
    return 0;
}

const char *const TEMPLATE_PIECE_NAMES[TEMPLATE_PIECES] = {"prompt", "src_end", "tgt_begin", "tgt_end"};

IdVec *template_piece(TemplatePieces *tp, int i) {
    IdVec *pieces[TEMPLATE_PIECES] = {&tp->prompt, &tp->src_end, &tp->tgt_begin, &tp->tgt_end};
    return pieces[i];
}

const IdVec *template_piece_const(const TemplatePieces *tp, int i) {
    return template_piece((TemplatePieces *)tp, i); /* the same pointers, read only */
}

void template_pieces_free(TemplatePieces *tp) {
    idvec_free(&tp->prompt);
    idvec_free(&tp->src_end);
    idvec_free(&tp->tgt_begin);
    idvec_free(&tp->tgt_end);
}

/* ISO 639-1 codes accepted in file names: a list, so that "state-of-art" is not read as of->art. */
static int is_language_code(const char *p, size_t n) {
    static const char *const codes[] = {"ar", "bg", "ca", "cs", "da", "de", "el", "en", "es", "et",
                                        "fa", "fi", "fr", "he", "hi", "hr", "hu", "id", "it", "ja",
                                        "ko", "lt", "lv", "ms", "nb", "nl", "no", "pl", "pt", "ro",
                                        "ru", "sk", "sl", "sr", "sv", "th", "tr", "uk", "vi", "zh"};
    if (n != 2) return 0;
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        if (strncmp(codes[i], p, 2) == 0) return 1;
    return 0;
}

/* Looks for "xx-yy" (two language codes) delimited by '.', '_', '-' or the ends of [begin, end). */
static int find_pair(const char *begin, const char *end, char *src, char *tgt, size_t size) {
    for (const char *p = begin; p + 5 <= end; p++) {
        if (p > begin && p[-1] != '.' && p[-1] != '_' && p[-1] != '-') continue;
        if (!is_language_code(p, strspn(p, "abcdefghijklmnopqrstuvwxyz")) || p[2] != '-') continue;
        const char *q = p + 3, *after = q + strspn(q, "abcdefghijklmnopqrstuvwxyz");
        if (after > end) after = end;
        if (is_language_code(q, (size_t)(after - q)) && (after == end || *after == '.' || *after == '_')) {
            snprintf(src, size, "%.2s", p);
            snprintf(tgt, size, "%.2s", q);
            return 1;
        }
    }
    return 0;
}

void template_guess_languages(const char *path, char *src, char *tgt, size_t size) {
    /* the file name first, then each directory up the path (data/libreoffice-en-de/train.tsv) */
    const char *end = path + strlen(path);
    while (end > path) {
        const char *begin = end;
        while (begin > path && begin[-1] != '/') begin--;
        if (find_pair(begin, end, src, tgt, size)) return;
        end = begin > path ? begin - 1 : path;
    }
    snprintf(src, size, "source");
    snprintf(tgt, size, "target");
}
