/* refcheck.c: the reference check.  On random integer inputs small enough
** that every partial sum is an integer below 2^p (vf_exact_magnitude), float
** code computes the exact result in any summation order, so each output must
** equal reference.c's value with '=='.  sgd_update's results are multiples
** of 2^-4 (lr = 2^-3, momentum = 2^-1) whose numerators stay below 2^p: exact
** in T too, so '==' again. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "vf.h"

/* How a failure names written array i: "forward[...]", "sgd_update velocity_w[...]". */
static void label(enum cg_op op, int i, char *buf, size_t len)
{
	if (op == CG_SGD_UPDATE)
		snprintf(buf, len, "%s %s", cg_op_names[op], vf_out_name(op, i));
	else
		snprintf(buf, len, "%s", cg_op_names[op]);
}

/* The exact value v / 2^shift as text: an integer as before, else exact digits. */
static void fmt_exact(vf_i128 v, int shift, char *buf, size_t len)
{
	if (shift == 0)
		vf_fmt_i128(v, buf, len);
	else
		vf_fmt_value(ldexp((double)v, -shift), buf, len);   /* |v| < 2^p: exact */
}

/* Compare every element of written array i; describe the first mismatch in
** r->detail.  'note' says which run it was (" (bias NULL)"). */
void vf_compare_exact(const struct vf_ctx *x, enum cg_op op, int i, enum vf_tensor t, const struct vf_buf *out,
                      const struct vf_exact *e, int shift, const char *note, struct vf_result *r)
{
	char where[96], ev[48], cv[48], name[64];
	size_t k;

	for (k = 0; k < out->n; k++) {
		double c = vf_buf_get(out, k);
		if (ldexp(c, shift) == (double)e[k].v)   /* |v| < 2^p: the conversion is exact */
			continue;
		if (r->n_wrong++ == 0) {
			vf_coord(&x->l, t, k, where, sizeof where);
			fmt_exact(e[k].v, shift, ev, sizeof ev);
			vf_fmt_value(c, cv, sizeof cv);
			label(op, i, name, sizeof name);
			snprintf(r->detail, sizeof r->detail, "%s[%s]%s: expected %s, computed %s",
			         name, where, note, ev, cv);
			snprintf(r->where, sizeof r->where, "%s", where);
			snprintf(r->expected, sizeof r->expected, "%s", ev);
			snprintf(r->computed, sizeof r->computed, "%s", cv);
		}
	}
}

int vf_exact_alloc(const struct vf_call *c, struct vf_exact *e[VF_MAX_OUT])
{
	int i;

	for (i = 0; i < VF_MAX_OUT; i++)
		e[i] = NULL;
	for (i = 0; i < c->n_out; i++)
		if (!(e[i] = malloc((c->out[i].n ? c->out[i].n : 1) * sizeof *e[i])))
			return -1;
	return 0;
}

void vf_exact_free(struct vf_exact *e[VF_MAX_OUT])
{
	int i;

	for (i = 0; i < VF_MAX_OUT; i++)
		free(e[i]);
}

/* Run c once ('note' names the run) and compare every written array with
** the exact result.  Returns 0 (compared), 1 (the call failed: r->detail
** says why) or -1 (out of memory). */
int vf_run_and_compare(const struct vf_ctx *x, struct vf_call *c, struct vf_exact *e[VF_MAX_OUT],
                       const char *note, struct vf_result *r)
{
	int i, shift[VF_MAX_OUT];

	if (vf_call_try(x, c, note, r) != 0)
		return 1;
	if (vf_ref_call(x, c, 1, e, shift) != 0)
		return -1;
	for (i = 0; i < c->n_out; i++)
		if (c->a.out[i])
			vf_compare_exact(x, c->op, i, c->sig.out[i], &c->out[i], e[i], shift[i], note, r);
	return 0;
}

/* Forward and sgd_update run twice, with a bias and with bias == NULL
** (docs/api.md).  The first draw has inputs in [-2^a, 2^a] on the check's
** own stream, as it always had; the later draws (draws.c) carry the claim to
** all inputs. */
int vf_check_reference(const struct vf_ctx *x, enum cg_op op, struct vf_result *r)
{
	int a = vf_exact_magnitude(x, op), rc, i;
	struct vf_sig sig;

	r->magnitude_exp = a;
	r->momentum = x->l.momentum;
	if (a < 0) {
		r->applicable = 0;
		snprintf(r->detail, sizeof r->detail,
		         "not applicable: an output of %s sums %llu terms, too many to add exactly in %s "
		         "even with inputs in {-1,0,1}", cg_op_names[op],
		         (unsigned long long)vf_max_terms(&x->l, op), x->p == 24 ? "float" : "double");
		return 0;
	}
	vf_op_sig(&x->l, op, &sig);
	for (i = 0; i < sig.n_out; i++)
		r->n_items += (long long)x->size[sig.out[i]];
	r->first_projected = vf_draw_projected(x, op, 0);
	rc = vf_draw(x, op, VF_STREAM(op, VF_REFERENCE), -((int64_t)1 << a), (int64_t)1 << a,
	             r->first_projected, "", r);
	if (rc == 0 && r->n_wrong == 0)
		rc = vf_more_draws(x, op, a, r);
	if (r->n_wrong > 1) {
		size_t k = strlen(r->detail);
		snprintf(r->detail + k, sizeof r->detail - k, " (%lld of %lld outputs wrong)",
		         r->n_wrong, r->n_items);
	}
	r->passed = rc == 0 && r->n_wrong == 0;
	return rc < 0 ? -1 : 0;
}
