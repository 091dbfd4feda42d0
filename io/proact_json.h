/* proact_json.h — MODEL_DIR/proact.json, what an exported model says about streaming: the
 * template (its name and token ids), the languages, phi, the read schedule it was trained with,
 * the default decision head and, once `proact probe` has fitted one, the probe head with a record
 * of the fit. This module is the file's only reader and writer: `proact train` writes it,
 * stream_model.c reads it, `proact probe` adds the probe. docs/formats.md describes the format. */
#ifndef PROACT_PROACT_JSON_H
#define PROACT_PROACT_JSON_H

#include <stdint.h>

#include "src/stream/heads.h"
#include "src/train/pairs.h"
#include "src/train/schedule.h"

/* How a probe was fitted (proact probe), kept beside it as probe.fit. The head ignores it. */
typedef struct {
    const char *method;       /* e.g. "logistic regression (IRLS, ScaLAPACK)" (NULL: not recorded) */
    const char *data;         /* the training data it was collected from (NULL: not recorded) */
    const char *states;       /* which decision states, e.g. "on-policy band:1:3" (NULL: not recorded) */
    const char *label;        /* what it was fitted to: agree | p-teacher | kl (NULL: not recorded) */
    int64_t samples, holdout; /* decision points used to fit / held out */
    double lambda, positive_rate;
    int iterations;                                      /* IRLS */
    double train_accuracy, holdout_accuracy;             /* the logistic probe (the head's); NaN: none */
    double ridge_train_accuracy, ridge_holdout_accuracy; /* ridge regression on the same data */
    double holdout_auc; /* of the logistic probe's score for the agree label on held-out points; NaN: none */
    int ranks;
} ProbeFitInfo;

/* Every field of the file. Absent optional fields read as the defaults of proact_json_init. */
typedef struct {
    char format[16];                  /* "proact" */
    char template_name[64];           /* "template": how pairs are wrapped (src/text/template.h); "plain" */
    char src_lang[32], tgt_lang[32];  /* "source", "target" */
    int phi;                          /* target position offset; 0 */
    char schedule[SCHEDULE_SPEC_MAX]; /* the read schedule of training as a spec (schedule_parse reads
                                         it; older files: a bare kind name); "": not recorded */
    char default_head[96];            /* the decision head when none is given; "waitk:3" */
    TemplatePieces tokens;            /* "template_tokens": prompt, src_end, tgt_begin, tgt_end (ids >= 0) */
    int has_probe;
    Probe probe; /* its dim is the arrays' length: proact_json_check ties it to a model */
    int has_fit;
    ProbeFitInfo fit;
    char *other; /* any other top-level keys, as one JSON object's text (NULL: none), so
                               * that rewriting the file keeps what other tools put there */
} ProactJson;

/* The defaults, nothing allocated. */
void proact_json_init(ProactJson *pj);

/* Reads PATH; a missing file, malformed JSON or a bad field is -1 with px_error naming the file and
 * the field. pj is proact_json_free'd on failure too. */
int proact_json_read(const char *path, ProactJson *pj);

/* What a model needs of the file read from PATH: template token ids inside its vocabulary, and a
 * probe (if any) over probe_feature_dim(hidden) features. */
int proact_json_check(const char *path, const ProactJson *pj, int vocab, int hidden);

/* Writes pj to PATH (indented JSON, published atomically). Only reads pj: the token ids, probe
 * arrays and fit strings may be the caller's. */
int proact_json_write(const char *path, const ProactJson *pj);

/* Reads the file at FROM and writes it to TO (atomically; may be the same path) with the probe
 * and its fit record put in, every other field kept. */
int proact_json_set_probe(const char *from, const char *to, const Probe *p, const ProbeFitInfo *fit);

/* Frees what proact_json_read allocated (not what a caller lent for proact_json_write). */
void proact_json_free(ProactJson *pj);

#endif
