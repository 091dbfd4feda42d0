/* pretokenizer_regex.h — the Split pre-tokenizer's patterns as PCRE2 patterns: an Oniguruma
 * regex translated as tokenizers.js translates it to JavaScript, or a literal string. */
#ifndef PROACT_PRETOKENIZER_REGEX_H
#define PROACT_PRETOKENIZER_REGEX_H

#include <stddef.h>

#include "src/base/vec.h"

/* Translates the Oniguruma pattern pat[0..n) (followed by a NUL: the translator may look ahead
 * past a '[' with strstr) into *out, a new PCRE2 pattern (UTF mode). An unsupported construct is
 * -1 with px_error naming origin, field, the construct and its offset. */
int pretokenizer_regex_translate(const char *pat, size_t n, const char *origin, const char *field, StrBuf *out);

/* The PCRE2 pattern matching the literal string s[0..n) (UTF-8; invalid UTF-8 is -1 naming
 * origin and field) into *out. */
int pretokenizer_regex_literal(const char *s, size_t n, const char *origin, const char *field, StrBuf *out);

#endif
