/* call.c: set up the arrays of one call of one op: random integer numerators
** for the exact side, the same values as T in guarded buffers for the code
** under test, and a NaN-filled output so that nothing written shows. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "vf.h"

int vf_call_open(const struct vf_ctx *x, enum cg_op op, struct vf_call *c)
{
	enum vf_tensor o = vf_op_output(op);
	int i;

	memset(c, 0, sizeof *c);
	c->op = op;
	c->n_in = vf_op_inputs(op, c->t);
	for (i = 0; i < c->n_in; i++) {
		size_t n = x->size[c->t[i]];
		c->num[i] = calloc(n, sizeof(int64_t));
		if (!c->num[i] || vf_buf_alloc(&c->in[i], n, x->elem) != 0)
			goto fail;
		if (x->l.nhwc)
			vf_buf_channels_last(&c->in[i], &x->l, c->t[i]);
		c->arg[i] = &c->in[i];
	}
	if (vf_buf_alloc(&c->out, x->size[o], x->elem) != 0)
		goto fail;
	if (x->l.nhwc)
		vf_buf_channels_last(&c->out, &x->l, o);
	return 0;
fail:
	vf_call_close(c);
	return -1;
}

/* Input i gets numerators uniform in [lo, hi], so values num / 2^frac. */
void vf_call_fill(struct vf_call *c, int i, struct vf_rng *r, int64_t lo, int64_t hi, int frac)
{
	size_t j;

	for (j = 0; j < c->in[i].n; j++) {
		c->num[i][j] = vf_rng_range(r, lo, hi);
		vf_buf_set(&c->in[i], j, ldexp((double)c->num[i][j], -frac));
	}
}

int vf_call_prepare(const struct vf_ctx *x, enum cg_op op, enum vf_check check, int64_t lo,
                    int64_t hi, int frac, struct vf_call *c, struct vf_exact **e)
{
	struct vf_rng rng;
	int i;

	if (vf_call_open(x, op, c) != 0)
		return -1;
	if (e && !(*e = malloc(c->out.n * sizeof **e))) {
		vf_call_close(c);
		return -1;
	}
	vf_rng_seed(&rng, x->seed, (unsigned)(op * VF_N_CHECKS + check));
	for (i = 0; i < c->n_in; i++)
		vf_call_fill(c, i, &rng, lo, hi, frac);
	return 0;
}

void vf_call_close(struct vf_call *c)
{
	int i;

	for (i = 0; i < 3; i++) {
		free(c->num[i]);
		vf_buf_free(&c->in[i]);
	}
	vf_buf_free(&c->out);
	memset(c, 0, sizeof *c);
}

int vf_call_run(const struct vf_ctx *x, struct vf_call *c, char *why, size_t why_len)
{
	vf_buf_fill_nan(&c->out);
	return vf_run(x, c->op, c->arg, &c->out, why, why_len);
}
