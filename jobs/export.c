/* export.c — `proact export`: a checkpoint -> a Hugging Face-style model directory.
 * Recipe: find the checkpoint -> rebuild the model from its stored config.json -> read and
 * verify the weights -> write config.json + model.safetensors (f32 or bf16) -> copy the run's
 * tokenizer.json and proact.json. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/atomic_file.h"
#include "io/checkpoint.h"
#include "io/files.h"
#include "io/hf_model.h"
#include "jobs/jobs.h"
#include "jobs/options.h"
#include "mpi/world.h"
#include "src/base/common.h"

/* Copies RUN_DIR/name to OUT/name if it exists; 1 if copied, 0 if absent, -1 on error. */
static int copy_if_present(const char *run_dir, const char *out, const char *name) {
    char src[PX_PATH_MAX + 32], dst[PX_PATH_MAX + 32];
    snprintf(src, sizeof src, "%s/%s", run_dir, name);
    snprintf(dst, sizeof dst, "%s/%s", out, name);
    struct stat sb;
    if (stat(src, &sb) != 0) return 0;
    return file_copy(src, dst) ? -1 : 1;
}

int cmd_export(int argc, char **argv) {
    const char *source = NULL, *out = NULL;
    int bf16 = 0, opt_status;
    const Opt table[] = {
        OPT("checkpoint", 'c', OPT_STRING, &source, "RUN_DIR|FILE",
            "a run directory (its newest checkpoint) or a\n"
            "checkpoint file",
            .flags = OPT_REQUIRED),
        OPT("output", 'o', OPT_STRING, &out, "MODEL_DIR", "the model directory to write", .flags = OPT_REQUIRED),
        OPT("dtype", 'd', OPT_CUSTOM, &bf16, "f32|bf16", "weights' type in model.safetensors (default f32)",
            .parse = opt_parse_dtype),
        {0}};
    Opts o = {.command = "export", .opts = table};
    o.about = "Writes the newest checkpoint of RUN_DIR (or the checkpoint FILE) as a Hugging Face-style model\n"
              "directory: config.json (LlamaForCausalLM / Qwen2ForCausalLM), model.safetensors, and the run's\n"
              "tokenizer.json and proact.json (template, languages, phi, default decision head). Every\n"
              "dataset's checksum is verified. The directory works as model.init for further training.\n";
    if (opts_parse(&o, argc, argv, &opt_status)) return opt_status;
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
    Model m = {0};
    AdamW opt = {0};
    CheckpointMeta meta = {0};
    OptimConfig oc = {0};
    int status = 0;
    if (checkpoint_model_config(path, &mc) || model_create(&m, &mc) || adamw_create(&opt, &oc, m.n_params) ||
        checkpoint_load(&w, path, &m, &opt, NULL, &meta) || hf_save_model(out, &m, bf16)) {
        status = job_fail(px_error_message());
    } else {
        int tok = copy_if_present(run_dir, out, "tokenizer.json"), pj = copy_if_present(run_dir, out, "proact.json");
        if (tok < 0 || pj < 0) status = job_fail(px_error_message());
        else
            printf("exported %s (step %d) -> %s: %s, %.2fM parameters, %s%s%s\n", path, meta.step, out,
                   model_arch_hf_class(m.cfg.arch), m.n_params / 1e6, bf16 ? "bf16" : "f32",
                   tok ? ", tokenizer.json" : " (no tokenizer.json: synthetic-data run)", pj ? ", proact.json" : "");
    }
    adamw_free(&opt);
    model_free(&m);
    world_finalize();
    return status;
}
