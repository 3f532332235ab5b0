/*
 * Deterministic randomness for campaigns: run seeds derived from the
 * campaign seed and the run's index (so a run's seed does not depend on
 * which shard or job runs it), and a small seeded generator (xoshiro256**,
 * seeded through splitmix64) for random triggers and fault rates. Same
 * seed, same opportunities => same choices, on any machine.
 */
#ifndef DEVIRT_INJECT_PRNG_H
#define DEVIRT_INJECT_PRNG_H

#include <stdint.h>

struct prng {
	uint64_t s[4];
};

/* Advances *x and returns the next splitmix64 output. */
static inline uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Returns the guest seed of run index (0-based) of a campaign seeded with
 * seed: 32 bits, so it reads well in args and logs. */
static inline uint64_t prng__run_seed(uint64_t seed, uint64_t index)
{
	uint64_t x = seed * 0x100000001b3ull ^ index;
	splitmix64(&x);
	return splitmix64(&x) & 0xffffffffull;
}

/* Seeds g from (seed, stream): independent streams of one run. */
static inline void prng__seed(struct prng *g, uint64_t seed, uint64_t stream)
{
	uint64_t x = seed ^ (stream * 0xd1b54a32d192ed03ull);
	for (int i = 0; i < 4; i++)
		g->s[i] = splitmix64(&x);
}

/* Returns the next 64 random bits. */
static inline uint64_t prng__next(struct prng *g)
{
	uint64_t *s = g->s;
	uint64_t r = s[1] * 5;
	r = (r << 7 | r >> 57) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = s[3] << 45 | s[3] >> 19;
	return r;
}

/* Returns 1 with probability p (0 <= p <= 1). */
static inline int prng__chance(struct prng *g, double p)
{
	return (double)(prng__next(g) >> 11) * 0x1.0p-53 < p;
}

#endif
