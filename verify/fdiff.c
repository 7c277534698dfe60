/* fdiff.c: the finite-difference check, an oracle that uses no gradient
** formula.  With Y our own exact forward and L = 1/2 ||Y - T||^2, T = Y - d,
** the generated gradient of L is the op applied to dY = d.  L is a polynomial
** of degree 2 in each of W, I, b, so the central difference along v,
** (L(x+v) - L(x-v)) / 2, equals <dL/dx, v> exactly (docs/math.md, "Why the checks are exact
** that scale").  Everything is an integer; no tolerance.
**
** Per coordinate (v = each unit vector) names the wrong coordinate; it costs
** two forward passes per coordinate, so it runs when |x| * (multiply-adds of
** one forward) <= VF_FD_BUDGET, or with --exhaustive.  Otherwise t random
** directions with coordinates uniform in {0..2^s-1}: a wrong gradient g'
** makes v -> <g' - g, v> a nonzero linear form, which vanishes with
** probability <= 2^-s per direction, so P(a wrong gradient passes) <= 2^-st. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "vf.h"

#define VF_FD_BUDGET (1u << 28)   /* multiply-adds: ~0.3 s of int64 loops, the 64x64 3x3 input in full */
#define FD_CAP 8                  /* inputs in [-2^8, 2^8]: plenty to tell gradients apart */
#define DIR_BITS 20               /* s */
#define N_DIRS 4                  /* t: 2^-80 <= 2^-64 */

/* Y = forward(I, W, b) in int64, docs/math.md again, fast: this runs
** 2 t or 2 |x| times.  The caller bounds every |partial sum| below 2^62. */
static void forward_i64(const struct cg_layer *l, const int64_t *I, const int64_t *W,
                        const int64_t *b, int64_t *Y)
{
	long cg = l->c / l->g, kg = l->k / l->g;
	long n, k, i, j, c, m, q;

	for (n = 0; n < l->n; n++)
	for (k = 0; k < l->k; k++) {
		const int64_t *Ig = I + (n * l->c + k / kg * cg) * l->h * l->w;
		const int64_t *Wk = W + k * cg * l->k1 * l->k2;
		int64_t *Yk = Y + (n * l->k + k) * l->oh * l->ow;

		for (i = 0; i < l->oh; i++)
		for (j = 0; j < l->ow; j++) {
			int64_t acc = b[k];
			for (c = 0; c < cg; c++)
			for (m = 0; m < l->k1; m++) {
				long y = i * l->sh + m * l->dh - l->ph;
				const int64_t *row, *wrow;
				if (y < 0 || y >= l->h)
					continue;
				row = Ig + (c * l->h + y) * l->w;
				wrow = Wk + (c * l->k1 + m) * l->k2;
				for (q = 0; q < l->k2; q++) {
					long x = j * l->sw + q * l->dw - l->pw;
					if (x >= 0 && x < l->w)
						acc += row[x] * wrow[q];
				}
			}
			Yk[i * l->ow + j] = acc;
		}
	}
}

/* 4 * (L(x+v) - L(x-v)) / 2 = sum (Y+ - Y-)(Y+ + Y- - 2T), T = Y - d: the
** central difference times 4.  The 128-bit sums are checked: -1 on overflow. */
static int loss_diff4(const int64_t *yp, const int64_t *ym, const int64_t *y, const int64_t *d,
                      size_t n, vf_i128 *out)
{
	vf_i128 acc = 0, t, u, p;
	size_t i;

	for (i = 0; i < n; i++) {
		t = (vf_i128)yp[i] - ym[i];
		u = (vf_i128)yp[i] + ym[i] - 2 * ((vf_i128)y[i] - d[i]);
		if (__builtin_mul_overflow(t, u, &p) || __builtin_add_overflow(acc, p, &acc))
			return -1;
	}
	*out = acc;
	return 0;
}

struct fd {
	const struct vf_ctx *x;
	int64_t *t[VF_N_TENSORS];   /* I, W, b, d */
	int64_t *y, *yp, *ym;
	enum vf_tensor p;           /* the tensor differentiated */
	int64_t *g;                 /* the generated gradient, as integers */
};

