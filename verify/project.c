/* project.c: exact random projections of whole tensors modulo the prime
** P = 2^61 - 1, so that a layer of millions of outputs is checked without
** the full convolution.  r is separable, r[a,b,c,d] = f0[a] f1[b] f2[c] f3[d],
** which lets r . op(inputs) be summed one axis at a time: it costs about
** (tensor size) x (kernel width) multiplications instead of (outputs) x
** (C/G k1 k2).  Integers map to F_P exactly (|values| < P), so two integer
** tensors that differ make r . (difference) a nonzero polynomial of degree
** 4 in the factors, zero with probability <= 4/P (Schwartz-Zippel).
**
** The vf_proj_* functions are the exact references projected, derived by
** moving r through the formulas of docs/math.md (adjoint, separable sums).
** The vf_fd_* functions serve the finite-difference check, which must use
** no gradient formula: they form the forward op of a direction (a direct
** 2-D cross-correlation, output plane by output plane) and pair it with d.
**
** Tensors are read one channel plane at a time (a few for --layout nhwc,
** whose planes are strided: a block of them is read in one pass), never
** whole, so the extra memory is a few planes. */
#include <stdlib.h>
#include <string.h>
#include "vf.h"

#define MP VF_PRIME
#define NONE ((size_t)-1)

/* x mod P for any 128-bit x: 2^61 = 1 mod P, so x's 61-bit digits add. */
static uint64_t fold(vf_u128 x)
{
	uint64_t s = (uint64_t)(x & MP) + (uint64_t)(x >> 61 & MP) + (uint64_t)(x >> 122);

	s = (s & MP) + (s >> 61);
	return s >= MP ? s - MP : s;
}

static uint64_t add(uint64_t a, uint64_t b)
{
	uint64_t s = a + b;
	return s >= MP ? s - MP : s;
}

uint64_t vf_mod_mul(uint64_t a, uint64_t b)
{
	return fold((vf_u128)a * b);
}

uint64_t vf_mod_int(int64_t v)
{
	uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;

	u = (u & MP) + (u >> 61);
	if (u >= MP)
		u -= MP;
	return v < 0 && u ? MP - u : u;
}

/* sum x[i sx] y[i sy], i < n: 64 products of values below 2^61 fit 128 bits
** before a fold. */
static uint64_t dot(const uint64_t *x, size_t sx, const uint64_t *y, size_t sy, size_t n)
{
	uint64_t s = 0;
	size_t i0, i;

	for (i0 = 0; i0 < n; i0 += 64) {
		size_t m = n - i0 < 64 ? n - i0 : 64;
		vf_u128 acc = 0;
		for (i = i0; i < i0 + m; i++)
			acc += (vf_u128)x[i * sx] * y[i * sy];
		s = add(s, fold(acc));
	}
	return s;
}

static uint64_t sum(const uint64_t *x, size_t n)
{
	vf_u128 acc = 0;   /* a plane holds < 2^31 values below 2^61: no overflow */
	size_t i;

	for (i = 0; i < n; i++)
		acc += x[i];
	return fold(acc);
}

/* The outputs o in [lo, hi) (of no) whose tap t reads inside [0, ext):
** 0 <= o s + t d - p < ext.  Padding is what falls outside. */
static void span(long no, long s, long d, long p, long t, long ext, long *lo, long *hi)
{
	long base = t * d - p;   /* what output 0 reads */
	long a = base >= 0 ? 0 : (-base + s - 1) / s;
	long b = ext - base <= 0 ? 0 : (ext - base + s - 1) / s;

	if (b > no)
		b = no;
	*lo = a;
	*hi = b > a ? b : a;
}

/* ---- reading a tensor as A x C planes of np values mod P */
struct planes {
	const struct vf_buf *b, *mask;   /* mask: where it is <= 0 (or NaN), the value reads 0 */
	size_t A, C, np, nb;             /* nb planes per block */
	uint64_t *blk;
	size_t a, c0;                    /* the block held: planes c0.. of a; a == NONE: none */
	double lim;                      /* values must be integers in (-lim, lim) */
	size_t bad;                      /* the least math index that was not, or NONE */
};

