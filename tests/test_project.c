/* test_project.c: verify/project.c against brute force.  Each projection is
** recomputed the slow way: the separable vector materialized element by
** element mod P, and reference.c's exact outputs (or, for the
** finite-difference oracles, reference.c's exact forward of the
** materialized direction) paired with it.  The layers cover what the index
** arithmetic must get right: groups, depthwise, stride, dilation, padding
** before and after, a batch, channels last, float and double, a 1-D layer. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../verify/vf.h"

#define RANGE 5   /* inputs in [-RANGE, RANGE] */

static void parse(const char *opts, struct cg_layer *l)
{
	char copy[1024], *argv[64], *save = NULL, *w, msg[256];
	struct cg_extra x;
	int argc = 0;

	strcpy(copy, opts);
	for (w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save))
		argv[argc++] = w;
	cr_assert_eq(cg_layer_parse(argc, argv, 0, l, &x, msg, sizeof msg), CG_EXIT_OK, "%s: %s", opts, msg);
}

static uint64_t mod128(vf_i128 v)
{
	vf_u128 u = v < 0 ? -(vf_u128)v : (vf_u128)v;
	uint64_t m = (uint64_t)(u % VF_PRIME);
	return v < 0 && m ? VF_PRIME - m : m;
}

/* r[i] for every index of its tensor, the slow way. */
static uint64_t *materialize(const struct vf_sep *r)
{
	size_t n = r->len[0] * r->len[1] * r->len[2] * r->len[3], i;
	uint64_t *v = malloc(n * sizeof *v);

	cr_assert(v);
	for (i = 0; i < n; i++) {
		size_t d = i % r->len[3], c = i / r->len[3] % r->len[2];
		size_t b = i / (r->len[3] * r->len[2]) % r->len[1], a = i / (r->len[3] * r->len[2] * r->len[1]);
		vf_u128 p = (vf_u128)r->f[0][a] * r->f[1][b] % VF_PRIME;
		p = p * r->f[2][c] % VF_PRIME;
		v[i] = (uint64_t)(p * r->f[3][d] % VF_PRIME);
	}
	return v;
}

/* sum r[i] e[i].v mod P */
static uint64_t pair(const uint64_t *r, const struct vf_exact *e, size_t n)
{
	vf_u128 s = 0;
	size_t i;

	for (i = 0; i < n; i++)
		s = (s + (vf_u128)r[i] * mod128(e[i].v)) % VF_PRIME;
	return (uint64_t)s;
}

/* A layer's tensors, as integers and as buffers of its dtype in the layout asked. */
struct setup {
	struct cg_layer l;
	size_t size[VF_N_TENSORS];
	int64_t *num[VF_N_TENSORS], *mask_num, *masked;   /* num[VF_Y]: dY; masked: dY [Y > 0] */
	struct vf_buf buf[VF_N_TENSORS], mask;
	struct vf_rng rng;
};

static void fill(struct setup *s, struct vf_buf *b, int64_t *num, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		num[i] = vf_rng_range(&s->rng, -RANGE, RANGE);
		vf_buf_set(b, i, (double)num[i]);
	}
}

static void open_setup(struct setup *s, const char *opts, int nhwc)
{
	size_t elem;
	int t;

	memset(s, 0, sizeof *s);
	parse(opts, &s->l);
	elem = s->l.dtype == CG_FLOAT ? sizeof(float) : sizeof(double);
	vf_rng_seed(&s->rng, 7, 0);
	for (t = 0; t < VF_N_TENSORS; t++) {
		s->size[t] = vf_tensor_size(&s->l, (enum vf_tensor)t);
		s->num[t] = malloc(s->size[t] * sizeof(int64_t));
		cr_assert(s->num[t]);
		cr_assert_eq(vf_buf_alloc(&s->buf[t], s->size[t], elem), 0);
		if (nhwc)
			vf_buf_channels_last(&s->buf[t], &s->l, (enum vf_tensor)t);
		fill(s, &s->buf[t], s->num[t], s->size[t]);
	}
	s->mask_num = malloc(s->size[VF_Y] * sizeof(int64_t));
	s->masked = malloc(s->size[VF_Y] * sizeof(int64_t));
	cr_assert(s->mask_num && s->masked);
	cr_assert_eq(vf_buf_alloc(&s->mask, s->size[VF_Y], elem), 0);
	if (nhwc)
		vf_buf_channels_last(&s->mask, &s->l, VF_Y);
	fill(s, &s->mask, s->mask_num, s->size[VF_Y]);
	vf_ref_mask(s->mask_num, s->num[VF_Y], s->size[VF_Y], s->masked);
}

