/* pretokenizer_regex.c — tokenizer.json's Split regexes are Oniguruma patterns; PCRE2 runs them.
 * The translation is the one tokenizers.js applies to run them as JavaScript regexes, so that
 * both match the same text: \w, \s, \d, \b and POSIX classes become the Unicode sets
 * tokenizers.js uses, (?i:...) folds ASCII letters only, possessive X++ reads as X+, (?> as a
 * plain group, an unknown \p{X} as the script X, and X{n}+ as (X{n})+. Anything else Oniguruma
 * has (backreferences, named groups, nested classes, ...) is refused with the offset.
 */
#include "src/text/pretokenizer_regex.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "src/base/common.h"
#include "src/base/utf8.h"

/* ───────────── Oniguruma → PCRE2, the way tokenizers.js rewrites Oniguruma → JavaScript ───────────── */

/* Unicode word characters as tokenizers.js defines \w (Oniguruma's set). */
#define WORD_IN_CLASS "\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}"
#define WORD_CLASS "[" WORD_IN_CLASS "\\x{B2}\\x{B3}\\x{B9}\\x{BC}-\\x{BE}]"
#define NON_WORD_CLASS "[^" WORD_IN_CLASS "\\x{B2}\\x{B3}\\x{B9}\\x{BC}-\\x{BE}]"

typedef struct {
    const char *p; /* the pattern */
    size_t n, i;
    StrBuf out;
    long atom_start; /* offset in out of the last atom, or -1 */
    int last_quant, fold;
    struct {
        long out_at;
        int fold;
    } groups[64];
    int depth;
    const char *field;  /* names the pattern in errors */
    const char *origin; /* names the tokenizer in errors */
} Rx;

static int rx_unsupported(Rx *r, size_t at, const char *what) {
    int show = (int)PX_MIN(r->n - at, 12);
    return px_error("%s: unsupported regex %s '%.*s' at offset %zu (field %s)", r->origin, what, show, r->p + at, at,
                    r->field);
}

static uint32_t rx_char(const Rx *r, size_t at, int *len) {
    int k = utf8_step((const unsigned char *)r->p + at, r->n - at);
    *len = k > 0 ? k : 1;
    return k > 0 ? utf8_decode((const unsigned char *)r->p + at, k) : 0xFFFD;
}

static int is_ascii_letter(uint32_t c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }

/* Appends a literal code point; inside (?i:...) an ASCII letter matches both cases (only ASCII
 * folds, as in tokenizers.js). */
static int rx_literal(StrBuf *o, uint32_t cp, int fold) {
    char tmp[32];
    if (fold && is_ascii_letter(cp)) snprintf(tmp, sizeof tmp, "[%c%c]", (char)(cp | 0x20), (char)(cp & ~0x20u));
    else if (cp < 0x80 && ((cp | 0x20) - 'a' < 26 || cp - '0' < 10)) snprintf(tmp, sizeof tmp, "%c", (char)cp);
    else snprintf(tmp, sizeof tmp, "\\x{%X}", (unsigned)cp);
    return strbuf_puts(o, tmp);
}

static int rx_emit_atom(Rx *r, const char *s) {
    r->atom_start = (long)r->out.n;
    r->last_quant = 0;
    return strbuf_puts(&r->out, s);
}

static int rx_emit_literal(Rx *r, uint32_t cp) {
    r->atom_start = (long)r->out.n;
    r->last_quant = 0;
    return rx_literal(&r->out, cp, r->fold);
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') return (c | 0x20) - 'a' + 10;
    return -1;
}

/* The value of the n hex digits at p (1 to 8 of them), or -1. */
static long parse_hex(const char *p, size_t n) {
    if (n == 0 || n > 8) return -1;
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        int h = hexval(p[i]);
        if (h < 0) return -1;
        v = v * 16 + h;
    }
    return v;
}

