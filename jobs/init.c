/* init.c — `proact init`: a from-scratch model directory from a config.
 * Recipe: parse config -> create model -> random init (train.seed) -> save (HF layout). */
#include <stdio.h>
#include <string.h>

#include "io/config.h"
#include "io/hf_model.h"
#include "jobs/jobs.h"
#include "jobs/options.h"
#include "src/base/common.h"

int cmd_init(int argc, char **argv) {
    const char *config_path = NULL, *out_dir = NULL, *set_items[64];
    OptList sets = {set_items, 0, 64};
    int bf16 = 0, opt_status;
    const Opt table[] = {
        OPT("config", 'c', OPT_STRING, &config_path, "FILE", "the config (.ini)", .flags = OPT_REQUIRED),
        OPT("set", 's', OPT_LIST, &sets, "section.key=value", "override a config value (repeatable, at most 64)"),
        OPT("output", 'o', OPT_STRING, &out_dir, "DIR", "the model directory to write", .flags = OPT_REQUIRED),
        OPT("dtype", 'd', OPT_CUSTOM, &bf16, "f32|bf16", "weights' type in model.safetensors (default f32)",
            .parse = opt_parse_dtype),
        {0}};
    Opts o = {.command = "init", .opts = table};
    o.about = "Creates a randomly initialised model (the [model] section, seed train.seed) and writes it\n"
              "to DIR as a Hugging Face model directory (config.json + model.safetensors).\n";
    if (opts_parse(&o, argc, argv, &opt_status)) return opt_status;
    ProactConfig cfg;
    if (config_load(&cfg, config_path, sets.items, sets.n)) return job_fail(px_error_message());
    Model m;
    int status = 0;
    if (model_create(&m, &cfg.model)) {
        config_free(&cfg);
        return job_fail(px_error_message());
    }
    model_init_random(&m, (uint64_t)cfg.train.seed);
    if (hf_save_model(out_dir, &m, bf16)) status = job_fail(px_error_message());
    else
        printf("wrote %s: %s, %.2fM parameters, %d layers, d=%d, vocab %d\n", out_dir, model_arch_hf_class(m.cfg.arch),
               m.n_params / 1e6, m.cfg.n_layers, m.cfg.hidden_size, m.cfg.vocab_size);
    model_free(&m);
    config_free(&cfg);
    return status;
}
