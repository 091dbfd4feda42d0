/* rng.h — small deterministic PRNG (xoshiro256**, seeded by splitmix64). */
#ifndef PROACT_RNG_H
#define PROACT_RNG_H

#include <stdint.h>

typedef struct {
    uint64_t s[4];
} Rng;

void rng_seed(Rng *r, uint64_t seed);
uint64_t rng_next(Rng *r);
/* Uniform in [0, 1). */
double rng_uniform(Rng *r);
/* Uniform integer in [0, n). */
uint64_t rng_below(Rng *r, uint64_t n);
/* Standard normal (Box-Muller). */
double rng_normal(Rng *r);

#endif
