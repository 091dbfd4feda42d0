/* stream_fixture.h — the tiny random Qwen2 model, the fixture tokenizer and the 'plain' en->es
 * stream format that the streaming unit tests (runner, probe data) share. */
#ifndef PROACT_TEST_STREAM_FIXTURE_H
#define PROACT_TEST_STREAM_FIXTURE_H

#include <stdint.h>

#include "src/model/model.h"
#include "src/stream/runner.h"
#include "src/text/template.h"
#include "src/text/tokenizer.h"

typedef struct {
    Model model;
    Tokenizer *tok;
    TemplatePieces tt; /* owns the token ids that fmt.tp points into */
    StreamFormat fmt;
} StreamFixture;

/* A 2-layer d=64 model initialised with `seed`, group offset `phi`. 0, or -1 (state half made:
 * stream_fixture_free it anyway). */
int stream_fixture_init(StreamFixture *f, uint64_t seed, int phi);
void stream_fixture_free(StreamFixture *f);

#endif
