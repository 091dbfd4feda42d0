/* stream_model.c — open an exported model directory for streaming (stream_model.h). */
#include "io/stream_model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int stream_model_head(const StreamModel *sm, const char *spec, HeadSpec *out) {
    if (head_parse(spec, out)) return -1;
    if (out->kind == HEAD_PROBE && !sm->has_probe)
        return px_error("decision head '%s' needs a probe, and %s has none: run proact probe --model %s first", spec,
                        sm->dir, sm->dir);
    return 0;
}
