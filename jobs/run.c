/* run.c — `proact run`: stream source words from stdin through the runner and print each
 * target word as soon as the decision head writes it.
 * Recipe: load the model directory -> parse the head -> per sentence: push words as they
 * arrive, step the runner until it needs more source -> print JSON lines. */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/stream_model.h"
#include "jobs/jobs.h"
#include "jobs/options.h"
#include "src/base/common.h"
#include "src/base/utf8.h"
#include "src/model/gemv.h"
#include "src/stream/runner.h"
#include "src/text/words.h"

typedef struct {
    const Tokenizer *tok;
    double t0;
} TraceCtx;

static void print_json_line(json_t *obj) {
    char *s = json_dumps(obj, JSON_COMPACT);
    if (s) {
        fputs(s, stdout);
        fputc('\n', stdout);
        fflush(stdout);
        free(s);
    }
    json_decref(obj);
}

static void print_decision(void *ctx, const RunnerDecision *d) {
    const TraceCtx *t = ctx;
    char *next = NULL;
    size_t len = 0;
    if (tokenizer_decode(t->tok, &d->next_token, 1, 0, &next, &len)) next = NULL;
    print_json_line(json_pack("{s:s, s:s, s:i, s:i, s:i, s:i, s:f, s:f, s:f, s:i, s:s, s:f}", "decision",
                              d->write ? "WRITE" : "READ", "reason", d->reason, "word_index", d->word_index,
                              "units_read", d->units_read, "src_tokens", d->src_tokens, "tgt_tokens", d->tgt_tokens,
                              "entropy", (double)d->cues.entropy, "maxprob", (double)d->cues.maxprob, "attn_front",
                              (double)d->cues.attn_front, "next_token", d->next_token, "next_text", next ? next : "",
                              "elapsed_ms", (runtime_now() - t->t0) * 1e3));
    free(next);
}

typedef struct {
    Runner *r;
    int index; /* sentence number (0-based) */
    double t0; /* when its first word arrived */
    int started;
    json_t *delays, *elapsed, *words;
    char *source; /* the words pushed, space-separated */
    size_t source_len, source_cap;
    TraceCtx *trace;
} Sentence;

static int sentence_begin(Sentence *s) {
    s->started = 1;
    s->t0 = runtime_now();
    if (s->trace) s->trace->t0 = s->t0;
    s->delays = json_array();
    s->elapsed = json_array();
    s->words = json_array();
    s->source_len = 0;
    return runner_begin(s->r);
}

/* Steps the runner until it needs source (or is done); prints each word. */
static int sentence_advance(Sentence *s) {
    for (;;) {
        RunnerWord w;
        int ev = runner_step(s->r, &w);
        if (ev < 0) return -1;
        if (ev != RUNNER_WORD) return ev;
        double ms = (runtime_now() - s->t0) * 1e3;
        print_json_line(json_pack("{s:s, s:i, s:f}", "word", w.text, "delay", w.delay, "elapsed_ms", ms));
        json_array_append_new(s->words, json_string(w.text));
        json_array_append_new(s->delays, json_integer(w.delay));
        json_array_append_new(s->elapsed, json_real(ms));
    }
}

static int sentence_push(Sentence *s, const char *raw, size_t raw_len) {
    if (!s->started && sentence_begin(s)) return -1;
    /* invalid UTF-8 becomes U+FFFD, as the tokenizer would read it (and JSON needs valid text) */
    size_t need = s->source_len + UTF8_SANITIZED_MAX(raw_len) + 2;
    if (need > s->source_cap) {
        char *p = realloc(s->source, need * 2);
        if (!p) return px_error("out of memory");
        s->source = p;
        s->source_cap = need * 2;
    }
    if (s->source_len) s->source[s->source_len++] = ' ';
    char *word = s->source + s->source_len;
    size_t len = utf8_sanitize(raw, raw_len, word, NULL);
    s->source_len += len;
    s->source[s->source_len] = '\0';
    if (runner_push_word(s->r, word, len)) return -1;
    return sentence_advance(s) < 0 ? -1 : 0;
}