/* v mod P as an integer in [0, P), when v is an integer in (-lim, lim) (not NaN). */
static inline int to_mod(double v, double lim, uint64_t *o)
{
	int64_t iv;

	if (v > -lim && v < lim && (double)(iv = (int64_t)v) == v) {
		/* |iv| < P, the usual case, without a branch on the sign: random signs mispredict */
		*o = iv > -(int64_t)MP && iv < (int64_t)MP ? (uint64_t)iv + (MP & (uint64_t)(iv >> 63)) : vf_mod_int(iv);
		return 1;
	}
	*o = 0;
	return 0;
}

/* n values of pl->b from storage index 'start' on, contiguous, into o; the
** math index of value i is m0 + i, named if it offends. */
static void run_values(struct planes *pl, size_t start, size_t n, uint64_t *o, size_t m0)
{
	size_t i;

	if (pl->b->elem == sizeof(float)) {
		const float *x = (const float *)pl->b->data + start;
		for (i = 0; i < n; i++)
			if (!to_mod(x[i], pl->lim, &o[i]) && m0 + i < pl->bad)
				pl->bad = m0 + i;
	} else {
		const double *x = (const double *)pl->b->data + start;
		for (i = 0; i < n; i++)
			if (!to_mod(x[i], pl->lim, &o[i]) && m0 + i < pl->bad)
				pl->bad = m0 + i;
	}
}

/* o[i] = 0 where the mask's value i from 'start' on is <= 0 or NaN (an and,
** not a branch: signs are random). */
static void run_mask(const struct vf_buf *m, size_t start, size_t n, uint64_t *o)
{
	size_t i;

	if (m->elem == sizeof(float)) {
		const float *x = (const float *)m->data + start;
		for (i = 0; i < n; i++)
			o[i] &= 0 - (uint64_t)(x[i] > 0);
	} else {
		const double *x = (const double *)m->data + start;
		for (i = 0; i < n; i++)
			o[i] &= 0 - (uint64_t)(x[i] > 0);
	}
}

/* Planes c0 .. c0+nb-1 of sample a from interleaved storage: the values of
** one position are contiguous.  One loop over all positions: runs of nb are
** too short for a call each. */
static void interleaved_values(struct planes *pl, size_t a, size_t c0, size_t nb)
{
	size_t np = pl->np, C = pl->C, p, i, m;
	uint64_t *o = pl->blk;

	for (p = 0; p < np; p++)
		for (i = 0; i < nb; i++) {
			size_t at = (a * np + p) * C + c0 + i;
			double v = pl->b->elem == sizeof(float) ? ((const float *)pl->b->data)[at]
			                                        : ((const double *)pl->b->data)[at];
			if (!to_mod(v, pl->lim, &o[i * np + p]) && (m = (a * C + c0 + i) * np + p) < pl->bad)
				pl->bad = m;
		}
}

/* The mask of those planes, likewise. */
static void interleaved_mask(struct planes *pl, size_t a, size_t c0, size_t nb)
{
	size_t np = pl->np, C = pl->C, p, i;

	for (p = 0; p < np; p++)
		for (i = 0; i < nb; i++) {
			size_t at = (a * np + p) * C + c0 + i;
			double m = pl->mask->elem == sizeof(float) ? ((const float *)pl->mask->data)[at]
			                                           : ((const double *)pl->mask->data)[at];
			pl->blk[i * np + p] &= 0 - (uint64_t)(m > 0);
		}
}

/* Channels last with more than one channel: the planes are interleaved
** (run.c's place()).  One channel is the same as channels first. */
static int interleaved(const struct vf_buf *b)
{
	return b->cl_c > 1;
}

