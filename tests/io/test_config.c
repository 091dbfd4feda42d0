/* test_config.c — io/config.c: shipped configs, defaults, --set overrides, error messages
 * (file, line and key), 0-default resolution and the config_dump round trip. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/config.h"
#include "src/base/common.h"

#define CONFIG_DIR PROACT_SOURCE_DIR "/configs"

/* ---- helpers ------------------------------------------------------------------------- */

/* Writes text to a new temporary file; its path goes to path[PX_PATH_MAX]. */
static void write_temp(const char *text, char *path) {
    const char *dir = getenv("TMPDIR");
    snprintf(path, PX_PATH_MAX, "%s/proact-test-config-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t len = strlen(text), done = 0;
    while (done < len) {
        ssize_t w = write(fd, text + done, len - done);
        assert_true(w > 0);
        done += (size_t)w;
    }
    assert_int_equal(close(fd), 0);
}

static void remove_temp(const char *path) { assert_int_equal(unlink(path), 0); }

static void expect_message(const char *needle) {
    const char *msg = px_error_message();
    if (!strstr(msg, needle)) {
        print_error("expected the error message to contain\n    %s\nbut it is\n    %s\n", needle, msg);
        fail();
    }
}

/* Loads text from a temp file with the given overrides and expects success. */
static void load_text(ProactConfig *c, const char *text, const char *const *overrides, int n) {
    char path[PX_PATH_MAX];
    write_temp(text, path);
    int rc = config_load(c, path, overrides, n);
    if (rc != 0) print_error("config_load failed: %s\n", px_error_message());
    remove_temp(path);
    assert_int_equal(rc, 0);
}

/* Loads text from a temp file and expects failure with "<path>:<line>: <needle>" in the
 * message (line 0: "<path>: <needle>", a value that came from a default). */
static void expect_file_error(const char *text, int line, const char *needle) {
    char path[PX_PATH_MAX], want[PX_PATH_MAX + 512];
    write_temp(text, path);
    ProactConfig c;
    int rc = config_load(&c, path, NULL, 0);
    if (rc != -1) print_error("config_load accepted:\n%s\n", text);
    assert_int_equal(rc, -1);
    assert_null(c.text);
    config_free(&c);
    if (line > 0) snprintf(want, sizeof want, "%s:%d: %s", path, line, needle);
    else snprintf(want, sizeof want, "%s: %s", path, needle);
    expect_message(want);
    remove_temp(path);
}

/* Applies one override to the defaults and expects failure with `needle` in the message. */
static void expect_override_error(const char *override, const char *needle) {
    ProactConfig c;
    const char *ov[] = {override};
    assert_int_equal(config_load(&c, NULL, ov, 1), -1);
    assert_null(c.text);
    expect_message(needle);
}

static char *read_whole(const char *path) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    assert_true(n >= 0);
    assert_int_equal(fseek(f, 0, SEEK_SET), 0);
    char *s = malloc((size_t)n + 1);
    assert_non_null(s);
    assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = '\0';
    assert_int_equal(fclose(f), 0);
    return s;
}

/* Every value of a and b agrees (not path and text). */
static void assert_same_values(const ProactConfig *a, const ProactConfig *b) {
    assert_memory_equal(&a->model, &b->model, sizeof a->model);
    assert_string_equal(a->model_init, b->model_init);
    assert_memory_equal(&a->train, &b->train, sizeof a->train);
    assert_memory_equal(&a->optim, &b->optim, sizeof a->optim);
    assert_string_equal(a->data.source, b->data.source);
    assert_memory_equal(&a->stream, &b->stream, sizeof a->stream);
    assert_string_equal(a->stream_lag_floor, b->stream_lag_floor);
    assert_memory_equal(&a->spsd, &b->spsd, sizeof a->spsd);
    assert_string_equal(a->run.dir, b->run.dir);
    assert_int_equal(a->run.threads, b->run.threads);
}

/* ---- shipped configs ----------------------------------------------------------------- */