/* Escapes shared by classes and the outside: \x{..} \xHH \uHHHH \cX. Returns 1 with *cp and
 * *len if the escape at r->i is one of them. */
static int rx_codepoint_escape(const Rx *r, uint32_t *cp, size_t *len) {
    const char *p = r->p + r->i;
    size_t left = r->n - r->i;
    if (left >= 4 && p[1] == 'x' && p[2] == '{') {
        const char *close = memchr(p + 3, '}', left - 3);
        long v = close ? parse_hex(p + 3, (size_t)(close - p - 3)) : -1;
        if (v < 0 || v > 0x10FFFF) return 0;
        *cp = (uint32_t)v, *len = (size_t)(close - p) + 1;
        return 1;
    }
    if (left >= 4 && p[1] == 'x' && parse_hex(p + 2, 2) >= 0) return *cp = (uint32_t)parse_hex(p + 2, 2), *len = 4, 1;
    if (left >= 6 && p[1] == 'u' && parse_hex(p + 2, 4) >= 0) return *cp = (uint32_t)parse_hex(p + 2, 4), *len = 6, 1;
    if (left >= 3 && p[1] == 'c' && is_ascii_letter((unsigned char)p[2]))
        return *cp = (unsigned char)p[2] % 32, *len = 3, 1;
    return 0;
}

/* \p{Name} or \P{Name} at r->i: its length, 0 if not one. */
static size_t rx_property_len(const Rx *r) {
    const char *p = r->p + r->i;
    size_t left = r->n - r->i;
    if (left < 4 || (p[1] != 'p' && p[1] != 'P') || p[2] != '{') return 0;
    const char *close = memchr(p + 3, '}', left - 3);
    return close && close > p + 3 ? (size_t)(close - p) + 1 : 0;
}

/* The control character of a one-letter escape (\n \r \t \f \v \0), or -1. */
static int control_escape(char c) {
    switch (c) {
        case 'n': return '\n';
        case 'r': return '\r';
        case 't': return '\t';
        case 'f': return '\f';
        case 'v': return '\v';
        case '0': return 0;
        default: return -1;
    }
}

/* A shorthand (\s \S \d \D \w \h) inside a class: its PCRE2 class fragment, or NULL. */
static const char *class_shorthand(char c) {
    switch (c) {
        case 's': return "\\p{White_Space}";
        case 'S': return "\\P{White_Space}";
        case 'd': return "\\p{Nd}";
        case 'D': return "\\P{Nd}";
        case 'w': return WORD_IN_CLASS;
        case 'h': return "0-9A-Fa-f";
        default: return NULL;
    }
}

/* POSIX bracket [:name:] inside a class, as tokenizers.js maps them. */
static const char *posix_fragment(const char *name, size_t len) {
    static const char *const map[][2] = {{"alpha", "\\p{Alphabetic}"}, {"alnum", "\\p{Alphabetic}\\p{Nd}"},
                                         {"digit", "\\p{Nd}"},         {"lower", "\\p{Lowercase}"},
                                         {"upper", "\\p{Uppercase}"},  {"space", "\\p{White_Space}"},
                                         {"blank", "\\t\\p{Zs}"},      {"punct", "\\p{P}\\p{S}"},
                                         {"cntrl", "\\p{Cc}"},         {"word", WORD_IN_CLASS},
                                         {"xdigit", "0-9A-Fa-f"}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strlen(map[i][0]) == len && memcmp(map[i][0], name, len) == 0) return map[i][1];
    return NULL;
}

