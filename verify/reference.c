/* reference.c: docs/math.md transcribed a second time, independently of
** gen/lua/, in exact integer arithmetic.  Each output is a gather over the
** index set of its formula; beside the value it records sum |a_i*b_i| and the
** number of terms, which rounding.c's error bound needs.
**
** Bound: every numerator is below 2^31 in magnitude (vf_exact_magnitude and
** rounding.c choose them so) and so is b_scale, so a term is below 2^62; an
** output has fewer than 2^31 terms (counts are capped at INT_MAX by the
** parser), so |v| and s stay below 2^93, far inside 128 bits: no overflow. */
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
