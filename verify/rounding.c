/* rounding.c: the rounding check, the only check with a tolerance.  On random
** non-integer inputs A / 2^f the exact output E is a sum of n terms a_i*b_i,
** and any float evaluation of it, in any order, with or without FMA, must
** satisfy |computed - E| <= gamma_n * sum |a_i*b_i|, gamma_n = n u / (1 - n u)
** (Higham, Accuracy and Stability of Numerical Algorithms, ch. 3); the bias
** counts as one more term with factor 1.  Exceeding it is a bug, not noise.
** No underflow weakens the bound: every nonzero term is at least 2^-2f.
** The bound is a statement about each output alone, so on a layer too
** large to check every output exactly, a uniform sample of them is checked
** instead, and the report says so (docs/verify.md, "A large layer: a
** sample of outputs"). */
#include <float.h>
#include <gmp.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "vf.h"

/* Numerators below 2^bits, values A / 2^f below 4: exact in T (float: 24
** bits), with products wider than T's significand, so the code must round.
** bits <= 31 is what reference.c's 128-bit bound assumes. */
#define FLOAT_BITS 24
#define DOUBLE_BITS 31

/* The reference work (outputs times the terms of the longest, vf_max_terms)
** up to which every output is checked: 2^28 multiply-adds, about 1.3 s of
** exact sums here, what the check cost a mid-size layer (batch 8, 32 to 32
** channels, 64x64, 3x3) before it could sample.  A 512x512 layer with 64
** channels in and out is 10^10 per op, some 40 s, and forward's exact values
** alone 670 MB: above the budget a uniform sample of outputs costs about the
** budget instead. */
#define WORK_BUDGET ((uint64_t)1 << 28)
/* ...and holds at least this many outputs where the op has them (an output
** of grad_weight sums N OH OW terms, so the budget alone would buy it 2^28 /
** 2^18 = 1024 on a 512x512 layer): a bug that spoils a fraction q of the
** outputs escapes s of them with probability (1 - q)^s, under 2% for q =
** 0.1% and s = 4096. */
#define MIN_SAMPLE 4096

static void mpz_set_u128(mpz_t z, vf_u128 v)
{
	uint64_t w[2] = { (uint64_t)v, (uint64_t)(v >> 64) };
	mpz_import(z, 2, -1, sizeof w[0], 0, 0, w);
}

/* Exactly: |c 2^2f - e| (2^p - n) <= n s, which is |c - E| <= gamma_n S
** multiplied through by 2^2f (1 - n u) 2^p > 0.  mpq_set_d is exact. */
static int within_exact(double c, const struct vf_exact *e, int f2, int p)
{
	mpq_t cq, eq;
	mpz_t lhs_f, rhs;
	int ok;

	mpq_inits(cq, eq, NULL);
	mpz_inits(lhs_f, rhs, NULL);
	mpq_set_d(cq, c);
	mpq_mul_2exp(cq, cq, (unsigned long)f2);
	mpz_set_u128(lhs_f, e->v < 0 ? -(vf_u128)e->v : (vf_u128)e->v);
	if (e->v < 0)
		mpz_neg(lhs_f, lhs_f);
	mpq_set_z(eq, lhs_f);
	mpq_sub(cq, cq, eq);
	mpq_abs(cq, cq);
	mpz_set_u128(lhs_f, ((vf_u128)1 << p) - (vf_u128)e->n);
	mpz_mul(mpq_numref(cq), mpq_numref(cq), lhs_f);
	mpq_canonicalize(cq);
	mpz_set_u128(rhs, e->s);
	mpz_mul_ui(rhs, rhs, (unsigned long)e->n);
	mpq_set_z(eq, rhs);
	ok = mpq_cmp(cq, eq) <= 0;
	mpq_clears(cq, eq, NULL);
	mpz_clears(lhs_f, rhs, NULL);
	return ok;
}

