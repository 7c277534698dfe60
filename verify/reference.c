/* reference.c: docs/math.md transcribed a second time, independently of
** gen/lua/, in exact integer arithmetic.  Each output is a gather over the
** index set of its formula; beside the value it records sum |a_i*b_i| and the
** number of terms, which rounding.c's error bound needs.  A formula is one
** function of one output: the whole-tensor functions loop over it, and
** vf_ref_one gives the rounding check a single output of a large layer,
** reading the inputs back from the arrays the code under test read.
**
** Bound: every numerator is below 2^31 in magnitude (vf_exact_magnitude and
** rounding.c choose them so) and so is b_scale, so a term is below 2^62; an
** output has fewer than 2^31 terms (counts are capped at INT_MAX by the
** parser), so |v| and s stay below 2^93, far inside 128 bits: no overflow. */
#include <math.h>
#include <stdlib.h>
#include "vf.h"

#define ABS128(t) ((vf_u128)((t) < 0 ? -(t) : (t)))

/* An output's sums while they are made, as 64-bit words: gcc keeps
** __int128 fields of a struct in memory, and a loop adding to them waits on
** its own stores (twice the time of this, measured). */
struct acc {
	uint64_t v_lo, v_hi;    /* v, two's complement */
	uint64_t s_lo, s_hi;
	int64_t n;
};

/* |a|, |b| < 2^31 (above): the product fits int64, and so does its magnitude. */
static inline void add(struct acc *e, int64_t a, int64_t b)
{
	int64_t t = a * b;
	uint64_t u = (uint64_t)(t < 0 ? -t : t);

	e->v_lo += (uint64_t)t;
	e->v_hi += -(uint64_t)(t < 0) + (e->v_lo < (uint64_t)t);   /* sign extension, carry */
	e->s_lo += u;
	e->s_hi += e->s_lo < u;
	e->n++;
}

static inline void finish(const struct acc *e, struct vf_exact *out)
{
	out->v = (vf_i128)((vf_u128)e->v_hi << 64 | e->v_lo);
	out->s = (vf_u128)e->s_hi << 64 | e->s_lo;
	out->n = e->n;
}

/* Where a formula reads an input's numerators.  Element (a, c, p) of a
** tensor seen as A x C x P (docs/math.md's order, P = rows x columns) is at
** a*sa + c*sc + p*sp: in an int64 array in docs/math.md's layout, or in the
** T buffer the code under test read, channels last or not.  There the value
** times 2^frac is the numerator, exactly (values are A / 2^frac), so a check
** need not keep 8 bytes of numerator beside every element.  Three strides
** cover both layouts without the divisions of run.c's place(). */
enum kind { NUM, FLT, DBL };   /* int64_t numerators, or float or double values */
struct src {
	const void *p;
	enum kind kind;
	double scale;           /* FLT, DBL: 2^frac */
	size_t sa, sc, sp;
};

static inline size_t idx(const struct src *s, long a, long c, long p)
{
	return (size_t)a * s->sa + (size_t)c * s->sc + (size_t)p * s->sp;
}

/* 'kind' is a constant wherever this is inlined (the bodies below are
** compiled once per kind), so the test costs nothing in the loops. */
static inline int64_t val(const struct src *s, enum kind kind, size_t i)
{
	if (kind == NUM)
		return ((const int64_t *)s->p)[i];
	if (kind == FLT)
		return (int64_t)((double)((const float *)s->p)[i] * s->scale);
	return (int64_t)(((const double *)s->p)[i] * s->scale);
}

static inline int64_t at(const struct src *s, enum kind kind, long a, long c, long p)
{
	return val(s, kind, idx(s, a, c, p));
}

/* dY's element i where it enters a formula: masked by [Y > 0] when 'mask'
** (Y, the same shape in the same layout) is given.  Without a branch: half
** of Y is 0, and a mispredicted branch on every term cost twice the time. */
static inline int64_t dy_val(const struct src *dy, const struct src *mask, enum kind kind, size_t i)
{
	int64_t d = val(dy, kind, i);

	return mask ? d & -(int64_t)(val(mask, kind, i) > 0) : d;
}

/* An int64 array of 'c_dim' channels of 'p_dim' elements each, in docs/math.md's layout. */
static struct src num_src(const int64_t *num, size_t c_dim, size_t p_dim)
{
	struct src s = { num, NUM, 1, c_dim * p_dim, p_dim, 1 };
	return s;
}

