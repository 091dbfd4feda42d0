/* hashmap.c — growing and clearing the hash index of hashmap.h, and hash_bytes. */
#include "src/base/hashmap.h"

#include <stdlib.h>

#include "src/base/common.h"

#define MIN_SLOTS 64

/* Puts every entry into a table of n_slots (a power of two), from the hash bits the slots keep. */
static int rehash(HashMap *m, size_t n_slots) {
    if (n_slots - 1 > UINT32_MAX) return px_error("hash table too large (%zu slots)", n_slots);
    uint64_t *slots = calloc(n_slots, sizeof *slots);
    if (!slots) return px_error("out of memory (a hash table of %zu slots)", n_slots);
    size_t mask = n_slots - 1;
    for (size_t i = 0; m->slots && i <= m->mask; i++) {
        uint64_t s = m->slots[i];
        if (!s) continue;
        size_t pos = (uint32_t)(s >> 32) & mask;
        while (slots[pos]) pos = (pos + 1) & mask;
        slots[pos] = s;
    }
    free(m->slots);
    m->slots = slots;
    m->mask = mask;
    return 0;
}

int hashmap_reserve(HashMap *m, size_t n) {
    size_t have = m->slots ? m->mask + 1 : 0, want = have ? have : MIN_SLOTS;
    while (want < 2 * n) want *= 2;
    return want > have ? rehash(m, want) : 0;
}

int hashmap_insert(HashMap *m, const HashProbe *p, uint32_t entry) {
    if (entry == UINT32_MAX) return px_error("hash table full (%u entries)", entry);
    size_t pos = p->pos;
    if (!m->slots || 2 * (m->n + 1) > m->mask + 1) { /* grown: the probe's slot moved */
        if (hashmap_reserve(m, m->n + 1)) return -1;
        pos = p->hash & m->mask;
        while (m->slots[pos]) pos = (pos + 1) & m->mask;
    }
    m->slots[pos] = (uint64_t)p->hash << 32 | ((uint64_t)entry + 1);
    m->n++;
    return 0;
}

void hashmap_clear(HashMap *m) {
    if (m->slots) memset(m->slots, 0, (m->mask + 1) * sizeof *m->slots);
    m->n = 0;
}

void hashmap_free(HashMap *m) {
    free(m->slots);
    memset(m, 0, sizeof *m);
}

uint64_t hash_bytes(const void *p, size_t n) {
    const unsigned char *s = p;
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ (n * 0x100000001b3ULL);
    for (; n >= 8; s += 8, n -= 8) {
        uint64_t v;
        memcpy(&v, s, 8);
        h = (h ^ v) * 0xbf58476d1ce4e5b9ULL;
        h ^= h >> 29;
    }
    uint64_t v = 0;
    if (n) memcpy(&v, s, n);
    return hash_u64(h ^ v);
}