/* A quick filter in long double that only ever says "within" when it is:
** with eps = LDBL_EPSILON, el and sl are E and S to within a factor 1 +- eps
** and the few operations below add a few eps more, so passing it means
** |c - E| <= 0.52 n u S < gamma_n S.  Anything closer goes to the exact test. */
static int within(double c, const struct vf_exact *e, int f2, int p)
{
	long double el = ldexpl((long double)e->v, -f2), sl = ldexpl((long double)e->s, -f2);
	long double cd = c, d = fabsl(cd - el);

	if (2 * (d + 8 * LDBL_EPSILON * (fabsl(el) + fabsl(cd))) <= ldexpl((long double)e->n, -p) * sl)
		return 1;
	return within_exact(c, e, f2, p);
}

static void describe(const struct vf_ctx *x, enum cg_op op, int o, enum vf_tensor t, size_t i, double c,
                     const struct vf_exact *e, int f2, struct vf_result *r)
{
	char where[96], cv[48], name[64];
	long double el = ldexpl((long double)e->v, -f2), sl = ldexpl((long double)e->s, -f2);
	long double nu = ldexpl((long double)e->n, -x->p);

	vf_coord(&x->l, t, i, where, sizeof where);
	vf_fmt_value(c, cv, sizeof cv);
	if (op == CG_SGD_UPDATE)
		snprintf(name, sizeof name, "%s %s", cg_op_names[op], vf_out_name(op, o));
	else
		snprintf(name, sizeof name, "%s", cg_op_names[op]);
	snprintf(r->detail, sizeof r->detail,
	         "%s[%s]: exact %.17Lg (rounded for display), computed %s: error %.3Lg > "
	         "gamma_%lld*sum|a*b| = %.3Lg", name, where, el, cv,
	         isfinite(c) ? fabsl((long double)c - el) : (long double)INFINITY,
	         (long long)e->n, nu / (1 - nu) * sl);
	snprintf(r->where, sizeof r->where, "%s", where);
	snprintf(r->expected, sizeof r->expected, "%.17Lg", el);
	snprintf(r->computed, sizeof r->computed, "%s", cv);
}

/* Whether element k of c's written array o is within the bound; when not
** and 'r' is given, say so in r (describe). */
static int holds(const struct vf_ctx *x, const struct vf_call *c, int o, size_t k, int f,
                 struct vf_result *r)
{
	double v = vf_buf_get(&c->out[o], k);
	struct vf_exact e;
	int sh = vf_ref_one(x, c, (int64_t)1 << f, o, k, &e);

	if (isfinite(v) && within(v, &e, 2 * f + sh, x->p))
		return 1;
	if (r)
		describe(x, c->op, o, c->sig.out[o], k, v, &e, 2 * f + sh, r);
	return 0;
}

/* The order of the visit, as the n = na x nc x np elements of an array:
** an output shaped like Y or I (forward, grad_input) by pixel, all its
** channels together, since they read the same patch of the input (visited
** channel by channel, a sample of a large layer would fetch that patch from
** memory once for each); any other in index order (nc = 1). */
static void visit_order(const struct cg_layer *l, enum vf_tensor t, size_t n, size_t *na,
                        size_t *nc, size_t *np)
{
	*nc = t == VF_Y ? (size_t)l->k : t == VF_I ? (size_t)l->c : 1;
	*np = t == VF_Y ? (size_t)l->oh * (size_t)l->ow : t == VF_I ? (size_t)l->h * (size_t)l->w : n;
	*na = *np ? n / (*nc * *np) : 0;
}

/* s distinct indices of [0, n), each s-subset equally likely (Floyd's
** algorithm: Bentley, "A sample of brilliance", CACM 30(9), 1987), as a
** bitmap: s draws and n/8 bytes whatever s is, and the walk over the
** outputs, in whatever order, tests each index in it. */
static uint64_t *draw_sample(struct vf_rng *r, uint64_t n, uint64_t s)
{
	uint64_t *bits = calloc((size_t)(n / 64 + 1), sizeof *bits), j, t;

	if (!bits)
		return NULL;
	for (j = n - s; j < n; j++) {
		t = (uint64_t)vf_rng_range(r, 0, (int64_t)j);
		if (bits[t / 64] >> (t % 64) & 1)
			t = j;   /* j is not in the set yet: every index below j was a candidate */
		bits[t / 64] |= (uint64_t)1 << (t % 64);
	}
	return bits;
}

