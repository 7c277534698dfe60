/* fdiff.c: the finite-difference check, an oracle that uses no gradient
** formula.  With Y our own exact forward and L = 1/2 ||Y - T||^2, T = Y - d,
** the generated gradient of L is the op applied to dY = d.  L is a polynomial
** of degree 2 in each of W, I, b, so the central difference along v,
** (L(x+v) - L(x-v)) / 2, equals <dL/dx, v> exactly (docs/math.md, "Why the checks are exact
** that scale").  Everything is an integer; no tolerance.
**
** Per coordinate (v = each unit vector) names the wrong coordinate; it costs
** two forward passes per coordinate, so it runs when |x| * (multiply-adds of
** one forward) <= VF_FD_BUDGET, or with --exhaustive.  Otherwise random
** directions v, two kinds:
**
** Without a ReLU, for grad_weight, grad_input and grad_bias: Y is affine in
** x, so (L(x+v) - L(x-v)) / 2 = <d, Y(x+v) - Y(x)> = <d, D v>, D v the
** forward of the direction alone: forward(I, v) without bias for W,
** forward(v, W) without bias for I, v broadcast over Y for b.  That is an
** identity of integer polynomials, so it holds modulo the prime
** P = 2^61 - 1 too, for v over F_P.  SEP_DIRS separable v are drawn
** (project.c); <d, D v> is formed forward-shaped (vf_fd_*) and <g', v> from
** the op's output (vf_proj_buf), and they are compared mod P: the op runs
** once, and no full forward pass is computed.  g' must be integers below
** 2^24 (float) or 2^53 (double) in magnitude, as g is (its magnitude a
** keeps every sum of the op exact), so g' != g differs somewhere by less
** than 2^54 < P, not 0 mod P; <g' - g, v> is then a nonzero polynomial of
** degree 4 in v's factors (each coordinate its own monomial), zero with
** probability <= 4/P (Schwartz-Zippel): <= 16/P^2 < 2^-117 for both.
**
** With a ReLU, and for sgd_update: t directions with integer coordinates
** uniform in {0..2^s-1} and two integer forward passes each, as below: a
** wrong gradient g' makes v -> <g' - g, v> a nonzero linear form, which
** vanishes with probability <= 2^-s per direction, so P(a wrong gradient
** passes) <= 2^-st.
**
** --activation relu: Y = max(0, Z), Z = conv + b, and L is quadratic only
** where no Z changes sign (docs/math.md, "A fused ReLU and the SGD step").  W is drawn even and b odd, so
** every Z is odd, |Z| >= 1; the step is v / H with H a power of two above
** the most any Z moves along v, so H Z +- Dv keeps the sign of Z.  All in
** integers: H Z(x +- v/H) is forward() on the inputs scaled by H, the
** perturbed one moved by +-v, and the central difference is
** sum (Y+ - Y-)(Y+ + Y- - 2 H T) / (4 H) over the scaled outputs Y+-.  The
** signs are checked exactly at both ends (H doubles if one flips, which the
** bound says never happens); Z is affine along the step, so equal signs at
** the ends and the middle mean none crosses 0 between them and L is one
** quadratic on the whole step.  The op gets Y = max(0, Z) and dY = d.
**
** sgd_update writes no gradient: (W - W')/lr - momentum v is its dW, and
** (b - b')/lr - momentum v_b its db; both are differenced. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "vf.h"

#define VF_FD_BUDGET (1u << 28)   /* multiply-adds: ~0.3 s of int64 loops, the 64x64 3x3 input in full */
#define FD_CAP 8                  /* inputs in [-2^8, 2^8]: plenty to tell gradients apart */
#define DIR_BITS 20               /* s */
#define N_DIRS 4                  /* t: 2^-80 <= 2^-64 */
#define SEP_DIRS 2                /* separable directions over F_p: (4/p)^2 < 2^-117 */
#define SEP_BOUND 117

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
	int relu;
	int64_t *z;                 /* relu: Z at the base point, whose signs must hold */
	int64_t *sc[VF_B + 1];      /* relu: I, W, b scaled by h as the step 1/h needs */
	int64_t h;                  /* relu: the step is v / h */
	long long n_rescaled;       /* relu: how often a sign flipped and h doubled */
};

