/* rounding.c: the rounding check, the only check with a tolerance.  On random
** non-integer inputs A / 2^f the exact output E is a sum of n terms a_i*b_i,
** and any float evaluation of it, in any order, with or without FMA, must
** satisfy |computed - E| <= gamma_n * sum |a_i*b_i|, gamma_n = n u / (1 - n u)
** (Higham, Accuracy and Stability of Numerical Algorithms, ch. 3); the bias
** counts as one more term with factor 1.  Exceeding it is a bug, not noise.
** No underflow weakens the bound: every nonzero term is at least 2^-2f. */
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

int vf_check_rounding(const struct vf_ctx *x, enum cg_op op, struct vf_result *r)
{
	int bits = x->p == 24 ? FLOAT_BITS : DOUBLE_BITS, f = bits - 2, i, o, shift[VF_MAX_OUT];
	int64_t top = ((int64_t)1 << bits) - 1;
	uint64_t n_max = vf_max_terms(&x->l, op) + (op == CG_SGD_UPDATE ? 2 : 0);
	struct vf_exact *e[VF_MAX_OUT];
	struct vf_call c;
	char why[256];
	long long done = 0;
	size_t k;

	r->frac_bits = f;
	if (n_max >= ((uint64_t)1 << x->p)) {   /* gamma_n needs n u < 1 */
		r->applicable = 0;
		snprintf(r->detail, sizeof r->detail, "not applicable: an output of %s sums %llu terms, "
		         "n u >= 1 and Higham's gamma_n is undefined", cg_op_names[op],
		         (unsigned long long)n_max);
		return 0;
	}
	if (vf_call_prepare(x, op, VF_ROUNDING, -top, top, f, &c, NULL) != 0)
		return -1;
	if (vf_exact_alloc(&c, e) != 0) {
		vf_exact_free(e);
		vf_call_close(&c);
		return -1;
	}
	for (o = 0; o < c.n_out; o++)
		r->n_items += (long long)c.out[o].n;
	if ((i = vf_call_run(x, &c, why, sizeof why)) != 0) {
		r->timed_out = i == VF_TIMED_OUT;
		snprintf(r->detail, sizeof r->detail, "%s %s", cg_op_names[op], why);
		goto done;
	}
	/* Products carry 2^-2f; a lone bias, dY, weight or velocity numerator is
	** scaled by 2^f to match.  sgd_update's lr and momentum are powers of two:
	** multiplying by them is exact, so its W' (v') is a floating-point sum of
	** dW's terms and W and v, and gamma_n holds with n counting those too. */
	if (vf_ref_call(x, &c, (int64_t)1 << f, e, shift) != 0) {
		vf_exact_free(e);
		vf_call_close(&c);
		return -1;
	}
	for (o = 0; o < c.n_out; o++)
		for (k = 0; k < c.out[o].n; k++) {
			double v = vf_buf_get(&c.out[o], k);
			vf_progress(done++, r->n_items, "outputs");
			if (isfinite(v) && within(v, &e[o][k], 2 * f + shift[o], x->p))
				continue;
			if (r->n_wrong++ == 0)
				describe(x, op, o, c.sig.out[o], k, v, &e[o][k], 2 * f + shift[o], r);
		}
	if (r->n_wrong > 1) {
		size_t len = strlen(r->detail);
		snprintf(r->detail + len, sizeof r->detail - len, " (%lld of %lld outputs)",
		         r->n_wrong, r->n_items);
	}
	r->passed = r->n_wrong == 0;
done:
	vf_exact_free(e);
	vf_call_close(&c);
	return 0;
}