static int planes_open(struct planes *pl, const struct vf_buf *b, const struct vf_buf *mask,
                       size_t A, size_t C, size_t np, int limit_log2)
{
	/* Interleaved planes are read a block at a time, in one pass over the
	** sample: up to 2^22 values (32 MB) cut the passes by nb, and 16 float
	** channels read a whole cache line per position.  Contiguous planes gain
	** nothing from it: small blocks, for fewer calls. */
	size_t budget = interleaved(b) || (mask && interleaved(mask)) ? (size_t)1 << 22 : (size_t)1 << 16;

	memset(pl, 0, sizeof *pl);
	if (b->n != A * C * np || (mask && mask->n != b->n))
		return -1;   /* not this tensor: a caller's bug */
	if ((interleaved(b) && (b->cl_c != C || b->cl_p != np)) ||
	    (mask && interleaved(mask) && (mask->cl_c != C || mask->cl_p != np)))
		return -1;
	pl->b = b, pl->mask = mask;
	pl->A = A, pl->C = C, pl->np = np;
	pl->nb = budget / np;
	if (pl->nb > C)
		pl->nb = C;
	if (pl->nb < 1)
		pl->nb = 1;
	pl->a = NONE;
	pl->bad = NONE;
	pl->lim = limit_log2 >= 63 ? 0x1p63 : (double)((uint64_t)1 << (limit_log2 < 0 ? 0 : limit_log2));
	pl->blk = malloc(pl->nb * np * sizeof *pl->blk);
	return pl->blk ? 0 : -1;
}

static void planes_close(struct planes *pl)
{
	free(pl->blk);
	pl->blk = NULL;
}

/* The values of plane (a, c) mod P; an offending value reads 0 and sets pl->bad.
** Every read is a contiguous run of the buffer: a plane, or for interleaved
** planes the block's channels at one position. */
static const uint64_t *plane(struct planes *pl, size_t a, size_t c)
{
	size_t c0 = c / pl->nb * pl->nb, nb = pl->C - c0 < pl->nb ? pl->C - c0 : pl->nb, np = pl->np, i;

	if (pl->a != a || pl->c0 != c0) {
		if (!interleaved(pl->b))
			for (i = 0; i < nb; i++)
				run_values(pl, (a * pl->C + c0 + i) * np, np, pl->blk + i * np, (a * pl->C + c0 + i) * np);
		else
			interleaved_values(pl, a, c0, nb);
		if (pl->mask && !interleaved(pl->mask))
			for (i = 0; i < nb; i++)
				run_mask(pl->mask, (a * pl->C + c0 + i) * np, np, pl->blk + i * np);
		else if (pl->mask)
			interleaved_mask(pl, a, c0, nb);
		pl->a = a, pl->c0 = c0;
	}
	return pl->blk + (c - c0) * np;
}

/* Tensor t's math layout as A x C planes of np (docs/math.md). */
static void shape(const struct cg_layer *l, enum vf_tensor t, size_t d[4])
{
	size_t s[VF_N_TENSORS][4] = {
		{ (size_t)l->n, (size_t)l->c, (size_t)l->h, (size_t)l->w },
		{ (size_t)l->k, (size_t)(l->c / l->g), (size_t)l->k1, (size_t)l->k2 },
		{ (size_t)l->k, 1, 1, 1 },
		{ (size_t)l->n, (size_t)l->k, (size_t)l->oh, (size_t)l->ow },
	};
	memcpy(d, s[t], sizeof s[t]);
}

static int open_t(struct planes *pl, const struct cg_layer *l, enum vf_tensor t,
                  const struct vf_buf *b, const struct vf_buf *mask)
{
	size_t d[4];

	shape(l, t, d);
	return planes_open(pl, b, mask, d[0], d[1], d[2] * d[3], 63);
}

/* ---- separable vectors */
int vf_sep_draw(struct vf_sep *s, const struct cg_layer *l, enum vf_tensor t, struct vf_rng *rng)
{
	size_t i, j;

	memset(s, 0, sizeof *s);
	shape(l, t, s->len);
	for (i = 0; i < 4; i++) {
		if (!(s->f[i] = malloc(s->len[i] * sizeof *s->f[i]))) {
			vf_sep_free(s);
			return -1;
		}
		for (j = 0; j < s->len[i]; j++) {
			uint64_t v;
			do   /* 61 uniform bits, P itself rejected: uniform on [0, P) */
				v = vf_rng_next(rng) & MP;
			while (v == MP);
			s->f[i][j] = v;
		}
	}
	return 0;
}