/* General_Category long names (JavaScript accepts both forms; PCRE2 only the short one). */
static const char *gc_short(const char *name, size_t len) {
    static const char *const map[][2] = {{"Letter", "L"},
                                         {"Cased_Letter", "LC"},
                                         {"Uppercase_Letter", "Lu"},
                                         {"Lowercase_Letter", "Ll"},
                                         {"Titlecase_Letter", "Lt"},
                                         {"Modifier_Letter", "Lm"},
                                         {"Other_Letter", "Lo"},
                                         {"Mark", "M"},
                                         {"Combining_Mark", "M"},
                                         {"Nonspacing_Mark", "Mn"},
                                         {"Spacing_Mark", "Mc"},
                                         {"Enclosing_Mark", "Me"},
                                         {"Number", "N"},
                                         {"Decimal_Number", "Nd"},
                                         {"digit", "Nd"},
                                         {"Letter_Number", "Nl"},
                                         {"Other_Number", "No"},
                                         {"Punctuation", "P"},
                                         {"punct", "P"},
                                         {"Connector_Punctuation", "Pc"},
                                         {"Dash_Punctuation", "Pd"},
                                         {"Open_Punctuation", "Ps"},
                                         {"Close_Punctuation", "Pe"},
                                         {"Initial_Punctuation", "Pi"},
                                         {"Final_Punctuation", "Pf"},
                                         {"Other_Punctuation", "Po"},
                                         {"Symbol", "S"},
                                         {"Math_Symbol", "Sm"},
                                         {"Currency_Symbol", "Sc"},
                                         {"Modifier_Symbol", "Sk"},
                                         {"Other_Symbol", "So"},
                                         {"Separator", "Z"},
                                         {"Space_Separator", "Zs"},
                                         {"Line_Separator", "Zl"},
                                         {"Paragraph_Separator", "Zp"},
                                         {"Other", "C"},
                                         {"Control", "Cc"},
                                         {"cntrl", "Cc"},
                                         {"Format", "Cf"},
                                         {"Surrogate", "Cs"},
                                         {"Private_Use", "Co"},
                                         {"Unassigned", "Cn"}};
    static const char *const shorts[] = {"L",  "LC", "Lu", "Ll", "Lt", "Lm", "Lo", "M",  "Mn", "Mc", "Me", "N",  "Nd",
                                         "Nl", "No", "P",  "Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "S",  "Sm", "Sc",
                                         "Sk", "So", "Z",  "Zs", "Zl", "Zp", "C",  "Cc", "Cf", "Cs", "Co", "Cn"};
    for (size_t i = 0; i < sizeof shorts / sizeof shorts[0]; i++)
        if (strlen(shorts[i]) == len && memcmp(shorts[i], name, len) == 0) return shorts[i];
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strlen(map[i][0]) == len && memcmp(map[i][0], name, len) == 0) return map[i][1];
    return NULL;
}

