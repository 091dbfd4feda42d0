/* config.c — proact's INI configuration: one key table, libinih for the syntax, strict
 * value parsing, --set overrides, 0-default resolution and range checks.
 *
 * How a file is read. The whole file is loaded into memory (it becomes ProactConfig.text)
 * and handed to ini_parse_stream() through our own line reader. The reader
 *   - counts lines, so the handler knows the line of every key (Debian bookworm's inih 55
 *     is built without INI_HANDLER_LINENO, so the handler gets no line number);
 *   - strips leading and trailing white space, which turns off inih's multi-line values
 *     (an indented line is an ordinary line, never a continuation of the previous value);
 *   - hands comment lines ('#' or ';' first) over as empty lines, so they may be any length;
 *   - checks [section] headers itself, because inih only reports sections that hold keys;
 *   - rejects lines that do not fit inih's fixed line buffer instead of letting inih split
 *     them silently.
 * Inline comments follow inih: " ; comment" after a value (a ';' preceded by white space).
 * A '#' after a value is part of the value (and usually makes it invalid).
 *
 * Every value, including the defaults of the table, goes through set_value(), so the
 * defaults are parsed and checked exactly like user input.
 */
#include "io/config.h"

#include "src/base/common.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <ini.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CONFIG_MAX_FILE (1024 * 1024) /* a config larger than this is surely a mistake */

/* ---- the key table ------------------------------------------------------------------ */

typedef enum { KEY_INT, KEY_FLOAT, KEY_BOOL, KEY_STRING, KEY_ENUM } KeyType;

typedef struct {
    const char *section;
    const char *name;
    KeyType type;
    size_t offset;              /* into ProactConfig */
    size_t size;                /* of the field; the capacity of a string */
    const char *def;            /* default, parsed like any other value */
    const char *const *choices; /* KEY_ENUM: names indexed by value; KEY_STRING: the
                                   accepted values, or NULL for any string. NULL-ended. */
    const char *help;
} KeyDef;

static const char *const arch_names[] = {
    [MODEL_ARCH_LLAMA] = "llama",
    [MODEL_ARCH_QWEN2] = "qwen2",
    NULL,
};
static const char *const source_names[] = {"pairs", "random", "copy", NULL};
static const char *const precision_names[] = {"bf16", "fp32", NULL};
static const char *const teacher_names[] = {"on", "off", NULL}; /* index = StreamConfig.no_teacher */

static const char *const on_error_names[] = {
    [CHECKPOINT_ON_ERROR_STOP] = "stop", [CHECKPOINT_ON_ERROR_CONTINUE] = "continue", NULL};

#define KEY(sec, nm, type, member, def, choices, help) \
    { sec, nm, type, offsetof(ProactConfig, member), sizeof(((ProactConfig *)0)->member), def, choices, help }