void vf_sep_free(struct vf_sep *s)
{
	int i;

	for (i = 0; i < 4; i++)
		free(s->f[i]);
	memset(s, 0, sizeof *s);
}

int vf_proj_buf(const struct vf_buf *b, const struct vf_sep *r, int limit_log2, uint64_t *out, size_t *bad)
{
	size_t a, c, y, n2 = r->len[2], n3 = r->len[3];
	uint64_t total = 0;
	struct planes pl;

	if (planes_open(&pl, b, NULL, r->len[0], r->len[1], n2 * n3, limit_log2) != 0)
		return -1;
	for (a = 0; a < r->len[0]; a++) {
		uint64_t sa = 0;
		for (c = 0; c < r->len[1]; c++) {
			const uint64_t *x = plane(&pl, a, c);
			uint64_t sp = 0;
			if (pl.bad != NONE) {   /* the least offending index: earlier blocks held none */
				*bad = pl.bad;
				planes_close(&pl);
				return 1;
			}
			for (y = 0; y < n2; y++)
				sp = add(sp, vf_mod_mul(r->f[2][y], dot(r->f[3], 1, x + y * n3, 1, n3)));
			sa = add(sa, vf_mod_mul(r->f[1][c], sp));
		}
		total = add(total, vf_mod_mul(r->f[0][a], sa));
	}
	planes_close(&pl);
	*out = total;
	return 0;
}

/* ---- the exact references, projected */

/* r = a[n] b[k] g[i] d[j] over Y.  Moving r through Y's formula:
** r.Y = (sum a)(sum g)(sum d) sum_k b[k] bias[k]
**     + sum_{k,c,m,q} b[k] W[k,c,m,q] T[g(k) C/G + c][m][q],
** T[ch][m][q] = sum_n a[n] sum_i g[i] R[y(i,m)][q], R[h][q] = sum_j d[j] I[n,ch,h,x(j,q)]:
** a pass over each plane (H OW k2), a small one over R (OH k1 k2), then W. */
int vf_proj_forward(const struct cg_layer *l, const struct vf_buf *I, const struct vf_buf *W,
                    const struct vf_buf *b, const struct vf_sep *r, uint64_t *out)
{
	long cg = l->c / l->g, kg = l->k / l->g, kk = (long)l->k1 * l->k2, n, ch, h, m, q, k, c, lo, hi;
	uint64_t *T = calloc((size_t)l->c * kk, sizeof *T), *R = malloc((size_t)l->h * l->k2 * sizeof *R);
	const uint64_t *fa = r->f[0], *fb = r->f[1], *fg = r->f[2], *fd = r->f[3];
	uint64_t total = 0;
	struct planes pi, pw, pb;
	int rc = -1;

	memset(&pi, 0, sizeof pi), memset(&pw, 0, sizeof pw), memset(&pb, 0, sizeof pb);
	if (!T || !R || open_t(&pi, l, VF_I, I, NULL) || open_t(&pw, l, VF_W, W, NULL) ||
	    (b && open_t(&pb, l, VF_B, b, NULL)))
		goto done;
	for (n = 0; n < l->n; n++)
	for (ch = 0; ch < l->c; ch++) {
		const uint64_t *x = plane(&pi, (size_t)n, (size_t)ch);
		for (q = 0; q < l->k2; q++) {
			span(l->ow, l->sw, l->dw, l->pw, q, l->w, &lo, &hi);
			for (h = 0; h < l->h; h++)   /* (no pointer is formed for an empty span) */
				R[h * l->k2 + q] = hi == lo ? 0 : dot(fd + lo, 1, x + (h * l->w + lo * l->sw + q * l->dw - l->pw),
				                                      (size_t)l->sw, (size_t)(hi - lo));
		}
		for (m = 0; m < l->k1; m++) {
			span(l->oh, l->sh, l->dh, l->ph, m, l->h, &lo, &hi);
			for (q = 0; q < l->k2; q++) {
				uint64_t s = hi == lo ? 0 : dot(fg + lo, 1, R + ((lo * l->sh + m * l->dh - l->ph) * l->k2 + q),
				                                (size_t)(l->sh * l->k2), (size_t)(hi - lo));
				uint64_t *t = &T[ch * kk + m * l->k2 + q];
				*t = add(*t, vf_mod_mul(fa[n], s));
			}
		}
	}
	for (k = 0; k < l->k; k++) {
		uint64_t acc = 0;
		for (c = 0; c < cg; c++)
			acc = add(acc, dot(plane(&pw, (size_t)k, (size_t)c), 1, T + (k / kg * cg + c) * kk, 1, (size_t)kk));
		total = add(total, vf_mod_mul(fb[k], acc));
	}
	if (b) {
		uint64_t sb = 0, scale = vf_mod_mul(vf_mod_mul(sum(fa, (size_t)l->n), sum(fg, (size_t)l->oh)),
		                                    sum(fd, (size_t)l->ow));
		for (k = 0; k < l->k; k++)
			sb = add(sb, vf_mod_mul(fb[k], plane(&pb, (size_t)k, 0)[0]));
		total = add(total, vf_mod_mul(scale, sb));
	}
	*out = total;
	rc = 0;
done:
	planes_close(&pi), planes_close(&pw), planes_close(&pb);
	free(T), free(R);
	return rc;
}