/* sc = the inputs that make forward() give h Z: p itself and b times h, and
** for W or I the other one of them times h too if p is b. */
static void rescale(struct fd *f)
{
	int i;
	size_t j;

	for (i = VF_I; i <= VF_B; i++) {
		int64_t m = i == (int)f->p || i == VF_B || (f->p == VF_B && i == VF_W) ? f->h : 1;
		for (j = 0; j < f->x->size[i]; j++)
			f->sc[i][j] = f->t[i][j] * m;
	}
}

/* Whether every output of y has the sign of z (Z is never 0 here). */
static int same_signs(const int64_t *y, const int64_t *z, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((y[i] > 0) != (z[i] > 0) || y[i] == 0)
			return 0;
	return 1;
}

static void relu(int64_t *y, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (y[i] < 0)
			y[i] = 0;
}

/* The relu central difference (the comment at the top), in place in sc. */
static int central_relu(struct fd *f, const int64_t *v, size_t only, vf_i128 *cd)
{
	const struct cg_layer *l = &f->x->l;
	size_t n = f->x->size[f->p], ny = f->x->size[VF_Y], i, lo = v ? 0 : only, hi = v ? n : only + 1;
	int64_t *p = f->sc[f->p];
	int tries;
	vf_i128 q4;

	for (tries = 0; ; tries++) {
		int ok;
		for (i = lo; i < hi; i++) p[i] += v ? v[i] : 1;
		forward_i64(l, f->sc[VF_I], f->sc[VF_W], f->sc[VF_B], f->yp);
		for (i = lo; i < hi; i++) p[i] -= 2 * (v ? v[i] : 1);
		forward_i64(l, f->sc[VF_I], f->sc[VF_W], f->sc[VF_B], f->ym);
		for (i = lo; i < hi; i++) p[i] += v ? v[i] : 1;
		ok = same_signs(f->yp, f->z, ny) && same_signs(f->ym, f->z, ny);
		if (ok)
			break;
		if (tries == 4 || f->h > ((int64_t)1 << 40))
			return -1;   /* the bound on h is wrong: a verifier bug */
		f->h *= 2;
		f->n_rescaled++;
		rescale(f);
	}
	relu(f->yp, ny);
	relu(f->ym, ny);
	/* 4 h^2 (L(x+v/h) - L(x-v/h)) / 2, with T = Y - d scaled by h as well. */
	{
		vf_i128 acc = 0, t, u, pr;
		for (i = 0; i < ny; i++) {
			t = (vf_i128)f->yp[i] - f->ym[i];
			u = (vf_i128)f->yp[i] + f->ym[i] - 2 * (vf_i128)f->h * ((vf_i128)f->y[i] - f->t[VF_Y][i]);
			if (__builtin_mul_overflow(t, u, &pr) || __builtin_add_overflow(acc, pr, &acc))
				return -1;
		}
		q4 = acc;
	}
	if (q4 % (4 * (vf_i128)f->h) != 0)
		return -1;   /* L is quadratic along the step: never */
	*cd = q4 / (4 * (vf_i128)f->h);
	return 0;
}

