/* reference.c: docs/math.md transcribed a second time, independently of
** gen/lua/, in exact integer arithmetic.  Each output is a gather over the
** index set of its formula; beside the value it records sum |a_i*b_i| and the
** number of terms, which rounding.c's error bound needs.
**
** Bound: every numerator is below 2^31 in magnitude (vf_exact_magnitude and
** rounding.c choose them so) and so is b_scale, so a term is below 2^62; an
** output has fewer than 2^31 terms (counts are capped at INT_MAX by the
** parser), so |v| and s stay below 2^93, far inside 128 bits: no overflow. */
#include <stdlib.h>
#include "vf.h"

#define ABS128(t) ((vf_u128)((t) < 0 ? -(t) : (t)))

static void add(struct vf_exact *e, int64_t a, int64_t b)
{
	vf_i128 t = (vf_i128)a * b;

	e->v += t;
	e->s += ABS128(t);
	e->n++;
}

/* Y[n,k,i,j] = b[k] + sum_c sum_m sum_q I[n, g*(C/G)+c, i*sh+m*dh-ph, j*sw+q*dw-pw] * W[k,c,m,q],
** I being 0 outside [0,H) x [0,W): such terms are skipped, they add an exact zero. */
void vf_ref_forward(const struct cg_layer *l, const int64_t *I, const int64_t *W,
                    const int64_t *b, int64_t b_scale, struct vf_exact *Y)
{
	long cg = l->c / l->g, kg = l->k / l->g;
	long n, k, i, j, c, m, q;

	for (n = 0; n < l->n; n++)
	for (k = 0; k < l->k; k++)
	for (i = 0; i < l->oh; i++)
	for (j = 0; j < l->ow; j++) {
		struct vf_exact *e = &Y[((n * l->k + k) * l->oh + i) * l->ow + j];
		long g = k / kg;

		e->v = 0, e->s = 0, e->n = 0;
		for (c = 0; c < cg; c++)
		for (m = 0; m < l->k1; m++) {
			long y = i * l->sh + m * l->dh - l->ph;
			if (y < 0 || y >= l->h)
				continue;
			for (q = 0; q < l->k2; q++) {
				long x = j * l->sw + q * l->dw - l->pw;
				if (x < 0 || x >= l->w)
					continue;
				add(e, I[((n * l->c + g * cg + c) * l->h + y) * l->w + x],
				    W[((k * cg + c) * l->k1 + m) * l->k2 + q]);
			}
		}
		if (b)
			add(e, b[k], b_scale);
	}
}

/* dW[k,c,m,q] = sum_n sum_i sum_j dY[n,k,i,j] * I[n, g*(C/G)+c, i*sh+m*dh-ph, j*sw+q*dw-pw] */
void vf_ref_grad_weight(const struct cg_layer *l, const int64_t *I, const int64_t *dY,
                        struct vf_exact *dW)
{
	long cg = l->c / l->g, kg = l->k / l->g;
	long n, k, i, j, c, m, q;

	for (k = 0; k < l->k; k++)
	for (c = 0; c < cg; c++)
	for (m = 0; m < l->k1; m++)
	for (q = 0; q < l->k2; q++) {
		struct vf_exact *e = &dW[((k * cg + c) * l->k1 + m) * l->k2 + q];
		long g = k / kg;

		e->v = 0, e->s = 0, e->n = 0;
		for (n = 0; n < l->n; n++)
		for (i = 0; i < l->oh; i++) {
			long y = i * l->sh + m * l->dh - l->ph;
			if (y < 0 || y >= l->h)
				continue;
			for (j = 0; j < l->ow; j++) {
				long x = j * l->sw + q * l->dw - l->pw;
				if (x < 0 || x >= l->w)
					continue;
				add(e, dY[((n * l->k + k) * l->oh + i) * l->ow + j],
				    I[((n * l->c + g * cg + c) * l->h + y) * l->w + x]);
			}
		}
	}
}

/* Solve o*s + t*d - p == z for the output index o, given the tap t: the
** constraint "i*sh + m*dh - ph = y" of docs/math.md's dI, read literally.
** Returns -1 when no o in [0, n_o) satisfies it. */
static long solve(long z, long t, long s, long d, long p, long n_o)
{
	long num = z + p - t * d;

	if (num < 0 || num % s != 0 || num / s >= n_o)
		return -1;
	return num / s;
}

/* dI[n, g*(C/G)+c, y, x] = sum over (k in group g, m, q, i, j) with i*sh + m*dh - ph = y
** and j*sw + q*dw - pw = x of dY[n,k,i,j] * W[k,c,m,q] */
void vf_ref_grad_input(const struct cg_layer *l, const int64_t *W, const int64_t *dY,
                       struct vf_exact *dI)
{
	long cg = l->c / l->g, kg = l->k / l->g;
	long n, ch, y, x, k, m, q;

	for (n = 0; n < l->n; n++)
	for (ch = 0; ch < l->c; ch++)
	for (y = 0; y < l->h; y++)
	for (x = 0; x < l->w; x++) {
		struct vf_exact *e = &dI[((n * l->c + ch) * l->h + y) * l->w + x];
		long g = ch / cg, c = ch % cg;

		e->v = 0, e->s = 0, e->n = 0;
		for (k = g * kg; k < (g + 1) * kg; k++)
		for (m = 0; m < l->k1; m++) {
			long i = solve(y, m, l->sh, l->dh, l->ph, l->oh);
			if (i < 0)
				continue;
			for (q = 0; q < l->k2; q++) {
				long j = solve(x, q, l->sw, l->dw, l->pw, l->ow);
				if (j < 0)
					continue;
				add(e, dY[((n * l->k + k) * l->oh + i) * l->ow + j],
				    W[((k * cg + c) * l->k1 + m) * l->k2 + q]);
			}
		}
	}
}

