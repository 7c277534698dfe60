/* call.c: set up the arrays of one call of one op: random integer numerators
** for the exact side, the same values as T in guarded buffers for the code
** under test, and a NaN-filled output so that nothing written shows.
** sgd_update's arrays are read and written: they start from their
** numerators on every run. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "vf.h"

static int open_buf(const struct vf_ctx *x, enum vf_tensor t, struct vf_buf *b, int64_t **num)
{
	size_t n = x->size[t];

	if (num && !(*num = calloc(n ? n : 1, sizeof(int64_t))))
		return -1;
	if (vf_buf_alloc(b, n, x->elem) != 0)
		return -1;
	if (x->l.nhwc)
		vf_buf_channels_last(b, &x->l, t);
	return 0;
}

/* keep: the inputs' numerators too (the lean calls keep none). */
static int open_call(const struct vf_ctx *x, enum cg_op op, struct vf_call *c, int keep)
{
	int i;

	memset(c, 0, sizeof *c);
	c->op = op;
	vf_op_sig(&x->l, op, &c->sig);
	c->n_in = c->sig.n_in;
	c->n_out = c->sig.n_out;
	for (i = 0; i < c->n_in; i++) {
		c->t[i] = c->sig.in[i];
		if (open_buf(x, c->t[i], &c->in[i], keep ? &c->num[i] : NULL) != 0)
			goto fail;
		c->a.in[i] = &c->in[i];
	}
	for (i = 0; i < c->n_out; i++) {
		if (open_buf(x, c->sig.out[i], &c->out[i], c->sig.in_out ? &c->out_num[i] : NULL) != 0)
			goto fail;
		c->a.out[i] = &c->out[i];
	}
	c->a.scalar[0] = ldexp(1.0, -VF_LR_LOG);
	c->a.scalar[1] = ldexp(1.0, -VF_MU_LOG);
	return 0;
fail:
	vf_call_close(c);
	return -1;
}

int vf_call_open(const struct vf_ctx *x, enum cg_op op, struct vf_call *c)
{
	return open_call(x, op, c, 1);
}

int vf_call_open_lean(const struct vf_ctx *x, enum cg_op op, struct vf_call *c)
{
	return open_call(x, op, c, 0);
}

void vf_call_set(struct vf_call *c, int i, size_t j, int64_t num)
{
	if (i < c->n_in) {
		if (c->num[i])
			c->num[i][j] = num;
		vf_buf_set(&c->in[i], j, ldexp((double)num, -c->frac));
	} else
		c->out_num[i - c->n_in][j] = num;   /* set in the buffer by vf_call_run */
}

/* Input i gets numerators uniform in [lo, hi], so values num / 2^frac: the
** numbers of vf_call_set, element by element, without its per-element
** ldexp and index mapping (an input has millions on a large layer):
** multiplying by 2^-frac is exactly ldexp, short of an underflow that
** numerators of at least 1 and a small frac never reach. */
void vf_call_fill(struct vf_call *c, int i, struct vf_rng *r, int64_t lo, int64_t hi, int frac)
{
	struct vf_buf *b = i < c->n_in ? &c->in[i] : NULL;   /* written arrays: vf_call_run sets them */
	int64_t *num = i < c->n_in ? c->num[i] : c->out_num[i - c->n_in];
	size_t j, n = i < c->n_in ? c->in[i].n : c->out[i - c->n_in].n;
	double scale = ldexp(1.0, -frac);
	float *f = b && !b->cl_c && b->elem == sizeof(float) ? b->data : NULL;
	double *d = b && !b->cl_c && b->elem == sizeof(double) ? b->data : NULL;
	struct vf_range range;

	c->frac = frac;
	vf_range_init(&range, lo, hi);
	for (j = 0; j < n; j++) {
		int64_t v = vf_range_draw(r, &range);
		if (num)
			num[j] = v;
		if (f)
			f[j] = (float)((double)v * scale);
		else if (d)
			d[j] = (double)v * scale;
		else if (b)   /* channels last */
			vf_buf_set(b, j, (double)v * scale);
	}
}