/* How many outputs to check: all of them while the reference work is
** within WORK_BUDGET, else a sample of that much work, and at least
** MIN_SAMPLE outputs. */
static uint64_t sample_size(uint64_t n_out, uint64_t n_max)
{
	uint64_t s = WORK_BUDGET / n_max;

	if ((vf_u128)n_out * n_max <= WORK_BUDGET)
		return n_out;
	if (s < MIN_SAMPLE)
		s = MIN_SAMPLE;
	return s < n_out ? s : n_out;
}

int vf_check_rounding(const struct vf_ctx *x, enum cg_op op, struct vf_result *r)
{
	int bits = x->p == 24 ? FLOAT_BITS : DOUBLE_BITS, f = bits - 2, o;
	int64_t top = ((int64_t)1 << bits) - 1;
	uint64_t n_max = vf_max_terms(&x->l, op) + (op == CG_SGD_UPDATE ? 2 : 0), *chosen = NULL;
	struct vf_sig sig;
	struct vf_call c;
	long long done = 0;
	size_t k, base, first = 0;
	int first_o = 0;

	r->frac_bits = f;
	vf_op_sig(&x->l, op, &sig);
	for (o = 0; o < sig.n_out; o++)
		r->n_outputs += (long long)x->size[sig.out[o]];
	r->n_items = r->n_outputs;
	if (n_max >= ((uint64_t)1 << x->p)) {   /* gamma_n needs n u < 1 */
		r->applicable = 0;
		r->n_items = 0;
		snprintf(r->detail, sizeof r->detail, "not applicable: an output of %s sums %llu terms, "
		         "n u >= 1 and Higham's gamma_n is undefined", cg_op_names[op],
		         (unsigned long long)n_max);
		return 0;
	}
	/* No numerators kept: a large layer's inputs would need 8 bytes an
	** element beside T's 4; vf_ref_one reads them back from T. */
	if (vf_call_prepare_lean(x, op, VF_ROUNDING, -top, top, f, &c) != 0)
		return -1;
	if ((uint64_t)r->n_outputs > sample_size((uint64_t)r->n_outputs, n_max)) {
		r->sampled = 1;
		r->n_items = (long long)sample_size((uint64_t)r->n_outputs, n_max);
		/* From the check's own stream, after its inputs: the seed replays it. */
		if (!(chosen = draw_sample(&c.rng, (uint64_t)r->n_outputs, (uint64_t)r->n_items))) {
			vf_call_close(&c);
			return -1;
		}
	}
	if (vf_call_try(x, &c, "", r) != 0)
		goto done;
	/* Products carry 2^-2f; a lone bias, dY, weight or velocity numerator is
	** scaled by 2^f to match.  sgd_update's lr and momentum are powers of two:
	** multiplying by them is exact, so its W' (v') is a floating-point sum of
	** dW's terms and W and v, and gamma_n holds with n counting those too.
	** Each output's exact value is made as it is compared: nothing of the
	** size of the output is kept. */
	for (o = 0, base = 0; o < c.n_out; base += c.out[o].n, o++) {
		size_t a, p, ch, na, nc, np;
		visit_order(&x->l, c.sig.out[o], c.out[o].n, &na, &nc, &np);
		for (a = 0; a < na; a++)
		for (p = 0; p < np; p++)
		for (ch = 0; ch < nc; ch++) {
			k = (a * nc + ch) * np + p;
			if (chosen && !(chosen[(base + k) / 64] >> ((base + k) % 64) & 1))
				continue;
			vf_progress(done++, r->n_items, "outputs");
			if (holds(x, &c, o, k, f, NULL))
				continue;
			if (r->n_wrong++ == 0 || base + k < first)
				first = base + k, first_o = o;
		}
	}
	if (r->n_wrong) {   /* the first in index order, whatever the order of the visit */
		for (o = 0, base = 0; o < first_o; o++)
			base += c.out[o].n;
		holds(x, &c, first_o, first - base, f, r);
	}
	if (r->n_wrong > 1) {
		size_t len = strlen(r->detail);
		snprintf(r->detail + len, sizeof r->detail - len, " (%lld of %lld %soutputs)",
		         r->n_wrong, r->n_items, r->sampled ? "sampled " : "");
	}
	r->passed = r->n_wrong == 0;
done:
	free(chosen);
	vf_call_close(&c);
	return 0;
}