static const KeyDef keys[] = {
    KEY("model", "arch", KEY_ENUM, model.arch, "llama", arch_names, "architecture: llama | qwen2"),
    KEY("model", "vocab_size", KEY_INT, model.vocab_size, "512", NULL, "vocabulary size V"),
    KEY("model", "hidden_size", KEY_INT, model.hidden_size, "64", NULL, "model width d"),
    KEY("model", "n_layers", KEY_INT, model.n_layers, "2", NULL, "decoder layers"),
    KEY("model", "n_heads", KEY_INT, model.n_heads, "4", NULL, "query heads"),
    KEY("model", "n_kv_heads", KEY_INT, model.n_kv_heads, "0", NULL,
        "key/value heads, must divide n_heads; 0 = n_heads"),
    KEY("model", "head_dim", KEY_INT, model.head_dim, "0", NULL, "size of one head, even; 0 = hidden_size / n_heads"),
    KEY("model", "intermediate_size", KEY_INT, model.intermediate_size, "0", NULL,
        "SwiGLU width f; 0 = 8*hidden_size/3 rounded up to a multiple of 16"),
    KEY("model", "rope_theta", KEY_FLOAT, model.rope_theta, "10000", NULL, "RoPE base"),
    KEY("model", "rms_norm_eps", KEY_FLOAT, model.rms_norm_eps, "1e-5", NULL, "RMSNorm epsilon"),
    KEY("model", "tie_embeddings", KEY_BOOL, model.tie_embeddings, "false", NULL,
        "lm_head shares the embedding matrix"),
    KEY("model", "max_seq_len", KEY_INT, model.max_seq_len, "1024", NULL, "longest sequence the model accepts"),
    KEY("model", "init_std", KEY_FLOAT, model.init_std, "0.02", NULL,
        "std of the normal init of matrices (from-scratch models)"),
    KEY("model", "init", KEY_STRING, model_init, "", NULL,
        "Hugging Face model directory to start from; empty = random init"),

    KEY("train", "steps", KEY_INT, train.steps, "100", NULL, "optimizer steps"),
    KEY("train", "global_batch", KEY_INT, train.global_batch, "8", NULL, "sequences per step over all ranks"),
    KEY("train", "seq_len", KEY_INT, train.seq_len, "128", NULL, "tokens per sequence, 2 .. model.max_seq_len"),
    KEY("train", "seed", KEY_INT, train.seed, "1234", NULL, "random seed (init and data)"),
    KEY("train", "log_every", KEY_INT, train.log_every, "10", NULL, "log every this many steps"),
    KEY("train", "eval_every", KEY_INT, train.eval_every, "50", NULL,
        "validation loss every this many steps; 0 = only at the end"),
    KEY("train", "watchdog_s", KEY_STRING, train.watchdog, "auto", NULL,
        "abort every rank when a step, validation or checkpoint runs this long (a stuck collective): "
        "seconds, off, or auto = 20 x the slowest of its kind so far, at least 600 (3600 for the first)"),
    KEY("train", "precision", KEY_STRING, train.precision, "bf16", precision_names,
        "matrix products in bf16 (fp32 master weights, optimizer and accumulation; where the CPU has AVX-512 "
        "BF16, else fp32 with a notice) or fp32"),

    KEY("optim", "lr", KEY_FLOAT, optim.lr, "3e-4", NULL, "peak learning rate"),
    KEY("optim", "min_lr_ratio", KEY_FLOAT, optim.min_lr_ratio, "0.1", NULL,
        "final lr = lr * min_lr_ratio at the end of the cosine, 0 .. 1"),
    KEY("optim", "decay_steps", KEY_INT, optim.total_steps, "0", NULL,
        "the cosine decay ends here; 0 = train.steps (set it to stop early and resume later)"),
    KEY("optim", "warmup_steps", KEY_INT, optim.warmup_steps, "10", NULL, "linear warmup steps"),
    KEY("optim", "beta1", KEY_FLOAT, optim.beta1, "0.9", NULL, "AdamW beta1, 0 < beta1 < 1"),
    KEY("optim", "beta2", KEY_FLOAT, optim.beta2, "0.95", NULL, "AdamW beta2, 0 < beta2 < 1"),
    KEY("optim", "eps", KEY_FLOAT, optim.eps, "1e-8", NULL, "AdamW epsilon"),
    KEY("optim", "weight_decay", KEY_FLOAT, optim.weight_decay, "0.1", NULL, "decoupled weight decay (matrices only)"),
    KEY("optim", "grad_clip", KEY_FLOAT, optim.grad_clip, "1.0", NULL,
        "max global gradient L2 norm; <= 0 disables clipping"),

    KEY("data", "source", KEY_STRING, data.source, "random", source_names,
        "training data: pairs (data.train) | random (uniform tokens) | copy (a learnable synthetic task)"),
    KEY("data", "train", KEY_STRING, data.train, "", NULL,
        "training pairs: token shards (.h5 from proact prepare) or a TSV (tokenized at start)"),
    KEY("data", "valid", KEY_STRING, data.valid, "", NULL, "validation pairs (.h5 or .tsv); empty = none"),
    KEY("data", "tokenizer", KEY_STRING, data.tokenizer, "", NULL, "tokenizer.json for .tsv data"),
    KEY("data", "template", KEY_STRING, data.template_name, "plain", NULL,
        "template for .tsv data: plain | chatml | llama3"),
    KEY("data", "max_tokens", KEY_INT, data.max_tokens, "256", NULL,
        "pairs with more tokens on a side are skipped (.tsv)"),

    KEY("stream", "schedule", KEY_ENUM, stream.kind, "random", SCHEDULE_NAMES,
        "read schedule of the student copy: random | band | cuts | waitk | full (docs/method.md)"),
    KEY("stream", "k_min", KEY_INT, stream.k_min, "1", NULL, "random: smallest first read k0"),
    KEY("stream", "k_max", KEY_INT, stream.k_max, "3", NULL, "random: largest first read k0"),
    KEY("stream", "mean_step", KEY_FLOAT, stream.mean_step, "1", NULL,
        "random: mean of the geometric step between words (may be 0)"),
    KEY("stream", "p_full", KEY_FLOAT, stream.p_full, "0.1", NULL,
        "random, band: probability that an example uses the full view"),
    KEY("stream", "lag_floor", KEY_STRING, stream_lag_floor, "none", NULL,
        "random: none, or the lowest lag L: g(j) >= L + j - 1 (clipped to 1..n+1)"),
    KEY("stream", "drift", KEY_FLOAT, stream.drift, "0", NULL,
        "random: the step's mean is max(mean_step, drift * unread source / unwritten target words); 0 = off"),
    KEY("stream", "min_lag", KEY_INT, stream.min_lag, "1", NULL, "band: lowest lag g(j) - (j - 1)"),
    KEY("stream", "max_lag", KEY_INT, stream.max_lag, "3", NULL, "band: highest lag"),
    KEY("stream", "k", KEY_INT, stream.k, "3", NULL, "waitk: the k of g(j) = min(k + j - 1, n + 1)"),
    KEY("stream", "phi", KEY_INT, stream.phi, "0", NULL, "position of the first target token (group positions)"),
    KEY("spsd", "teacher", KEY_ENUM, stream.no_teacher, "on", teacher_names,
        "on: sequences hold [source | student | teacher]; off: [source | student] and the loss is CE(student) "
        "(alpha ignored, lambda must be 0)"),
    KEY("spsd", "alpha", KEY_FLOAT, spsd.alpha, "1", NULL, "weight of the teacher's cross-entropy"),
    KEY("spsd", "lambda", KEY_FLOAT, spsd.lambda, "1", NULL, "weight of the distillation KL; 0 = masking only"),
    KEY("spsd", "tau", KEY_FLOAT, spsd.tau, "1", NULL, "distillation temperature"),
    KEY("mpi", "zero", KEY_BOOL, mpi.zero, "false", NULL,
        "ZeRO-1: shard the AdamW state over the ranks (reduce-scatter + allgather)"),
    KEY("mpi", "bucket_mb", KEY_FLOAT, mpi.bucket_mb, "4", NULL, "gradient allreduce bucket size in MB"),

    KEY("checkpoint", "every", KEY_INT, checkpoint.every, "0", NULL,
        "steps between checkpoints (RUN_DIR/checkpoints); 0 = only at the end"),
    KEY("checkpoint", "keep", KEY_INT, checkpoint.keep, "3", NULL, "how many checkpoints to keep"),
    KEY("checkpoint", "on_error", KEY_ENUM, checkpoint.on_error, "stop", on_error_names,
        "a checkpoint that cannot be written (disk full): stop = the run ends (exit 74), "
        "continue = a warning and training goes on; the previous checkpoint is kept either way"),

    KEY("run", "dir", KEY_STRING, run.dir, "runs/default", NULL, "run directory (logs, checkpoints)"),
    KEY("run", "threads", KEY_INT, run.threads, "0", NULL, "BLAS and kernel threads; 0 = all cores"),
};