static void close_setup(struct setup *s)
{
	int t;

	for (t = 0; t < VF_N_TENSORS; t++) {
		free(s->num[t]);
		vf_buf_free(&s->buf[t]);
	}
	free(s->mask_num), free(s->masked);
	vf_buf_free(&s->mask);
}

static struct vf_exact *exact(size_t n)
{
	struct vf_exact *e = calloc(n, sizeof *e);
	cr_assert(e);
	return e;
}

/* Every vf_proj_* against reference.c, with and without bias and mask. */
static void check_proj(struct setup *s, const char *what)
{
	const struct cg_layer *l = &s->l;
	struct vf_sep r;
	struct vf_exact *e;
	uint64_t *rv, got;
	int with;

	cr_assert_eq(vf_sep_draw(&r, l, VF_Y, &s->rng), 0);
	rv = materialize(&r);
	e = exact(s->size[VF_Y]);
	for (with = 0; with < 2; with++) {
		vf_ref_forward(l, s->num[VF_I], s->num[VF_W], with ? s->num[VF_B] : NULL, 1, e);
		cr_assert_eq(vf_proj_forward(l, &s->buf[VF_I], &s->buf[VF_W], with ? &s->buf[VF_B] : NULL, &r, &got), 0);
		cr_expect_eq(got, pair(rv, e, s->size[VF_Y]), "%s: forward%s", what, with ? "" : " without bias");
	}
	free(e), free(rv), vf_sep_free(&r);

	cr_assert_eq(vf_sep_draw(&r, l, VF_I, &s->rng), 0);
	rv = materialize(&r);
	e = exact(s->size[VF_I]);
	for (with = 0; with < 2; with++) {
		vf_ref_grad_input(l, s->num[VF_W], with ? s->masked : s->num[VF_Y], e);
		cr_assert_eq(vf_proj_grad_input(l, &s->buf[VF_W], &s->buf[VF_Y], with ? &s->mask : NULL, &r, &got), 0);
		cr_expect_eq(got, pair(rv, e, s->size[VF_I]), "%s: grad_input%s", what, with ? " masked" : "");
	}
	free(e), free(rv), vf_sep_free(&r);

	cr_assert_eq(vf_sep_draw(&r, l, VF_W, &s->rng), 0);
	rv = materialize(&r);
	e = exact(s->size[VF_W]);
	for (with = 0; with < 2; with++) {
		vf_ref_grad_weight(l, s->num[VF_I], with ? s->masked : s->num[VF_Y], e);
		cr_assert_eq(vf_proj_grad_weight(l, &s->buf[VF_I], &s->buf[VF_Y], with ? &s->mask : NULL, &r, &got), 0);
		cr_expect_eq(got, pair(rv, e, s->size[VF_W]), "%s: grad_weight%s", what, with ? " masked" : "");
	}
	free(e), free(rv), vf_sep_free(&r);

	cr_assert_eq(vf_sep_draw(&r, l, VF_B, &s->rng), 0);
	rv = materialize(&r);
	e = exact(s->size[VF_B]);
	for (with = 0; with < 2; with++) {
		vf_ref_grad_bias(l, with ? s->masked : s->num[VF_Y], 1, e);
		cr_assert_eq(vf_proj_grad_bias(l, &s->buf[VF_Y], with ? &s->mask : NULL, &r, &got), 0);
		cr_expect_eq(got, pair(rv, e, s->size[VF_B]), "%s: grad_bias%s", what, with ? " masked" : "");
	}
	free(e), free(rv), vf_sep_free(&r);
}

