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
/* The same check for the model in DIR whose proact.json has (has_probe) or lacks a probe, before
 * it is loaded (proact export --default-head). */
int stream_head_for(const char *spec, int has_probe, const char *dir, HeadSpec *out);

/* The model that ships with proact (models/en-de-streaming in the repository, installed as
 * PREFIX/share/proact/models/en-de-streaming). */
#define STREAM_MODEL_SHIPPED "en-de-streaming"

/* Which model directory `proact run` / `proact serve` stream (docs/serving.md), into dir (cap
 * bytes): GIVEN (--model) when not NULL; else $PROACT_MODEL when set and non-empty (an error when
 * it holds no proact.json); else the first directory holding a proact.json of
 *   EXE/../share/proact/models/en-de-streaming   (installed beside the executable EXE)
 *   SOURCE/models/en-de-streaming                (the source tree the executable was built from)
 * and an error listing both when neither does. *origin: NULL for GIVEN, else how it was chosen
 * ("from PROACT_MODEL", "the shipped default"). */
int stream_model_locate(const char *given, char *dir, size_t cap, const char **origin);
/* The rule above in a command's --help. */
#define STREAM_MODEL_LOCATE_HELP                                                                      \
    "Without --model the model is $PROACT_MODEL's directory when set (not empty), else the shipped\n" \
    "model: the first of PREFIX/share/proact/models/" STREAM_MODEL_SHIPPED " (PREFIX/bin/proact\n"    \
    "installed) and models/" STREAM_MODEL_SHIPPED " in the source tree proact was built from.\n"

#endif
