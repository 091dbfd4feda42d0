/* hashmap.h — an open-addressing hash index, and the hashes its users key it with.
 *
 * The map holds no keys or values: it maps a 64-bit hash to entry numbers (uint32) of an array
 * the caller owns, and the caller compares keys. Each slot keeps the entry number and 32 bits
 * of its hash, so a lookup touches the caller's entries only for a (near) certain match, and the
 * table grows without asking the caller to hash again. Linear probing, at most half full.
 *
 *     HashProbe p = hashmap_probe(&m, h);
 *     for (uint32_t i; hashmap_next(&m, &p, &i);)
 *         if (key_equals(&entries[i], key)) return i;      -- found
 *     ... append the entry as number n ...
 *     if (hashmap_insert(&m, &p, n)) return -1;           -- added
 *
 * Entries are never removed one by one (hashmap_clear empties the map). A HashMap of all zeros
 * is an empty map.
 */
#ifndef PROACT_HASHMAP_H
#define PROACT_HASHMAP_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    uint64_t *slots; /* 0 = empty, else (uint64_t)hash32 << 32 | (entry number + 1) */
    size_t mask;     /* number of slots - 1 (a power of two); 0 with no slots */
    size_t n;        /* entries */
} HashMap;

/* A lookup in progress: where it is, and the hash bits being looked for. */
typedef struct {
    size_t pos;
    uint32_t hash;
} HashProbe;

static inline HashProbe hashmap_probe(const HashMap *m, uint64_t hash) {
    HashProbe p = {(uint32_t)hash & m->mask, (uint32_t)hash};
    return p;
}

/* The next entry with the probe's hash: 1 and *entry, or 0 at the end of the run (then the probe
 * stays at the empty slot, where hashmap_insert puts a new entry). */
static inline int hashmap_next(const HashMap *m, HashProbe *p, uint32_t *entry) {
    if (!m->slots) return 0;
    for (;;) {
        uint64_t s = m->slots[p->pos];
        if (!s) return 0;
        p->pos = (p->pos + 1) & m->mask;
        if ((uint32_t)(s >> 32) == p->hash) {
            *entry = (uint32_t)s - 1;
            return 1;
        }
    }
}

/* Adds `entry` where the probe ended (hashmap_next returned 0, and the map has not changed since
 * hashmap_probe). Grows the table when it would be more than half full. 0, or -1 (px_error). */
int hashmap_insert(HashMap *m, const HashProbe *p, uint32_t entry);
/* Room for n entries without growing. 0 or -1 (px_error). */
int hashmap_reserve(HashMap *m, size_t n);
/* Forgets every entry (keeps the slots). */
void hashmap_clear(HashMap *m);
void hashmap_free(HashMap *m);

/* A fast non-cryptographic 64-bit hash of a byte string (8 bytes a step, then a full mix). */
uint64_t hash_bytes(const void *p, size_t n);

/* A full-avalanche mix of a 64-bit key (MurmurHash3's finalizer). */
static inline uint64_t hash_u64(uint64_t h) {
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

#endif
