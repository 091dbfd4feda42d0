/* forward.c — `proact forward`: a plain causal forward pass over given token ids.
 * Recipe: load the model directory -> build a causal layout -> forward -> print or save; with
 * --generate N, N times: forward over ids + what was generated so far, append the last argmax. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "io/hf_model.h"
#include "io/npy.h"
#include "jobs/jobs.h"
#include "jobs/options.h"
#include "src/base/common.h"
#include "src/model/model.h"

/* The first index of the largest logit (ties: the lowest id). */
static int argmax(const float *z, int V) {
    int best = 0;
    for (int j = 1; j < V; j++)
        if (z[j] > z[best]) best = j;
    return best;
}

int cmd_forward(int argc, char **argv) {
    const char *model_dir = NULL, *ids_text = NULL, *out_path = NULL;
    int threads = 0, generate = 0, opt_status;
    const Opt table[] = {
        OPT("model", 'm', OPT_STRING, &model_dir, "DIR", "model directory (Hugging Face layout)",
            .flags = OPT_REQUIRED),
        OPT("ids", 'i', OPT_STRING, &ids_text, "1,17,250", "the token ids, comma-separated", .flags = OPT_REQUIRED),
        OPT("output", 'o', OPT_STRING, &out_path, "FILE",
            "write the logits to FILE (.npy) instead of printing\n"
            "argmaxes"),
        OPT("generate", 'g', OPT_INT, &generate, "N",
            "greedy decoding: append N argmax tokens, one forward\n"
            "pass each, and print them on one line",
            .min = 1, .max = 1 << 20),
        OPT("threads", 't', OPT_INT, &threads, "N", "BLAS threads (default 0: OpenBLAS's choice)", .min = 0,
            .max = 1024),
        {0}};
    Opts o = {.command = "forward", .opts = table};
    o.about = "Runs a plain causal forward pass of the model in DIR (Hugging Face layout: config.json +\n"
              "model.safetensors) over the token ids. Without -o prints one line per position:\n"
              "'<position> <argmax token id>'. With -o writes the logits as a NumPy .npy file\n"
              "(float32, shape [T, vocab]). With --generate N prints, instead, the N tokens of greedy\n"
              "decoding after the ids, space-separated on one line: each is the argmax of a full forward\n"
              "pass over the ids and the tokens before it (positions 0, 1, 2, ...; no KV cache: a\n"
              "reference for checks such as llama.cpp's greedy decoding of a GGUF export, not a fast path).\n";
    if (opts_parse(&o, argc, argv, &opt_status)) return opt_status;
    if (generate && out_path) return opts_usage_error(&o, "--generate prints tokens; it does not go with --output");
    int *ids = NULL;
    int T = parse_int_list(ids_text, &ids, "--ids");
    if (T < 0) return job_fail(px_error_message());
    if (generate) { /* room for the tokens to come */
        if (T > INT_MAX - generate) {
            free(ids);
            return job_fail("--generate: too many tokens");
        }
        int *grown = realloc(ids, (size_t)(T + generate) * sizeof(int));
        if (!grown) {
            free(ids);
            return job_fail("out of memory");
        }
        ids = grown;
    }

    runtime_set_threads(threads);
    runtime_report_blas();
    Model m;
    if (hf_load_model(model_dir, &m)) {
        free(ids);
        return job_fail(px_error_message());
    }
    int status = 0;
    const int cap = T + generate;
    int *seq_start = calloc(2, sizeof(int)), *pos = calloc(cap, sizeof(int));
    int *zero = calloc(cap, sizeof(int));
    Activations acts = {0};
    if (!seq_start || !pos || !zero) {
        status = job_fail("out of memory");
        goto done;
    }
    for (int t = 0; t < cap; t++) pos[t] = t;
    for (int t = 0; t < T; t++) {
        if (ids[t] < 0 || ids[t] >= m.cfg.vocab_size) {
            px_error("--ids: token id %d at position %d is outside the vocabulary of %s (size %d)", ids[t], t,
                     model_dir, m.cfg.vocab_size);
            status = job_fail(px_error_message());
            goto done;
        }
    }
    const int V = m.cfg.vocab_size;
    for (int g = 0; g <= generate; g++) {
        seq_start[1] = T;
        AttnLayout lay = {
            .n_rows = T, .n_seqs = 1, .seq_start = seq_start, .pos = pos, .vis_prefix = zero, .blk_start = zero};
        if (model_forward(&m, &acts, ids, &lay)) {
            status = job_fail(px_error_message());
            goto done;
        }
        if (g == generate) break;
        ids[T] = argmax(acts.logits + (size_t)(T - 1) * V, V);
        printf("%s%d", g ? " " : "", ids[T]);
        T++;
    }
    if (generate) {
        printf("\n");
    } else if (out_path) {
        int64_t shape[2] = {T, V};
        if (npy_write_f32(out_path, acts.logits, shape, 2)) status = job_fail(px_error_message());
    } else {
        for (int t = 0; t < T; t++) printf("%d %d\n", t, argmax(acts.logits + (size_t)t * V, V));
    }
done:
    activations_free(&acts);
    model_free(&m);
    free(ids);
    free(seq_start);
    free(pos);
    free(zero);
    return status;
}
