/* stream_model.c — open an exported model directory for streaming (stream_model.h). */
#include "io/stream_model.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/files.h"
#include "io/hf_model.h"
#include "io/proact_json.h"
#include "io/tokenizer_json.h"
#include "src/base/common.h"

/* DIR/proact.json, checked against the model, into sm (which takes the token ids and the probe). */
static int read_proact_json(const char *dir, StreamModel *sm) {
    char path[PX_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/proact.json", dir);
    ProactJson pj;
    if (proact_json_read(path, &pj)) return -1;
    if (proact_json_check(path, &pj, sm->model.cfg.vocab_size, sm->model.cfg.hidden_size)) {
        proact_json_free(&pj);
        return -1;
    }
    sm->format.tp = pj.tokens;
    sm->format.phi = pj.phi;
    snprintf(sm->src_lang, sizeof sm->src_lang, "%s", pj.src_lang);
    snprintf(sm->tgt_lang, sizeof sm->tgt_lang, "%s", pj.tgt_lang);
    snprintf(sm->default_head, sizeof sm->default_head, "%s", pj.default_head);
    snprintf(sm->template_name, sizeof sm->template_name, "%s", pj.template_name);
    snprintf(sm->schedule, sizeof sm->schedule, "%s", pj.schedule);
    sm->has_probe = pj.has_probe;
    sm->probe = pj.probe;
    memset(&pj.tokens, 0, sizeof pj.tokens); /* now sm's */
    memset(&pj.probe, 0, sizeof pj.probe);
    proact_json_free(&pj);
    return 0;
}

int stream_model_load(const char *dir, StreamModel *sm) {
    memset(sm, 0, sizeof *sm);
    snprintf(sm->dir, sizeof sm->dir, "%s", dir);
    char path[PX_PATH_MAX + 32];
    if (hf_load_model(dir, &sm->model)) return -1;
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    if (tokenizer_load(path, &sm->tokenizer) || read_proact_json(dir, sm)) {
        stream_model_free(sm);
        return -1;
    }
    if (tokenizer_vocab_size(sm->tokenizer) > sm->model.cfg.vocab_size) {
        px_error("%s: the tokenizer has %d tokens but the model only %d", path, tokenizer_vocab_size(sm->tokenizer),
                 sm->model.cfg.vocab_size);
        stream_model_free(sm);
        return -1;
    }
    return 0;
}

void stream_model_free(StreamModel *sm) {
    model_free(&sm->model);
    if (sm->tokenizer) tokenizer_free(sm->tokenizer);
    template_pieces_free(&sm->format.tp);
    probe_free(&sm->probe);
    memset(sm, 0, sizeof *sm);
}

int stream_head_for(const char *spec, int has_probe, const char *dir, HeadSpec *out) {
    if (head_parse(spec, out)) return -1;
    if (out->kind == HEAD_PROBE && !has_probe)
        return px_error("decision head '%s' needs a probe, and %s has none: run proact probe --model %s first", spec,
                        dir, dir);
    return 0;
}

int stream_model_head(const StreamModel *sm, const char *spec, HeadSpec *out) {
    return stream_head_for(spec, sm->has_probe, sm->dir, out);
}

/* ---- which model: --model, $PROACT_MODEL or the shipped one --------------------------------- */

/* Whether DIR holds a proact.json (what every streamable model directory has). */
static int holds_model(const char *dir) {
    char path[PX_PATH_MAX + 32];
    return (size_t)snprintf(path, sizeof path, "%s/proact.json", dir) < sizeof path && file_exists(path);
}

/* PREFIX of the running executable PREFIX/bin/proact into buf: /proc/self/exe (the real path, links
 * resolved) without its last two components. -1 with px_error when it cannot be read. */
static int exe_prefix(char *buf, size_t cap) {
    ssize_t n = readlink("/proc/self/exe", buf, cap);
    if (n < 0) return px_error("readlink /proc/self/exe: %s", strerror(errno));
    if ((size_t)n >= cap) return px_error("readlink /proc/self/exe: longer than %zu bytes", cap - 1);
    buf[n] = '\0'; /* readlink does not end it */
    for (int up = 0; up < 2; up++) {
        char *slash = strrchr(buf, '/');
        if (!slash) return px_error("/proc/self/exe: '%s' is not an absolute path", buf);
        *slash = '\0';
    }
    return 0;
}

int stream_model_locate(const char *given, char *dir, size_t cap, const char **origin) {
    *origin = NULL;
    if (given) {
        if ((size_t)snprintf(dir, cap, "%s", given) >= cap) return px_error("--model: path too long");
        return 0;
    }
    const char *env = getenv("PROACT_MODEL");
    if (env && *env) {
        if ((size_t)snprintf(dir, cap, "%s", env) >= cap || !holds_model(env))
            return px_error("PROACT_MODEL=%s names no model directory (no %s/proact.json)", env, env);
        *origin = "from PROACT_MODEL";
        return 0;
    }
    /* the candidates, in order; the installed one only when the executable's path is known */
    char prefix[PX_PATH_MAX], cand[2][PX_PATH_MAX + 64];
    int n = 0;
    if (exe_prefix(prefix, sizeof prefix) == 0)
        snprintf(cand[n++], sizeof cand[0], "%s/share/proact/models/" STREAM_MODEL_SHIPPED, prefix);
#ifdef PROACT_SOURCE_DIR
    snprintf(cand[n++], sizeof cand[0], "%s/models/" STREAM_MODEL_SHIPPED, PROACT_SOURCE_DIR);
#endif
    for (int i = 0; i < n; i++)
        if (holds_model(cand[i]) && (size_t)snprintf(dir, cap, "%s", cand[i]) < cap) {
            *origin = "the shipped default";
            return 0;
        }
    return px_error("no --model given and no shipped model (looked in %s%s%s); give --model DIR or set PROACT_MODEL",
                    n > 0 ? cand[0] : "no place: the executable's path is unknown", n > 1 ? ", " : "",
                    n > 1 ? cand[1] : "");
}
