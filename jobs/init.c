/* init.c — `proact init`: a from-scratch model directory from a config.
 * Recipe: parse config -> create model -> random init (train.seed) -> save (HF layout). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "io/config.h"
#include "io/hf_model.h"
#include "jobs/jobs.h"
#include "src/base/common.h"

static void usage(FILE *out) {
    fprintf(out, "usage: proact init --config FILE [--set section.key=value ...] -o DIR [--dtype f32|bf16]\n\n"
                 "Creates a randomly initialised model (the [model] section, seed train.seed) and writes it\n"
                 "to DIR as a Hugging Face model directory (config.json + model.safetensors).\n");
}

int cmd_init(int argc, char **argv) {
    static const struct option opts[] = {{"config", required_argument, 0, 'c'}, {"set", required_argument, 0, 's'},
                                         {"output", required_argument, 0, 'o'}, {"dtype", required_argument, 0, 'd'},
                                         {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *config_path = NULL, *out_dir = NULL, *sets[64];
    int n_sets = 0, bf16 = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:s:o:d:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': config_path = optarg; break;
        case 's':
            if (n_sets == 64) return job_fail("too many --set options (at most 64)");
            sets[n_sets++] = optarg;
            break;
        case 'o': out_dir = optarg; break;
        case 'd':
            if (parse_dtype_option(optarg, &bf16)) return job_fail(px_error_message());
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!config_path || !out_dir || optind < argc) {
        usage(stderr);
        return 2;
    }
    ProactConfig cfg;
    if (config_load(&cfg, config_path, sets, n_sets)) return job_fail(px_error_message());
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