/* <d, forward along v> exactly, mod P, for v materialized in [0, P) over
** I (dir_is_i) or W: reference.c's forward takes numerators below 2^31, so v
** goes in as v_hi 2^31 + v_lo, both below 2^31, and forward is linear in it. */
static uint64_t forward_along(const struct setup *s, int dir_is_i, const uint64_t *vv, const uint64_t *d)
{
	size_t i, n = s->size[dir_is_i ? VF_I : VF_W];
	int64_t *lo = malloc((n ? n : 1) * sizeof *lo), *hi = malloc((n ? n : 1) * sizeof *hi);
	struct vf_exact *e = malloc(s->size[VF_Y] * sizeof *e + 1);
	uint64_t p_lo, p_hi;

	cr_assert(lo && hi && e);
	for (i = 0; i < n; i++) {
		lo[i] = (int64_t)(vv[i] & 0x7fffffffu);
		hi[i] = (int64_t)(vv[i] >> 31);
	}
	vf_ref_forward(&s->l, dir_is_i ? lo : s->num[VF_I], dir_is_i ? s->num[VF_W] : lo, NULL, 1, e);
	p_lo = pair(d, e, s->size[VF_Y]);
	vf_ref_forward(&s->l, dir_is_i ? hi : s->num[VF_I], dir_is_i ? s->num[VF_W] : hi, NULL, 1, e);
	p_hi = pair(d, e, s->size[VF_Y]);
	free(lo), free(hi), free(e);
	return (uint64_t)(((vf_u128)p_hi * ((uint64_t)1 << 31) + p_lo) % VF_PRIME);
}

/* Every vf_fd_* against reference.c's exact forward of the direction, paired with d. */
static void check_fd(struct setup *s, const char *what)
{
	const struct cg_layer *l = &s->l;
	struct vf_exact *e = exact(s->size[VF_Y]);
	uint64_t *ones = malloc(s->size[VF_Y] * sizeof *ones), got, *vv;
	int64_t *v, *zi = calloc(s->size[VF_I], sizeof *zi), *zw = calloc(s->size[VF_W], sizeof *zw);
	struct vf_sep sep;
	size_t i;

	cr_assert(ones && zi && zw);
	/* <d, Y> = sum d[i] Y[i]: d itself is the vector paired with */
	for (i = 0; i < s->size[VF_Y]; i++)
		ones[i] = vf_mod_int(s->num[VF_Y][i]);

	cr_assert_eq(vf_sep_draw(&sep, l, VF_W, &s->rng), 0);
	vv = materialize(&sep);
	cr_assert_eq(vf_fd_weight(l, &s->buf[VF_I], &s->buf[VF_Y], &sep, &got), 0);
	cr_expect_eq(got, forward_along(s, 0, vv, ones), "%s: fd_weight", what);
	free(vv), vf_sep_free(&sep);

	cr_assert_eq(vf_sep_draw(&sep, l, VF_I, &s->rng), 0);
	vv = materialize(&sep);
	cr_assert_eq(vf_fd_input(l, &s->buf[VF_W], &s->buf[VF_Y], &sep, &got), 0);
	cr_expect_eq(got, forward_along(s, 1, vv, ones), "%s: fd_input", what);
	free(vv), vf_sep_free(&sep);

	cr_assert_eq(vf_sep_draw(&sep, l, VF_B, &s->rng), 0);
	vv = materialize(&sep);
	v = malloc(s->size[VF_B] * sizeof *v);
	cr_assert(v);
	for (i = 0; i < s->size[VF_B]; i++)
		v[i] = (int64_t)vv[i];   /* below 2^61, times b_scale 1: inside reference.c's int64 products */
	vf_ref_forward(l, zi, zw, v, 1, e);
	cr_assert_eq(vf_fd_bias(l, &s->buf[VF_Y], &sep, &got), 0);
	cr_expect_eq(got, pair(ones, e, s->size[VF_Y]), "%s: fd_bias", what);
	free(v), free(vv), vf_sep_free(&sep);

	free(e), free(ones), free(zi), free(zw);
}

/* vf_proj_buf on every tensor against the materialized sum. */
static void check_buf(struct setup *s, const char *what)
{
	int t;

	for (t = 0; t < VF_N_TENSORS; t++) {
		struct vf_sep r;
		uint64_t *rv, got;
		vf_u128 want = 0;
		size_t i, bad = 0;
		cr_assert_eq(vf_sep_draw(&r, &s->l, (enum vf_tensor)t, &s->rng), 0);
		rv = materialize(&r);
		for (i = 0; i < s->size[t]; i++)
			want = (want + (vf_u128)rv[i] * vf_mod_int(s->num[t][i])) % VF_PRIME;
		cr_assert_eq(vf_proj_buf(&s->buf[t], &r, 24, &got, &bad), 0, "%s: tensor %d: bad %zu", what, t, bad);
		cr_expect_eq(got, (uint64_t)want, "%s: vf_proj_buf of tensor %d", what, t);
		free(rv), vf_sep_free(&r);
	}
}

