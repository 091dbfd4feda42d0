/* options.h — the command-line options of every proact command, from one table per command.
 *
 * A command describes its options as a table of Opt (name, kind, bounds, destination, help) and
 * calls opts_parse once. The parser gives every command the same behaviour:
 *   --help / -h      prints the usage generated from the table on stdout; the command exits 0;
 *   a bad option     prints one line "proact <command>: error: --x: expected ..., got '...'"
 *                    (or: unknown option, missing value, required option missing, stray argument)
 *                    and a pointer to --help on stderr; the command exits 2.
 * Values are checked as they are read (numbers against their bounds), so a command starts its
 * work only with options that are well formed.
 *
 * Accepted forms, as getopt_long's: --name VALUE, --name=VALUE, an unambiguous prefix of a long
 * name, -x VALUE, -xVALUE, grouped short flags (-Sh), arguments anywhere, "--" ends the options.
 *
 * Adopting it: declare the destinations with their defaults, list them in an Opt table of OPT(...)
 * entries ending in {0}, fill an Opts (command name, description, the table), then
 *     int status;
 *     if (opts_parse(&o, argc, argv, &status)) return status;
 * and read the positional arguments from o.args / o.n_args. */
#ifndef PROACT_JOBS_OPTIONS_H
#define PROACT_JOBS_OPTIONS_H

#include <stdint.h>
#include <stdio.h>

typedef enum {
    OPT_FLAG = 1, /* no value; *(int *)dest = 1 */
    OPT_STRING,   /* *(const char **)dest = the argument (it points into argv) */
    OPT_INT,      /* *(int *)dest, an integer in [min, max] */
    OPT_I64,      /* *(int64_t *)dest, an integer in [min, max] */
    OPT_U64,      /* *(uint64_t *)dest, a non-negative integer */
    OPT_DOUBLE,   /* *(double *)dest, a number in [lo, hi] */
    OPT_FLOAT,    /* *(float *)dest, a number in [lo, hi] */
    OPT_LIST,     /* repeatable: appended to *(OptList *)dest */
    OPT_CUSTOM,   /* parse(name, arg, dest): for values the kinds above cannot check */
} OptKind;

/* The values of a repeatable option, in the order given; at most max of them. */
typedef struct {
    const char **items; /* [max], owned by the caller */
    int n, max;
} OptList;

/* Reads arg (the value of option `name`, e.g. "--dtype") into dest: 0, or -1 with px_error. */
typedef int (*OptParseFn)(const char *name, const char *arg, void *dest);

enum { OPT_REQUIRED = 1 };

typedef struct {
    const char *name; /* long name without "--"; NULL ends the table */
    char short_name;  /* -x, or 0 */
    OptKind kind;
    void *dest;
    const char *metavar; /* the value in the help ("DIR", "N"); unused for flags */
    const char *help;    /* what it does and its default; '\n' starts a continuation line */
    long min, max;       /* OPT_INT, OPT_I64 bounds (inclusive); both 0: any value of the type */
    double lo, hi;       /* OPT_DOUBLE, OPT_FLOAT bounds (inclusive); both 0: any finite number */
    OptParseFn parse;    /* OPT_CUSTOM */
    unsigned flags;      /* OPT_REQUIRED */
} Opt;

/* A table entry: OPT("port", 'p', OPT_INT, &port, "P", "TCP port (default 8080)", .min = 0, .max = 65535);
 * after the help, the fields that apply by name (.min .max .lo .hi .parse .flags). */
#define OPT(name_, short_, kind_, dest_, metavar_, help_, ...)                                                 \
    {                                                                                                          \
        .name = name_, .short_name = short_, .kind = kind_, .dest = dest_, .metavar = metavar_, .help = help_, \
        __VA_ARGS__                                                                                            \
    }

#define OPTS_MAX 64 /* options per command */

typedef struct {
    /* given by the command */
    const char *command;  /* as typed after "proact": "serve", "tokenizer train" */
    const char *usage;    /* the synopsis lines after "usage: "; NULL: generated from the table */
    const char *about;    /* the description between the usage and the options, or NULL */
    const Opt *opts;      /* ended by an entry whose name is NULL */
    const char *arg_name; /* the positional arguments in the synopsis ("FILE..."); NULL: none are taken */
    int min_args;         /* at least this many of them */
    const char *notes;    /* printed after the options, or NULL */
    /* filled by opts_parse */
    char **args; /* the positional arguments, in order (argv is reordered to put them last) */
    int n_args;
    unsigned char given[OPTS_MAX]; /* given[i]: opts[i] was on the command line */
} Opts;

/* Parses argv[1..argc) (argv[0] is the command's name) into the options' destinations.
 * Returns 0 to go on, or 1 when the command must return *status at once: 0 after --help (the
 * usage is on stdout), 2 after a usage error (one error line on stderr). */
int opts_parse(Opts *o, int argc, char **argv, int *status);

/* Whether the option `name` (long name, no dashes) was on the command line. */
int opts_given(const Opts *o, const char *name);

/* Prints the usage generated from o (what --help prints). */
void opts_print_help(const Opts *o, FILE *out);

/* A usage error found after parsing (options that conflict, ...): prints
 * "proact <command>: error: <msg>" and the --help pointer on stderr; returns 2 (the exit status). */
int opts_usage_error(const Opts *o, const char *msg);

/* --- value parsers shared by several commands (OPT_CUSTOM) --- */

/* f32 | bf16 -> *(int *)dest = 1 for bf16. */
int opt_parse_dtype(const char *name, const char *arg, void *dest);
/* fp32 | bf16 | int8 -> *(DecodeWeightType *)dest (src/stream/decode_weights.h). */
int opt_parse_decode_weights(const char *name, const char *arg, void *dest);
/* fp32 | bf16 -> *(int *)dest = 1 for bf16 (RunnerOptions.kv_bf16). */
int opt_parse_kv_cache(const char *name, const char *arg, void *dest);

#endif
