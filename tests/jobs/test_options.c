/* test_options.c — jobs/options.c: every kind of value, the accepted forms (--x=v, prefixes,
 * short options, grouped flags, "--"), positional arguments, and that a bad command line stops
 * with status 2 and one error naming the option and the value; --help with status 0 and the
 * generated usage (columns, continuation lines, long lines broken at spaces). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs/options.h"
#include "src/base/common.h"

typedef struct {
    const char *model, *name;
    int flag, other, n, dtype_bf16;
    int64_t big;
    uint64_t seed;
    double x;
    float f;
    const char *set_items[3];
    OptList sets;
} Vals;

static Opt table[13];

/* A command with one option of each kind. */
static void setup_opts(Opts *o, Vals *v) {
    memset(v, 0, sizeof *v);
    v->n = 7;
    v->sets = (OptList){v->set_items, 0, 3};
    const Opt t[] = {
        OPT("model", 'm', OPT_STRING, &v->model, "DIR", "the model", .flags = OPT_REQUIRED),
        OPT("name", 0, OPT_STRING, &v->name, "S", "a name"),
        OPT("flag", 'F', OPT_FLAG, &v->flag, NULL, "a flag"),
        OPT("other", 'G', OPT_FLAG, &v->other, NULL, "another flag"),
        OPT("count", 'n', OPT_INT, &v->n, "N", "a count\non two lines", .min = 1, .max = 100),
        OPT("big", 0, OPT_I64, &v->big, "N", "a large count", .min = 10, .max = INT64_MAX),
        OPT("seed", 0, OPT_U64, &v->seed, "S", "a seed"),
        OPT("x", 0, OPT_DOUBLE, &v->x, "X", "a fraction", .lo = 0, .hi = 1),
        OPT("float", 0, OPT_FLOAT, &v->f, "F", "any number"),
        OPT("set", 's', OPT_LIST, &v->sets, "K=V", "repeatable"),
        OPT("dtype", 0, OPT_CUSTOM, &v->dtype_bf16, "T", "f32 or bf16", .parse = opt_parse_dtype),
        OPT("long", 0, OPT_FLAG, &v->other, NULL,
            "a help line of more than a hundred columns is broken at its last space that fits, and the rest goes on "
            "the next line"),
        {0},
    };
    memcpy(table, t, sizeof t);
    *o = (Opts){.command = "test", .about = "A test command.\n", .opts = table, .arg_name = "FILE...", .min_args = 0};
}