/* r = r_n r_c r_h r_w over I.  Every term W[k,c,m,q] dY[n,k,i,j] of dI lands on
** (n, g(k) C/G + c, y(i,m), x(j,q)), so r.dI = sum_{k,c,m,q} W[k,c,m,q]
** r_c[g(k) C/G + c] U[k][m][q], U[k][m][q] = sum_n r_n[n] sum_i r_h[y(i,m)]
** V[i][q], V[i][q] = sum_j r_w[x(j,q)] dY[n,k,i,j] (taps outside the input
** add nothing). */
int vf_proj_grad_input(const struct cg_layer *l, const struct vf_buf *W, const struct vf_buf *dY,
                       const struct vf_buf *mask, const struct vf_sep *r, uint64_t *out)
{
	long cg = l->c / l->g, kg = l->k / l->g, kk = (long)l->k1 * l->k2, n, i, m, q, k, c, lo, hi;
	uint64_t *U = calloc((size_t)l->k * kk, sizeof *U), *V = malloc((size_t)l->oh * l->k2 * sizeof *V);
	const uint64_t *fn = r->f[0], *fc = r->f[1], *fh = r->f[2], *fw = r->f[3];
	uint64_t total = 0;
	struct planes pd, pw;
	int rc = -1;

	memset(&pd, 0, sizeof pd), memset(&pw, 0, sizeof pw);
	if (!U || !V || open_t(&pd, l, VF_Y, dY, mask) || open_t(&pw, l, VF_W, W, NULL))
		goto done;
	for (n = 0; n < l->n; n++)
	for (k = 0; k < l->k; k++) {
		const uint64_t *y = plane(&pd, (size_t)n, (size_t)k);
		for (q = 0; q < l->k2; q++) {
			span(l->ow, l->sw, l->dw, l->pw, q, l->w, &lo, &hi);
			for (i = 0; i < l->oh; i++)
				V[i * l->k2 + q] = hi == lo ? 0 : dot(fw + (lo * l->sw + q * l->dw - l->pw), (size_t)l->sw,
				                                      y + (i * l->ow + lo), 1, (size_t)(hi - lo));
		}
		for (m = 0; m < l->k1; m++) {
			span(l->oh, l->sh, l->dh, l->ph, m, l->h, &lo, &hi);
			for (q = 0; q < l->k2; q++) {
				uint64_t s = hi == lo ? 0 : dot(fh + (lo * l->sh + m * l->dh - l->ph), (size_t)l->sh,
				                                V + (lo * l->k2 + q), (size_t)l->k2, (size_t)(hi - lo));
				uint64_t *u = &U[k * kk + m * l->k2 + q];
				*u = add(*u, vf_mod_mul(fn[n], s));
			}
		}
	}
	for (k = 0; k < l->k; k++)
		for (c = 0; c < cg; c++)
			total = add(total, vf_mod_mul(fc[k / kg * cg + c],
			                              dot(plane(&pw, (size_t)k, (size_t)c), 1, U + k * kk, 1, (size_t)kk)));
	*out = total;
	rc = 0;
done:
	planes_close(&pd), planes_close(&pw);
	free(U), free(V);
	return rc;
}