static void check_layer(const char *opts)
{
	int nhwc;

	for (nhwc = 0; nhwc < 2; nhwc++) {
		struct setup *s = malloc(sizeof *s);
		char what[1100];
		cr_assert(s);
		snprintf(what, sizeof what, "%s%s", opts, nhwc ? " (channels last)" : "");
		open_setup(s, opts, nhwc);
		check_proj(s, what);
		check_fd(s, what);
		check_buf(s, what);
		close_setup(s);
		free(s);
	}
}

Test(project, groups_stride_dilation_end_padding_batch)
{
	check_layer("--input 7x9 --kernel 3x2 --batch 2 --in-channels 4 --out-channels 6 --groups 2 "
	            "--stride 2x1 --dilation 1x2 --padding 1x2 --padding-end 0x1");
}

Test(project, depthwise_double)
{
	check_layer("--input 6x5 --kernel 3x3 --in-channels 3 --out-channels 6 --groups 3 --padding 1 --dtype double");
}

Test(project, stride_and_dilation_two_with_end_padding)
{
	check_layer("--input 9x8 --kernel 3x3 --batch 2 --in-channels 2 --out-channels 3 --stride 2 --dilation 2 "
	            "--padding 2x1 --padding-end 1x3");
}

Test(project, one_dimensional)
{
	check_layer("--input 1x16 --kernel 1x5 --in-channels 2 --out-channels 3 --padding 0x2 --dtype double");
}

/* 1024 taps: sums of more products below 2^122 than 128 bits hold unfolded. */
Test(project, more_taps_than_a_sum_holds)
{
	check_layer("--input 40x40 --kernel 32x32 --in-channels 2 --out-channels 2 --padding 2x1 --dtype double");
}

Test(project, seed_layer)
{
	check_layer("--input 5x5 --kernel 3x3");
}

/* The arithmetic itself, against 128-bit % on random and edge values. */
Test(project, modular_arithmetic)
{
	static const int64_t ints[] = { 0, 1, -1, 2, -2, (int64_t)VF_PRIME, -(int64_t)VF_PRIME, (int64_t)VF_PRIME + 5,
	                                INT64_MAX, INT64_MIN, INT64_MIN + 1 };
	struct vf_rng rng;
	size_t i;

	for (i = 0; i < sizeof ints / sizeof ints[0]; i++) {
		vf_i128 v = ints[i];
		vf_i128 m = v % (vf_i128)VF_PRIME;
		if (m < 0)
			m += VF_PRIME;
		cr_expect_eq(vf_mod_int(ints[i]), (uint64_t)m, "vf_mod_int(%lld)", (long long)ints[i]);
	}
	vf_rng_seed(&rng, 3, 0);
	for (i = 0; i < 10000; i++) {
		uint64_t a = vf_rng_next(&rng) % VF_PRIME, b = vf_rng_next(&rng) % VF_PRIME;
		if (i < 4)   /* the largest values */
			a = VF_PRIME - 1 - (i & 1), b = VF_PRIME - 1 - (i >> 1);
		cr_assert_eq(vf_mod_mul(a, b), (uint64_t)((vf_u128)a * b % VF_PRIME));
	}
}