enum { N_KEYS = (int)(sizeof keys / sizeof keys[0]) };

static int find_key(const char *section, size_t section_len, const char *name, size_t name_len) {
    for (int k = 0; k < N_KEYS; k++) {
        if (strlen(keys[k].section) == section_len && memcmp(keys[k].section, section, section_len) == 0 &&
            strlen(keys[k].name) == name_len && memcmp(keys[k].name, name, name_len) == 0)
            return k;
    }
    return -1;
}

static int section_known(const char *section, size_t len) {
    for (int k = 0; k < N_KEYS; k++)
        if (strlen(keys[k].section) == len && memcmp(keys[k].section, section, len) == 0) return 1;
    return 0;
}

/* Index of a key the code refers to by name; the table is fixed, so a miss is a bug. */
static int key_index(const char *section, const char *name) {
    int k = find_key(section, strlen(section), name, strlen(name));
    if (k < 0) {
        fprintf(stderr, "config.c: no key %s.%s in the table\n", section, name);
        abort();
    }
    return k;
}

static void *field(ProactConfig *c, int k) { return (char *)c + keys[k].offset; }
static const void *cfield(const ProactConfig *c, int k) { return (const char *)c + keys[k].offset; }

/* ---- parsing one value -------------------------------------------------------------- */

static int is_bool(const char *s, int *out) {
    static const char *const yes[] = {"true", "1", "yes", "on"};
    static const char *const no[] = {"false", "0", "no", "off"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = 1;
            return 1;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = 0;
            return 1;
        }
    }
    return 0;
}

/* "a, b, c" into buf. */
static void join_choices(const char *const *choices, char *buf, size_t size) {
    size_t n = 0;
    buf[0] = '\0';
    for (int i = 0; choices[i] && n < size; i++) {
        int w = snprintf(buf + n, size - n, "%s%s", i ? ", " : "", choices[i]);
        if (w < 0) break;
        n += (size_t)w;
    }
}