/* z[i] += f x[i], i < n */
static void axpy(uint64_t *z, uint64_t f, const uint64_t *x, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		z[i] = add(z[i], vf_mod_mul(f, x[i]));
}

/* r = a[k] b[c] g[m] d[q] over W.  r.dW = sum_{n,k,i,j} a[k] dY[n,k,i,j] Z[n,i,j]
** with, per group, J[h][w] = sum_c b[c] I[n, g C/G + c, h, w] (channels first),
** Jh[h][j] = sum_q d[q] J[h][x(j,q)] (then columns), Z[i][j] = sum_m g[m] Jh[y(i,m)][j]
** (then rows): (C + G (k1 + k2) + K) H W per sample. */
int vf_proj_grad_weight(const struct cg_layer *l, const struct vf_buf *I, const struct vf_buf *dY,
                        const struct vf_buf *mask, const struct vf_sep *r, uint64_t *out)
{
	long cg = l->c / l->g, kg = l->k / l->g, n, grp, c, k, h, i, j, m, q, lo, hi;
	size_t hw = (size_t)l->h * l->w, how = (size_t)l->h * l->ow, ohw = (size_t)l->oh * l->ow;
	uint64_t *J = malloc(hw * sizeof *J), *Jh = malloc(how * sizeof *Jh), *Z = malloc(ohw * sizeof *Z);
	const uint64_t *fa = r->f[0], *fb = r->f[1], *fg = r->f[2], *fd = r->f[3];
	uint64_t total = 0;
	struct planes pi, pd;
	int rc = -1;

	memset(&pi, 0, sizeof pi), memset(&pd, 0, sizeof pd);
	if (!J || !Jh || !Z || open_t(&pi, l, VF_I, I, NULL) || open_t(&pd, l, VF_Y, dY, mask))
		goto done;
	for (n = 0; n < l->n; n++)
	for (grp = 0; grp < l->g; grp++) {
		memset(J, 0, hw * sizeof *J);
		for (c = 0; c < cg; c++)
			axpy(J, fb[c], plane(&pi, (size_t)n, (size_t)(grp * cg + c)), hw);
		memset(Jh, 0, how * sizeof *Jh);
		for (q = 0; q < l->k2; q++) {
			span(l->ow, l->sw, l->dw, l->pw, q, l->w, &lo, &hi);
			for (h = 0; h < l->h; h++) {
				long base = h * l->w + q * l->dw - l->pw;   /* may be < 0: j >= lo is inside */
				for (j = lo; j < hi; j++)
					Jh[h * l->ow + j] = add(Jh[h * l->ow + j], vf_mod_mul(fd[q], J[base + j * l->sw]));
			}
		}
		memset(Z, 0, ohw * sizeof *Z);
		for (m = 0; m < l->k1; m++) {
			span(l->oh, l->sh, l->dh, l->ph, m, l->h, &lo, &hi);
			for (i = lo; i < hi; i++)
				axpy(Z + i * l->ow, fg[m], Jh + (i * l->sh + m * l->dh - l->ph) * l->ow, (size_t)l->ow);
		}
		for (k = grp * kg; k < (grp + 1) * kg; k++)
			total = add(total, vf_mod_mul(fa[k], dot(plane(&pd, (size_t)n, (size_t)k), 1, Z, 1, ohw)));
	}
	*out = total;
	rc = 0;
done:
	planes_close(&pi), planes_close(&pd);
	free(J), free(Jh), free(Z);
	return rc;
}