/* One output changed by one changes the projection; an offending value is named. */
Test(project, a_changed_or_bad_value_is_seen)
{
	int nhwc;

	for (nhwc = 0; nhwc < 2; nhwc++) {
		struct setup *s = malloc(sizeof *s);
		struct vf_buf *y;
		struct vf_sep r;
		uint64_t s0, s1;
		size_t bad = 0, at, at2;
		cr_assert(s);
		open_setup(s, "--input 6x7 --kernel 3x3 --batch 2 --in-channels 2 --out-channels 3", nhwc);
		y = &s->buf[VF_Y];
		at = s->size[VF_Y] / 2 + 3, at2 = s->size[VF_Y] - 2;
		cr_assert_eq(vf_sep_draw(&r, &s->l, VF_Y, &s->rng), 0);
		cr_assert_eq(vf_proj_buf(y, &r, 24, &s0, &bad), 0);
		vf_buf_set(y, at, (double)(s->num[VF_Y][at] + 1));
		cr_assert_eq(vf_proj_buf(y, &r, 24, &s1, &bad), 0);
		cr_expect_neq(s0, s1, "a changed output leaves the projection as it was");
		vf_buf_set(y, at, (double)s->num[VF_Y][at]);
		cr_assert_eq(vf_proj_buf(y, &r, 24, &s1, &bad), 0);
		cr_expect_eq(s0, s1);

		/* not an integer; NaN; too large (2^24 with limit 24); the least index is named */
		vf_buf_set(y, at2, 0.5);
		cr_expect_eq(vf_proj_buf(y, &r, 24, &s1, &bad), 1);
		cr_expect_eq(bad, at2);
		vf_buf_set(y, at, NAN);
		cr_expect_eq(vf_proj_buf(y, &r, 24, &s1, &bad), 1);
		cr_expect_eq(bad, at, "NaN at %zu: named %zu", at, bad);
		vf_buf_set(y, at, (double)s->num[VF_Y][at]);
		vf_buf_set(y, 1, 16777216.0);
		cr_expect_eq(vf_proj_buf(y, &r, 24, &s1, &bad), 1);
		cr_expect_eq(bad, 1u);
		vf_buf_set(y, 1, -16777215.0);   /* |v| < 2^24: fine; 0.5 at at2 is still there */
		cr_expect_eq(vf_proj_buf(y, &r, 24, &s1, &bad), 1);
		cr_expect_eq(bad, at2);
		vf_buf_set(y, at2, INFINITY);
		cr_expect_eq(vf_proj_buf(y, &r, 24, &s1, &bad), 1);
		cr_expect_eq(bad, at2);
		vf_buf_set(y, at2, 3.0);
		cr_expect_eq(vf_proj_buf(y, &r, 24, &s1, &bad), 0);
		vf_sep_free(&r);
		close_setup(s);
		free(s);
	}
}

/* The factors are drawn in [0, P) with the lengths of the tensor's shape. */
Test(project, separable_vectors_have_the_tensor_shape)
{
	struct cg_layer l;
	struct vf_sep r;
	struct vf_rng rng;
	size_t want[VF_N_TENSORS][4] = { { 2, 4, 7, 9 }, { 6, 2, 3, 2 }, { 6, 1, 1, 1 }, { 2, 6, 0, 0 } };
	int t, i;
	size_t j;

	parse("--input 7x9 --kernel 3x2 --batch 2 --in-channels 4 --out-channels 6 --groups 2 "
	      "--stride 2x1 --dilation 1x2 --padding 1x2 --padding-end 0x1", &l);
	want[VF_Y][2] = (size_t)l.oh, want[VF_Y][3] = (size_t)l.ow;
	vf_rng_seed(&rng, 1, 0);
	for (t = 0; t < VF_N_TENSORS; t++) {
		cr_assert_eq(vf_sep_draw(&r, &l, (enum vf_tensor)t, &rng), 0);
		for (i = 0; i < 4; i++) {
			cr_expect_eq(r.len[i], want[t][i], "tensor %d axis %d", t, i);
			for (j = 0; j < r.len[i]; j++)
				cr_expect_lt(r.f[i][j], VF_PRIME);
		}
		vf_sep_free(&r);
	}
}

/* vf_range_draw is vf_rng_range with the divisions hoisted: the same values
** from the same stream, for spans small and large. */
Test(project, range_draws_are_vf_rng_range_draws)
{
	static const int64_t lo[] = { 0, -1, -7, -170, -1024, -(1 << 26), 0, INT64_MIN / 2 };
	static const int64_t hi[] = { 1, 1, 7, 170, 1024, 1 << 26, 2, INT64_MAX / 2 };
	size_t k;
	int i;

	for (k = 0; k < sizeof lo / sizeof lo[0]; k++) {
		struct vf_rng a, b;
		struct vf_range g;
		vf_rng_seed(&a, 5, (unsigned)k);
		vf_rng_seed(&b, 5, (unsigned)k);
		vf_range_init(&g, lo[k], hi[k]);
		for (i = 0; i < 100000; i++) {
			int64_t want = vf_rng_range(&a, lo[k], hi[k]), got = vf_range_draw(&b, &g);
			if (got != want)
				cr_assert_fail("[%lld, %lld], draw %d: %lld, vf_rng_range %lld", (long long)lo[k],
				               (long long)hi[k], i, (long long)got, (long long)want);
		}
	}
}
