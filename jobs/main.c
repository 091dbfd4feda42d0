/* main.c — the proact command: dispatches to one job per subcommand. */
#include <stdio.h>
#include <string.h>

#include "jobs/jobs.h"

#ifndef PROACT_VERSION
#define PROACT_VERSION "0.1.0"
#endif

static const Command commands[] = {
    {"init", cmd_init, "create a from-scratch model directory (Hugging Face layout) from a config"},
    {"forward", cmd_forward, "run a causal forward pass over token ids; print argmax or write logits (.npy)"},
    {"train", cmd_train, "ProactiveLLM training (MPI data-parallel; checkpoints, --resume)"},
    {"tokenize", cmd_tokenize, "encode lines of stdin to token ids with a tokenizer.json (or --decode ids)"},
    {"export", cmd_export, "write a checkpoint as a Hugging Face model directory (+ tokenizer, proact.json)"},
    {"run", cmd_run, "stream source words from stdin through a decision head; JSON lines out"},
    {"serve", cmd_serve, "HTTP server for the streaming runner (SimulEval remote protocol, concurrent sessions)"},
    {"prepare", cmd_prepare, "tokenize a TSV of (source, target) pairs into HDF5 token shards"},
    {"tokenizer", cmd_tokenizer, "tokenizer tools: 'proact tokenizer train' learns a byte-level BPE"},
    {"eval", cmd_eval,
     "stream a test set through decision heads on all ranks: BLEU, LAAL, ... and the latency-quality curve"},
    {"probe", cmd_probe, "fit the probe decision head on the model's own signals (ScaLAPACK over all ranks)"},
    {"diagnose", cmd_diagnose,
     "student-teacher KL and agreement per lag, and how well each cue predicts agreement (AUC)"},
    {"score", cmd_score, "BLEU/chrF and latency (AL, LAAL, AP, DAL) of a translation or of an instances.log"},
    {"schedule", cmd_schedule, "the lags a read schedule trains the student at, as a histogram over the data"},
};
static const int n_commands = (int)(sizeof commands / sizeof commands[0]);

static void print_usage(FILE *out) {
    fprintf(out,
            "proact %s — streaming language models that decide when to read and when to write\n\n"
            "usage: proact <command> [options]      (proact <command> --help for its options)\n\ncommands:\n",
            PROACT_VERSION);
    for (int i = 0; i < n_commands; i++) fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nenvironment:\n"
                 "  OPENBLAS_NUM_THREADS   BLAS and kernel threads (or run.threads in the config)\n"
                 "  PROACT_BLAS_CORE=keep  do not replace a generic OpenBLAS core by the CPU's best one\n");
}

int main(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        print_usage(stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("proact %s\n", PROACT_VERSION);
        return 0;
    }
    for (int i = 0; i < n_commands; i++) {
        if (strcmp(argv[1], commands[i].name) == 0) {
            runtime_fix_blas_core(argv); /* may re-execute this process; before any BLAS call */
            return commands[i].run(argc - 1, argv + 1);
        }
    }
    fprintf(stderr, "proact: error: unknown command '%s'\n\n", argv[1]);
    print_usage(stderr);
    return 2;
}