/* Binary properties JavaScript accepts without a "name=" prefix. */
static int is_binary_property(const char *name, size_t len) {
    static const char *const names[] = {"ASCII",
                                        "ASCII_Hex_Digit",
                                        "AHex",
                                        "Alphabetic",
                                        "Alpha",
                                        "Any",
                                        "Assigned",
                                        "Bidi_Control",
                                        "Bidi_C",
                                        "Bidi_Mirrored",
                                        "Bidi_M",
                                        "Case_Ignorable",
                                        "CI",
                                        "Cased",
                                        "Changes_When_Casefolded",
                                        "CWCF",
                                        "Changes_When_Casemapped",
                                        "CWCM",
                                        "Changes_When_Lowercased",
                                        "CWL",
                                        "Changes_When_NFKC_Casefolded",
                                        "CWKCF",
                                        "Changes_When_Titlecased",
                                        "CWT",
                                        "Changes_When_Uppercased",
                                        "CWU",
                                        "Dash",
                                        "Default_Ignorable_Code_Point",
                                        "DI",
                                        "Deprecated",
                                        "Dep",
                                        "Diacritic",
                                        "Dia",
                                        "Emoji",
                                        "Emoji_Component",
                                        "EComp",
                                        "Emoji_Modifier",
                                        "EMod",
                                        "Emoji_Modifier_Base",
                                        "EBase",
                                        "Emoji_Presentation",
                                        "EPres",
                                        "Extended_Pictographic",
                                        "ExtPict",
                                        "Extender",
                                        "Ext",
                                        "Grapheme_Base",
                                        "Gr_Base",
                                        "Grapheme_Extend",
                                        "Gr_Ext",
                                        "Hex_Digit",
                                        "Hex",
                                        "IDS_Binary_Operator",
                                        "IDSB",
                                        "IDS_Trinary_Operator",
                                        "IDST",
                                        "ID_Continue",
                                        "IDC",
                                        "ID_Start",
                                        "IDS",
                                        "Ideographic",
                                        "Ideo",
                                        "Join_Control",
                                        "Join_C",
                                        "Logical_Order_Exception",
                                        "LOE",
                                        "Lowercase",
                                        "Lower",
                                        "Math",
                                        "Noncharacter_Code_Point",
                                        "NChar",
                                        "Pattern_Syntax",
                                        "Pat_Syn",
                                        "Pattern_White_Space",
                                        "Pat_WS",
                                        "Quotation_Mark",
                                        "QMark",
                                        "Radical",
                                        "Regional_Indicator",
                                        "RI",
                                        "Sentence_Terminal",
                                        "STerm",
                                        "Soft_Dotted",
                                        "SD",
                                        "Terminal_Punctuation",
                                        "Term",
                                        "Unified_Ideograph",
                                        "UIdeo",
                                        "Uppercase",
                                        "Upper",
                                        "Variation_Selector",
                                        "VS",
                                        "White_Space",
                                        "space",
                                        "XID_Continue",
                                        "XIDC",
                                        "XID_Start",
                                        "XIDS"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strlen(names[i]) == len && memcmp(names[i], name, len) == 0) return 1;
    return 0;
}

/* The PCRE2 form of \p{body} / \P{body} as JavaScript reads it: a general category, a binary
 * property, "Script=X" / "Script_Extensions=X" / "General_Category=X", and any other bare name
 * as a script (tokenizers.js retries an unknown \p{X} as \p{Script=X}). PCRE2 would read a bare
 * script name as Script_Extensions, so scripts are always spelled out. */
static int property_pcre(Rx *r, size_t at, size_t plen, StrBuf *out) {
    const char *body = r->p + at + 3, *eq = memchr(body, '=', plen - 4);
    size_t blen = plen - 4;
    char neg = r->p[at + 1];
    char tmp[160];
    if (eq) {
        size_t klen = (size_t)(eq - body), vlen = blen - klen - 1;
        const char *gc = gc_short(eq + 1, vlen);
        int script = (klen == 6 && memcmp(body, "Script", 6) == 0) || (klen == 2 && memcmp(body, "sc", 2) == 0);
        int scx =
            (klen == 17 && memcmp(body, "Script_Extensions", 17) == 0) || (klen == 3 && memcmp(body, "scx", 3) == 0);
        int isgc =
            (klen == 16 && memcmp(body, "General_Category", 16) == 0) || (klen == 2 && memcmp(body, "gc", 2) == 0);
        if (isgc && gc) snprintf(tmp, sizeof tmp, "\\%c{%s}", neg, gc);
        else if ((script || scx) && vlen < 100)
            snprintf(tmp, sizeof tmp, "\\%c{%s=%.*s}", neg, scx ? "scx" : "sc", (int)vlen, eq + 1);
        else return rx_unsupported(r, at, "property");
    } else if (blen >= 100) return rx_unsupported(r, at, "property");
    else if (gc_short(body, blen)) snprintf(tmp, sizeof tmp, "\\%c{%s}", neg, gc_short(body, blen));
    else if (is_binary_property(body, blen)) snprintf(tmp, sizeof tmp, "\\%c{%.*s}", neg, (int)blen, body);
    else snprintf(tmp, sizeof tmp, "\\%c{sc=%.*s}", neg, (int)blen, body);
    return strbuf_puts(out, tmp);
}