/* Each body below is one output of its formula.  The whole-tensor functions
** call them, and so does vf_ref_one, so the two cannot disagree.  A body is
** inlined into one function per kind (BY_KIND: the sources of one call are
** all of one kind), where 'kd' is a constant.  The loops over taps are
** outermost where the indices they solve for do not depend on the inner
** sum, so that the innermost loop only steps through memory. */
#define BODY static inline __attribute__((always_inline)) void
#define BY_KIND(kind, body, ...) do { \
	if ((kind) == NUM) body(__VA_ARGS__, NUM); \
	else if ((kind) == FLT) body(__VA_ARGS__, FLT); \
	else body(__VA_ARGS__, DBL); \
} while (0)

/* Y[n,k,i,j] = b[k] + sum_c sum_m sum_q I[n, g*(C/G)+c, i*sh+m*dh-ph, j*sw+q*dw-pw] * W[k,c,m,q],
** I being 0 outside [0,H) x [0,W): such terms are skipped, they add an exact zero. */
BODY forward_body(const struct cg_layer *l, const struct src *I, const struct src *W,
                  const struct src *b, int64_t b_scale, long n, long k, long i, long j,
                  struct vf_exact *out, enum kind kd)
{
	long cg = l->c / l->g, g = k / (l->k / l->g), c, m, q;
	size_t isc = I->sc, wsc = W->sc;   /* from one c to the next */
	struct acc e = { 0, 0, 0, 0, 0 };

	/* The taps outside, c inside: y and x do not depend on c. */
	for (m = 0; m < l->k1; m++) {
		long y = i * l->sh + m * l->dh - l->ph;
		if (y < 0 || y >= l->h)
			continue;
		for (q = 0; q < l->k2; q++) {
			long x = j * l->sw + q * l->dw - l->pw;
			size_t s, t;
			if (x < 0 || x >= l->w)
				continue;
			s = idx(I, n, g * cg, y * l->w + x), t = idx(W, k, 0, m * l->k2 + q);
			for (c = 0; c < cg; c++, s += isc, t += wsc)
				add(&e, val(I, kd, s), val(W, kd, t));
		}
	}
	if (b)
		add(&e, at(b, kd, 0, k, 0), b_scale);
	finish(&e, out);
}

static void forward_one(const struct cg_layer *l, const struct src *I, const struct src *W,
                        const struct src *b, int64_t b_scale, long n, long k, long i, long j,
                        struct vf_exact *out)
{
	BY_KIND(I->kind, forward_body, l, I, W, b, b_scale, n, k, i, j, out);
}

void vf_ref_forward(const struct cg_layer *l, const int64_t *I, const int64_t *W,
                    const int64_t *b, int64_t b_scale, struct vf_exact *Y)
{
	struct src si = num_src(I, (size_t)l->c, (size_t)(l->h * l->w));
	struct src sw = num_src(W, (size_t)(l->c / l->g), (size_t)(l->k1 * l->k2));
	struct src sb = num_src(b, (size_t)l->k, 1);
	long n, k, i, j;

	for (n = 0; n < l->n; n++)
	for (k = 0; k < l->k; k++)
	for (i = 0; i < l->oh; i++)
	for (j = 0; j < l->ow; j++)
		forward_one(l, &si, &sw, b ? &sb : NULL, b_scale, n, k, i, j,
		            &Y[((n * l->k + k) * l->oh + i) * l->ow + j]);
}

/* dW[k,c,m,q] = sum_n sum_i sum_j dY[n,k,i,j] * I[n, g*(C/G)+c, i*sh+m*dh-ph, j*sw+q*dw-pw] */
BODY grad_weight_body(const struct cg_layer *l, const struct src *I, const struct src *dY,
                      const struct src *mask, long k, long c, long m, long q,
                      struct vf_exact *out, enum kind kd)
{
	long cg = l->c / l->g, g = k / (l->k / l->g), n, i, j, j0, j1;
	long x0 = q * l->dw - l->pw;
	size_t dsp = dY->sp, isp = I->sp * (size_t)l->sw;   /* from one j to the next */
	struct acc e = { 0, 0, 0, 0, 0 };

