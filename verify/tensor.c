/* tensor.c: which tensors each op reads and writes, how a flat index is named
** in a report ("grad_input[n=0,c=2,y=4,x=1]"), and how large integer inputs
** may be for the generated float code to compute exactly. */
#include <inttypes.h>
#include <math.h>
#include <string.h>
#include "vf.h"

/* The first array an op writes: its output, or for sgd_update the weight. */
enum vf_tensor vf_op_output(enum cg_op op)
{
	static const enum vf_tensor out[CG_N_OPS] = { VF_Y, VF_W, VF_I, VF_B, VF_W };
	return out[op];
}

/* docs/api.md's signatures; dY and the Y that masks it have Y's shape. */
void vf_op_sig(const struct cg_layer *l, enum cg_op op, struct vf_sig *s)
{
	static const enum vf_tensor first[CG_N_OPS] = { VF_I, VF_I, VF_W, VF_N_TENSORS, VF_I };

	memset(s, 0, sizeof *s);
	s->mask = s->dy = s->bias_in = s->bias_out = -1;
	if (op == CG_FORWARD) {
		s->in[0] = VF_I, s->in[1] = VF_W, s->in[2] = VF_B;
		s->n_in = 3;
		s->bias_in = 2;
	} else {
		if (first[op] != VF_N_TENSORS)
			s->in[s->n_in++] = first[op];
		if (l->relu)
			s->mask = s->n_in, s->in[s->n_in++] = VF_Y;
		s->dy = s->n_in, s->in[s->n_in++] = VF_Y;
	}
	if (op != CG_SGD_UPDATE) {
		s->out[s->n_out++] = vf_op_output(op);
		return;
	}
	s->in_out = 1;
	s->out[0] = VF_W, s->out[1] = VF_B;
	s->n_out = 2;
	s->bias_out = 1;
	s->n_scalar = 1;
	if (l->momentum) {
		s->out[2] = VF_W, s->out[3] = VF_B;
		s->n_out = 4;
		s->n_scalar = 2;
	}
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
	uint64_t n = vf_max_terms(&x->l, op);
	vf_u128 limit = (vf_u128)1 << x->p;
	int a;

	for (a = 26; a >= 0; a--) {
		vf_u128 big = (vf_u128)1 << (2 * a), small = (vf_u128)1 << a;
		vf_u128 sum;

		if (op == CG_FORWARD)
			sum = (vf_u128)(n - 1) * big + small;
		else if (op == CG_SGD_UPDATE)
			sum = 17 * small + 2 * (vf_u128)n * big;
		else if (op == CG_GRAD_BIAS)
			sum = (vf_u128)n * small;
		else
			sum = (vf_u128)n * big;
		if (sum < limit)
			return a;
	}
	return -1;
}