/* Parses `value` for key k into c. `where` prefixes error messages ("file:3: ", "--set ...: "). */
static int set_value(ProactConfig *c, int k, const char *value, const char *where) {
    const KeyDef *d = &keys[k];
    switch (d->type) {
        case KEY_INT: {
            char *end;
            errno = 0;
            long v = strtol(value, &end, 10);
            if (end == value || *end != '\0' || isspace((unsigned char)value[0]))
                return px_error("%s%s.%s: expected an integer, got '%s'", where, d->section, d->name, value);
            if (errno == ERANGE || v < INT_MIN || v > INT_MAX)
                return px_error("%s%s.%s: integer out of range: '%s'", where, d->section, d->name, value);
            int iv = (int)v;
            memcpy(field(c, k), &iv, sizeof iv);
            return 0;
        }
        case KEY_FLOAT: {
            char *end;
            errno = 0;
            double v = strtod(value, &end);
            if (end == value || *end != '\0' || isspace((unsigned char)value[0]))
                return px_error("%s%s.%s: expected a number, got '%s'", where, d->section, d->name, value);
            if (errno == ERANGE || !isfinite(v) || fabs(v) > FLT_MAX)
                return px_error("%s%s.%s: number out of range: '%s'", where, d->section, d->name, value);
            float fv = (float)v;
            memcpy(field(c, k), &fv, sizeof fv);
            return 0;
        }
        case KEY_BOOL: {
            int b;
            if (!is_bool(value, &b))
                return px_error("%s%s.%s: expected a boolean (true/false, yes/no, on/off, 1/0), "
                                "got '%s'",
                                where, d->section, d->name, value);
            memcpy(field(c, k), &b, sizeof b);
            return 0;
        }
        case KEY_ENUM: {
            for (int i = 0; d->choices[i]; i++) {
                if (strcmp(value, d->choices[i]) == 0) {
                    _Static_assert(sizeof(ModelArch) == sizeof(int), "enum keys are stored as int");
                    memcpy(field(c, k), &i, sizeof i);
                    return 0;
                }
            }
            char list[256];
            join_choices(d->choices, list, sizeof list);
            return px_error("%s%s.%s: unknown %s '%s' (expected: %s)", where, d->section, d->name, d->name, value,
                            list);
        }
        case KEY_STRING: {
            size_t len = strlen(value);
            if (len >= d->size)
                return px_error("%s%s.%s: value too long (%zu characters, at most %zu)", where, d->section, d->name,
                                len, d->size - 1);
            for (size_t i = 0; i < len; i++)
                if (iscntrl((unsigned char)value[i]))
                    return px_error("%s%s.%s: control character in value", where, d->section, d->name);
            if (d->choices) {
                int ok = 0;
                for (int i = 0; d->choices[i] && !ok; i++) ok = strcmp(value, d->choices[i]) == 0;
                if (!ok) {
                    char list[256];
                    join_choices(d->choices, list, sizeof list);
                    return px_error("%s%s.%s: unknown %s '%s' (expected: %s)", where, d->section, d->name, d->name,
                                    value, list);
                }
            }
            char *dst = field(c, k);
            memset(dst, 0, d->size);
            memcpy(dst, value, len);
            return 0;
        }
    }
    return px_error("%s%s.%s: bad key type", where, d->section, d->name);
}

/* ---- parse state --------------------------------------------------------------------- */

typedef struct {
    ProactConfig *c;
    const char *file;     /* for messages */
    const char *cursor;   /* reader position in the file text */
    int lineno;           /* line the reader handed out last (1-based) */
    int err_line;         /* line of the first error the reader or handler reported */
    int line[N_KEYS];     /* line of the file that set each key, 0 if none */
    int override[N_KEYS]; /* 1 + index of the --set that set each key last, 0 if none */
    const char *const *overrides;
} ParseState;