enum { TAIL_NONE, TAIL_SCALAR, TAIL_SET, TAIL_RANGE, TAIL_COMPLETE };

/* Appends one class member (scalar code point, or a set fragment) following the range rules of
 * tokenizers.js: a set may not be a range endpoint. */
static int class_member(Rx *r, StrBuf *body, int *tail, const char *frag, uint32_t cp, size_t at) {
    if (frag && *tail == TAIL_RANGE) return rx_unsupported(r, at, "range with a set endpoint");
    int rc = frag ? strbuf_puts(body, frag) : rx_literal(body, cp, 0);
    *tail = *tail == TAIL_RANGE ? TAIL_COMPLETE : frag ? TAIL_SET : TAIL_SCALAR;
    return rc;
}

/* The ASCII letters whose other case tokenizers.js adds to a class inside (?i:...): those for
 * which exactly one case is a member. */
static int class_fold_additions(Rx *r, const char *body, StrBuf *add) {
    StrBuf pat = {0};
    int rc = strbuf_puts(&pat, "^[") || strbuf_puts(&pat, body) || strbuf_puts(&pat, "]$");
    int err;
    PCRE2_SIZE at;
    pcre2_code *code = rc ? NULL : pcre2_compile((PCRE2_SPTR)pat.s, pat.n, PCRE2_UTF, &err, &at, NULL);
    pcre2_match_data *md = code ? pcre2_match_data_create_from_pattern(code, NULL) : NULL;
    if (!md) rc = rc ? rc : px_error("%s: bad character class in regex (field %s)", r->origin, r->field);
    for (char c = 'a'; c <= 'z' && rc == 0; c++) {
        char up = (char)(c - 32);
        int has_lo = pcre2_match(code, (PCRE2_SPTR)&c, 1, 0, 0, md, NULL) >= 0;
        int has_up = pcre2_match(code, (PCRE2_SPTR)&up, 1, 0, 0, md, NULL) >= 0;
        if (has_lo != has_up) rc = rx_literal(add, has_lo ? (uint32_t)up : (uint32_t)c, 0);
    }
    pcre2_match_data_free(md);
    pcre2_code_free(code);
    free(pat.s);
    return rc;
}

/* One escape inside a class at r->i. */
static int class_escape(Rx *r, StrBuf *body, int *tail) {
    size_t at = r->i, plen = rx_property_len(r), len;
    uint32_t cp;
    if (plen) {
        const char *name = r->p + at + 3;
        size_t nlen = plen - 4;
        int neg = r->p[at + 1] == 'P';
        if (nlen == 4 && memcmp(name, "Word", 4) == 0) {
            if (neg) return rx_unsupported(r, at, "\\P{Word} in a class");
            r->i += plen;
            return class_member(r, body, tail, WORD_IN_CLASS, 0, at);
        }
        StrBuf f = {0};
        int rc = property_pcre(r, at, plen, &f) || class_member(r, body, tail, f.s, 0, at);
        free(f.s);
        r->i += plen;
        return rc;
    }
    if (rx_codepoint_escape(r, &cp, &len)) {
        r->i += len;
        return class_member(r, body, tail, NULL, cp, at);
    }
    if (at + 1 >= r->n) return rx_unsupported(r, at, "unterminated escape");
    int clen;
    uint32_t next = rx_char(r, at + 1, &clen);
    r->i += 1 + (size_t)clen;
    if (next == 'a' || next == 'e') return class_member(r, body, tail, NULL, next == 'a' ? 7 : 0x1B, at);
    const char *sh = next < 0x80 ? class_shorthand((char)next) : NULL;
    if (sh) return class_member(r, body, tail, sh, 0, at);
    if (next < 0x80 && ((next | 0x20) - 'a' < 26 || next - '0' < 10)) {
        int c = next == 'b' ? 8 : control_escape((char)next); /* \b is backspace in a class */
        if (c < 0) return rx_unsupported(r, at, "escape");
        return class_member(r, body, tail, NULL, (uint32_t)c, at);
    }
    return class_member(r, body, tail, NULL, next, at); /* an escaped literal */
}

