/* reluzero.c: the relu-at-zero check, for the ops that mask dY with [Y > 0]
** (--activation relu).  The derivative of max(0, z) at z = 0 is taken as 0,
** as PyTorch does (docs/math.md, "A fused ReLU and the SGD step"); random inputs almost never hit Y == 0
** exactly, and the finite differences must avoid it, so this check makes
** half of Y exact zeros (the rest positive, as forward's output is) and every
** dY nonzero: a kernel that masks with Y >= 0, or not at all, then computes
** a different integer, and '==' against reference.c's [Y > 0] sees it. */
#include <stdlib.h>
#include <string.h>
#include "vf.h"

int vf_check_relu_zero(const struct vf_ctx *x, enum cg_op op, struct vf_result *r)
{
	int a = vf_exact_magnitude(x, op), rc, i;
	struct vf_exact *e[VF_MAX_OUT];
	struct vf_call c;
	struct vf_rng rng;
	int64_t one;
	size_t j, n;

	r->magnitude_exp = a;
	if (a < 0) {
		r->applicable = 0;
		snprintf(r->detail, sizeof r->detail, "not applicable: an output of %s sums %llu terms, too "
		         "many to add exactly in %s even with inputs in {-1,0,1}", cg_op_names[op],
		         (unsigned long long)vf_max_terms(&x->l, op), x->p == 24 ? "float" : "double");
		return 0;
	}
	one = (int64_t)1 << a;
	if (vf_call_prepare(x, op, VF_RELU_ZERO, -one, one, 0, &c, NULL) != 0)
		return -1;
	if (vf_exact_alloc(&c, e) != 0) {
		vf_exact_free(e);
		vf_call_close(&c);
		return -1;
	}
	vf_rng_seed(&rng, x->seed, VF_STREAM(op, VF_RELU_ZERO) + 100);
	n = x->size[VF_Y];
	for (j = 0; j < n; j++) {
		int64_t y = vf_rng_range(&rng, 0, 1) ? 0 : vf_rng_range(&rng, 1, one);
		int64_t d = vf_rng_range(&rng, 1, one);
		vf_call_set(&c, c.sig.mask, j, y);
		vf_call_set(&c, c.sig.dy, j, vf_rng_range(&rng, 0, 1) ? d : -d);
		r->n_zero += y == 0;
	}
	r->n_items = 0;
	for (i = 0; i < c.n_out; i++)
		r->n_items += (long long)c.out[i].n;
	rc = vf_run_and_compare(x, &c, e, " (Y with exact zeros)", r);
	if (r->n_wrong > 1) {
		size_t k = strlen(r->detail);
		snprintf(r->detail + k, sizeof r->detail - k, " (%lld of %lld outputs wrong)", r->n_wrong,
		         r->n_items);
	}
	r->passed = rc == 0 && r->n_wrong == 0;
	vf_exact_free(e);
	vf_call_close(&c);
	return rc < 0 ? -1 : 0;
}