/* The exact central difference of L along v (in place: x +- v, restored). */
static int central(struct fd *f, const int64_t *v, size_t only, vf_i128 *cd)
{
	const struct cg_layer *l = &f->x->l;
	int64_t *p = f->t[f->p];
	size_t n = f->x->size[f->p], i, lo = v ? 0 : only, hi = v ? n : only + 1;
	vf_i128 q4;

	for (i = lo; i < hi; i++) p[i] += v ? v[i] : 1;
	forward_i64(l, f->t[VF_I], f->t[VF_W], f->t[VF_B], f->yp);
	for (i = lo; i < hi; i++) p[i] -= 2 * (v ? v[i] : 1);
	forward_i64(l, f->t[VF_I], f->t[VF_W], f->t[VF_B], f->ym);
	for (i = lo; i < hi; i++) p[i] += v ? v[i] : 1;
	if (loss_diff4(f->yp, f->ym, f->y, f->t[VF_Y], f->x->size[VF_Y], &q4) != 0 || q4 % 4 != 0)
		return -1;   /* q4 = 4 <Dv, d> for an affine forward: never */
	*cd = q4 / 4;
	return 0;
}

/* The generated gradient must be integral (the exact one is): convert it. */
static int integral(struct fd *f, enum cg_op op, const struct vf_buf *out, struct vf_result *r)
{
	char where[96], cv[48];
	size_t i;

	for (i = 0; i < out->n; i++) {
		double v = vf_buf_get(out, i);
		if (v >= -9.0e18 && v <= 9.0e18 && v == floor(v)) {   /* false for NaN */
			f->g[i] = (int64_t)v;
			continue;
		}
		vf_coord(&f->x->l, vf_op_output(op), i, where, sizeof where);
		vf_fmt_value(v, cv, sizeof cv);
		snprintf(r->detail, sizeof r->detail, "%s[%s]: computed %s, not an integer as the exact "
		         "gradient is", cg_op_names[op], where, cv);
		snprintf(r->where, sizeof r->where, "%s", where);
		snprintf(r->computed, sizeof r->computed, "%s", cv);
		r->n_wrong = 1;
		return -1;
	}
	return 0;
}

static int per_coordinate(struct fd *f, enum cg_op op, struct vf_result *r)
{
	char where[96], ev[48], cv[48];
	size_t i;
	vf_i128 cd;

	for (i = 0; i < f->x->size[f->p]; i++) {
		vf_progress((long long)i, (long long)f->x->size[f->p], "coordinates");
		if (central(f, NULL, i, &cd) != 0)
			return -1;
		if (cd == f->g[i])
			continue;
		if (r->n_wrong++ == 0) {
			vf_coord(&f->x->l, f->p, i, where, sizeof where);
			vf_fmt_i128(cd, ev, sizeof ev);
			vf_fmt_i128(f->g[i], cv, sizeof cv);
			snprintf(r->detail, sizeof r->detail, "%s[%s]: expected %s (central difference), "
			         "computed %s", cg_op_names[op], where, ev, cv);
			snprintf(r->where, sizeof r->where, "%s", where);
			snprintf(r->expected, sizeof r->expected, "%s", ev);
			snprintf(r->computed, sizeof r->computed, "%s", cv);
		}
	}
	if (r->n_wrong > 1) {
		size_t k = strlen(r->detail);
		snprintf(r->detail + k, sizeof r->detail - k, " (%lld of %zu coordinates wrong)",
		         r->n_wrong, f->x->size[f->p]);
	}
	return 0;
}

static int directional(struct fd *f, enum cg_op op, struct vf_rng *rng, struct vf_result *r)
{
	size_t n = f->x->size[f->p], i;
	int64_t *v = malloc(n * sizeof *v);
	char ev[48], cv[48];
	vf_i128 cd, dot, p;
	int t, rc = 0;

	if (!v)
		return -1;
	for (t = 0; t < N_DIRS && rc == 0; t++) {
		vf_progress(t, N_DIRS, "directions");
		for (i = 0; i < n; i++)
			v[i] = (int64_t)(vf_rng_next(rng) >> (64 - DIR_BITS));
		dot = 0;
		for (i = 0; i < n && rc == 0; i++)
			if (__builtin_mul_overflow((vf_i128)f->g[i], (vf_i128)v[i], &p) ||
			    __builtin_add_overflow(dot, p, &dot))
				rc = -1;
		if (rc == 0 && central(f, v, 0, &cd) != 0)
			rc = -1;
		if (rc == 0 && cd != dot && r->n_wrong++ == 0) {
			vf_fmt_i128(cd, ev, sizeof ev);
			vf_fmt_i128(dot, cv, sizeof cv);
			snprintf(r->detail, sizeof r->detail, "%s, direction %d of %d: expected <g,v> = %s "
			         "(central difference), computed <g',v> = %s", cg_op_names[op], t + 1,
			         N_DIRS, ev, cv);
			r->bad_direction = t + 1;
			snprintf(r->expected, sizeof r->expected, "%s", ev);
			snprintf(r->computed, sizeof r->computed, "%s", cv);
		}
	}
	if (r->n_wrong > 1) {
		size_t k = strlen(r->detail);
		snprintf(r->detail + k, sizeof r->detail - k, " (%lld of %d directions wrong)",
		         r->n_wrong, N_DIRS);
	}
	free(v);
	return rc;
}