/* Translates the character class at r->i ('[') and emits it as one atom. */
static int rx_class(Rx *r) {
    size_t start = r->i++;
    int neg = r->i < r->n && r->p[r->i] == '^';
    if (neg) r->i++;
    size_t first = r->i;
    StrBuf body = {0};
    int tail = TAIL_NONE, rc = strbuf_puts(&body, "");
    while (rc == 0) {
        if (r->i >= r->n) {
            rc = rx_unsupported(r, start, "unterminated class");
            break;
        }
        size_t at = r->i;
        int clen;
        uint32_t c = rx_char(r, at, &clen);
        if (c == ']' && at != first) break;
        if (c == '\\') rc = class_escape(r, &body, &tail);
        else if (c == '[' && at + 1 < r->n && r->p[at + 1] == ':') {
            const char *end = strstr(r->p + at + 2, ":]");
            int pneg = r->p[at + 2] == '^';
            const char *frag = end ? posix_fragment(r->p + at + 2 + pneg, (size_t)(end - r->p - at - 2 - pneg)) : NULL;
            if (!frag || pneg) rc = rx_unsupported(r, at, "POSIX class");
            else r->i = (size_t)(end - r->p) + 2, rc = class_member(r, &body, &tail, frag, 0, at);
        } else if (c == '[' || (c == '&' && at + 1 < r->n && r->p[at + 1] == '&'))
            rc = rx_unsupported(r, at, "nested class or intersection");
        else if (c == '-') {
            int terminal = at + 1 < r->n && r->p[at + 1] == ']';
            r->i++;
            if (tail == TAIL_SET && !terminal) rc = rx_unsupported(r, at, "range with a set endpoint");
            else if (tail == TAIL_SCALAR && !terminal) rc = strbuf_puts(&body, "-"), tail = TAIL_RANGE;
            else rc = class_member(r, &body, &tail, NULL, '-', at);
        } else {
            r->i += (size_t)clen;
            rc = class_member(r, &body, &tail, NULL, c, at);
        }
    }
    if (rc == 0 && tail == TAIL_NONE) rc = rx_unsupported(r, start, "empty class");
    r->i++; /* the ']' */
    StrBuf add = {0};
    if (rc == 0 && r->fold) rc = class_fold_additions(r, body.s, &add);
    r->atom_start = (long)r->out.n;
    r->last_quant = 0;
    if (rc == 0)
        rc = strbuf_puts(&r->out, neg ? "[^" : "[") || strbuf_puts(&r->out, body.s) ||
             (add.n && strbuf_puts(&r->out, add.s)) || strbuf_puts(&r->out, "]");
    free(body.s);
    free(add.s);
    return rc;
}