/* r[k] = f0[k] f1[0] f2[0] f3[0] over b; r.db = sum_k r[k] sum_{n,i,j} dY. */
int vf_proj_grad_bias(const struct cg_layer *l, const struct vf_buf *dY, const struct vf_buf *mask,
                      const struct vf_sep *r, uint64_t *out)
{
	size_t ohw = (size_t)l->oh * l->ow;
	uint64_t total = 0, s = vf_mod_mul(vf_mod_mul(r->f[1][0], r->f[2][0]), r->f[3][0]);
	struct planes pd;
	long n, k;

	if (open_t(&pd, l, VF_Y, dY, mask) != 0)
		return -1;
	for (n = 0; n < l->n; n++)
		for (k = 0; k < l->k; k++)
			total = add(total, vf_mod_mul(r->f[0][k], sum(plane(&pd, (size_t)n, (size_t)k), ohw)));
	planes_close(&pd);
	*out = vf_mod_mul(s, total);
	return 0;
}

/* ---- forward-shaped oracles of the finite-difference check */

/* Z += the one-channel cross-correlation of plane x (H x W, zero outside) with
** kern (k1 x k2), output by output as docs/math.md writes Y.  acc: OW sums
** of up to 63 products below 2^122, folded before they could overflow. */
static void correlate(const struct cg_layer *l, const uint64_t *x, const uint64_t *kern, uint64_t *Z,
                      vf_u128 *acc, const long *lo, const long *hi)
{
	long i, m, q, j;

	for (i = 0; i < l->oh; i++) {
		int cnt = 0;
		memset(acc, 0, (size_t)l->ow * sizeof *acc);
		for (m = 0; m < l->k1; m++) {
			long y = i * l->sh + m * l->dh - l->ph;
			if (y < 0 || y >= l->h)
				continue;
			for (q = 0; q < l->k2; q++) {
				uint64_t f = kern[m * l->k2 + q];
				long base = y * l->w + q * l->dw - l->pw;   /* may be < 0: j >= lo[q] is inside */
				for (j = lo[q]; j < hi[q]; j++)
					acc[j] += (vf_u128)f * x[base + j * l->sw];
				if (++cnt == 63) {
					for (j = 0; j < l->ow; j++)
						acc[j] = fold(acc[j]);
					cnt = 0;
				}
			}
		}
		for (j = 0; j < l->ow; j++)
			Z[i * l->ow + j] = add(Z[i * l->ow + j], fold(acc[j]));
	}
}

/* Per tap q, the output columns [lo[q], hi[q]) that read inside the input. */
static int column_spans(const struct cg_layer *l, long **lo, long **hi)
{
	long q;

	*lo = malloc((size_t)l->k2 * sizeof **lo);
	*hi = malloc((size_t)l->k2 * sizeof **hi);
	if (!*lo || !*hi)
		return -1;
	for (q = 0; q < l->k2; q++)
		span(l->ow, l->sw, l->dw, l->pw, q, l->w, &(*lo)[q], &(*hi)[q]);
	return 0;
}

/* forward(I, v)[n,k,i,j] = a[k] Z[n,i,j], Z the cross-correlation of I's
** group with the kernel b[c] g[m] d[q]: formed plane by plane, then paired with d. */
int vf_fd_weight(const struct cg_layer *l, const struct vf_buf *I, const struct vf_buf *d,
                 const struct vf_sep *v, uint64_t *out)
{
	long cg = l->c / l->g, kg = l->k / l->g, kk = (long)l->k1 * l->k2, n, grp, c, k, t;
	size_t ohw = (size_t)l->oh * l->ow;
	uint64_t *Z = malloc(ohw * sizeof *Z), *kern = malloc((size_t)kk * sizeof *kern), total = 0;
	vf_u128 *acc = malloc((size_t)l->ow * sizeof *acc);
	long *lo = NULL, *hi = NULL;
	struct planes pi, pd;
	int rc = -1;

	memset(&pi, 0, sizeof pi), memset(&pd, 0, sizeof pd);
	if (!Z || !kern || !acc || column_spans(l, &lo, &hi) || open_t(&pi, l, VF_I, I, NULL) ||
	    open_t(&pd, l, VF_Y, d, NULL))
		goto done;
	for (n = 0; n < l->n; n++)
	for (grp = 0; grp < l->g; grp++) {
		memset(Z, 0, ohw * sizeof *Z);
		for (c = 0; c < cg; c++) {
			for (t = 0; t < kk; t++)
				kern[t] = vf_mod_mul(v->f[1][c], vf_mod_mul(v->f[2][t / l->k2], v->f[3][t % l->k2]));
			correlate(l, plane(&pi, (size_t)n, (size_t)(grp * cg + c)), kern, Z, acc, lo, hi);
		}
		for (k = grp * kg; k < (grp + 1) * kg; k++)
			total = add(total, vf_mod_mul(v->f[0][k], dot(plane(&pd, (size_t)n, (size_t)k), 1, Z, 1, ohw)));
	}
	*out = total;
	rc = 0;
done:
	planes_close(&pi), planes_close(&pd);
	free(Z), free(kern), free(acc), free(lo), free(hi);
	return rc;
}