	/* The j whose x = j*sw + x0 is in [0, W), found once: j0 <= j < j1. */
	for (j0 = 0; j0 < l->ow && j0 * l->sw + x0 < 0; j0++)
		;
	for (j1 = j0; j1 < l->ow && j1 * l->sw + x0 < l->w; j1++)
		;
	for (n = 0; n < l->n; n++)
	for (i = 0; i < l->oh; i++) {
		long y = i * l->sh + m * l->dh - l->ph;
		size_t d, s;
		if (y < 0 || y >= l->h)
			continue;
		d = idx(dY, n, k, i * l->ow + j0), s = idx(I, n, g * cg + c, y * l->w + j0 * l->sw + x0);
		for (j = j0; j < j1; j++, d += dsp, s += isp)
			add(&e, dy_val(dY, mask, kd, d), val(I, kd, s));
	}
	finish(&e, out);
}

static void grad_weight_one(const struct cg_layer *l, const struct src *I, const struct src *dY,
                            const struct src *mask, long k, long c, long m, long q,
                            struct vf_exact *out)
{
	BY_KIND(I->kind, grad_weight_body, l, I, dY, mask, k, c, m, q, out);
}

void vf_ref_grad_weight(const struct cg_layer *l, const int64_t *I, const int64_t *dY,
                        struct vf_exact *dW)
{
	struct src si = num_src(I, (size_t)l->c, (size_t)(l->h * l->w));
	struct src sy = num_src(dY, (size_t)l->k, (size_t)(l->oh * l->ow));
	long cg = l->c / l->g, k, c, m, q;

	for (k = 0; k < l->k; k++)
	for (c = 0; c < cg; c++)
	for (m = 0; m < l->k1; m++)
	for (q = 0; q < l->k2; q++)
		grad_weight_one(l, &si, &sy, NULL, k, c, m, q, &dW[((k * cg + c) * l->k1 + m) * l->k2 + q]);
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
BODY grad_input_body(const struct cg_layer *l, const struct src *W, const struct src *dY,
                     const struct src *mask, long n, long ch, long y, long x,
                     struct vf_exact *out, enum kind kd)
{
	long cg = l->c / l->g, kg = l->k / l->g, g = ch / cg, c = ch % cg, k, m, q;
	size_t dsk = dY->sc, wsk = W->sa;   /* from one k to the next */
	struct acc e = { 0, 0, 0, 0, 0 };

	/* The taps outside, k inside: i and j do not depend on k. */
	for (m = 0; m < l->k1; m++) {
		long i = solve(y, m, l->sh, l->dh, l->ph, l->oh);
		if (i < 0)
			continue;
		for (q = 0; q < l->k2; q++) {
			long j = solve(x, q, l->sw, l->dw, l->pw, l->ow);
			size_t d, t;
			if (j < 0)
				continue;
			d = idx(dY, n, g * kg, i * l->ow + j), t = idx(W, g * kg, c, m * l->k2 + q);
			for (k = 0; k < kg; k++, d += dsk, t += wsk)
				add(&e, dy_val(dY, mask, kd, d), val(W, kd, t));
		}
	}
	finish(&e, out);
}

static void grad_input_one(const struct cg_layer *l, const struct src *W, const struct src *dY,
                           const struct src *mask, long n, long ch, long y, long x,
                           struct vf_exact *out)
{
	BY_KIND(W->kind, grad_input_body, l, W, dY, mask, n, ch, y, x, out);
}

void vf_ref_grad_input(const struct cg_layer *l, const int64_t *W, const int64_t *dY,
                       struct vf_exact *dI)
{
	struct src sw = num_src(W, (size_t)(l->c / l->g), (size_t)(l->k1 * l->k2));
	struct src sy = num_src(dY, (size_t)l->k, (size_t)(l->oh * l->ow));
	long n, ch, y, x;

	for (n = 0; n < l->n; n++)
	for (ch = 0; ch < l->c; ch++)
	for (y = 0; y < l->h; y++)
	for (x = 0; x < l->w; x++)
		grad_input_one(l, &sw, &sy, NULL, n, ch, y, x, &dI[((n * l->c + ch) * l->h + y) * l->w + x]);
}

/* db[k] = sum_n sum_i sum_j dY[n,k,i,j]; 'scale' puts it in the units of the
** other ops' products (1 for integers, 2^f for numerators over 2^f). */
BODY grad_bias_body(const struct cg_layer *l, const struct src *dY, const struct src *mask,
                    int64_t scale, long k, struct vf_exact *out, enum kind kd)
{
	long n, p;
	struct acc e = { 0, 0, 0, 0, 0 };

	for (n = 0; n < l->n; n++)
	for (p = 0; p < l->oh * l->ow; p++)
		add(&e, dy_val(dY, mask, kd, idx(dY, n, k, p)), scale);
	finish(&e, out);
}

static void grad_bias_one(const struct cg_layer *l, const struct src *dY, const struct src *mask,
                          int64_t scale, long k, struct vf_exact *out)
{
	BY_KIND(dY->kind, grad_bias_body, l, dY, mask, scale, k, out);
}

void vf_ref_grad_bias(const struct cg_layer *l, const int64_t *dY, int64_t scale,
                      struct vf_exact *db)
{
	struct src sy = num_src(dY, (size_t)l->k, (size_t)(l->oh * l->ow));
	long k;