int vf_check_fdiff(const struct vf_ctx *x, enum cg_op op, struct vf_result *r)
{
	static const enum vf_tensor wrt[CG_N_OPS] = { VF_Y, VF_W, VF_I, VF_B };
	const struct cg_layer *l = &x->l;
	int a = vf_exact_magnitude(x, op), i, rc = -1;
	int64_t one;
	double cost = (double)x->size[VF_Y] * (l->c / l->g) * l->k1 * l->k2;
	struct fd f;
	struct vf_call c;
	struct vf_rng rng;
	char why[256];

	memset(&f, 0, sizeof f);
	f.x = x;
	f.p = wrt[op];
	if (a < 0) {
		r->applicable = 0;
		snprintf(r->detail, sizeof r->detail, "not applicable: the generated %s cannot be exact "
		         "in %s even with inputs in {-1,0,1}", cg_op_names[op], x->p == 24 ? "float" : "double");
		return 0;
	}
	if (a > FD_CAP)
		a = FD_CAP;
	r->magnitude_exp = a;
	/* Bound for forward_i64: with the perturbed tensor below 2^a + 2^s and the
	** others below 2^a, |partial sums of Y+-| <= (C/G) k1 k2 (2^a + 2^s) 2^a + 2^a + 2^s
	** < 2^31 2^21 2^8 + 2^22 < 2^61, as (C/G) k1 k2 < 2^31 and a <= 8: no int64 overflow. */
	if (vf_call_open(x, op, &c) != 0)
		return -1;
	for (i = 0; i < VF_N_TENSORS; i++)
		if (!(f.t[i] = calloc(x->size[i], sizeof(int64_t))))
			goto done;
	f.y = malloc(x->size[VF_Y] * sizeof *f.y);
	f.yp = malloc(x->size[VF_Y] * sizeof *f.yp);
	f.ym = malloc(x->size[VF_Y] * sizeof *f.ym);
	f.g = malloc(x->size[f.p] * sizeof *f.g);
	if (!f.y || !f.yp || !f.ym || !f.g)
		goto done;
	vf_rng_seed(&rng, x->seed, (unsigned)(op * VF_N_CHECKS + VF_FDIFF));
	one = (int64_t)1 << a;
	for (i = 0; i < VF_N_TENSORS; i++) {
		size_t j;
		for (j = 0; j < x->size[i]; j++)
			f.t[i][j] = vf_rng_range(&rng, -one, one);
	}
	/* The op gets the same I, W and d = dY that define L. */
	for (i = 0; i < c.n_in; i++) {
		size_t j;
		for (j = 0; j < x->size[c.t[i]]; j++) {
			c.num[i][j] = f.t[c.t[i]][j];
			vf_buf_set(&c.in[i], j, (double)c.num[i][j]);
		}
	}
	rc = 0;
	if ((i = vf_call_run(x, &c, why, sizeof why)) != 0) {
		r->timed_out = i == VF_TIMED_OUT;
		snprintf(r->detail, sizeof r->detail, "%s %s", cg_op_names[op], why);
		r->n_wrong = 1;
		goto done;
	}
	if (integral(&f, op, &c.out, r) != 0)
		goto done;
	forward_i64(l, f.t[VF_I], f.t[VF_W], f.t[VF_B], f.y);
	r->directional = !(x->exhaustive || cost * (double)x->size[f.p] <= (double)VF_FD_BUDGET);
	if (r->directional) {
		r->n_items = N_DIRS;
		r->dir_bits = DIR_BITS;
		r->dir_len = (long long)x->size[f.p];
		r->bound_exp = DIR_BITS * N_DIRS;
		rc = directional(&f, op, &rng, r);
	} else {
		r->n_items = (long long)x->size[f.p];
		rc = per_coordinate(&f, op, r);
	}
done:
	r->passed = rc == 0 && r->n_wrong == 0;
	for (i = 0; i < VF_N_TENSORS; i++)
		free(f.t[i]);
	free(f.y), free(f.yp), free(f.ym), free(f.g);
	vf_call_close(&c);
	return rc;
}