/* forward(v, W)[n,k,i,j] = r_n[n] F_k[i,j]: F_k the cross-correlation of the
** plane r_h[y] r_w[x] with Wb[m,q] = sum_c r_c[g C/G + c] W[k,c,m,q]. */
int vf_fd_input(const struct cg_layer *l, const struct vf_buf *W, const struct vf_buf *d,
                const struct vf_sep *v, uint64_t *out)
{
	long cg = l->c / l->g, kg = l->k / l->g, kk = (long)l->k1 * l->k2, n, c, k, y, x;
	size_t ohw = (size_t)l->oh * l->ow;
	uint64_t *F = malloc(ohw * sizeof *F), *Wb = malloc((size_t)kk * sizeof *Wb), total = 0;
	uint64_t *X = malloc((size_t)l->h * l->w * sizeof *X);
	vf_u128 *acc = malloc((size_t)l->ow * sizeof *acc);
	long *lo = NULL, *hi = NULL;
	struct planes pw, pd;
	int rc = -1;

	memset(&pw, 0, sizeof pw), memset(&pd, 0, sizeof pd);
	if (!F || !Wb || !X || !acc || column_spans(l, &lo, &hi) || open_t(&pw, l, VF_W, W, NULL) ||
	    open_t(&pd, l, VF_Y, d, NULL))
		goto done;
	for (y = 0; y < l->h; y++)
		for (x = 0; x < l->w; x++)
			X[y * l->w + x] = vf_mod_mul(v->f[2][y], v->f[3][x]);
	for (k = 0; k < l->k; k++) {
		memset(Wb, 0, (size_t)kk * sizeof *Wb);
		for (c = 0; c < cg; c++)
			axpy(Wb, v->f[1][k / kg * cg + c], plane(&pw, (size_t)k, (size_t)c), (size_t)kk);
		memset(F, 0, ohw * sizeof *F);
		correlate(l, X, Wb, F, acc, lo, hi);
		for (n = 0; n < l->n; n++)
			total = add(total, vf_mod_mul(v->f[0][n], dot(plane(&pd, (size_t)n, (size_t)k), 1, F, 1, ohw)));
	}
	*out = total;
	rc = 0;
done:
	planes_close(&pw), planes_close(&pd);
	free(F), free(Wb), free(X), free(acc), free(lo), free(hi);
	return rc;
}

/* forward(0, 0, v)[n,k,i,j] = v[k]: the bias broadcast, paired with d. */
int vf_fd_bias(const struct cg_layer *l, const struct vf_buf *d, const struct vf_sep *v, uint64_t *out)
{
	size_t ohw = (size_t)l->oh * l->ow;
	uint64_t total = 0, s = vf_mod_mul(vf_mod_mul(v->f[1][0], v->f[2][0]), v->f[3][0]);
	struct planes pd;
	long n, k;

	if (open_t(&pd, l, VF_Y, d, NULL) != 0)
		return -1;
	for (n = 0; n < l->n; n++)
		for (k = 0; k < l->k; k++)
			total = add(total, vf_mod_mul(vf_mod_mul(v->f[0][k], s), sum(plane(&pd, (size_t)n, (size_t)k), ohw)));
	planes_close(&pd);
	*out = total;
	return 0;
}