/* One escape outside a class at r->i. */
static int rx_escape(Rx *r) {
    size_t at = r->i, plen = rx_property_len(r), len;
    uint32_t cp;
    if (plen) {
        r->i += plen;
        if (plen == 8 && memcmp(r->p + at + 3, "Word", 4) == 0)
            return rx_emit_atom(r, r->p[at + 1] == 'p' ? WORD_CLASS : NON_WORD_CLASS);
        StrBuf f = {0};
        int rc = property_pcre(r, at, plen, &f) || rx_emit_atom(r, f.s);
        free(f.s);
        return rc;
    }
    if (rx_codepoint_escape(r, &cp, &len)) {
        r->i += len;
        return rx_emit_literal(r, cp);
    }
    if (at + 1 >= r->n) return rx_unsupported(r, at, "trailing backslash");
    int clen;
    uint32_t next = rx_char(r, at + 1, &clen);
    r->i += 1 + (size_t)clen;
    switch (next) {
        case 'G': return 0; /* tokenizers.js drops \G */
        case 'A': return rx_emit_atom(r, "\\A");
        case 'z': return rx_emit_atom(r, "\\z");
        case 'Z': return rx_emit_atom(r, "(?=\\n?\\z)");
        case 'h': return rx_emit_atom(r, "[0-9A-Fa-f]");
        case 'H': return rx_emit_atom(r, "[^0-9A-Fa-f]");
        case 'w': return rx_emit_atom(r, WORD_CLASS);
        case 'W': return rx_emit_atom(r, NON_WORD_CLASS);
        case 'd': return rx_emit_atom(r, "\\p{Nd}");
        case 'D': return rx_emit_atom(r, "\\P{Nd}");
        case 's': return rx_emit_atom(r, "\\p{White_Space}");
        case 'S': return rx_emit_atom(r, "\\P{White_Space}");
        case 'b':
            return rx_emit_atom(r, "(?:(?<!" WORD_CLASS ")(?=" WORD_CLASS ")|(?<=" WORD_CLASS ")(?!" WORD_CLASS "))");
        case 'B':
            return rx_emit_atom(r, "(?:(?<!" WORD_CLASS ")(?!" WORD_CLASS ")|(?<=" WORD_CLASS ")(?=" WORD_CLASS "))");
        case 'a': return rx_emit_literal(r, 7);
        case 'e': return rx_emit_literal(r, 0x1B);
        default: break;
    }
    if (next < 0x80 && ((next | 0x20) - 'a' < 26 || next - '0' < 10)) {
        int c = control_escape((char)next);
        if (c < 0) return rx_unsupported(r, at, "escape");
        return rx_emit_literal(r, (uint32_t)c);
    }
    return rx_emit_literal(r, next); /* an escaped literal (also a raw whitespace after '\') */
}

/* '(' at r->i: the group prefixes tokenizers.js accepts; (?i: folds ASCII letters, (?> is
 * treated as a plain group (as tokenizers.js does). */
static int rx_open_group(Rx *r) {
    static const char *const same[] = {"(?:", "(?=", "(?!", "(?<=", "(?<!"};
    const char *p = r->p + r->i;
    size_t left = r->n - r->i, in_len = 1;
    const char *out = "(";
    int fold = r->fold;
    if (left >= 4 && memcmp(p, "(?i:", 4) == 0) out = "(?:", in_len = 4, fold = 1;
    else if (left >= 3 && memcmp(p, "(?>", 3) == 0) out = "(?:", in_len = 3;
    else if (left >= 2 && p[1] == '?') {
        for (size_t k = 0; k < sizeof same / sizeof same[0] && in_len == 1; k++)
            if (left >= strlen(same[k]) && memcmp(p, same[k], strlen(same[k])) == 0)
                out = same[k], in_len = strlen(same[k]);
        if (in_len == 1) return rx_unsupported(r, r->i, "group");
    }
    if (r->depth == (int)(sizeof r->groups / sizeof r->groups[0])) return rx_unsupported(r, r->i, "nesting depth");
    r->groups[r->depth].out_at = (long)r->out.n;
    r->groups[r->depth++].fold = r->fold;
    r->fold = fold;
    r->last_quant = 0;
    r->i += in_len;
    return strbuf_puts(&r->out, out);
}

/* '{' at r->i: a quantifier {n}, {n,}, {n,m} or {,m}, else a literal brace. X{n}+ and X{n}*
 * mean (X{n})+ in Oniguruma. */
