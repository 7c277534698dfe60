/* bench/naive.c: the naive loops, written from docs/math.md's formulas: one
** loop per index, the padding as a bounds check, no blocking.  With
** NAIVE_STATIC defined the functions are static, so a file that includes this
** one and calls each once with a constant shape gets them specialized to it
** (bench/mcu/naive_fixed.c: the baseline of fixed-size code). */
#include "bench.h"

#ifdef NAIVE_STATIC
#define NAIVE static
#else
#define NAIVE
#endif

NAIVE void naive_forward(const struct shape *s, const float *x, const float *w, const float *b, float *y)
{
	int cg = s->c / s->g, kg = s->k / s->g, n, k, c, i, j, m, q;
	for (n = 0; n < s->n; n++)
		for (k = 0; k < s->k; k++)
			for (i = 0; i < s->oh; i++)
				for (j = 0; j < s->ow; j++) {
					float acc = b ? b[k] : 0;
					for (c = 0; c < cg; c++)
						for (m = 0; m < s->k1; m++)
							for (q = 0; q < s->k2; q++) {
								int yy = i * s->sh + m * s->dh - s->ph, xx = j * s->sw + q * s->dw - s->pw;
								if (yy < 0 || yy >= s->h || xx < 0 || xx >= s->w)
									continue;
								acc += x[((n * s->c + k / kg * cg + c) * s->h + yy) * s->w + xx] *
								       w[((k * cg + c) * s->k1 + m) * s->k2 + q];
							}
					y[((n * s->k + k) * s->oh + i) * s->ow + j] = acc;
				}
}

NAIVE void naive_grad_weight(const struct shape *s, const float *x, const float *dy, float *dw)
{
	int cg = s->c / s->g, kg = s->k / s->g, n, k, c, i, j, m, q;
	for (k = 0; k < s->k; k++)
		for (c = 0; c < cg; c++)
			for (m = 0; m < s->k1; m++)
				for (q = 0; q < s->k2; q++) {
					float acc = 0;
					for (n = 0; n < s->n; n++)
						for (i = 0; i < s->oh; i++)
							for (j = 0; j < s->ow; j++) {
								int yy = i * s->sh + m * s->dh - s->ph, xx = j * s->sw + q * s->dw - s->pw;
								if (yy < 0 || yy >= s->h || xx < 0 || xx >= s->w)
									continue;
								acc += dy[((n * s->k + k) * s->oh + i) * s->ow + j] *
								       x[((n * s->c + k / kg * cg + c) * s->h + yy) * s->w + xx];
							}
					dw[((k * cg + c) * s->k1 + m) * s->k2 + q] = acc;
				}
}

NAIVE void naive_grad_input(const struct shape *s, const float *w, const float *dy, float *dx)
{
	int cg = s->c / s->g, kg = s->k / s->g, n, k, c, i, j, m, q, yy, xx;
	for (n = 0; n < s->n; n++)
		for (c = 0; c < s->c; c++)
			for (yy = 0; yy < s->h; yy++)
				for (xx = 0; xx < s->w; xx++) {
					int g = c / cg;
					float acc = 0;
					for (k = g * kg; k < (g + 1) * kg; k++)
						for (m = 0; m < s->k1; m++)
							for (q = 0; q < s->k2; q++) {
								int ti = yy + s->ph - m * s->dh, tj = xx + s->pw - q * s->dw;
								if (ti < 0 || tj < 0 || ti % s->sh || tj % s->sw)
									continue;
								i = ti / s->sh;
								j = tj / s->sw;
								if (i >= s->oh || j >= s->ow)
									continue;
								acc += dy[((n * s->k + k) * s->oh + i) * s->ow + j] *
								       w[((k * cg + c % cg) * s->k1 + m) * s->k2 + q];
							}
					dx[((n * s->c + c) * s->h + yy) * s->w + xx] = acc;
				}
}

NAIVE void naive_grad_bias(const struct shape *s, const float *dy, float *db)
{
	int n, k, p;
	for (k = 0; k < s->k; k++) {
		float acc = 0;
		for (n = 0; n < s->n; n++)
			for (p = 0; p < s->oh * s->ow; p++)
				acc += dy[(n * s->k + k) * s->oh * s->ow + p];
		db[k] = acc;
	}
}
