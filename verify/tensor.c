/* tensor.c: how a report names an op's arrays and a flat index
** ("grad_input[n=0,c=2,y=4,x=1]"), and how large integer inputs may be for
** the generated float code to compute exactly. */
#include <inttypes.h>
#include <math.h>
#include <string.h>
#include "vf.h"

/* How a report names written array i of op. */
const char *vf_out_name(enum cg_op op, int i)
{
	static const char *const sgd[VF_MAX_OUT] = { "weight", "bias", "velocity_w", "velocity_b" };
	return op == CG_SGD_UPDATE ? sgd[i] : "its output array";
}

/* docs/math.md's letters: I n,c,y,x; W k,c,m,q; b k; Y n,k,i,j. */
void vf_coord(const struct cg_layer *l, enum vf_tensor t, size_t i, char *buf, size_t len)
{
	size_t cg = (size_t)(l->c / l->g), a, b, c;

	switch (t) {
	case VF_I:
		c = i % (size_t)l->w; i /= (size_t)l->w;
		b = i % (size_t)l->h; i /= (size_t)l->h;
		a = i % (size_t)l->c; i /= (size_t)l->c;
		snprintf(buf, len, "n=%zu,c=%zu,y=%zu,x=%zu", i, a, b, c);
		break;
	case VF_W:
		c = i % (size_t)l->k2; i /= (size_t)l->k2;
		b = i % (size_t)l->k1; i /= (size_t)l->k1;
		a = i % cg; i /= cg;
		snprintf(buf, len, "k=%zu,c=%zu,m=%zu,q=%zu", i, a, b, c);
		break;
	case VF_B:
		snprintf(buf, len, "k=%zu", i);
		break;
	default:
		c = i % (size_t)l->ow; i /= (size_t)l->ow;
		b = i % (size_t)l->oh; i /= (size_t)l->oh;
		a = i % (size_t)l->k; i /= (size_t)l->k;
		snprintf(buf, len, "n=%zu,k=%zu,i=%zu,j=%zu", i, a, b, c);
		break;
	}
}

/* Integers print as integers (all the exact checks deal in integers);
** anything else with 17 digits, enough to tell two doubles apart. */
void vf_fmt_value(double v, char *buf, size_t len)
{
	if (isfinite(v) && v == floor(v) && fabs(v) < 9.0e15)
		snprintf(buf, len, "%.0f", v);
	else
		snprintf(buf, len, "%.17g", v);
}

void vf_fmt_i128(vf_i128 v, char *buf, size_t len)
{
	char tmp[48];
	vf_u128 u = v < 0 ? -(vf_u128)v : (vf_u128)v;
	int k = (int)sizeof tmp - 1;

	tmp[k] = '\0';
	do {
		tmp[--k] = (char)('0' + (int)(u % 10));
		u /= 10;
	} while (u != 0);
	if (v < 0)
		tmp[--k] = '-';
	snprintf(buf, len, "%s", tmp + k);
}

/* The most terms any one output of 'op' sums (docs/math.md), bias included. */
uint64_t vf_max_terms(const struct cg_layer *l, enum cg_op op)
{
	uint64_t taps = (uint64_t)l->k1 * (uint64_t)l->k2;
	uint64_t pixels = (uint64_t)l->n * (uint64_t)l->oh * (uint64_t)l->ow;

	switch (op) {
	case CG_FORWARD:     return (uint64_t)(l->c / l->g) * taps + 1;
	case CG_GRAD_WEIGHT: return pixels;
	case CG_GRAD_INPUT:  return (uint64_t)(l->k / l->g) * taps;
	default:             return pixels;   /* grad_bias; sgd_update's dW and db before the step */
	}
}

/* The sum of the absolute values of the terms of any output of 'op' when
** every input is an integer of magnitude at most m (see vf_exact_magnitude). */
static vf_u128 term_sum(const struct vf_ctx *x, enum cg_op op, uint64_t m)
{
	uint64_t n = vf_max_terms(&x->l, op);
	vf_u128 big = (vf_u128)m * m;

	if (op == CG_FORWARD)
		return (vf_u128)(n - 1) * big + m;
	if (op == CG_SGD_UPDATE)
		return 17 * (vf_u128)m + 2 * (vf_u128)n * big;
	if (op == CG_GRAD_BIAS)
		return (vf_u128)n * m;
	return (vf_u128)n * big;
}

/* The largest a such that, with every input an integer in [-2^a, 2^a], the
** sum of the absolute values of the terms of any output of 'op' is below
** 2^p.  Then every partial sum, in any order, with or without FMA, is an
** integer below 2^p, exactly representable in T: the generated code must
** return the exact result.  (Terms are products a*b, 2^2a, except for
** grad_bias's plain dY and forward's bias, 2^a.)  Returns -1 if not even
** inputs in {-1,0,1} are exact.  a <= 26 keeps numerators below 2^31, which
** reference.c's bound assumes; n < 2^31 (the parser caps counts at INT_MAX)
** keeps every bound below in 128 bits.
**
** sgd_update: its results are multiples of 2^-(VF_LR_LOG + VF_MU_LOG) = 2^-4
** (vf_ref_sgd), so its sums count in those units: W' 2^4 sums 16 |W|, |v|
** and 2 |dY I| over n terms, all below 2^p when 17 2^a + 2 n 2^2a < 2^p. */
int vf_exact_magnitude(const struct vf_ctx *x, enum cg_op op)
{
	vf_u128 limit = (vf_u128)1 << x->p;
	int a;

	for (a = 26; a >= 0; a--)
		if (term_sum(x, op, (uint64_t)1 << a) < limit)
			return a;
	return -1;
}

/* The largest m <= 2^26 such that inputs in [-m, m] keep every output exact,
** as vf_exact_magnitude but not only powers of two: more values per input
** make each draw of the reference check count for more (draws.c).  0 if
** none. */
int64_t vf_exact_bound(const struct vf_ctx *x, enum cg_op op)
{
	vf_u128 limit = (vf_u128)1 << x->p;
	uint64_t lo = 0, hi = (uint64_t)1 << 26;

	while (lo < hi) {   /* term_sum grows with m */
		uint64_t mid = lo + (hi - lo + 1) / 2;
		if (term_sum(x, op, mid) < limit)
			lo = mid;
		else
			hi = mid - 1;
	}
	return (int64_t)lo;
}