static int rx_brace(Rx *r) {
    const char *p = r->p + r->i, *end = r->p + r->n, *q = p + 1;
    int digits_a = 0, digits_b = 0, comma = 0;
    while (q < end && *q >= '0' && *q <= '9') q++, digits_a++;
    if (q < end && *q == ',') {
        comma = 1, q++;
        while (q < end && *q >= '0' && *q <= '9') q++, digits_b++;
    }
    int ok = q < end && *q == '}' && (digits_a || (comma && digits_b));
    if (!ok || r->atom_start < 0) {
        r->i++;
        return rx_emit_literal(r, '{');
    }
    StrBuf body = {0};
    int rc =
        strbuf_puts(&body, "{") || (!digits_a && strbuf_puts(&body, "0")) || strbuf_put(&body, p + 1, (size_t)(q - p));
    r->i += (size_t)(q - p) + 1;
    if (rc == 0 && r->i < r->n && (r->p[r->i] == '+' || r->p[r->i] == '*')) {
        StrBuf wrapped = {0};
        char op[2] = {r->p[r->i++], 0};
        rc = strbuf_put(&wrapped, r->out.s, (size_t)r->atom_start) || strbuf_puts(&wrapped, "(?:") ||
             strbuf_puts(&wrapped, r->out.s + r->atom_start) || strbuf_puts(&wrapped, body.s) ||
             strbuf_puts(&wrapped, ")") || strbuf_puts(&wrapped, op);
        free(r->out.s);
        r->out = wrapped;
    } else if (rc == 0) rc = strbuf_puts(&r->out, body.s);
    free(body.s);
    r->last_quant = 1;
    return rc;
}

/* One token of the pattern outside classes. */
static int rx_step(Rx *r) {
    int clen;
    uint32_t c = rx_char(r, r->i, &clen);
    switch (c) {
        case '\\': return rx_escape(r);
        case '[': return rx_class(r);
        case '(': return rx_open_group(r);
        case '{': return rx_brace(r);
        default: break;
    }
    r->i += (size_t)clen;
    switch (c) {
        case ']': return rx_emit_literal(r, ']');
        case '}': return rx_emit_literal(r, '}');
        case '.': return rx_emit_atom(r, "[^\\n]");
        case '^': return rx_emit_atom(r, "(?:\\A|(?<=\\n))");
        case '$': return rx_emit_atom(r, "(?:(?=\\n)|\\z)");
        case ')':
            if (r->depth == 0) return rx_unsupported(r, r->i - 1, "unbalanced ')'");
            r->depth--;
            r->atom_start = r->groups[r->depth].out_at;
            r->fold = r->groups[r->depth].fold;
            r->last_quant = 0;
            return strbuf_puts(&r->out, ")");
        case '|':
            r->atom_start = -1;
            r->last_quant = 0;
            return strbuf_puts(&r->out, "|");
        case '+':
            if (r->last_quant) return 0; /* possessive X++ is read as X+ (tokenizers.js) */
            r->last_quant = 1;
            return strbuf_puts(&r->out, "+");
        case '*':
        case '?': r->last_quant = 1; return strbuf_puts(&r->out, c == '*' ? "*" : "?");
        default: return rx_emit_literal(r, c);
    }
}

int pretokenizer_regex_translate(const char *pat, size_t n, const char *origin, const char *field, StrBuf *out) {
    Rx r = {.p = pat, .n = n, .atom_start = -1, .field = field, .origin = origin};
    int rc = strbuf_puts(&r.out, "");
    while (rc == 0 && r.i < r.n) rc = rx_step(&r);
    if (rc == 0 && r.depth) rc = rx_unsupported(&r, 0, "unbalanced '('");
    if (rc) {
        free(r.out.s);
        return -1;
    }
    *out = r.out;
    return 0;
}

int pretokenizer_regex_literal(const char *s, size_t n, const char *origin, const char *field, StrBuf *out) {
    *out = (StrBuf){0};
    int rc = strbuf_puts(out, "");
    for (size_t i = 0; i < n && rc == 0;) {
        int k = utf8_step((const unsigned char *)s + i, n - i);
        if (k <= 0) rc = px_error("%s: invalid UTF-8 in %s", origin, field);
        else rc = rx_literal(out, utf8_decode((const unsigned char *)s + i, k), 0), i += (size_t)k;
    }
    if (rc) {
        free(out->s);
        *out = (StrBuf){0};
    }
    return rc;
}
