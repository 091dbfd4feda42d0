/* stream_model.h — an exported model directory opened for streaming: config.json +
 * model.safetensors (hf_model.h), tokenizer.json and proact.json (proact_json.h: template token
 * ids, phi, languages, default head, and the probe once `proact probe` has fitted one). */
#ifndef PROACT_STREAM_MODEL_H
#define PROACT_STREAM_MODEL_H

#include "src/model/model.h"
#include "src/stream/heads.h"
#include "src/stream/runner.h"
#include "src/text/tokenizer.h"

typedef struct {
    Model model;
    Tokenizer *tokenizer;
    StreamFormat format;
    char src_lang[32], tgt_lang[32];
    char default_head[96];
    char template_name[64]; /* how pairs are wrapped (src/text/template.h), to tokenize a TSV the same way */
    char schedule[256];     /* the read schedule it was trained with (proact.json; "": not recorded) */
    int has_probe;
    Probe probe;
    char dir[4096];
} StreamModel;

/* Loads DIR; every missing file or bad field is an error naming it. */
int stream_model_load(const char *dir, StreamModel *sm);
void stream_model_free(StreamModel *sm);

/* Makes the head spec usable with this model: parses it and, for probe:P, checks that the model
 * has a probe ("probe:P needs a probe: run proact probe on DIR" otherwise). */
int stream_model_head(const StreamModel *sm, const char *spec, HeadSpec *out);

#endif
