/* options.c — the table-driven option parser of the proact commands (see options.h): reads argv
 * into the options' destinations, generates --help from the table, and reports a bad command
 * line in one error line with exit status 2. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs/jobs.h"
#include "jobs/options.h"
#include "src/base/common.h"

static int n_opts(const Opts *o) {
    int n = 0;
    while (o->opts[n].name) n++;
    return n;
}

static int takes_value(const Opt *op) { return op->kind != OPT_FLAG; }

/* The long option whose name is `name` (len bytes), or else the only one it is a prefix of (as
 * getopt_long allows). -1 if none, -2 if the prefix is ambiguous. */
static int find_long(const Opts *o, const char *name, size_t len) {
    int n = n_opts(o), found = -1, matches = 0;
    for (int i = 0; i < n; i++) {
        if (strncmp(o->opts[i].name, name, len)) continue;
        if (strlen(o->opts[i].name) == len) return i;
        found = i;
        matches++;
    }
    return matches > 1 ? -2 : found;
}

static int find_short(const Opts *o, char c) {
    for (int i = 0; o->opts[i].name; i++)
        if (o->opts[i].short_name == c) return i;
    return -1;
}

/* Stores the value of option i; 0, or -1 with px_error. */
static int store(Opts *o, int i, const char *arg) {
    const Opt *op = &o->opts[i];
    char name[80];
    snprintf(name, sizeof name, "--%s", op->name);
    long v;
    double d;
    switch (op->kind) {
        case OPT_FLAG: *(int *)op->dest = 1; return 0;
        case OPT_STRING: *(const char **)op->dest = arg; return 0;
        case OPT_INT:
            if (parse_long_opt(name, arg, op->min || op->max ? op->min : INT_MIN,
                               op->min || op->max ? op->max : INT_MAX, &v))
                return -1;
            *(int *)op->dest = (int)v;
            return 0;
        case OPT_I64:
            if (parse_long_opt(name, arg, op->min || op->max ? op->min : LONG_MIN,
                               op->min || op->max ? op->max : LONG_MAX, &v))
                return -1;
            *(int64_t *)op->dest = v;
            return 0;
        case OPT_U64: return parse_u64_opt(name, arg, (uint64_t *)op->dest);
        case OPT_DOUBLE:
        case OPT_FLOAT:
            if (!(op->lo || op->hi)) { /* no bounds: any finite number */
                if (parse_double_opt(name, arg, -HUGE_VAL, HUGE_VAL, &d) || !isfinite(d))
                    return px_error("%s: expected a number, got '%s'", name, arg);
            } else if (parse_double_opt(name, arg, op->lo, op->hi, &d)) {
                return -1;
            }
            if (op->kind == OPT_DOUBLE) *(double *)op->dest = d;
            else *(float *)op->dest = (float)d;
            return 0;
        case OPT_LIST: {
            OptList *l = op->dest;
            if (l->n >= l->max) return px_error("%s: given more than %d times", name, l->max);
            l->items[l->n++] = arg;
            return 0;
        }
        case OPT_CUSTOM: return op->parse(name, arg, op->dest);
    }
    return px_error("%s: option of unknown kind %d", name, (int)op->kind);
}

int opts_usage_error(const Opts *o, const char *msg) {
    fprintf(stderr, "proact %s: error: %s\n(proact %s --help lists the options)\n", o->command, msg, o->command);
    return 2;
}

/* The px_error message as a usage error. */
static int fail(const Opts *o, int *status) {
    *status = opts_usage_error(o, px_error_message());
    return 1;
}

int opts_parse(Opts *o, int argc, char **argv, int *status) {
    int n = n_opts(o);
    *status = 0;
    memset(o->given, 0, sizeof o->given);
    o->args = NULL;
    o->n_args = 0;
    if (n > OPTS_MAX) {
        px_error("%d options are more than OPTS_MAX (%d)", n, OPTS_MAX);
        return fail(o, status);
    }
    /* positional arguments are moved to argv[argc - n_pos ..] in their order; options and their
     * values are read in place */
    char **pos = calloc((size_t)argc + 1, sizeof *pos);
    if (!pos) {
        px_error("out of memory reading the options");
        return fail(o, status);
    }
    int n_pos = 0, rc = 0;
    for (int k = 1; k < argc && rc == 0; k++) {
        char *a = argv[k];
        if (strcmp(a, "--") == 0) {
            while (++k < argc) pos[n_pos++] = argv[k];
            break;
        }
        if (a[0] != '-' || a[1] == '\0') { /* "-" alone is an argument (stdin), as for getopt */
            pos[n_pos++] = a;
            continue;
        }
        if (a[1] == '-') { /* --name, --name=value */
            const char *name = a + 2, *eq = strchr(name, '=');
            size_t len = eq ? (size_t)(eq - name) : strlen(name);
            if (len > 0 && len <= 4 && strncmp(name, "help", len) == 0 && find_long(o, name, len) == -1) {
                opts_print_help(o, stdout);
                free(pos);
                return 1;
            }
            int i = find_long(o, name, len);
            if (i == -2) rc = px_error("option '--%.*s' is ambiguous", (int)PX_MIN(len, 64), name);
            else if (i < 0) rc = px_error("unknown option '--%.*s'", (int)PX_MIN(len, 64), name);
            else if (!takes_value(&o->opts[i]) && eq) rc = px_error("--%s takes no value", o->opts[i].name);
            else if (takes_value(&o->opts[i]) && !eq && k + 1 >= argc)
                rc = px_error("--%s: needs a value (%s)", o->opts[i].name, o->opts[i].metavar);
            else {
                rc = store(o, i, takes_value(&o->opts[i]) ? (eq ? eq + 1 : argv[++k]) : NULL);
                o->given[i] = 1;
            }
            continue;
        }
        for (const char *c = a + 1; *c && rc == 0; c++) { /* -x, -xVALUE, -x VALUE, -xy */
            int i = find_short(o, *c);
            if (i < 0 && *c == 'h') {
                opts_print_help(o, stdout);
                free(pos);
                return 1;
            }
            if (i < 0) {
                rc = px_error("unknown option '-%c'", *c);
                break;
            }
            o->given[i] = 1;
            if (!takes_value(&o->opts[i])) {
                rc = store(o, i, NULL);
                continue;
            }
            if (c[1]) rc = store(o, i, c + 1);
            else if (k + 1 < argc) rc = store(o, i, argv[++k]);
            else rc = px_error("-%c (--%s): needs a value (%s)", *c, o->opts[i].name, o->opts[i].metavar);
            break;
        }
    }
    if (rc == 0 && !o->arg_name && n_pos > 0) rc = px_error("unexpected argument '%.200s'", pos[0]);
    if (rc == 0 && n_pos < o->min_args)
        rc = px_error("expected %s%s after the options", o->min_args > 1 ? "at least " : "", o->arg_name);
    for (int i = 0; i < n && rc == 0; i++)
        if ((o->opts[i].flags & OPT_REQUIRED) && !o->given[i]) rc = px_error("--%s is required", o->opts[i].name);
    if (rc) {
        free(pos);
        return fail(o, status);
    }
    /* the positional arguments last, in order: argv keeps every pointer it had */
    int w = 1;
    for (int k = 1; k < argc; k++) {
        int is_pos = 0;
        for (int p = 0; p < n_pos && !is_pos; p++) is_pos = argv[k] == pos[p];
        if (!is_pos) argv[w++] = argv[k];
    }
    for (int p = 0; p < n_pos; p++) argv[w++] = pos[p];
    free(pos);
    o->args = argv + argc - n_pos;
    o->n_args = n_pos;
    return 0;
}

