/* export.c — `proact export`: a checkpoint (or a model directory) -> a Hugging Face-style model
 * directory or one GGUF file for llama.cpp.
 * Recipe: find the source -> rebuild the model (from the checkpoint's stored config.json, or from the
 * directory) -> read and verify the weights -> write config.json + model.safetensors (f32 or bf16)
 * with tokenizer.json, tokenizer_config.json, generation_config.json and proact.json (io/hf_export.c),
 * or write the GGUF file (io/gguf.c) with the tokenizer
 * and proact.json inside. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/atomic_file.h"
#include "io/checkpoint.h"
#include "io/files.h"
#include "io/gguf.h"
#include "io/hf_export.h"
#include "io/onnx_decoder.h"
#include "jobs/jobs.h"
#include "jobs/options.h"
#include "mpi/world.h"
#include "src/base/common.h"

/* DIR/name in buf if that file exists, else NULL. */
static const char *present(char *buf, size_t cap, const char *dir, const char *name) {
    struct stat sb;
    snprintf(buf, cap, "%s/%s", dir, name);
    return stat(buf, &sb) == 0 ? buf : NULL;
}

static int parse_format(const char *name, const char *arg, void *dest) {
    if (strcmp(arg, "hf") == 0) *(int *)dest = 0;
    else if (strcmp(arg, "gguf") == 0) *(int *)dest = 1;
    else if (strcmp(arg, "onnx") == 0) *(int *)dest = 2;
    else return px_error("%s: expected hf, gguf or onnx, got '%s'", name, arg);
    return 0;
}

static int parse_merges(const char *name, const char *arg, void *dest) {
    if (strcmp(arg, "pairs") == 0) *(int *)dest = TOKENIZER_MERGES_PAIRS;
    else if (strcmp(arg, "strings") == 0) *(int *)dest = TOKENIZER_MERGES_STRINGS;
    else return px_error("%s: expected pairs or strings, got '%s'", name, arg);
    return 0;
}

/* The Hugging Face directory of m with SRC_DIR's tokenizer and proact.json (io/hf_export.h); prints
 * the summary, FROM naming the source. */
static int write_hf(const char *from, const char *src_dir, const char *out, const Model *m, const HfExportOptions *o) {
    HfExportReport r;
    if (hf_export(out, m, src_dir, o, &r)) return job_fail(px_error_message());
    char extra[512] = "";
    if (r.tokenizer)
        snprintf(extra, sizeof extra, ", tokenizer.json%s + tokenizer_config.json (%s, %s)",
                 o->merges == TOKENIZER_MERGES_STRINGS ? " (merges as strings)"
                 : o->merges == TOKENIZER_MERGES_PAIRS ? " (merges as pairs)"
                                                       : "",
                 r.tokenizer_class, r.chat_template ? "chat template" : r.no_template);
    char pj[160] = "";
    if (r.proact_json)
        snprintf(pj, sizeof pj, ", proact.json%s%s%s", o->default_head ? " (default head " : "",
                 o->default_head ? o->default_head : "", o->default_head ? ")" : "");
    printf("exported %s -> %s: %s, %.2fM parameters, %s%s%s, generation_config.json (bos %d, eos %d, pad %d)\n", from,
           out, model_arch_hf_class(m->cfg.arch), m->n_params / 1e6, o->bf16 ? "bf16" : "f32",
           r.tokenizer ? extra : " (no tokenizer.json)", pj, r.ids.bos, r.ids.eos, r.ids.pad);
    return 0;
}

static int parse_gguf_type(const char *name, const char *arg, void *dest) {
    GgufWeights *w = dest;
    if (strcmp(arg, "f32") == 0) *w = GGUF_WEIGHTS_F32;
    else if (strcmp(arg, "bf16") == 0) *w = GGUF_WEIGHTS_BF16;
    else if (strcmp(arg, "q8_0") == 0) *w = GGUF_WEIGHTS_Q8_0;
    else return px_error("%s: expected f32, bf16 or q8_0, got '%s'", name, arg);
    return 0;
}