	for (k = 0; k < l->k; k++)
		grad_bias_one(l, &sy, NULL, scale, k, &db[k]);
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

/* The shape of input i of c as A x C x P, and where its numerators are:
** c's int64 array if it kept one, else its T buffer. */
static struct src input_src(const struct vf_ctx *x, const struct vf_call *c, int i)
{
	const struct cg_layer *l = &x->l;
	const struct vf_buf *b = &c->in[i];
	size_t cd, pd;
	struct src s;

	switch (c->t[i]) {
	case VF_I: cd = (size_t)l->c; pd = (size_t)l->h * (size_t)l->w; break;
	case VF_W: cd = (size_t)(l->c / l->g); pd = (size_t)l->k1 * (size_t)l->k2; break;
	case VF_B: cd = (size_t)l->k; pd = 1; break;
	default:   cd = (size_t)l->k; pd = (size_t)l->oh * (size_t)l->ow; break;
	}
	s = num_src(c->num[i], cd, pd);
	if (c->num[i])
		return s;
	s.p = b->data;
	s.kind = b->elem == sizeof(float) ? FLT : DBL;
	s.scale = ldexp(1.0, c->frac);
	if (b->cl_c)   /* run.c's place(): (a*P + p)*C + c */
		s.sc = 1, s.sp = cd;
	return s;
}

int vf_ref_one(const struct vf_ctx *x, const struct vf_call *c, int64_t scale, int o, size_t k,
               struct vf_exact *e)
{
	const struct cg_layer *l = &x->l;
	const struct vf_sig *sg = &c->sig;
	struct src in[VF_MAX_IN];
	const struct src *dy, *mask;
	long a = (long)k, cg = l->c / l->g, taps = l->k1 * l->k2, px = l->oh * l->ow;
	struct vf_exact g, p2, v2;
	int i, mom = c->n_out > 2, shift;

	for (i = 0; i < c->n_in; i++)
		in[i] = input_src(x, c, i);
	dy = sg->dy >= 0 ? &in[sg->dy] : NULL;
	mask = sg->mask >= 0 ? &in[sg->mask] : NULL;
	switch (c->op) {
	case CG_FORWARD:
		forward_one(l, &in[0], &in[1], c->a.in[2] ? &in[2] : NULL, scale, a / px / l->k,
		            a / px % l->k, a / l->ow % l->oh, a % l->ow, e);
		if (l->relu)
			vf_ref_relu(e, 1);
		return 0;
	case CG_GRAD_WEIGHT:
		grad_weight_one(l, &in[0], dy, mask, a / taps / cg, a / taps % cg, a / l->k2 % l->k1,
		                a % l->k2, e);
		return 0;
	case CG_GRAD_INPUT:
		grad_input_one(l, &in[0], dy, mask, a / (l->h * l->w) / l->c, a / (l->h * l->w) % l->c,
		               a / l->w % l->h, a % l->w, e);
		return 0;
	case CG_GRAD_BIAS:
		grad_bias_one(l, dy, mask, scale, a, e);
		return 0;
	default:
		break;
	}
	/* sgd_update: arrays 0 and 2 (W', v') are the weight's, 1 and 3 the bias's. */
	if (o % 2 == 0)
		grad_weight_one(l, &in[0], dy, mask, a / taps / cg, a / taps % cg, a / l->k2 % l->k1,
		                a % l->k2, &g);
	else
		grad_bias_one(l, dy, mask, scale, a, &g);
	shift = vf_ref_sgd(&g, c->out_num[o % 2] + k, scale, mom ? c->out_num[o % 2 + 2] + k : NULL,
	                   scale, 1, &p2, &v2);
	*e = o < 2 ? p2 : v2;
	return o < 2 ? shift : VF_MU_LOG;
}
