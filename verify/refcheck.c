/* refcheck.c: the reference check.  On random integer inputs small enough
** that every partial sum is an integer below 2^p (vf_exact_magnitude), float
** code computes the exact result in any summation order, so each output must
** equal reference.c's value with '=='. */
#include <stdlib.h>
#include <string.h>
#include "vf.h"

/* Compare every output; describe the first mismatch in r->detail. */
static void compare(const struct vf_ctx *x, enum cg_op op, const struct vf_buf *out,
                    const struct vf_exact *e, const char *label, struct vf_result *r)
{
	char where[96], ev[48], cv[48];
	size_t i;

	for (i = 0; i < out->n; i++) {
		double c = vf_buf_get(out, i);
		if (c == (double)e[i].v)   /* |v| < 2^p: the conversion is exact */
			continue;
		if (r->n_wrong++ == 0) {
			vf_coord(&x->l, vf_op_output(op), i, where, sizeof where);
			vf_fmt_i128(e[i].v, ev, sizeof ev);
			vf_fmt_value(c, cv, sizeof cv);
			snprintf(r->detail, sizeof r->detail, "%s[%s]%s: expected %s, computed %s",
			         cg_op_names[op], where, label, ev, cv);
			snprintf(r->where, sizeof r->where, "%s", where);
			snprintf(r->expected, sizeof r->expected, "%s", ev);
			snprintf(r->computed, sizeof r->computed, "%s", cv);
		}
	}
}

static void reference(const struct vf_ctx *x, const struct vf_call *c, int with_bias,
                      struct vf_exact *e)
{
	switch (c->op) {
	case CG_FORWARD:
		vf_ref_forward(&x->l, c->num[0], c->num[1], with_bias ? c->num[2] : NULL, 1, e);
		break;
	case CG_GRAD_WEIGHT: vf_ref_grad_weight(&x->l, c->num[0], c->num[1], e); break;
	case CG_GRAD_INPUT:  vf_ref_grad_input(&x->l, c->num[0], c->num[1], e); break;
	default:             vf_ref_grad_bias(&x->l, c->num[0], 1, e); break;
	}
}

/* Forward runs twice, with a bias and with bias == NULL (docs/api.md: no bias). */
int vf_check_reference(const struct vf_ctx *x, enum cg_op op, struct vf_result *r)
{
	int a = vf_exact_magnitude(x, op), pass, i, crashed = 0;
	struct vf_exact *e = NULL;
	struct vf_call c;
	char why[256];

	r->magnitude_exp = a;
	if (a < 0) {
		r->applicable = 0;
		snprintf(r->detail, sizeof r->detail,
		         "not applicable: an output of %s sums %llu terms, too many to add exactly in %s "
		         "even with inputs in {-1,0,1}", cg_op_names[op],
		         (unsigned long long)vf_max_terms(&x->l, op), x->p == 24 ? "float" : "double");
		return 0;
	}
	if (vf_call_prepare(x, op, VF_REFERENCE, -((int64_t)1 << a), (int64_t)1 << a, 0, &c, &e) != 0)
		return -1;
	r->n_items = (long long)c.out.n;
	for (pass = 0; pass < (op == CG_FORWARD ? 2 : 1); pass++) {
		if (pass == 1)
			c.arg[2] = NULL;
		if ((i = vf_call_run(x, &c, why, sizeof why)) != 0) {
			crashed = 1;
			r->timed_out = i == VF_TIMED_OUT;
			snprintf(r->detail, sizeof r->detail, "%s%s %s", cg_op_names[op],
			         pass ? " (bias NULL)" : "", why);
			break;
		}
		reference(x, &c, pass == 0, e);
		compare(x, op, &c.out, e, pass ? " (bias NULL)" : "", r);
		if (r->n_wrong)
			break;
	}
	if (r->n_wrong > 1) {
		size_t k = strlen(r->detail);
		snprintf(r->detail + k, sizeof r->detail - k, " (%lld of %zu outputs wrong)",
		         r->n_wrong, c.out.n);
	}
	r->passed = !crashed && r->n_wrong == 0;
	free(e);
	vf_call_close(&c);
	return 0;
}