/* Records an error at a line of the file (the first one wins) and returns 0 for inih. */
static int file_error(ParseState *st, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int file_error(ParseState *st, int line, const char *fmt, ...) {
    if (st->err_line) return 0;
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    px_error("%s:%d: %s", st->file, line, msg);
    st->err_line = line;
    return 0;
}

/* ini_reader: hands inih one line of st->cursor per call (see the top of the file). */
static char *read_line(char *buf, int size, void *stream) {
    ParseState *st = stream;
    if (st->err_line || *st->cursor == '\0') return NULL;
    const char *start = st->cursor;
    const char *end = strchr(start, '\n');
    if (!end) end = start + strlen(start);
    st->cursor = *end ? end + 1 : end;
    st->lineno++;

    if (st->lineno == 1 && end - start >= 3 && memcmp(start, "\xEF\xBB\xBF", 3) == 0)
        start += 3; /* UTF-8 byte order mark */
    while (start < end && isspace((unsigned char)*start)) start++;
    while (end > start && isspace((unsigned char)end[-1])) end--;
    size_t n = (size_t)(end - start);

    if (n > 0 && (*start == '#' || *start == ';')) {
        n = 0; /* a comment: inih sees an empty line */
    } else if (n > 0 && *start == '[') {
        const char *close = memchr(start, ']', n);
        if (close) { /* without ']' inih reports the syntax error */
            size_t len = (size_t)(close - start - 1);
            if (!section_known(start + 1, len)) {
                file_error(st, st->lineno, "unknown section [%.*s]", (int)len, start + 1);
                return NULL;
            }
            const char *rest = close + 1;
            while (rest < end && isspace((unsigned char)*rest)) rest++;
            if (rest < end && *rest != ';' && *rest != '#') {
                file_error(st, st->lineno, "unexpected text after [%.*s]", (int)len, start + 1);
                return NULL;
            }
        }
    }
    if (size < 2 || n > (size_t)size - 2) { /* room for '\n' and '\0' */
        file_error(st, st->lineno,
                   "line too long (%zu characters, at most %d; pass long "
                   "values with --set)",
                   n, size - 2);
        return NULL;
    }
    memcpy(buf, start, n);
    buf[n] = '\n';
    buf[n + 1] = '\0';
    return buf;
}

/* ini_handler: one key = value of the file. Returns nonzero on success. */
static int on_value(void *user, const char *section, const char *name, const char *value) {
    ParseState *st = user;
    int line = st->lineno;
    if (st->err_line) return 0;
    if (section[0] == '\0') return file_error(st, line, "key '%s' outside any section", name);
    if (!section_known(section, strlen(section))) return file_error(st, line, "unknown section [%s]", section);
    int k = find_key(section, strlen(section), name, strlen(name));
    if (k < 0) return file_error(st, line, "unknown key '%s' in section [%s]", name, section);
    if (st->line[k]) return file_error(st, line, "%s.%s given twice (first at line %d)", section, name, st->line[k]);
    char where[PX_PATH_MAX + 32];
    snprintf(where, sizeof where, "%s:%d: ", st->file, line);
    if (set_value(st->c, k, value, where) != 0) {
        st->err_line = line;
        return 0;
    }
    st->line[k] = line;
    return 1;
}

/* Line `line` of text, trimmed and shortened, for a syntax error message. */
static void quote_line(const char *text, int line, char *buf, size_t size) {
    const char *p = text;
    for (int i = 1; i < line && p; i++) {
        p = strchr(p, '\n');
        if (p) p++;
    }
    buf[0] = '\0';
    if (!p) return;
    const char *end = strchr(p, '\n');
    if (!end) end = p + strlen(p);
    while (p < end && isspace((unsigned char)*p)) p++;
    while (end > p && isspace((unsigned char)end[-1])) end--;
    size_t n = (size_t)(end - p);
    if (n > 80) n = 80;
    snprintf(buf, size, "%.*s", (int)n, p);
}

static int parse_text(ParseState *st, const char *text) {
    st->cursor = text;
    st->lineno = 0;
    st->err_line = 0;
    int rc = ini_parse_stream(read_line, st, on_value, st);
    if (rc > 0 && (st->err_line == 0 || rc < st->err_line)) {
        char quoted[96];
        quote_line(text, rc, quoted, sizeof quoted);
        return px_error("%s:%d: syntax error: expected [section] or key = value, got '%s'", st->file, rc, quoted);
    }
    if (st->err_line) return -1;
    if (rc == -2) return px_error("%s: out of memory parsing config", st->file);
    if (rc != 0) return px_error("%s: cannot parse config (inih returned %d)", st->file, rc);
    return 0;
}

/* ---- overrides ----------------------------------------------------------------------- */

static int apply_override(ParseState *st, int i) {
    const char *s = st->overrides[i];
    if (!s) return px_error("--set: missing override (NULL)");
    char where[600];
    snprintf(where, sizeof where, "--set %.500s: ", s);

    const char *eq = strchr(s, '=');
    const char *dot = eq ? memchr(s, '.', (size_t)(eq - s)) : NULL;
    if (!eq || !dot) return px_error("%sexpected section.key=value", where);
    const char *sec = s, *sec_end = dot, *name = dot + 1, *name_end = eq;
    while (sec < sec_end && isspace((unsigned char)*sec)) sec++;
    while (sec_end > sec && isspace((unsigned char)sec_end[-1])) sec_end--;
    while (name < name_end && isspace((unsigned char)*name)) name++;
    while (name_end > name && isspace((unsigned char)name_end[-1])) name_end--;
    if (sec == sec_end || name == name_end) return px_error("%sexpected section.key=value", where);
    size_t sec_len = (size_t)(sec_end - sec), name_len = (size_t)(name_end - name);

    if (!section_known(sec, sec_len)) return px_error("%sunknown section [%.*s]", where, (int)sec_len, sec);
    int k = find_key(sec, sec_len, name, name_len);
    if (k < 0) return px_error("%sunknown key '%.*s' in section [%.*s]", where, (int)name_len, name, (int)sec_len, sec);

    const char *v = eq + 1, *v_end = eq + strlen(eq);
    while (v < v_end && isspace((unsigned char)*v)) v++;
    while (v_end > v && isspace((unsigned char)v_end[-1])) v_end--;
    size_t v_len = (size_t)(v_end - v);
    char *value = px_calloc(v_len + 1, 1, "a --set value");
    if (!value) return -1;
    memcpy(value, v, v_len);
    int rc = set_value(st->c, k, value, where);
    free(value);
    if (rc != 0) return -1;
    st->override[k] = i + 1;
    return 0;
}

/* ---- resolution and range checks ------------------------------------------------------ */

/* An error about key (section, name), prefixed with where its value came from. */
static int key_error(const ParseState *st, const char *section, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int key_error(const ParseState *st, const char *section, const char *name, const char *fmt, ...) {
    int k = key_index(section, name);
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (st->override[k])
        return px_error("--set %.500s: %s.%s: %s", st->overrides[st->override[k] - 1], section, name, msg);
    if (st->line[k]) return px_error("%s:%d: %s.%s: %s", st->file, st->line[k], section, name, msg);
    if (st->file[0]) return px_error("%s: %s.%s: %s (default)", st->file, section, name, msg);
    return px_error("%s.%s: %s (default)", section, name, msg);
}

/* SwiGLU width when intermediate_size = 0: Llama's 2/3 * 4d, rounded up to a multiple of 16. */
static int default_intermediate(int d) { return (int)(((8LL * d + 47) / 48) * 16); }

static int resolve_and_check(ParseState *st) {
    ProactConfig *c = st->c;
    ModelConfig *m = &c->model;

#define REQUIRE(cond, sec, key, ...)                              \
    do {                                                          \
        if (!(cond)) return key_error(st, sec, key, __VA_ARGS__); \
    } while (0)

    /* [model] */
    /* Not a key: Hugging Face's Qwen2 always has q/k/v biases and Llama never has them alone. */
    m->qkv_bias = m->arch == MODEL_ARCH_QWEN2;
    REQUIRE(m->vocab_size > 0, "model", "vocab_size", "must be positive, got %d", m->vocab_size);
    REQUIRE(m->hidden_size > 0, "model", "hidden_size", "must be positive, got %d", m->hidden_size);
    REQUIRE(m->n_layers > 0, "model", "n_layers", "must be positive, got %d", m->n_layers);
    REQUIRE(m->n_heads > 0, "model", "n_heads", "must be positive, got %d", m->n_heads);
    REQUIRE(m->n_kv_heads >= 0, "model", "n_kv_heads", "must be positive (or 0 = n_heads), got %d", m->n_kv_heads);
    if (m->n_kv_heads == 0) m->n_kv_heads = m->n_heads;
    REQUIRE(m->n_heads % m->n_kv_heads == 0, "model", "n_kv_heads", "%d does not divide model.n_heads = %d",
            m->n_kv_heads, m->n_heads);
    REQUIRE(m->head_dim >= 0, "model", "head_dim", "must be positive (or 0 = hidden_size / n_heads), got %d",
            m->head_dim);
    if (m->head_dim == 0) {
        REQUIRE(m->hidden_size % m->n_heads == 0, "model", "head_dim",
                "0 means hidden_size / n_heads, but model.n_heads = %d does not divide "
                "model.hidden_size = %d; set head_dim",
                m->n_heads, m->hidden_size);
        m->head_dim = m->hidden_size / m->n_heads;
    }
    REQUIRE(m->head_dim % 2 == 0, "model", "head_dim", "must be even (RoPE rotates pairs of dimensions), got %d",
            m->head_dim);
    REQUIRE(m->intermediate_size >= 0, "model", "intermediate_size", "must be positive (or 0 = SwiGLU default), got %d",
            m->intermediate_size);
    if (m->intermediate_size == 0) {
        REQUIRE(m->hidden_size <= INT_MAX / 3, "model", "hidden_size", "too large, got %d", m->hidden_size);
        m->intermediate_size = default_intermediate(m->hidden_size);
    }
    REQUIRE(m->rope_theta > 0, "model", "rope_theta", "must be positive, got %g", (double)m->rope_theta);
    REQUIRE(m->rms_norm_eps > 0, "model", "rms_norm_eps", "must be positive, got %g", (double)m->rms_norm_eps);
    REQUIRE(m->max_seq_len > 0, "model", "max_seq_len", "must be positive, got %d", m->max_seq_len);
    REQUIRE(m->init_std >= 0, "model", "init_std", "must be >= 0, got %g", (double)m->init_std);

    /* [train] */
    REQUIRE(c->train.steps > 0, "train", "steps", "must be positive, got %d", c->train.steps);
    REQUIRE(c->train.global_batch > 0, "train", "global_batch", "must be positive, got %d", c->train.global_batch);
    REQUIRE(c->train.seq_len >= 2, "train", "seq_len", "must be at least 2 (one input and one target token), got %d",
            c->train.seq_len);
    /* With model.init the imported config.json decides max_seq_len; train checks it there. */
    REQUIRE(c->model_init[0] || c->train.seq_len <= m->max_seq_len, "train", "seq_len",
            "%d exceeds model.max_seq_len = %d", c->train.seq_len, m->max_seq_len);
    REQUIRE(c->train.seed >= 0, "train", "seed", "must be >= 0, got %d", c->train.seed);
    REQUIRE(c->train.log_every > 0, "train", "log_every", "must be positive, got %d", c->train.log_every);
    char *watchdog_end = NULL;
    c->train.watchdog_s = strcmp(c->train.watchdog, "auto") == 0  ? 0
                          : strcmp(c->train.watchdog, "off") == 0 ? -1
                                                                  : strtod(c->train.watchdog, &watchdog_end);
    REQUIRE(!watchdog_end || (watchdog_end > c->train.watchdog && !*watchdog_end && c->train.watchdog_s > 0 &&
                              isfinite(c->train.watchdog_s)),
            "train", "watchdog_s", "expected auto, off or a positive number of seconds, got '%s'", c->train.watchdog);

    /* [optim] */
    const OptimConfig *o = &c->optim;
    REQUIRE(o->lr > 0, "optim", "lr", "must be positive, got %g", (double)o->lr);
    REQUIRE(o->min_lr_ratio >= 0 && o->min_lr_ratio <= 1, "optim", "min_lr_ratio", "must be in [0, 1], got %g",
            (double)o->min_lr_ratio);
    REQUIRE(o->warmup_steps >= 0, "optim", "warmup_steps", "must be >= 0, got %d", o->warmup_steps);
    REQUIRE(o->beta1 > 0 && o->beta1 < 1, "optim", "beta1", "must be in (0, 1), got %g", (double)o->beta1);
    REQUIRE(o->beta2 > 0 && o->beta2 < 1, "optim", "beta2", "must be in (0, 1), got %g", (double)o->beta2);
    REQUIRE(o->eps > 0, "optim", "eps", "must be positive, got %g", (double)o->eps);
    REQUIRE(o->weight_decay >= 0, "optim", "weight_decay", "must be >= 0, got %g", (double)o->weight_decay);
    REQUIRE(c->optim.total_steps >= 0, "optim", "decay_steps", "must be >= 0, got %d", c->optim.total_steps);
    if (c->optim.total_steps == 0) c->optim.total_steps = c->train.steps; /* decay_steps = 0: train.steps */

    REQUIRE(c->train.eval_every >= 0, "train", "eval_every", "must be >= 0, got %d", c->train.eval_every);

    /* [data] (source is checked against its choices while parsing) */
    const int pairs = strcmp(c->data.source, "pairs") == 0;
    REQUIRE(!pairs || c->data.train[0], "data", "train", "must name the training pairs when data.source = pairs");
    REQUIRE(c->data.max_tokens > 0, "data", "max_tokens", "must be positive, got %d", c->data.max_tokens);
    const char *tsv = px_ends_with(c->data.train, ".tsv")   ? "train"
                      : px_ends_with(c->data.valid, ".tsv") ? "valid"
                                                            : NULL;
    REQUIRE(!pairs || !tsv || c->data.tokenizer[0], "data", "tokenizer",
            "must name a tokenizer.json: data.%s is a .tsv", tsv ? tsv : "");

    /* [stream], [spsd], [mpi] */
    StreamConfig *sc = &c->stream;
    REQUIRE(schedule_set(sc, "lag_floor", c->stream_lag_floor) == 0, "stream", "lag_floor",
            "expected none or an integer, got '%s'", c->stream_lag_floor);
    char why[192];
    const char *bad = schedule_invalid(sc, why, sizeof why); /* the sampler's ranges live with the sampler */
    REQUIRE(!bad, "stream", bad ? bad : "schedule", "%s", why);
    REQUIRE(sc->phi >= 0, "stream", "phi", "must be >= 0, got %d", sc->phi);
    REQUIRE(c->spsd.alpha >= 0, "spsd", "alpha", "must be >= 0, got %g", (double)c->spsd.alpha);
    REQUIRE(c->spsd.lambda >= 0, "spsd", "lambda", "must be >= 0, got %g", (double)c->spsd.lambda);
    REQUIRE(!sc->no_teacher || c->spsd.lambda == 0, "spsd", "lambda",
            "must be 0 with spsd.teacher = off (no teacher copy to distil from), got %g", (double)c->spsd.lambda);
    REQUIRE(c->spsd.tau > 0, "spsd", "tau", "must be positive, got %g", (double)c->spsd.tau);
    REQUIRE(c->mpi.bucket_mb > 0, "mpi", "bucket_mb", "must be positive, got %g", (double)c->mpi.bucket_mb);

    REQUIRE(c->checkpoint.every >= 0, "checkpoint", "every", "must be >= 0, got %d", c->checkpoint.every);
    REQUIRE(c->checkpoint.keep >= 1, "checkpoint", "keep", "must be >= 1, got %d", c->checkpoint.keep);

    /* [run] */
    REQUIRE(c->run.dir[0] != '\0', "run", "dir", "must not be empty");
    REQUIRE(c->run.threads >= 0, "run", "threads", "must be >= 0 (0 = all cores), got %d", c->run.threads);
#undef REQUIRE

    if (model_config_validate(m) != 0) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", px_error_message());
        if (st->file[0]) return px_error("%s: %s", st->file, msg);
        return -1;
    }
    return 0;
}

/* ---- files --------------------------------------------------------------------------- */

/* Reads the whole file into a NUL-terminated malloc'd string. */
static char *read_text(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        px_error("%s: cannot open config: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, len = 0;
    char *text = malloc(cap);
    if (!text) {
        px_error("%s: out of memory reading config", path);
        fclose(f);
        return NULL;
    }
    for (;;) {
        if (len + 1 == cap) {
            if (cap >= CONFIG_MAX_FILE) {
                px_error("%s: config file too large (limit %d bytes)", path, CONFIG_MAX_FILE);
                goto fail;
            }
            char *bigger = realloc(text, cap * 2);
            if (!bigger) {
                px_error("%s: out of memory reading config", path);
                goto fail;
            }
            text = bigger;
            cap *= 2;
        }
        size_t got = fread(text + len, 1, cap - 1 - len, f);
        len += got;
        if (got == 0) break;
    }
    if (ferror(f)) {
        px_error("%s: cannot open config: %s", path, strerror(errno));
        goto fail;
    }
    if (fclose(f) != 0) {
        f = NULL;
        px_error("%s: cannot open config: %s", path, strerror(errno));
        goto fail;
    }
    text[len] = '\0';
    if (strlen(text) != len) {
        px_error("%s: config contains a NUL byte (not a text file?)", path);
        free(text);
        return NULL;
    }
    return text;
fail:
    if (f) fclose(f);
    free(text);
    return NULL;
}

/* Appends "# --set <override>\n" lines to text (which may be NULL; it is consumed), after a
 * '\n' if the text does not end in one; returns the new text. */
static char *append_overrides(char *text, const char *const *overrides, int n) {
    size_t len = text ? strlen(text) : 0, need = len + 2;
    for (int i = 0; i < n; i++) need += strlen(overrides[i]) + 9;
    char *out = realloc(text, need);
    if (!out) {
        px_error("out of memory keeping the config text");
        free(text);
        return NULL;
    }
    out[len] = '\0';
    if (n > 0 && len > 0 && out[len - 1] != '\n') {
        out[len++] = '\n';
        out[len] = '\0';
    }
    for (int i = 0; i < n; i++) {
        int w = snprintf(out + len, need - len, "# --set %s\n", overrides[i]);
        if (w < 0) break;
        len += (size_t)w;
    }
    return out;
}

/* ---- public -------------------------------------------------------------------------- */

int config_load(ProactConfig *c, const char *path, const char *const *overrides, int n_overrides) {
    memset(c, 0, sizeof *c);
    if (n_overrides < 0 || (n_overrides > 0 && !overrides)) return px_error("config_load: bad override list");

    ParseState st;
    memset(&st, 0, sizeof st);
    st.c = c;
    st.file = "";
    st.overrides = overrides;

    for (int k = 0; k < N_KEYS; k++)
        if (set_value(c, k, keys[k].def, "default of ") != 0) return -1;

    char *text = NULL;
    if (path) {
        if (strlen(path) >= sizeof c->path) return px_error("%.200s...: config path too long", path);
        strcpy(c->path, path);
        st.file = c->path;
        text = read_text(path);
        if (!text || parse_text(&st, text) != 0) goto fail;
    }
    for (int i = 0; i < n_overrides; i++)
        if (apply_override(&st, i) != 0) goto fail;
    if (resolve_and_check(&st) != 0) goto fail;

    c->text = append_overrides(text, overrides, n_overrides);
    if (!c->text) return -1;
    return 0;
fail:
    free(text);
    c->text = NULL;
    return -1;
}

void config_free(ProactConfig *c) {
    if (!c) return;
    free(c->text);
    c->text = NULL;
}

/* Text written into a buffer as far as it fits, counting the full length. */
typedef struct {
    char *buf;
    size_t size, len;
} Out;

static void out(Out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out(Out *o, const char *fmt, ...) {
    char dummy[1];
    char *dst = o->len < o->size ? o->buf + o->len : dummy;
    size_t room = o->len < o->size ? o->size - o->len : sizeof dummy;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(dst, room, fmt, ap);
    va_end(ap);
    if (w > 0) o->len += (size_t)w;
}

/* Writes the dump into buf (as much as fits) and returns its full length. */
static size_t dump(const ProactConfig *c, char *buf, size_t size) {
    Out o = {buf, size, 0};
    const char *section = NULL;
    out(&o, "# proact configuration: every key with its value\n");
    for (int k = 0; k < N_KEYS; k++) {
        const KeyDef *d = &keys[k];
        if (!section || strcmp(section, d->section) != 0) {
            section = d->section;
            out(&o, "\n[%s]\n", section);
        }
        out(&o, "# %s\n", d->help);
        const void *p = cfield(c, k);
        int iv;
        float fv;
        char num[32];
        switch (d->type) {
            case KEY_INT:
                memcpy(&iv, p, sizeof iv);
                out(&o, "%s = %d\n", d->name, iv);
                break;
            case KEY_FLOAT:
                memcpy(&fv, p, sizeof fv);
                px_format_float(fv, num, sizeof num);
                out(&o, "%s = %s\n", d->name, num);
                break;
            case KEY_BOOL:
                memcpy(&iv, p, sizeof iv);
                out(&o, "%s = %s\n", d->name, iv ? "true" : "false");
                break;
            case KEY_ENUM: {
                memcpy(&iv, p, sizeof iv);
                int n = 0;
                while (d->choices[n]) n++;
                out(&o, "%s = %s\n", d->name, iv >= 0 && iv < n ? d->choices[iv] : "?");
                break;
            }
            case KEY_STRING:
                out(&o, "%s =%s%.*s\n", d->name, *(const char *)p ? " " : "", (int)strnlen(p, d->size),
                    (const char *)p);
                break;
        }
    }
    return o.len;
}

size_t config_dump_size(const ProactConfig *c) { return dump(c, NULL, 0) + 1; }

int config_dump(const ProactConfig *c, char *buf, size_t size) {
    size_t len = dump(c, buf, size);
    if (len >= size) return px_error("config_dump: buffer of %zu bytes too small (need %zu)", size, len + 1);
    return 0;
}
