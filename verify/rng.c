/* rng.c: the verifier's only source of randomness.  xoshiro256** seeded by
** splitmix64 (Blackman and Vigna), so a seed gives the same inputs on every
** machine, and a failure reported with "(seed N)" can be replayed. */
#include "vf.h"

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15u);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

/* Each check draws from its own 'stream', so adding or dropping an op does
** not change the inputs another op's check sees. */
void vf_rng_seed(struct vf_rng *r, unsigned long seed, unsigned stream)
{
	uint64_t x = (uint64_t)seed ^ ((uint64_t)stream * 0xd1b54a32d192ed03u);
	int i;

	for (i = 0; i < 4; i++)
		r->s[i] = splitmix64(&x);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t vf_rng_next(struct vf_rng *r)
{
	uint64_t *s = r->s;
	uint64_t out = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return out;
}

/* Rejection keeps the draw exactly uniform: the probability bounds that the
** finite-difference check prints assume it. */
int64_t vf_rng_range(struct vf_rng *r, int64_t lo, int64_t hi)
{
	uint64_t span = (uint64_t)hi - (uint64_t)lo + 1;   /* 0 means all 2^64 values */
	uint64_t limit, v;

	if (span == 0)
		return (int64_t)vf_rng_next(r);
	limit = UINT64_MAX - UINT64_MAX % span;   /* accept v < limit: a multiple of span */
	do
		v = vf_rng_next(r);
	while (v >= limit);
	return (int64_t)((uint64_t)lo + v % span);
}

/* vf_rng_range with its two 64-bit divisions made once per range: the same
** values from the same stream, for filling arrays of millions (where the
** divisions cost more than the generator).  inv = floor((2^64 - 1) / span)
** is within 2 of 2^64 / span, so q = floor(v inv / 2^64) is floor(v / span)
** or up to 2 below it, which the loop makes good. */
void vf_range_init(struct vf_range *g, int64_t lo, int64_t hi)
{
	g->lo = (uint64_t)lo;
	g->span = (uint64_t)hi - (uint64_t)lo + 1;
	g->limit = g->span ? UINT64_MAX - UINT64_MAX % g->span : 0;
	g->inv = g->span ? UINT64_MAX / g->span : 0;
}

int64_t vf_range_draw(struct vf_rng *r, const struct vf_range *g)
{
	uint64_t v, rem;

	if (g->span == 0)
		return (int64_t)vf_rng_next(r);
	do
		v = vf_rng_next(r);
	while (v >= g->limit);
	rem = v - (uint64_t)(((vf_u128)v * g->inv) >> 64) * g->span;
	while (rem >= g->span)
		rem -= g->span;
	return (int64_t)(g->lo + rem);
}