static int sentence_end(Sentence *s) {
    if (!s->started) return 0; /* an empty line: no sentence */
    if (runner_end_source(s->r) || sentence_advance(s) < 0) return -1;
    RunnerStats st;
    runner_stats(s->r, &st);
    double secs = runtime_now() - s->t0;
    char *pred = NULL;
    size_t n = json_array_size(s->words), cap = 1;
    for (size_t i = 0; i < n; i++) cap += strlen(json_string_value(json_array_get(s->words, i))) + 1;
    pred = calloc(cap, 1);
    if (!pred) return px_error("out of memory");
    for (size_t i = 0; i < n; i++) {
        if (i) strcat(pred, " ");
        strcat(pred, json_string_value(json_array_get(s->words, i)));
    }
    print_json_line(json_pack("{s:i, s:s, s:s, s:o, s:o, s:i, s:i, s:I, s:I, s:f, s:s?}", "sentence", s->index,
                              "source", s->source ? s->source : "", "prediction", pred, "delays", s->delays, "elapsed",
                              s->elapsed, "source_length", st.words_pushed, "prediction_length", st.words_written,
                              "tokens_encoded", (json_int_t)st.tokens_encoded, "tokens_decoded",
                              (json_int_t)st.tokens_decoded, "elapsed_ms", secs * 1e3, "limit", st.limit));
    free(pred);
    json_decref(s->words);
    s->words = s->delays = s->elapsed = NULL;
    s->started = 0;
    s->index++;
    return 0;
}

