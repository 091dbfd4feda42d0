/* strtab.h — a table of interned byte strings: each distinct string is stored once, numbered in
 * the order it was first added (0, 1, ...), and found again by its bytes through a HashMap.
 * Every string is followed by a NUL in the table, so one without NULs is also a C string. Each
 * entry carries a 32-bit value for the caller (an id, an offset).
 *
 * Users: the tokenizer (vocabulary, symbols, the piece cache), the BPE trainer (words, tokens),
 * BLEU (tokens as code-point strings).
 */
#ifndef PROACT_STRTAB_H
#define PROACT_STRTAB_H

#include <stddef.h>
#include <stdint.h>

#include "src/base/hashmap.h"

typedef struct {
    size_t off; /* into StrTab.bytes */
    uint32_t len;
    int32_t val; /* the caller's */
} StrTabEntry;

typedef struct {
    char *bytes; /* the strings back to back, each followed by a NUL */
    size_t nbytes, cap_bytes;
    StrTabEntry *e; /* [n], in the order added */
    size_t n, cap;
    HashMap map;
} StrTab;

/* The number of s[0..len) (hash = hash_bytes(s, len)), or -1 if absent. */
static inline long strtab_find_h(const StrTab *t, const void *s, size_t len, uint64_t hash) {
    HashProbe p = hashmap_probe(&t->map, hash);
    for (uint32_t i; hashmap_next(&t->map, &p, &i);)
        if (t->e[i].len == len && memcmp(t->bytes + t->e[i].off, s, len) == 0) return (long)i;
    return -1;
}

static inline long strtab_find(const StrTab *t, const void *s, size_t len) {
    return strtab_find_h(t, s, len, hash_bytes(s, len));
}

/* The number of s[0..len), added with value `val` if absent (*added, if not NULL, says which);
 * -1 (px_error) if out of memory. */
long strtab_intern_h(StrTab *t, const void *s, size_t len, uint64_t hash, int32_t val, int *added);
long strtab_intern(StrTab *t, const void *s, size_t len, int32_t val, int *added);

/* String i (NUL-terminated) and its length. */
static inline const char *strtab_str(const StrTab *t, size_t i) { return t->bytes + t->e[i].off; }
static inline size_t strtab_len(const StrTab *t, size_t i) { return t->e[i].len; }

/* Forgets every string (keeps the memory). */
void strtab_clear(StrTab *t);
void strtab_free(StrTab *t);

#endif