/* The exact central difference of L along v (in place: x +- v, restored). */
static int central(struct fd *f, const int64_t *v, size_t only, vf_i128 *cd)
{
	const struct cg_layer *l = &f->x->l;
	int64_t *p = f->t[f->p];
	size_t n = f->x->size[f->p], i, lo = v ? 0 : only, hi = v ? n : only + 1;
	vf_i128 q4;

	if (f->relu)
		return central_relu(f, v, only, cd);
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

/* relu: the least power of two above the most any Z moves along a step v
** (|v| < 2^s): each Z sums at most (C/G) k1 k2 products with one factor
** perturbed, so h > (C/G) k1 k2 2^a 2^s keeps every sign. */
static int64_t step_scale(const struct cg_layer *l, enum vf_tensor p, int a, int s)
{
	uint64_t n = (uint64_t)(l->c / l->g) * (uint64_t)l->k1 * (uint64_t)l->k2;
	uint64_t most = p == VF_B ? (uint64_t)1 << s : n << (a + s);
	int64_t h = 1;

	while ((uint64_t)h <= most)
		h *= 2;
	return h;
}

/* relu: whether magnitude a and steps below 2^s keep forward_i64 within
** int64 and central_relu's sums within 128 bits, with h up to twice
** step_scale's (one doubling; more is a verifier bug anyway):
** |sums| <= n 2^a (2h 2^a + 2^s) + 2h 2^a + 2^s =: B < 2^61, and
** n_Y (4 n 2^(a+s)) (4 B) < 2^125. */
static int relu_fits(const struct vf_ctx *x, int a, int s)
{
	const struct cg_layer *l = &x->l;
	long double n = (long double)(l->c / l->g) * l->k1 * l->k2, h = 0, b;
	int p;

	for (p = VF_I; p <= VF_B; p++) {
		long double hp = 2 * (long double)step_scale(l, (enum vf_tensor)p, a, s);
		if (hp > h)
			h = hp;
	}
	if (h > ldexpl(1, 41))
		return 0;
	b = n * ldexpl(1, a) * (h * ldexpl(1, a) + ldexpl(1, s)) + h * ldexpl(1, a) + ldexpl(1, s);
	return b < ldexpl(1, 61) &&
	       (long double)x->size[VF_Y] * 4 * n * ldexpl(1, a + s) * 4 * b < ldexpl(1, 125);
}

/* Directional without a ReLU (the comment at the top): the op once on I, W
** and d drawn as the other modes draw them, then SEP_DIRS separable
** directions v over F_p, <g', v> from its output and <d, D v> forward-shaped,
** compared mod p.  Nothing here holds a tensor beyond the call's own arrays. */
static int separable(const struct vf_ctx *x, enum cg_op op, enum vf_tensor p, int a, struct vf_result *r)
{
	const struct cg_layer *l = &x->l;
	int64_t one = (int64_t)1 << a;
	int in[VF_N_TENSORS], i, t, rc = -1;
	struct vf_sep v[SEP_DIRS];
	struct vf_call c;
	struct vf_rng rng;
	char where[96], ev[48], cv[48];

	memset(v, 0, sizeof v);
	if (vf_call_open(x, op, &c) != 0)
		return -1;
	for (t = 0; t < VF_N_TENSORS; t++)
		in[t] = -1;
	for (i = 0; i < c.n_in; i++)   /* no mask without a ReLU: Y is d, as dY */
		in[c.t[i]] = i;
	vf_rng_seed(&rng, x->seed, VF_STREAM(op, VF_FDIFF));
	for (t = 0; t < VF_N_TENSORS; t++) {   /* every tensor drawn, so the stream is the same */
		size_t j;
		for (j = 0; j < x->size[t]; j++) {
			int64_t val = vf_rng_range(&rng, -one, one);
			if (in[t] >= 0)
				vf_call_set(&c, in[t], j, val);
		}
	}
	rc = 0;
	if (vf_call_try(x, &c, "", r) != 0) {
		r->n_wrong = 1;
		goto done;
	}
	r->n_items = SEP_DIRS;
	r->separable = 1;
	r->dir_bits = 61;
	r->dir_len = (long long)x->size[p];
	r->bound_exp = SEP_BOUND;
	for (t = 0; t < SEP_DIRS && rc == 0; t++)
		rc = vf_sep_draw(&v[t], l, p, &rng);
	for (t = 0; t < SEP_DIRS && rc == 0; t++) {
		uint64_t dot, cd;
		size_t bad;
		vf_progress(t, SEP_DIRS, "directions");
		/* |g| < 2^p (the reference magnitude bounds it), so |g' - g| < 2^(p+1) < P:
		** a g' != g is nonzero mod P too. */
		i = vf_proj_buf(&c.out[0], &v[t], x->p, &dot, &bad);
		if (i == 1) {
			vf_coord(l, p, bad, where, sizeof where);
			vf_fmt_value(vf_buf_get(&c.out[0], bad), cv, sizeof cv);
			snprintf(r->detail, sizeof r->detail, "%s[%s]: computed %s, not an integer of magnitude "
			         "below 2^%d as the exact gradient is", cg_op_names[op], where, cv, x->p);
			snprintf(r->where, sizeof r->where, "%s", where);
			snprintf(r->computed, sizeof r->computed, "%s", cv);
			r->n_wrong = 1;
			break;
		}
		if (i == 0)
			i = op == CG_GRAD_WEIGHT ? vf_fd_weight(l, &c.in[in[VF_I]], &c.in[in[VF_Y]], &v[t], &cd)
			  : op == CG_GRAD_INPUT  ? vf_fd_input(l, &c.in[in[VF_W]], &c.in[in[VF_Y]], &v[t], &cd)
			  : vf_fd_bias(l, &c.in[in[VF_Y]], &v[t], &cd);
		if (i != 0) {
			rc = -1;
			break;
		}
		if (cd != dot && r->n_wrong++ == 0) {
			snprintf(ev, sizeof ev, "%llu", (unsigned long long)cd);
			snprintf(cv, sizeof cv, "%llu", (unsigned long long)dot);
			snprintf(r->detail, sizeof r->detail, "%s, direction %d of %d: expected <g,v> = %s "
			         "(mod p: <d, forward along v>), computed <g',v> = %s (mod p)", cg_op_names[op],
			         t + 1, SEP_DIRS, ev, cv);
			r->bad_direction = t + 1;
			snprintf(r->expected, sizeof r->expected, "%s", ev);
			snprintf(r->computed, sizeof r->computed, "%s", cv);
		}
	}
	if (r->n_wrong > 1) {
		size_t k = strlen(r->detail);
		snprintf(r->detail + k, sizeof r->detail - k, " (%lld of %d directions wrong)", r->n_wrong, SEP_DIRS);
	}
done:
	r->passed = rc == 0 && r->n_wrong == 0;
	for (t = 0; t < SEP_DIRS; t++)
		vf_sep_free(&v[t]);
	vf_call_close(&c);
	return rc;
}

/* Difference L along f->p and compare with f->g: per coordinate or along
** random directions, as r->directional says. */
static int difference(struct fd *f, enum cg_op op, struct vf_rng *rng, struct vf_result *r)
{
	if (f->relu) {
		f->h = step_scale(&f->x->l, f->p, r->magnitude_exp, r->directional ? DIR_BITS : 0);
		rescale(f);
	}
	return r->directional ? directional(f, op, rng, r) : per_coordinate(f, op, r);
}

/* sgd_update's implied gradient of parameter P (numerators, with velocity V
** or NULL) from P' = out: (P - P') 2^lr - V / 2^mu, which must be an integer. */
static int implied(struct fd *f, enum cg_op op, const int64_t *P, const int64_t *V,
                   const struct vf_buf *out, enum vf_tensor t, const char *name, struct vf_result *r)
{
	char where[96], cv[48];
	size_t i;

	for (i = 0; i < out->n; i++) {
		double pc = vf_buf_get(out, i);
		long double g = ldexpl((long double)P[i] - pc, VF_LR_LOG) - (V ? ldexpl((long double)V[i], -VF_MU_LOG) : 0);
		if (g >= -9.0e18L && g <= 9.0e18L && g == floorl(g)) {   /* false for NaN */
			f->g[i] = (int64_t)g;
			continue;
		}
		vf_coord(&f->x->l, t, i, where, sizeof where);
		vf_fmt_value(pc, cv, sizeof cv);
		snprintf(r->detail, sizeof r->detail, "%s %s[%s]: computed %s, so (%s - %s')/lr%s is not an "
		         "integer as the exact gradient is", cg_op_names[op], name, where, cv, t == VF_W ? "W" : "b",
		         t == VF_W ? "W" : "b", V ? " - momentum v" : "");
		snprintf(r->where, sizeof r->where, "%s", where);
		snprintf(r->computed, sizeof r->computed, "%s", cv);
		r->n_wrong = 1;
		return -1;
	}
	return 0;
}

int vf_check_fdiff(const struct vf_ctx *x, enum cg_op op, struct vf_result *r)
{
	static const enum vf_tensor wrt[CG_N_OPS] = { VF_Y, VF_W, VF_I, VF_B, VF_W };
	const struct cg_layer *l = &x->l;
	int a = vf_exact_magnitude(x, op), i, rc = -1, sgd = op == CG_SGD_UPDATE;
	int64_t one, *vel[2] = { NULL, NULL };
	double cost = (double)x->size[VF_Y] * (l->c / l->g) * l->k1 * l->k2;
	struct fd f;
	struct vf_call c;
	struct vf_rng rng;

	memset(&f, 0, sizeof f);
	f.x = x;
	f.p = wrt[op];
	f.relu = l->relu;
	r->momentum = l->momentum;
	if (a < 0 || (f.relu && vf_exact_magnitude(x, CG_FORWARD) < 0)) {
		r->applicable = 0;
		snprintf(r->detail, sizeof r->detail, "not applicable: the generated %s cannot be exact "
		         "in %s even with inputs in {-1,0,1}", cg_op_names[op], x->p == 24 ? "float" : "double");
		return 0;
	}
	if (a > FD_CAP)
		a = FD_CAP;
	r->directional = !(x->exhaustive || cost * (double)x->size[f.p] <= (double)VF_FD_BUDGET);
	if (f.relu) {
		/* Y = max(0, Z) goes to the op: it must be exact in T too. */
		if (a > vf_exact_magnitude(x, CG_FORWARD))
			a = vf_exact_magnitude(x, CG_FORWARD);
		while (a >= 0 && !relu_fits(x, a, r->directional ? DIR_BITS : 0))
			a--;
		if (a < 0) {
			r->applicable = 0;
			snprintf(r->detail, sizeof r->detail, "not applicable: steps that keep every sign of Z "
			         "overflow the 64-bit sums of this layer (%s)", cg_op_names[op]);
			return 0;
		}
	}
	r->magnitude_exp = a;
	if (r->directional && !f.relu && !sgd)
		return separable(x, op, f.p, a, r);
	/* Bound for forward_i64: with the perturbed tensor below 2^a + 2^s and the
	** others below 2^a, |partial sums of Y+-| <= (C/G) k1 k2 (2^a + 2^s) 2^a + 2^a + 2^s
	** < 2^31 2^21 2^8 + 2^22 < 2^61, as (C/G) k1 k2 < 2^31 and a <= 8: no int64 overflow.
	** relu: relu_fits. */
	if (vf_call_open(x, op, &c) != 0)
		return -1;
	for (i = 0; i < VF_N_TENSORS; i++)
		if (!(f.t[i] = calloc(x->size[i], sizeof(int64_t))))
			goto done;
	for (i = 0; f.relu && i <= VF_B; i++)
		if (!(f.sc[i] = calloc(x->size[i], sizeof(int64_t))))
			goto done;
	for (i = 0; i < 2; i++)
		if (!(vel[i] = calloc(x->size[i ? VF_B : VF_W], sizeof(int64_t))))
			goto done;
	f.y = malloc(x->size[VF_Y] * sizeof *f.y);
	f.yp = malloc(x->size[VF_Y] * sizeof *f.yp);
	f.ym = malloc(x->size[VF_Y] * sizeof *f.ym);
	f.z = malloc(x->size[VF_Y] * sizeof *f.z);
	f.g = malloc((x->size[f.p] > x->size[VF_B] ? x->size[f.p] : x->size[VF_B]) * sizeof *f.g);
	if (!f.y || !f.yp || !f.ym || !f.z || !f.g)
		goto done;
	vf_rng_seed(&rng, x->seed, VF_STREAM(op, VF_FDIFF));
	one = (int64_t)1 << a;
	for (i = 0; i < VF_N_TENSORS; i++) {
		size_t j;
		for (j = 0; j < x->size[i]; j++)
			f.t[i][j] = vf_rng_range(&rng, -one, one);
	}
	if (f.relu) {   /* W even, b odd: every Z odd, never 0 */
		size_t j;
		for (j = 0; j < x->size[VF_W]; j++)
			f.t[VF_W][j] = 2 * (f.t[VF_W][j] / 2);
		for (j = 0; j < x->size[VF_B]; j++)
			f.t[VF_B][j] = 2 * (f.t[VF_B][j] / 2) + (f.t[VF_B][j] > 0 ? -1 : 1);   /* odd, |b| < 2^a or 1 */
	}
	forward_i64(l, f.t[VF_I], f.t[VF_W], f.t[VF_B], f.z);
	memcpy(f.y, f.z, x->size[VF_Y] * sizeof *f.y);
	if (f.relu)
		relu(f.y, x->size[VF_Y]);
	if (sgd && l->momentum)
		for (i = 0; i < 2; i++) {
			size_t j;
			for (j = 0; j < x->size[i ? VF_B : VF_W]; j++)
				vel[i][j] = vf_rng_range(&rng, -one, one);
		}
	/* The op gets the same I, W and d = dY that define L, and Y = max(0, Z). */
	for (i = 0; i < c.n_in; i++) {
		size_t j;
		const int64_t *src = i == c.sig.mask ? f.y : f.t[c.t[i]];
		for (j = 0; j < x->size[c.t[i]]; j++)
			vf_call_set(&c, i, j, src[j]);
	}
	if (sgd) {   /* and sgd_update its parameters at the point where L is differenced */
		size_t j;
		for (i = 0; i < c.n_out; i++)
			for (j = 0; j < c.out[i].n; j++)
				vf_call_set(&c, c.n_in + i, j, i < 2 ? f.t[i ? VF_B : VF_W][j] : vel[i - 2][j]);
	}
	rc = 0;
	if (vf_call_try(x, &c, "", r) != 0) {
		r->n_wrong = 1;
		goto done;
	}
	if (sgd ? implied(&f, op, f.t[VF_W], l->momentum ? vel[0] : NULL, &c.out[0], VF_W, "weight", r) != 0
	        : integral(&f, op, &c.out[0], r) != 0)
		goto done;
	if (r->directional) {
		r->n_items = N_DIRS;
		r->dir_bits = DIR_BITS;
		r->dir_len = (long long)x->size[f.p];
		r->bound_exp = DIR_BITS * N_DIRS;
	} else
		r->n_items = (long long)x->size[f.p];
	rc = difference(&f, op, &rng, r);
	if (rc == 0 && sgd && r->n_wrong == 0) {   /* then the bias, the same way */
		f.p = VF_B;
		if (implied(&f, op, f.t[VF_B], l->momentum ? vel[1] : NULL, &c.out[1], VF_B, "bias", r) != 0)
			goto done;
		if (!r->directional)
			r->n_items += (long long)x->size[VF_B];
		rc = difference(&f, op, &rng, r);
	}
done:
	r->passed = rc == 0 && r->n_wrong == 0;
	for (i = 0; i < VF_N_TENSORS; i++)
		free(f.t[i]);
	for (i = 0; i <= VF_B; i++)
		free(f.sc[i]);
	free(vel[0]), free(vel[1]);
	free(f.y), free(f.yp), free(f.ym), free(f.z), free(f.g);
	vf_call_close(&c);
	return rc;
}
