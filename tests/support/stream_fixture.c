/* stream_fixture.c — see stream_fixture.h. */
#include "tests/support/stream_fixture.h"

#include <string.h>

#include "io/tokenizer_json.h"

int stream_fixture_init(StreamFixture *f, uint64_t seed, int phi) {
    memset(f, 0, sizeof *f);
    ModelConfig c = {.arch = MODEL_ARCH_QWEN2,
                     .vocab_size = 1024,
                     .hidden_size = 64,
                     .n_layers = 2,
                     .n_heads = 4,
                     .n_kv_heads = 2,
                     .head_dim = 16,
                     .intermediate_size = 96,
                     .rope_theta = 10000.0f,
                     .rms_norm_eps = 1e-6f,
                     .tie_embeddings = 0,
                     .qkv_bias = 1,
                     .max_seq_len = 256,
                     .init_std = 0.25f};
    if (model_create(&f->model, &c)) return -1;
    model_init_random(&f->model, seed);
    if (tokenizer_load(PROACT_SOURCE_DIR "/tests/data/fixture/tokenizer.json", &f->tok)) return -1;
    const TemplateSpec *spec = template_find("plain");
    if (!spec || template_tokenize(spec, f->tok, "en", "es", &f->tt)) return -1;
    f->fmt.tp = f->tt; /* a view: f->tt owns the ids */
    f->fmt.phi = phi;
    return 0;
}

void stream_fixture_free(StreamFixture *f) {
    model_free(&f->model);
    tokenizer_free(f->tok);
    template_pieces_free(&f->tt);
}
