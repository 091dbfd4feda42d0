/* strtab.c — adding strings to the interning table of strtab.h. */
#include "src/base/strtab.h"

#include <stdlib.h>

#include "src/base/common.h"
#include "src/base/vec.h"

long strtab_intern_h(StrTab *t, const void *s, size_t len, uint64_t hash, int32_t val, int *added) {
    HashProbe p = hashmap_probe(&t->map, hash);
    for (uint32_t i; hashmap_next(&t->map, &p, &i);)
        if (t->e[i].len == len && memcmp(t->bytes + t->e[i].off, s, len) == 0) {
            if (added) *added = 0;
            return (long)i;
        }
    if (len > UINT32_MAX || t->n >= INT32_MAX) return px_error("string table full (%zu strings)", t->n);
    if (VEC_RESERVE(t->e, t->cap, t->n + 1, "string table entries") ||
        VEC_RESERVE(t->bytes, t->cap_bytes, t->nbytes + len + 1, "string table bytes") ||
        hashmap_insert(&t->map, &p, (uint32_t)t->n))
        return -1;
    if (len) memcpy(t->bytes + t->nbytes, s, len);
    t->bytes[t->nbytes + len] = '\0';
    t->e[t->n] = (StrTabEntry){.off = t->nbytes, .len = (uint32_t)len, .val = val};
    t->nbytes += len + 1;
    if (added) *added = 1;
    return (long)t->n++;
}

long strtab_intern(StrTab *t, const void *s, size_t len, int32_t val, int *added) {
    return strtab_intern_h(t, s, len, hash_bytes(s, len), val, added);
}

void strtab_clear(StrTab *t) {
    t->nbytes = t->n = 0;
    hashmap_clear(&t->map);
}

void strtab_free(StrTab *t) {
    free(t->bytes);
    free(t->e);
    hashmap_free(&t->map);
    memset(t, 0, sizeof *t);
}