int cmd_run(int argc, char **argv) {
    const char *model_dir = NULL, *head_spec = NULL, *layers = NULL, *heads = NULL;
    int threads = 1, do_trace = 0, opt_status;
    DecodeWeightType wtype = DECODE_FP32;
    DecodeWeights dw = {0};
    RunnerOptions ro;
    runner_options_default(&ro);
    char head_help[1024];
    snprintf(head_help, sizeof head_help, "the decision head (default: the model's default_head in\nproact.json): %s",
             head_spec_help());
    const Opt table[] = {
        OPT("model", 'm', OPT_STRING, &model_dir, "DIR",
            "exported model directory (default: $PROACT_MODEL, else\n"
            "the shipped models/" STREAM_MODEL_SHIPPED ")"),
        OPT("head", 'H', OPT_STRING, &head_spec, "SPEC", head_help),
        OPT("trace", 'T', OPT_FLAG, &do_trace, NULL,
            "also print every READ/WRITE decision with its cues\n"
            "({\"decision\": ...})"),
        RUNNER_OPTS(ro),
        DECODE_OPTS(wtype, ro.kv_bf16),
        OPT("attn-layers", 'L', OPT_STRING, &layers, "L,L..", "which layers the attention cue averages (default all)"),
        OPT("attn-heads", 'A', OPT_STRING, &heads, "H,H..",
            "which query heads the attention cue averages (default\n"
            "all)"),
        OPT("threads", 't', OPT_INT, &threads, "N", "BLAS threads (default 1)", .min = 1, .max = 1024),
        {0}};
    Opts o = {.command = "run", .opts = table};
    o.about = "Reads source text from stdin as it arrives: whitespace separates words, a line break ends a\n"
              "sentence. Writes one JSON line per target word as soon as it is decided,\n"
              "  {\"word\": \"...\", \"delay\": source words read, \"elapsed_ms\": ms since the sentence began}\n"
              "and one summary line per sentence ({\"sentence\": i, \"prediction\": ..., \"delays\": [...], ...}).\n";
    o.notes = STREAM_MODEL_LOCATE_HELP;
    if (opts_parse(&o, argc, argv, &opt_status)) return opt_status;
    int *layer_list = NULL, *head_list = NULL;
    if (layers && (ro.n_attn_layers = parse_int_list(layers, &layer_list, "--attn-layers")) < 0)
        return opts_usage_error(&o, px_error_message());
    if (heads && (ro.n_attn_heads = parse_int_list(heads, &head_list, "--attn-heads")) < 0) {
        free(layer_list);
        return opts_usage_error(&o, px_error_message());
    }
    ro.attn_layers = layer_list;
    ro.attn_heads = head_list;

    char dir[PX_PATH_MAX];
    const char *origin;
    if (stream_model_locate(model_dir, dir, sizeof dir, &origin)) {
        free(layer_list);
        free(head_list);
        fprintf(stderr, "proact run: error: %s\n", px_error_message());
        return 1;
    }
    if (origin) fprintf(stderr, "proact run: model %s (%s)\n", dir, origin);
    model_dir = dir;

    runtime_set_threads(threads);
    runtime_report_blas();
    StreamModel sm;
    int status = 0;
    Sentence s = {0};
    TraceCtx tc = {0};
    if (stream_model_load(model_dir, &sm)) {
        free(layer_list);
        free(head_list);
        return job_fail(px_error_message());
    }
    HeadSpec head;
    if (stream_model_head(&sm, head_spec ? head_spec : sm.default_head, &head)) {
        status = job_fail(px_error_message());
        goto done;
    }
    if (decode_weights_for(&dw, &sm.model, wtype, &ro)) {
        status = job_fail(px_error_message());
        goto done;
    }
    if (do_trace) {
        tc.tok = sm.tokenizer;
        ro.trace = print_decision;
        ro.trace_ctx = &tc;
        s.trace = &tc;
    }
    s.r = runner_new(&sm.model, sm.tokenizer, &sm.format, &head, sm.has_probe ? &sm.probe : NULL, &ro);
    if (!s.r) {
        status = job_fail(px_error_message());
        goto done;
    }
    fprintf(stderr,
            "proact run: head %s, model %s, %s weights%s%s%s, %s KV cache; reading words from stdin (a line break "
            "ends a sentence)\n",
            head.spec, model_dir, decode_weight_type_name(wtype), wtype == DECODE_FP32 ? "" : " (",
            wtype == DECODE_FP32 ? "" : gemv_describe(), wtype == DECODE_FP32 ? "" : " kernels)",
            ro.kv_bf16 ? "bf16" : "fp32");

    /* Bytes as they arrive: a word is complete at the whitespace after it. */
    char buf[65536], *word = NULL;
    size_t wlen = 0, wcap = 0;
    for (;;) {
        ssize_t got = read(STDIN_FILENO, buf, sizeof buf);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
            px_error("reading stdin: %s", strerror(errno));
            status = job_fail(px_error_message());
            break;
        }
        for (ssize_t i = 0; i <= got; i++) {
            int eof = got == 0 && i == got; /* one pass with i == 0 at end of input */
            if (i == got && !eof) break;
            char ch = eof ? '\n' : buf[i];
            int space = word_separator((unsigned char)ch);
            if (!space) {
                if (wlen + 1 > wcap) {
                    char *p = realloc(word, wcap = wcap ? wcap * 2 : 64);
                    if (!p) {
                        status = job_fail("out of memory");
                        goto read_done;
                    }
                    word = p;
                }
                word[wlen++] = ch;
                continue;
            }
            if (wlen && sentence_push(&s, word, wlen)) {
                char msg[900];
                snprintf(msg, sizeof msg, "%s", px_error_message());
                px_error("sentence %d: %s", s.index + 1, msg);
                status = job_fail(px_error_message());
                goto read_done;
            }
            wlen = 0;
            if (ch == '\n' && sentence_end(&s)) {
                status = job_fail(px_error_message());
                goto read_done;
            }
        }
        if (got == 0) break;
    }
read_done:
    free(word);
done:
    if (s.words) json_decref(s.words);
    if (s.delays) json_decref(s.delays);
    if (s.elapsed) json_decref(s.elapsed);
    free(s.source);
    runner_free(s.r);
    decode_weights_free(&dw);
    stream_model_free(&sm);
    free(layer_list);
    free(head_list);
    return status;
}