/* The GGUF file of m, with SRC_DIR's tokenizer.json and proact.json if there; prints the summary. */
static int write_gguf(const char *from, const char *src_dir, const char *out, const Model *m, GgufWeights w) {
    char tok[PX_PATH_MAX + 32], pj[PX_PATH_MAX + 32], name[256];
    const char *base = strrchr(out, '/') ? strrchr(out, '/') + 1 : out;
    snprintf(name, sizeof name, "%.*s", (int)(px_ends_with(base, ".gguf") ? strlen(base) - 5 : strlen(base)), base);
    GgufExport x = {.weights = w,
                    .name = name,
                    .tokenizer_path = present(tok, sizeof tok, src_dir, "tokenizer.json"),
                    .proact_json_path = present(pj, sizeof pj, src_dir, "proact.json")};
    GgufReport r = {0};
    char dir[PX_PATH_MAX];
    snprintf(dir, sizeof dir, "%.*s", base > out ? (int)(base - out - 1) : 0, out);
    if ((dir[0] && file_mkdirs(dir)) || gguf_export(out, m, &x, &r)) return job_fail(px_error_message());
    char kept[96] = "";
    if (r.n_kept_f32) snprintf(kept, sizeof kept, " (%d kept in f32: rows not a multiple of 32)", r.n_kept_f32);
    printf("exported %s -> %s: GGUF, llama.cpp architecture %s, %.2fM parameters, %d tensors, weights %s%s, "
           "%llu bytes%s%s\n",
           from, out, model_arch_name(m->cfg.arch), m->n_params / 1e6, r.n_tensors, gguf_weights_name(w), kept,
           (unsigned long long)r.bytes, x.tokenizer_path ? ", tokenizer" : " (no tokenizer.json: llama.cpp needs one)",
           x.proact_json_path ? ", proact.json" : "");
    return 0;
}

/* --format onnx: OUT/onnx/model.onnx next to the Hugging Face files; prints the summary. */
static int write_onnx(const char *out, const Model *m, OnnxData data) {
    OnnxReport r = {0};
    if (onnx_export_decoder(out, m, data, &r)) return -1;
    char ext[160] = "";
    if (r.n_external)
        snprintf(ext, sizeof ext, " (%zu initializers in %s, %zu bytes)", r.n_external, ONNX_DECODER_DATA,
                 r.data_bytes);
    printf("  and %s/%s: ONNX opset 17 decoder with past key/values, %zu nodes, %zu initializers, %zu bytes%s\n", out,
           ONNX_DECODER_FILE, r.n_nodes, r.n_initializers, r.bytes, ext);
    return 0;
}

static int parse_onnx_data(const char *name, const char *arg, void *dest) {
    if (strcmp(arg, "auto") == 0) *(OnnxData *)dest = ONNX_DATA_AUTO;
    else if (strcmp(arg, "inline") == 0) *(OnnxData *)dest = ONNX_DATA_INLINE;
    else if (strcmp(arg, "external") == 0) *(OnnxData *)dest = ONNX_DATA_EXTERNAL;
    else return px_error("%s: expected auto, inline or external, got '%s'", name, arg);
    return 0;
}