void vf_call_bias(struct vf_call *c, int with_bias)
{
	if (c->sig.bias_in >= 0)
		c->a.in[c->sig.bias_in] = with_bias ? &c->in[c->sig.bias_in] : NULL;
	if (c->sig.bias_out >= 0) {   /* velocity_b goes with the bias */
		c->a.out[1] = with_bias ? &c->out[1] : NULL;
		if (c->n_out > 3)
			c->a.out[3] = with_bias ? &c->out[3] : NULL;
	}
}

static int prepare(const struct vf_ctx *x, enum cg_op op, enum vf_check check, int64_t lo,
                   int64_t hi, int frac, struct vf_call *c, struct vf_exact **e, int keep)
{
	if (open_call(x, op, c, keep) != 0)
		return -1;
	if (e && !(*e = malloc((c->out[0].n ? c->out[0].n : 1) * sizeof **e))) {
		vf_call_close(c);
		return -1;
	}
	vf_rng_seed(&c->rng, x->seed, VF_STREAM(op, check));
	vf_call_fill_all(c, &c->rng, lo, hi, frac);
	return 0;
}

void vf_call_fill_all(struct vf_call *c, struct vf_rng *rng, int64_t lo, int64_t hi, int frac)
{
	int i;

	for (i = 0; i < c->n_in + (c->sig.in_out ? c->n_out : 0); i++)
		vf_call_fill(c, i, rng, lo, hi, frac);
	/* Y, where it masks dY, is forward's output max(0, Z): as many zeros as
	** positives, so that a mask read from the wrong element shows.  A
	** negative numerator is a negative value: the T buffer tells as well. */
	if (c->sig.mask >= 0) {
		size_t j;
		for (j = 0; j < c->in[c->sig.mask].n; j++)
			if (vf_buf_get(&c->in[c->sig.mask], j) < 0)
				vf_call_set(c, c->sig.mask, j, 0);
	}
}

int vf_call_prepare(const struct vf_ctx *x, enum cg_op op, enum vf_check check, int64_t lo,
                    int64_t hi, int frac, struct vf_call *c, struct vf_exact **e)
{
	return prepare(x, op, check, lo, hi, frac, c, e, 1);
}

int vf_call_prepare_lean(const struct vf_ctx *x, enum cg_op op, enum vf_check check, int64_t lo,
                         int64_t hi, int frac, struct vf_call *c)
{
	return prepare(x, op, check, lo, hi, frac, c, NULL, 0);
}

void vf_call_close(struct vf_call *c)
{
	int i;

	for (i = 0; i < VF_MAX_IN; i++) {
		free(c->num[i]);
		vf_buf_free(&c->in[i]);
	}
	for (i = 0; i < VF_MAX_OUT; i++) {
		free(c->out_num[i]);
		vf_buf_free(&c->out[i]);
	}
	memset(c, 0, sizeof *c);
}

/* vf_call_run, saying in r why the call failed ("op<note> why") and whether
** it timed out: the checks' one way of reporting a call that did not return
** its outputs.  0, or vf_call_run's nonzero value. */
int vf_call_try(const struct vf_ctx *x, struct vf_call *c, const char *note, struct vf_result *r)
{
	char why[256];
	int rc = vf_call_run(x, c, why, sizeof why);

	if (rc != 0) {
		r->timed_out = rc == VF_TIMED_OUT;
		snprintf(r->detail, sizeof r->detail, "%s%s %s", cg_op_names[c->op], note, why);
	}
	return rc;
}

int vf_call_run(const struct vf_ctx *x, struct vf_call *c, char *why, size_t why_len)
{
	size_t j;
	int i;

	for (i = 0; i < c->n_out; i++) {
		if (!c->sig.in_out)
			vf_buf_fill_nan(&c->out[i]);
		else
			for (j = 0; j < c->out[i].n; j++)
				vf_buf_set(&c->out[i], j, ldexp((double)c->out_num[i][j], -c->frac));
	}
	return vf_run(x, c->op, &c->a, why, why_len);
}