int opts_given(const Opts *o, const char *name) {
    for (int i = 0; o->opts[i].name && i < OPTS_MAX; i++)
        if (strcmp(o->opts[i].name, name) == 0) return o->given[i];
    return 0;
}

/* "-o, --output FILE" or "    --model DIR" */
static void option_label(const Opt *op, char *buf, size_t size) {
    char value[48] = "";
    if (takes_value(op)) snprintf(value, sizeof value, " %s", op->metavar ? op->metavar : "VALUE");
    if (op->short_name) snprintf(buf, size, "-%c, --%s%s", op->short_name, op->name, value);
    else snprintf(buf, size, "    --%s%s", op->name, value);
}

/* Prints an option's help from column `indent` on: its lines as given, a line longer than the
 * width broken at spaces (a generated text, such as the list of decision heads, can be long). */
static void print_help_text(FILE *out, const char *help, int indent) {
    enum { WIDTH = 100 };
    const size_t room = (size_t)(WIDTH - indent);
    for (const char *line = help;;) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        while (len > room) {
            size_t cut = room;
            while (cut > 0 && line[cut] != ' ') cut--;
            if (cut == 0) break; /* one word longer than the room: left whole */
            fprintf(out, "%.*s\n%*s", (int)cut, line, indent, "");
            line += cut + 1;
            len -= cut + 1;
        }
        fprintf(out, "%.*s\n", (int)len, line);
        if (!nl || !nl[1]) return;
        line = nl + 1;
        fprintf(out, "%*s", indent, "");
    }
}

void opts_print_help(const Opts *o, FILE *out) {
    enum { LABEL = 24 }; /* "  LABEL text": the help text starts at column LABEL + 3 */
    if (o->usage) {
        fprintf(out, "usage: %s\n", o->usage);
    } else { /* the required options, then [options], then the arguments */
        fprintf(out, "usage: proact %s", o->command);
        for (int i = 0; o->opts[i].name; i++)
            if (o->opts[i].flags & OPT_REQUIRED)
                fprintf(out, " --%s%s%s", o->opts[i].name, takes_value(&o->opts[i]) ? " " : "",
                        takes_value(&o->opts[i]) ? o->opts[i].metavar : "");
        fprintf(out, " [options]%s%s\n", o->arg_name ? " " : "", o->arg_name ? o->arg_name : "");
    }
    if (o->about) fprintf(out, "\n%s", o->about);
    fprintf(out, "\noptions:\n");
    for (int i = 0; o->opts[i].name; i++) {
        const Opt *op = &o->opts[i];
        char label[128];
        option_label(op, label, sizeof label);
        if ((int)strlen(label) > LABEL) fprintf(out, "  %s\n%*s", label, LABEL + 3, "");
        else fprintf(out, "  %-*s ", LABEL, label);
        print_help_text(out, op->help ? op->help : "", LABEL + 3);
    }
    fprintf(out, "  %-*s %s\n", LABEL, "-h, --help", "print this help and exit");
    if (o->notes) fprintf(out, "\n%s", o->notes);
}

int opt_parse_dtype(const char *name, const char *arg, void *dest) {
    (void)name;
    return parse_dtype_option(arg, dest);
}

int opt_parse_decode_weights(const char *name, const char *arg, void *dest) {
    if (decode_weight_type_parse(arg, dest)) return px_error("%s: expected fp32, bf16 or int8, got '%s'", name, arg);
    return 0;
}

int opt_parse_kv_cache(const char *name, const char *arg, void *dest) {
    if (!strcmp(arg, "fp32")) *(int *)dest = 0;
    else if (!strcmp(arg, "bf16")) *(int *)dest = 1;
    else return px_error("%s: expected fp32 or bf16, got '%s'", name, arg);
    return 0;
}