/* db[k] = sum_n sum_i sum_j dY[n,k,i,j]; 'scale' puts it in the units of the
** other ops' products (1 for integers, 2^f for numerators over 2^f). */
void vf_ref_grad_bias(const struct cg_layer *l, const int64_t *dY, int64_t scale,
                      struct vf_exact *db)
{
	long n, k, i, j;

	for (k = 0; k < l->k; k++) {
		struct vf_exact *e = &db[k];

		e->v = 0, e->s = 0, e->n = 0;
		for (n = 0; n < l->n; n++)
		for (i = 0; i < l->oh; i++)
		for (j = 0; j < l->ow; j++)
			add(e, dY[((n * l->k + k) * l->oh + i) * l->ow + j], scale);
	}
}

void vf_ref_relu(struct vf_exact *Y, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (Y[i].v < 0)
			Y[i].v = 0;   /* s and n stay: relu is 1-Lipschitz, so rounding.c's bound still holds */
}

void vf_ref_mask(const int64_t *Y, const int64_t *dY, size_t n, int64_t *out)
{
	size_t i;

	for (i = 0; i < n; i++)
		out[i] = Y[i] > 0 ? dY[i] : 0;
}

/* Bound: |P p_scale|, |V v_scale| < 2^62 and g below 2^93 (above), so every
** value below stays under 2^98. */
int vf_ref_sgd(const struct vf_exact *g, const int64_t *P, int64_t p_scale, const int64_t *V,
               int64_t v_scale, size_t n, struct vf_exact *P2, struct vf_exact *V2)
{
	int lr = VF_LR_LOG, mu = VF_MU_LOG, shift = V ? lr + mu : lr;
	size_t i;

	for (i = 0; i < n; i++) {
		vf_i128 p = (vf_i128)P[i] * p_scale;

		if (!V) {
			P2[i].v = p * ((vf_i128)1 << lr) - g[i].v;
			P2[i].s = ABS128(p) * ((vf_u128)1 << lr) + g[i].s;
			P2[i].n = g[i].n + 1;
		} else {
			vf_i128 v = (vf_i128)V[i] * v_scale;
			V2[i].v = v + g[i].v * ((vf_i128)1 << mu);
			V2[i].s = ABS128(v) + g[i].s * ((vf_u128)1 << mu);
			V2[i].n = g[i].n + 1;
			P2[i].v = p * ((vf_i128)1 << shift) - V2[i].v;
			P2[i].s = ABS128(p) * ((vf_u128)1 << shift) + V2[i].s;
			P2[i].n = g[i].n + 2;
		}
	}
	return shift;
}

int vf_ref_call(const struct vf_ctx *x, const struct vf_call *c, int64_t scale, struct vf_exact *e[],
                int shift[])
{
	const struct cg_layer *l = &x->l;
	const struct vf_sig *s = &c->sig;
	const int64_t *dy = s->dy >= 0 ? c->num[s->dy] : NULL;
	int64_t *masked = NULL;
	struct vf_exact *g = NULL;
	int i, mom = c->n_out > 2;

	for (i = 0; i < c->n_out; i++)
		shift[i] = 0;
	if (s->mask >= 0) {
		if (!(masked = malloc(x->size[VF_Y] * sizeof *masked)))
			return -1;
		vf_ref_mask(c->num[s->mask], dy, x->size[VF_Y], masked);
		dy = masked;
	}
	switch (c->op) {
	case CG_FORWARD:
		vf_ref_forward(l, c->num[0], c->num[1], c->a.in[2] ? c->num[2] : NULL, scale, e[0]);
		if (l->relu)
			vf_ref_relu(e[0], x->size[VF_Y]);
		break;
	case CG_GRAD_WEIGHT: vf_ref_grad_weight(l, c->num[0], dy, e[0]); break;
	case CG_GRAD_INPUT:  vf_ref_grad_input(l, c->num[0], dy, e[0]); break;
	case CG_GRAD_BIAS:   vf_ref_grad_bias(l, dy, scale, e[0]); break;
	default:
		if (!(g = malloc((x->size[VF_W] > x->size[VF_B] ? x->size[VF_W] : x->size[VF_B]) * sizeof *g)))
			break;
		vf_ref_grad_weight(l, c->num[0], dy, g);
		shift[0] = vf_ref_sgd(g, c->out_num[0], scale, mom ? c->out_num[2] : NULL, scale,
		                      x->size[VF_W], e[0], mom ? e[2] : NULL);
		if (mom)
			shift[2] = VF_MU_LOG;
		if (c->a.out[1]) {
			vf_ref_grad_bias(l, dy, scale, g);
			shift[1] = vf_ref_sgd(g, c->out_num[1], scale, mom ? c->out_num[3] : NULL, scale,
			                      x->size[VF_B], e[1], mom ? e[3] : NULL);
			if (mom)
				shift[3] = VF_MU_LOG;
		}
		break;
	}
	free(masked);
	if (c->op == CG_SGD_UPDATE && !g)
		return -1;
	free(g);
	return 0;
}