int cmd_export(int argc, char **argv) {
    const char *source = NULL, *model_dir = NULL, *out = NULL, *default_head = NULL;
    int bf16 = 0, format = 0, merges = HF_MERGES_KEEP, opt_status;
    GgufWeights gtype = GGUF_WEIGHTS_F32;
    OnnxData onnx_data = ONNX_DATA_AUTO;
    const Opt table[] = {OPT("checkpoint", 'c', OPT_STRING, &source, "RUN_DIR|FILE",
                             "a run directory (its newest checkpoint) or a\n"
                             "checkpoint file"),
                         OPT("model", 'm', OPT_STRING, &model_dir, "DIR",
                             "or a model directory (Hugging Face layout, e.g. one\n"
                             "exported before): its tokenizer.json and proact.json\n"
                             "go along"),
                         OPT("output", 'o', OPT_STRING, &out, "MODEL_DIR|FILE",
                             "the model directory to write (hf, onnx), or the .gguf\n"
                             "file",
                             .flags = OPT_REQUIRED),
                         OPT("format", 'f', OPT_CUSTOM, &format, "hf|gguf|onnx",
                             "hf: a Hugging Face directory (default); gguf: one GGUF\n"
                             "file for llama.cpp; onnx: the Hugging Face directory\n"
                             "and onnx/model.onnx",
                             .parse = parse_format),
                         OPT("dtype", 'd', OPT_CUSTOM, &bf16, "f32|bf16",
                             "hf: weights' type in model.safetensors (default f32)", .parse = opt_parse_dtype),
                         OPT("merges", 'M', OPT_CUSTOM, &merges, "pairs|strings",
                             "hf: write tokenizer.json's BPE merges as [\"a\", \"b\"]\n"
                             "pairs or as \"a b\" strings (older readers); default:\n"
                             "as the run's tokenizer.json has them",
                             .parse = parse_merges),
                         OPT("gguf-type", 'g', OPT_CUSTOM, &gtype, "f32|bf16|q8_0",
                             "gguf: type of the weight matrices (default f32); norms\n"
                             "and biases stay f32; q8_0 keeps a matrix whose rows are\n"
                             "not a multiple of 32 in f32",
                             .parse = parse_gguf_type),
                         OPT("onnx-data", 0, OPT_CUSTOM, &onnx_data, "auto|inline|external",
                             "onnx: weights inside model.onnx, or in\n"
                             "onnx/model.onnx_data (ONNX external data); auto\n"
                             "(default): inline unless that passes 2 GiB",
                             .parse = parse_onnx_data),
                         OPT("default-head", 'H', OPT_STRING, &default_head, "SPEC",
                             "hf, onnx: proact.json's default_head (the head that\n"
                             "proact run and serve use without --head) becomes SPEC;\n"
                             "checked as proact run checks --head (probe:P needs\n"
                             "the model's fitted probe); default: kept as it is"),
                         {0}};
    Opts o = {.command = "export", .opts = table};
    o.about = "Writes the newest checkpoint of RUN_DIR (or the checkpoint FILE, or the model directory DIR) as\n"
              "  --format hf:   a Hugging Face model directory: config.json (LlamaForCausalLM /\n"
              "                 Qwen2ForCausalLM, with bos/eos/pad_token_id), model.safetensors, the run's\n"
              "                 tokenizer.json, tokenizer_config.json (tokenizer class, special tokens,\n"
              "                 model_max_length, add_bos/eos_token as tokenizer.json's post-processor\n"
              "                 does, and the translation template as a chat_template),\n"
              "                 generation_config.json (the ids, max_length, greedy) and\n"
              "                 proact.json (template, languages, phi, default decision head). transformers\n"
              "                 and transformers.js load it; it also works as model.init for training.\n"
              "  --format gguf: one GGUF v3 file for llama.cpp (architecture llama or qwen2): the weights\n"
              "                 (q and k rows permuted for llama's interleaved RoPE), the tokenizer as\n"
              "                 tokenizer.ggml.* (byte-level BPE, pre-tokenizer qwen2 / llama-bpe / gpt-2), and\n"
              "                 proact.json's text as the key proact.json (llama.cpp ignores it: decision heads\n"
              "                 do not run there). llama.cpp decodes with plain positions 0, 1, 2, ...: it\n"
              "                 reproduces `proact forward`, not the streaming runner's group positions.\n"
              "  --format onnx: the Hugging Face directory and onnx/model.onnx: the decoder as an ONNX graph\n"
              "                 (opset 17, fp32 weights) with a key/value cache, named as Optimum exports a\n"
              "                 decoder with past: inputs input_ids, attention_mask, position_ids,\n"
              "                 past_key_values.{i}.key/value; outputs logits, present.{i}.key/value. It runs\n"
              "                 in onnxruntime and loads in transformers.js (AutoModelForCausalLM), whose\n"
              "                 generate() numbers positions 0, 1, 2, ... as `proact forward` does; the\n"
              "                 runner's group positions need position_ids given to each call. Weights go in\n"
              "                 the file, or in onnx/model.onnx_data past 2 GiB (--onnx-data).\n"
              "Every checkpoint dataset's checksum is verified. docs/formats.md describes each layout.\n";
    if (opts_parse(&o, argc, argv, &opt_status)) return opt_status;
    const int gguf = format == 1, onnx = format == 2;
    if (!source == !model_dir) return opts_usage_error(&o, "give one of --checkpoint and --model");
    if (gguf && opts_given(&o, "dtype")) return opts_usage_error(&o, "--dtype is for --format hf; use --gguf-type");
    if (!gguf && opts_given(&o, "gguf-type")) return opts_usage_error(&o, "--gguf-type needs --format gguf");
    if (gguf && opts_given(&o, "merges")) return opts_usage_error(&o, "--merges is for --format hf");
    if (!onnx && opts_given(&o, "onnx-data")) return opts_usage_error(&o, "--onnx-data needs --format onnx");
    if (gguf && default_head) return opts_usage_error(&o, "--default-head is for --format hf or onnx");
    if (onnx && bf16) /* the ONNX graph holds fp32 weights: the directory would disagree with itself */
        return opts_usage_error(&o, "--dtype bf16 does not go with --format onnx (its weights are f32)");
    if (model_dir && !gguf && file_same(model_dir, out))
        return opts_usage_error(&o, "--output names the --model directory itself");
    int status = 0;
    Model m = {0};
    const HfExportOptions hf = {.bf16 = bf16, .merges = merges, .default_head = default_head};
    if (model_dir) {
        if (hf_load_model(model_dir, &m)) return job_fail(px_error_message());
        if (onnx && onnx_decoder_check(&m.cfg, onnx_data)) { /* before anything is written */
            model_free(&m);
            return job_fail(px_error_message());
        }
        if (gguf) status = write_gguf(model_dir, model_dir, out, &m, gtype);
        else {
            status = write_hf(model_dir, model_dir, out, &m, &hf);
            if (status == 0 && onnx && write_onnx(out, &m, onnx_data)) status = job_fail(px_error_message());
        }
        model_free(&m);
        return status;
    }
    /* RUN_DIR -> its newest checkpoint; FILE -> RUN_DIR is two levels up (RUN_DIR/checkpoints/FILE) */
    char path[PX_PATH_MAX + 64], run_dir[PX_PATH_MAX];
    struct stat sb;
    if (stat(source, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        if (checkpoint_latest(source, path, sizeof path)) return job_fail(px_error_message());
        snprintf(run_dir, sizeof run_dir, "%s", source);
    } else {
        snprintf(path, sizeof path, "%s", source);
        snprintf(run_dir, sizeof run_dir, "%s", source);
        for (int up = 0; up < 2; up++) {
            char *slash = strrchr(run_dir, '/');
            if (slash) *slash = '\0';
            else snprintf(run_dir, sizeof run_dir, ".");
        }
    }
    World w;
    if (world_init(NULL, NULL, &w)) return job_fail(px_error_message());
    ModelConfig mc;
    AdamW opt = {0};
    CheckpointMeta meta = {0};
    OptimConfig oc = {0};
    if (checkpoint_model_config(path, &mc) || (onnx && onnx_decoder_check(&mc, onnx_data)) || model_create(&m, &mc) ||
        adamw_create(&opt, &oc, m.n_params) || checkpoint_load(&w, path, &m, &opt, NULL, &meta)) {
        status = job_fail(px_error_message());
    } else if (gguf) {
        char from[PX_PATH_MAX + 128];
        snprintf(from, sizeof from, "%.4000s (step %d)", path, meta.step);
        status = write_gguf(from, run_dir, out, &m, gtype);
    } else {
        char from[PX_PATH_MAX + 128];
        snprintf(from, sizeof from, "%.4000s (step %d)", path, meta.step);
        status = write_hf(from, run_dir, out, &m, &hf);
        if (status == 0 && onnx && write_onnx(out, &m, onnx_data)) status = job_fail(px_error_message());
    }
    adamw_free(&opt);
    model_free(&m);
    world_finalize();
    return status;
}