/* Parses a space-separated command line (argv[0] = "test"); returns opts_parse's value. */
static int parse(Opts *o, char *line, int *status) {
    static char *argv[32];
    int argc = 0;
    argv[argc++] = "test";
    for (char *save = NULL, *tok = strtok_r(line, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
        argv[argc++] = tok;
    argv[argc] = NULL;
    return opts_parse(o, argc, argv, status);
}

static void test_values(void **state) {
    (void)state;
    Opts o;
    Vals v;
    setup_opts(&o, &v);
    char line[] = "--model m1 a.txt --count=42 --big 123456789012 --seed 18446744073709551615 --x 0.25 "
                  "--float -1.5 -s a=1 --set b=2 --dtype bf16 -FG -- --name";
    int status = -1;
    assert_int_equal(parse(&o, line, &status), 0);
    assert_string_equal(v.model, "m1");
    assert_int_equal(v.n, 42);
    assert_true(v.big == 123456789012LL);
    assert_true(v.seed == UINT64_MAX);
    assert_true(v.x == 0.25);
    assert_true(v.f == -1.5f);
    assert_int_equal(v.sets.n, 2);
    assert_string_equal(v.sets.items[0], "a=1");
    assert_string_equal(v.sets.items[1], "b=2");
    assert_int_equal(v.dtype_bf16, 1);
    assert_int_equal(v.flag, 1);
    assert_int_equal(v.other, 1);
    assert_null(v.name); /* after "--" it is an argument */
    assert_int_equal(o.n_args, 2);
    assert_string_equal(o.args[0], "a.txt");
    assert_string_equal(o.args[1], "--name");
    assert_true(opts_given(&o, "count"));
    assert_false(opts_given(&o, "name"));
}

static void test_forms(void **state) {
    (void)state;
    Opts o;
    Vals v;
    setup_opts(&o, &v);
    char line[] = "-mdir --na joe -n 5";
    int status = -1;
    assert_int_equal(parse(&o, line, &status), 0);
    assert_string_equal(v.model, "dir");
    assert_string_equal(v.name, "joe"); /* a unique prefix */
    assert_int_equal(v.n, 5);
    assert_int_equal(o.n_args, 0);
    assert_int_equal(v.flag, 0);
    assert_int_equal(v.big, 0); /* untouched: the caller's default stays */
}

/* The command line must stop with status 2 and an error containing `needle`. */
static void expect_error(const char *cmdline, const char *needle) {
    Opts o;
    Vals v;
    setup_opts(&o, &v);
    char line[256];
    snprintf(line, sizeof line, "%s", cmdline);
    int status = -1;
    assert_int_equal(parse(&o, line, &status), 1);
    assert_int_equal(status, 2);
    if (!strstr(px_error_message(), needle))
        fail_msg("'%s': error '%s' lacks '%s'", cmdline, px_error_message(), needle);
}

static void test_errors(void **state) {
    (void)state;
    expect_error("--model m --count 0", "--count: expected an integer in 1..100, got '0'");
    expect_error("--model m --count 5x", "--count: expected an integer in 1..100, got '5x'");
    expect_error("--model m --big 9", "--big: expected an integer in 10..");
    expect_error("--model m --seed -1", "--seed: expected a non-negative integer, got '-1'");
    expect_error("--model m --x 1.5", "--x: expected a number in 0..1, got '1.5'");
    expect_error("--model m --float nan", "--float: expected a number, got 'nan'");
    expect_error("--model m --dtype f16", "--dtype: expected f32 or bf16, got 'f16'");
    expect_error("--model m -s 1 -s 2 -s 3 -s 4", "--set: given more than 3 times");
    expect_error("--model m --bogus", "unknown option '--bogus'");
    expect_error("--model m -q", "unknown option '-q'");
    expect_error("--model m --f", "ambiguous"); /* --flag or --float */
    expect_error("--model m --flag=1", "--flag takes no value");
    expect_error("--model m --count", "--count: needs a value");
    expect_error("--model m -n", "needs a value");
    expect_error("--count 3", "--model is required");
}

static void test_arguments(void **state) {
    (void)state;
    Opts o;
    Vals v;
    setup_opts(&o, &v);
    o.arg_name = NULL; /* takes none */
    char line[] = "--model m extra";
    int status = -1;
    assert_int_equal(parse(&o, line, &status), 1);
    assert_int_equal(status, 2);
    assert_non_null(strstr(px_error_message(), "unexpected argument 'extra'"));
    setup_opts(&o, &v);
    o.min_args = 1;
    char line2[] = "--model m";
    assert_int_equal(parse(&o, line2, &status), 1);
    assert_int_equal(status, 2);
    assert_non_null(strstr(px_error_message(), "FILE..."));
}

static void test_help(void **state) {
    (void)state;
    Opts o;
    Vals v;
    setup_opts(&o, &v);
    char line[] = "--count 3 --help";
    int status = -1;
    /* --help wins even without the required --model */
    assert_int_equal(parse(&o, line, &status), 1);
    assert_int_equal(status, 0);
    char *text = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&text, &len);
    assert_non_null(fp);
    opts_print_help(&o, fp);
    fclose(fp);
    assert_non_null(strstr(text, "usage: proact test --model DIR [options] FILE...\n"));
    assert_non_null(strstr(text, "\n  -n, --count N            a count\n                           on two lines\n"));
    assert_non_null(strstr(text, "\n      --dtype T            f32 or bf16\n"));
    assert_non_null(strstr(text, "\n  -h, --help               print this help and exit\n"));
    /* broken at the last space before column 100 */
    assert_non_null(strstr(text, "\n      --long               a help line of more than a hundred columns is broken at "
                                 "its last space\n"
                                 "                           that fits, and the rest goes on the next line\n"));
    free(text);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values),    cmocka_unit_test(test_forms), cmocka_unit_test(test_errors),
        cmocka_unit_test(test_arguments), cmocka_unit_test(test_help),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