static void load_shipped(ProactConfig *c, const char *name) {
    char path[PX_PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", CONFIG_DIR, name);
    int rc = config_load(c, path, NULL, 0);
    if (rc != 0) print_error("%s: %s\n", name, px_error_message());
    assert_int_equal(rc, 0);
    assert_string_equal(c->path, path);
    char *text = read_whole(path);
    assert_string_equal(c->text, text); /* no overrides: the file text itself */
    free(text);
}

/* The demo and test configs train on the in-repository fixture: the files exist. */
static void assert_fixture_data(const ProactConfig *c) {
    assert_string_equal(c->data.source, "pairs");
    const char *paths[] = {c->data.train, c->data.valid, c->data.tokenizer};
    for (int i = 0; i < 3; i++) {
        assert_non_null(strstr(paths[i], "tests/data/fixture/"));
        char full[8192];
        snprintf(full, sizeof full, "%s/%s", PROACT_SOURCE_DIR, paths[i]);
        FILE *fp = fopen(full, "r");
        if (!fp) fail_msg("%s: missing", full);
        fclose(fp);
    }
}

static void test_tiny(void **state) {
    (void)state;
    ProactConfig c;
    load_shipped(&c, "tiny.ini");
    const ModelConfig *m = &c.model;
    assert_int_equal(m->arch, MODEL_ARCH_QWEN2);
    assert_int_equal(m->vocab_size, 1024);
    assert_int_equal(m->hidden_size, 64);
    assert_int_equal(m->n_layers, 2);
    assert_int_equal(m->n_heads, 4);
    assert_int_equal(m->n_kv_heads, 2);
    assert_int_equal(m->head_dim, 16);
    assert_int_equal(m->intermediate_size, 176);
    assert_int_equal(m->tie_embeddings, 1);
    assert_int_equal(m->qkv_bias, 1);
    assert_true(c.train.seq_len <= m->max_seq_len);
    assert_int_equal(c.train.seq_len, 64);
    assert_int_equal(c.train.global_batch, 4);
    assert_int_equal(c.train.steps, 100);
    assert_int_equal(c.optim.total_steps, 100);
    assert_fixture_data(&c);
    assert_string_equal(c.model_init, "");
    config_free(&c);
    assert_null(c.text);
}

static void test_small(void **state) {
    (void)state;
    ProactConfig c;
    load_shipped(&c, "small.ini");
    const ModelConfig *m = &c.model;
    assert_int_equal(m->arch, MODEL_ARCH_LLAMA);
    assert_int_equal(m->vocab_size, 1024);
    assert_int_equal(m->hidden_size, 256);
    assert_int_equal(m->n_layers, 4);
    assert_int_equal(m->n_heads, 8);
    assert_int_equal(m->n_kv_heads, 4);
    assert_int_equal(m->head_dim, 32);
    assert_int_equal(m->intermediate_size, 688);
    assert_int_equal(m->tie_embeddings, 0);
    assert_int_equal(m->qkv_bias, 0);
    assert_int_equal(c.train.seq_len, 128);
    assert_int_equal(c.train.global_batch, 8);
    assert_int_equal(c.train.steps, 200);
    assert_int_equal(c.optim.total_steps, 200);
    assert_true(c.optim.lr == 1e-3f);
    assert_fixture_data(&c);
    config_free(&c);
}

static void test_base(void **state) {
    (void)state;
    ProactConfig c;
    load_shipped(&c, "base.ini");
    const ModelConfig *m = &c.model;
    assert_int_equal(m->arch, MODEL_ARCH_LLAMA);
    assert_int_equal(m->vocab_size, 8192);
    assert_int_equal(m->hidden_size, 512);
    assert_int_equal(m->n_layers, 8);
    assert_int_equal(m->n_heads, 8);
    assert_int_equal(m->n_kv_heads, 4);
    assert_int_equal(m->head_dim, 64);
    assert_int_equal(m->intermediate_size, 1408);
    assert_int_equal(m->qkv_bias, 0);
    assert_int_equal(c.train.seq_len, 256);
    assert_int_equal(c.train.global_batch, 8);
    config_free(&c);
}

static void test_qwen2_05b(void **state) {
    (void)state;
    ProactConfig c;
    load_shipped(&c, "qwen2-0.5b.ini");
    const ModelConfig *m = &c.model;
    assert_int_equal(m->arch, MODEL_ARCH_QWEN2);
    assert_int_equal(m->vocab_size, 151936);
    assert_int_equal(m->hidden_size, 896);
    assert_int_equal(m->n_layers, 24);
    assert_int_equal(m->n_heads, 14);
    assert_int_equal(m->n_kv_heads, 2);
    assert_int_equal(m->head_dim, 64);
    assert_int_equal(m->intermediate_size, 4864);
    assert_true(m->rope_theta == 1000000.0f);
    assert_true(m->rms_norm_eps == 1e-6f);
    assert_int_equal(m->tie_embeddings, 1);
    assert_int_equal(m->qkv_bias, 1);
    assert_int_equal(m->max_seq_len, 32768);
    assert_int_equal(model_param_count(m), 494032768); /* the real Qwen2-0.5B */
    assert_string_equal(c.model_init, "");
    config_free(&c);
}

/* ---- defaults and resolution ---------------------------------------------------------- */

static void test_defaults(void **state) {
    (void)state;
    ProactConfig c;
    assert_int_equal(config_load(&c, NULL, NULL, 0), 0);
    const ModelConfig *m = &c.model;
    assert_int_equal(m->arch, MODEL_ARCH_LLAMA);
    assert_int_equal(m->vocab_size, 512);
    assert_int_equal(m->hidden_size, 64);
    assert_int_equal(m->n_layers, 2);
    assert_int_equal(m->n_heads, 4);
    assert_int_equal(m->n_kv_heads, 4);          /* 0 = n_heads */
    assert_int_equal(m->head_dim, 16);           /* 0 = 64 / 4 */
    assert_int_equal(m->intermediate_size, 176); /* 8*64/3 = 170.7 -> 176 */
    assert_true(m->rope_theta == 10000.0f);
    assert_true(m->rms_norm_eps == 1e-5f);
    assert_int_equal(m->tie_embeddings, 0);
    assert_int_equal(m->qkv_bias, 0);
    assert_int_equal(m->max_seq_len, 1024);
    assert_true(m->init_std == 0.02f);
    assert_string_equal(c.model_init, "");
    assert_int_equal(c.train.steps, 100);
    assert_int_equal(c.train.global_batch, 8);
    assert_int_equal(c.train.seq_len, 128);
    assert_int_equal(c.train.seed, 1234);
    assert_int_equal(c.train.log_every, 10);
    assert_true(c.optim.lr == 3e-4f);
    assert_true(c.optim.min_lr_ratio == 0.1f);
    assert_int_equal(c.optim.warmup_steps, 10);
    assert_int_equal(c.optim.total_steps, 100);
    assert_true(c.optim.beta1 == 0.9f);
    assert_true(c.optim.beta2 == 0.95f);
    assert_true(c.optim.eps == 1e-8f);
    assert_true(c.optim.weight_decay == 0.1f);
    assert_true(c.optim.grad_clip == 1.0f);
    assert_string_equal(c.data.source, "random");
    assert_string_equal(c.run.dir, "runs/default");
    assert_int_equal(c.run.threads, 0);
    assert_string_equal(c.path, "");
    assert_non_null(c.text);
    assert_string_equal(c.text, "");
    config_free(&c);
    config_free(&c); /* safe twice */
}

static void test_resolution(void **state) {
    (void)state;
    static const struct {
        int d, nh, nkv, hd, f;         /* given (0 = default) */
        int want_nkv, want_hd, want_f; /* resolved */
    } cases[] = {
        {256, 8, 0, 0, 0, 8, 32, 688},   {512, 8, 2, 0, 0, 2, 64, 1376}, /* 8*512/3 = 1365.3 -> 1376 */
        {896, 14, 2, 0, 0, 2, 64, 2400},                                 /* 2389.3 -> 2400 */
        {48, 4, 1, 0, 0, 1, 12, 128},                                    /* exactly 128 */
        {64, 4, 4, 24, 100, 4, 24, 100}, /* explicit values are kept; nh*hd != d is fine */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char ov[5][64];
        snprintf(ov[0], sizeof ov[0], "model.hidden_size=%d", cases[i].d);
        snprintf(ov[1], sizeof ov[1], "model.n_heads=%d", cases[i].nh);
        snprintf(ov[2], sizeof ov[2], "model.n_kv_heads=%d", cases[i].nkv);
        snprintf(ov[3], sizeof ov[3], "model.head_dim=%d", cases[i].hd);
        snprintf(ov[4], sizeof ov[4], "model.intermediate_size=%d", cases[i].f);
        const char *ovp[] = {ov[0], ov[1], ov[2], ov[3], ov[4]};
        ProactConfig c;
        int rc = config_load(&c, NULL, ovp, 5);
        if (rc != 0) print_error("case %zu: %s\n", i, px_error_message());
        assert_int_equal(rc, 0);
        assert_int_equal(c.model.n_kv_heads, cases[i].want_nkv);
        assert_int_equal(c.model.head_dim, cases[i].want_hd);
        assert_int_equal(c.model.intermediate_size, cases[i].want_f);
        config_free(&c);
    }
}

static void test_qkv_bias_follows_arch(void **state) {
    (void)state;
    ProactConfig c;
    const char *qwen[] = {"model.arch=qwen2"};
    assert_int_equal(config_load(&c, NULL, qwen, 1), 0);
    assert_int_equal(c.model.qkv_bias, 1);
    config_free(&c);
    load_text(&c, "[model]\narch = llama\n", NULL, 0);
    assert_int_equal(c.model.qkv_bias, 0);
    config_free(&c);
    /* not settable: it would make checkpoints Hugging Face cannot load */
    const char *set_bias[] = {"model.qkv_bias=true"};
    assert_int_equal(config_load(&c, NULL, set_bias, 1), -1);
    assert_non_null(strstr(px_error_message(), "unknown key 'qkv_bias'"));
}

/* ---- syntax ---------------------------------------------------------------------------- */

static void test_syntax_accepted(void **state) {
    (void)state;
    ProactConfig c;
    /* BOM, CRLF, comments of both kinds, an inline comment, indentation (not a
     * continuation), "key: value", a section given twice, a long comment line. */
    char text[2048];
    char long_comment[400];
    memset(long_comment, 'x', sizeof long_comment - 1);
    long_comment[sizeof long_comment - 1] = '\0';
    snprintf(text, sizeof text,
             "\xEF\xBB\xBF# a comment\r\n"
             "[model]\r\n"
             "  hidden_size = 128 ; the width\r\n"
             "\tn_layers=3\r\n"
             "; %s\r\n"
             "[train]\r\n"
             "steps: 5\r\n"
             "\r\n"
             "[model]\r\n"
             "    tie_embeddings = YES\r\n"
             "[optim]\n"
             "lr = .5",
             long_comment);
    load_text(&c, text, NULL, 0);
    assert_int_equal(c.model.hidden_size, 128);
    assert_int_equal(c.model.n_layers, 3);
    assert_int_equal(c.model.tie_embeddings, 1);
    assert_int_equal(c.train.steps, 5);
    assert_true(c.optim.lr == 0.5f);
    assert_string_equal(c.text, text);
    config_free(&c);

    /* An empty file is all defaults. */
    load_text(&c, "", NULL, 0);
    assert_int_equal(c.model.hidden_size, 64);
    config_free(&c);
}

static void test_bool_spellings(void **state) {
    (void)state;
    static const struct {
        const char *s;
        int v;
    } cases[] = {{"true", 1}, {"false", 0}, {"1", 1},   {"0", 0},    {"yes", 1},
                 {"no", 0},   {"on", 1},    {"off", 0}, {"True", 1}, {"OFF", 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char ov[64];
        snprintf(ov, sizeof ov, "model.tie_embeddings=%s", cases[i].s);
        const char *ovp[] = {ov};
        ProactConfig c;
        assert_int_equal(config_load(&c, NULL, ovp, 1), 0);
        assert_int_equal(c.model.tie_embeddings, cases[i].v);
        config_free(&c);
    }
    expect_override_error("model.tie_embeddings=2",
                          "--set model.tie_embeddings=2: model.tie_embeddings: expected a boolean");
    expect_override_error("model.tie_embeddings=",
                          "--set model.tie_embeddings=: model.tie_embeddings: expected a boolean");
}

/* ---- overrides ------------------------------------------------------------------------- */

static void test_overrides_win(void **state) {
    (void)state;
    const char *text = "[model]\nhidden_size = 128\n[train]\nsteps = 50\n";
    const char *ov[] = {
        "model.hidden_size=256",
        "train.steps=7",
        "train.steps = 9",
        "  optim.lr =  0.5  ",
        "model.init=/data/models/Qwen2-0.5B",
        "run.dir=runs/x y",
        "data.source=random",
    };
    ProactConfig c;
    load_text(&c, text, ov, 7);
    assert_int_equal(c.model.hidden_size, 256);
    assert_int_equal(c.train.steps, 9); /* the last --set wins */
    assert_int_equal(c.optim.total_steps, 9);
    assert_true(c.optim.lr == 0.5f);
    assert_string_equal(c.model_init, "/data/models/Qwen2-0.5B");
    assert_string_equal(c.run.dir, "runs/x y");
    assert_int_equal(c.model.head_dim, 64); /* resolved after the overrides */
    /* The file text, then one comment line per override. */
    assert_string_equal(c.text, "[model]\nhidden_size = 128\n[train]\nsteps = 50\n"
                                "# --set model.hidden_size=256\n"
                                "# --set train.steps=7\n"
                                "# --set train.steps = 9\n"
                                "# --set   optim.lr =  0.5  \n"
                                "# --set model.init=/data/models/Qwen2-0.5B\n"
                                "# --set run.dir=runs/x y\n"
                                "# --set data.source=random\n");
    config_free(&c);

    /* A file without a final newline gets one before the overrides. */
    const char *ov2[] = {"train.seed=5"};
    load_text(&c, "[train]\nsteps = 3", ov2, 1);
    assert_string_equal(c.text, "[train]\nsteps = 3\n# --set train.seed=5\n");
    assert_int_equal(c.train.seed, 5);
    config_free(&c);

    /* Overrides with no file. */
    assert_int_equal(config_load(&c, NULL, ov2, 1), 0);
    assert_string_equal(c.text, "# --set train.seed=5\n");
    config_free(&c);

    /* A value longer than inih's line limit is fine through --set. */
    char long_ov[600] = "model.init=";
    size_t n = strlen(long_ov);
    memset(long_ov + n, 'd', 500);
    long_ov[n + 500] = '\0';
    const char *ov3[] = {long_ov};
    assert_int_equal(config_load(&c, NULL, ov3, 1), 0);
    assert_int_equal(strlen(c.model_init), 500);
    config_free(&c);
}

static void test_override_errors(void **state) {
    (void)state;
    expect_override_error("model.foo=1", "--set model.foo=1: unknown key 'foo' in section [model]");
    expect_override_error("foo.bar=1", "--set foo.bar=1: unknown section [foo]");
    expect_override_error("model.hidden_size", "--set model.hidden_size: expected section.key=value");
    expect_override_error("hidden_size=64", "--set hidden_size=64: expected section.key=value");
    expect_override_error(".hidden_size=64", "--set .hidden_size=64: expected section.key=value");
    expect_override_error("model.=64", "--set model.=64: expected section.key=value");
    expect_override_error("", "--set : expected section.key=value");
    expect_override_error("model.hidden_size=abc",
                          "--set model.hidden_size=abc: model.hidden_size: expected an integer, "
                          "got 'abc'");
    expect_override_error("model.hidden_size=1e3",
                          "--set model.hidden_size=1e3: model.hidden_size: expected an integer");
    expect_override_error("model.hidden_size=4294967360",
                          "--set model.hidden_size=4294967360: model.hidden_size: integer out of "
                          "range");
    expect_override_error("optim.lr=1e-3x", "--set optim.lr=1e-3x: optim.lr: expected a number");
    expect_override_error("optim.lr=inf", "--set optim.lr=inf: optim.lr: number out of range");
    expect_override_error("model.arch=gpt2", "--set model.arch=gpt2: model.arch: unknown arch 'gpt2' (expected: "
                                             "llama, qwen2)");
    expect_override_error("data.source=files", "--set data.source=files: data.source: unknown source 'files' "
                                               "(expected: pairs, random, copy)");
    expect_override_error("train.steps=0", "--set train.steps=0: train.steps: must be positive");
    expect_override_error("model.Hidden_size=1", "unknown key 'Hidden_size' in section [model]");
    /* The first bad override is reported. */
    ProactConfig c;
    const char *two[] = {"train.steps=3", "model.nope=1", "model.nada=1"};
    assert_int_equal(config_load(&c, NULL, two, 3), -1);
    expect_message("--set model.nope=1: unknown key 'nope'");
    /* A string longer than its field. */
    char huge[5000] = "run.dir=";
    memset(huge + 8, 'r', 4200);
    huge[8 + 4200] = '\0';
    expect_override_error(huge, "run.dir: value too long (4200 characters, at most 4095)");
    assert_int_equal(config_load(&c, NULL, NULL, -1), -1);
}

/* ---- file errors ------------------------------------------------------------------------ */

static void test_file_errors(void **state) {
    (void)state;
    static const struct {
        const char *text;
        int line;
        const char *needle;
    } cases[] = {
        {"[model]\nhidden_size = 64\n[foo]\nx = 1\n", 3, "unknown section [foo]"},
        {"[model]\n\n[foo]\n", 3, "unknown section [foo]"},
        {"[Model]\n", 1, "unknown section [Model]"},
        {"[model]\nbar = 1\n", 2, "unknown key 'bar' in section [model]"},
        {"[model]\nHidden_size = 1\n", 2, "unknown key 'Hidden_size' in section [model]"},
        {"[train]\nhidden_size = 64\n", 2, "unknown key 'hidden_size' in section [train]"},
        {"# comment\n[model]\nhidden_size = abc\n", 3, "model.hidden_size: expected an integer, got 'abc'"},
        {"[model]\nhidden_size = 64.5\n", 2, "model.hidden_size: expected an integer, got '64.5'"},
        {"[model]\nhidden_size = 99999999999\n", 2, "model.hidden_size: integer out of range: '99999999999'"},
        {"[model]\nhidden_size =\n", 2, "model.hidden_size: expected an integer, got ''"},
        {"[optim]\nlr = fast\n", 2, "optim.lr: expected a number, got 'fast'"},
        {"[optim]\nlr = 1e-3 # peak\n", 2, "optim.lr: expected a number, got '1e-3 # peak'"},
        {"[optim]\nlr = nan\n", 2, "optim.lr: number out of range"},
        {"[optim]\nlr = 1e39\n", 2, "optim.lr: number out of range"},
        {"[model]\ntie_embeddings = maybe\n", 2,
         "model.tie_embeddings: expected a boolean (true/false, yes/no, on/off, 1/0), got 'maybe'"},
        {"[model]\narch = gpt2\n", 2, "model.arch: unknown arch 'gpt2' (expected: llama, qwen2)"},
        {"[model]\narch = Llama\n", 2, "model.arch: unknown arch 'Llama'"},
        {"[data]\nsource = web\n", 2, "data.source: unknown source 'web' (expected: pairs, random, copy)"},
        {"[model]\nhidden_size = 64\nn_layers = 2\nhidden_size = 128\n", 4,
         "model.hidden_size given twice (first at line 2)"},
        {"[model]\nhidden_size = 64\n[train]\nsteps = 3\n[model]\nhidden_size = 64\n", 6,
         "model.hidden_size given twice (first at line 2)"},
        {"hidden_size = 64\n", 1, "key 'hidden_size' outside any section"},
        {"[model]\nhidden_size\n", 2,
         "syntax error: expected [section] or key = value, got "
         "'hidden_size'"},
        {"[model\nhidden_size = 64\n", 1, "syntax error"},
        {"[model] extra\n", 1, "unexpected text after [model]"},
        /* The first error wins: the syntax error on line 2 comes before the bad key. */
        {"[model]\noops\nbar = 1\n", 2, "syntax error"},
        {"[model]\nbar = 1\noops\n", 2, "unknown key 'bar'"},
        /* Line numbers count CRLF lines, comments and blank lines. */
        {"\xEF\xBB\xBF; c\r\n\r\n[model]\r\n  n_layers = x\r\n", 4, "model.n_layers: expected an integer, got 'x'"},
        /* Range checks name the key and the line that set it. */
        {"[model]\nhidden_size = 0\n", 2, "model.hidden_size: must be positive, got 0"},
        {"[model]\nvocab_size = -5\n", 2, "model.vocab_size: must be positive, got -5"},
        {"[model]\nn_layers = 0\n", 2, "model.n_layers: must be positive"},
        {"[model]\nn_heads = 0\n", 2, "model.n_heads: must be positive"},
        {"[model]\nn_heads = 4\nn_kv_heads = 3\n", 3, "model.n_kv_heads: 3 does not divide model.n_heads = 4"},
        {"[model]\nn_kv_heads = -1\n", 2, "model.n_kv_heads: must be positive"},
        {"[model]\nhead_dim = 7\n", 2, "model.head_dim: must be even"},
        {"[model]\nintermediate_size = -1\n", 2, "model.intermediate_size: must be positive"},
        {"[model]\nrope_theta = 0\n", 2, "model.rope_theta: must be positive"},
        {"[model]\nrms_norm_eps = -1e-5\n", 2, "model.rms_norm_eps: must be positive"},
        {"[model]\ninit_std = -0.02\n", 2, "model.init_std: must be >= 0"},
        {"[model]\nmax_seq_len = 64\n[train]\nseq_len = 128\n", 4, "train.seq_len: 128 exceeds model.max_seq_len = 64"},
        {"[train]\nsteps = 0\n", 2, "train.steps: must be positive, got 0"},
        {"[train]\nglobal_batch = 0\n", 2, "train.global_batch: must be positive, got 0"},
        {"[train]\nseq_len = 1\n", 2, "train.seq_len: must be at least 2"},
        {"[train]\nseed = -1\n", 2, "train.seed: must be >= 0"},
        {"[train]\nlog_every = 0\n", 2, "train.log_every: must be positive"},
        {"[optim]\nlr = 0\n", 2, "optim.lr: must be positive, got 0"},
        {"[optim]\nmin_lr_ratio = 1.5\n", 2, "optim.min_lr_ratio: must be in [0, 1]"},
        {"[optim]\nwarmup_steps = -1\n", 2, "optim.warmup_steps: must be >= 0"},
        {"[optim]\nbeta1 = 1\n", 2, "optim.beta1: must be in (0, 1), got 1"},
        {"[optim]\nbeta2 = 0\n", 2, "optim.beta2: must be in (0, 1), got 0"},
        {"[optim]\neps = 0\n", 2, "optim.eps: must be positive"},
        {"[optim]\nweight_decay = -0.1\n", 2, "optim.weight_decay: must be >= 0"},
        {"[run]\ndir =\n", 2, "run.dir: must not be empty"},
        {"[run]\nthreads = -1\n", 2, "run.threads: must be >= 0"},
        /* A default that conflicts with the file names the file (no line). */
        {"[model]\nmax_seq_len = 64\n", 0, "train.seq_len: 128 exceeds model.max_seq_len = 64 (default)"},
        {"[model]\nn_heads = 3\n", 0, "model.head_dim: 0 means hidden_size / n_heads"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_file_error(cases[i].text, cases[i].line, cases[i].needle);

    /* A line longer than inih's buffer is an error, not silently split. */
    char text[1024] = "[run]\ndir = ";
    size_t n = strlen(text);
    memset(text + n, 'p', 300);
    strcpy(text + n + 300, "\n");
    expect_file_error(text, 2, "line too long");
}

static void test_file_errors_override_line(void **state) {
    (void)state;
    /* A range error in a value set by --set names the override, not the file line. */
    char path[PX_PATH_MAX];
    write_temp("[train]\nsteps = 10\n", path);
    ProactConfig c;
    const char *ov[] = {"optim.beta1=1.0"};
    assert_int_equal(config_load(&c, path, ov, 1), -1);
    expect_message("--set optim.beta1=1.0: optim.beta1: must be in (0, 1)");
    /* A file error comes before the overrides are even looked at. */
    remove_temp(path);
    write_temp("[train]\nsteps = ten\n", path);
    const char *bad[] = {"model.nope=1"};
    assert_int_equal(config_load(&c, path, bad, 1), -1);
    char want[PX_PATH_MAX + 64];
    snprintf(want, sizeof want, "%s:2: train.steps: expected an integer", path);
    expect_message(want);
    remove_temp(path);
}

static void test_missing_file(void **state) {
    (void)state;
    ProactConfig c;
    assert_int_equal(config_load(&c, "/nonexistent-proact/x.ini", NULL, 0), -1);
    expect_message("/nonexistent-proact/x.ini: cannot open config: No such file or directory");
    assert_null(c.text);
    config_free(&c);

    assert_int_equal(config_load(&c, CONFIG_DIR, NULL, 0), -1);
    expect_message(CONFIG_DIR ": cannot open config: Is a directory");

    char path[PX_PATH_MAX];
    write_temp("[model]\n", path);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite("[model]\n\0x", 1, 10, f), 10);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(config_load(&c, path, NULL, 0), -1);
    expect_message("NUL byte");
    remove_temp(path);
}

/* ---- dump ------------------------------------------------------------------------------- */

static void roundtrip(const ProactConfig *a) {
    size_t need = config_dump_size(a);
    assert_true(need > 1);
    char *buf = malloc(need);
    assert_non_null(buf);
    assert_int_equal(config_dump(a, buf, need), 0);
    assert_int_equal(strlen(buf) + 1, need);
    assert_int_equal(config_dump(a, buf, need - 1), -1);
    expect_message("too small");
    assert_int_equal(config_dump(a, buf, need), 0);

    ProactConfig b;
    load_text(&b, buf, NULL, 0);
    assert_same_values(a, &b);
    /* Dumping again gives the same text. */
    char *buf2 = malloc(need);
    assert_non_null(buf2);
    assert_int_equal(config_dump(&b, buf2, need), 0);
    assert_string_equal(buf, buf2);
    free(buf2);
    free(buf);
    config_free(&b);
}

static void test_dump_roundtrip(void **state) {
    (void)state;
    static const char *const names[] = {"tiny.ini", "small.ini", "base.ini", "qwen2-0.5b.ini"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        ProactConfig c;
        load_shipped(&c, names[i]);
        roundtrip(&c);
        config_free(&c);
    }
    /* Awkward floats and strings. */
    const char *ov[] = {"optim.lr=3.3333333e-4",
                        "optim.min_lr_ratio=0.1234567",
                        "model.rope_theta=123456.789",
                        "optim.eps=1e-12",
                        "model.init=/models/Qwen2 0.5B",
                        "model.arch=qwen2",
                        "optim.grad_clip=-0",
                        "run.threads=3",
                        "train.seed=0",
                        "model.init_std=0"};
    ProactConfig c;
    assert_int_equal(config_load(&c, NULL, ov, 10), 0);
    roundtrip(&c);

    char buf[8192];
    assert_int_equal(config_dump(&c, buf, sizeof buf), 0);
    static const char *const expect[] = {
        "[model]\n",
        "[train]\n",
        "[optim]\n",
        "[data]\n",
        "[run]\n",
        "\narch = qwen2\n",
        "\ninit = /models/Qwen2 0.5B\n",
        "\nlr = 0.00033333333\n",
        "\neps = 1e-12\n",
        "\nsource = random\n",
        "\nthreads = 3\n",
        "\nn_kv_heads = 4\n",
        "\nhead_dim = 16\n",
        "\nintermediate_size = 176\n",
    };
    for (size_t i = 0; i < sizeof expect / sizeof expect[0]; i++) {
        if (!strstr(buf, expect[i])) {
            print_error("dump lacks '%s':\n%s\n", expect[i], buf);
            fail();
        }
    }
    /* Whole numbers in full, an empty string as "key =". */
    ProactConfig d;
    assert_int_equal(config_load(&d, NULL, NULL, 0), 0);
    char dbuf[8192];
    assert_int_equal(config_dump(&d, dbuf, sizeof dbuf), 0);
    static const char *const expect_default[] = {"\nrope_theta = 10000\n", "\ngrad_clip = 1\n", "\ninit =\n",
                                                 "\nlr = 0.0003\n", "\nrms_norm_eps = 1e-05\n"};
    for (size_t i = 0; i < sizeof expect_default / sizeof expect_default[0]; i++) {
        if (!strstr(dbuf, expect_default[i])) {
            print_error("dump lacks '%s':\n%s\n", expect_default[i], dbuf);
            fail();
        }
    }
    config_free(&d);

    /* Sections in table order. */
    const char *pm = strstr(buf, "[model]"), *pt = strstr(buf, "[train]");
    const char *po = strstr(buf, "[optim]"), *pd = strstr(buf, "[data]"), *pr = strstr(buf, "[run]");
    assert_true(pm < pt && pt < po && po < pd && pd < pr);
    config_free(&c);
}

/* [stream] and spsd.teacher: the defaults are the sampler's own (schedule_defaults), the new keys
 * reach the StreamConfig, and a bad value names its key. */
static void test_stream_keys(void **state) {
    (void)state;
    ProactConfig c;
    assert_int_equal(config_load(&c, NULL, NULL, 0), 0);
    StreamConfig want = {0};
    schedule_defaults(&want);
    assert_memory_equal(&c.stream, &want, sizeof want); /* phi 0, teacher on */
    assert_string_equal(c.stream_lag_floor, "none");
    config_free(&c);

    const char *ov[] = {"stream.schedule=band", "stream.min_lag=-1", "stream.max_lag=2", "stream.lag_floor=2",
                        "stream.drift=0.5",     "spsd.teacher=off",  "spsd.lambda=0"};
    assert_int_equal(config_load(&c, NULL, ov, 7), 0);
    assert_int_equal(c.stream.kind, SCHEDULE_BAND);
    assert_true(c.stream.min_lag == -1 && c.stream.max_lag == 2 && c.stream.drift == 0.5f);
    assert_true(c.stream.has_lag_floor && c.stream.lag_floor == 2);
    assert_int_equal(c.stream.no_teacher, 1);
    roundtrip(&c);
    char buf[8192];
    assert_int_equal(config_dump(&c, buf, sizeof buf), 0);
    assert_non_null(strstr(buf, "\nteacher = off\n"));
    assert_non_null(strstr(buf, "\nlag_floor = 2\n"));
    assert_non_null(strstr(buf, "\nschedule = band\n"));
    config_free(&c);

    expect_override_error("stream.lag_floor=abc",
                          "--set stream.lag_floor=abc: stream.lag_floor: expected none or an integer, got 'abc'");
    expect_override_error("stream.max_lag=0", "--set stream.max_lag=0: stream.max_lag: must be in min_lag = 1..");
    expect_override_error("stream.k_min=0", "--set stream.k_min=0: stream.k_min: must be in 1..1000000, got 0");
    expect_override_error("stream.drift=-1", "--set stream.drift=-1: stream.drift: must be in 0..");
    expect_override_error("stream.p_full=1.5", "--set stream.p_full=1.5: stream.p_full: must be in [0, 1], got 1.5");
    expect_override_error("stream.schedule=banded", "unknown schedule 'banded' (expected: random, cuts, waitk, full, "
                                                    "band)");
    expect_override_error("spsd.teacher=maybe", "spsd.teacher: unknown teacher 'maybe' (expected: on, off)");
    /* teacher off with the default lambda = 1: refused, naming lambda */
    expect_override_error("spsd.teacher=off", "spsd.lambda: must be 0 with spsd.teacher = off");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tiny),
        cmocka_unit_test(test_small),
        cmocka_unit_test(test_base),
        cmocka_unit_test(test_qwen2_05b),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_resolution),
        cmocka_unit_test(test_qkv_bias_follows_arch),
        cmocka_unit_test(test_syntax_accepted),
        cmocka_unit_test(test_bool_spellings),
        cmocka_unit_test(test_overrides_win),
        cmocka_unit_test(test_override_errors),
        cmocka_unit_test(test_file_errors),
        cmocka_unit_test(test_file_errors_override_line),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_dump_roundtrip),
        cmocka_unit_test(test_stream_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
