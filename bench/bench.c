/* bench/bench.c: generated kernels vs naive loops vs oneDNN, one core.
** The generated kernels come in four builds (gcc and clang, each with -std=gnu99 and
** -std=c99; see CMakeLists.txt), each a shared object loaded here with dlopen; the
** naive loops and oneDNN are built once.  For each shape of shapes.inc and each op:
** check that every implementation agrees with the naive loops, then time them all
** (median of repeated samples, the implementations' samples interleaved so that a
** change in machine load hits them alike) and print a markdown table and a gnuplot
** data file.
** Usage: bench [table.md] [chart.dat]
** While iterating: BENCH_ONLY=id,id (shapes.inc ids) limits the shapes, BENCH_OPS=forward,...
** limits the ops, BENCH_GEN_ONLY=1 times only the generated code (still checked).
** BENCH_FUSED=1 times the fused kernels instead (fused_main): forward with the ReLU fused
** in against plain forward, sgd_update against grad_weight with and without an
** update loop. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <dnnl.h>

#include "all_shapes.h"
#include "bench.h"

#ifndef BENCH_KERNEL_DIR
#define BENCH_KERNEL_DIR "kernels"
#endif
#ifndef BENCH_CFLAGS_STR
#define BENCH_CFLAGS_STR "?"
#endif
#ifndef BENCH_HARNESS_CC
#define BENCH_HARNESS_CC "?"
#endif

volatile float bench_sink;

#define SHAPE(id, label, opts) \
	{ #id, label, id##_BATCH, id##_IN_CHANNELS, id##_OUT_CHANNELS, id##_GROUPS, id##_INPUT_H, id##_INPUT_W, \
	  id##_KERNEL_H, id##_KERNEL_W, id##_STRIDE_H, id##_STRIDE_W, id##_PADDING_H, id##_PADDING_W, \
	  id##_DILATION_H, id##_DILATION_W, id##_OUTPUT_H, id##_OUTPUT_W },
static const struct shape shapes[] = {
#include "shapes.inc"
};
#undef SHAPE
#define N_SHAPES (sizeof shapes / sizeof shapes[0])

/* The builds of the generated kernels, in CMakeLists.txt's order: kernels-NAME.so. */
enum { GCC_GNU, GCC_C99, CLANG_GNU, CLANG_C99, N_BUILDS };
static const char *build_names[N_BUILDS] = { "gcc_gnu", "gcc_c99", "clang_gnu", "clang_c99" };
static const char *build_labels[N_BUILDS] = { "gcc gnu", "gcc c99", "clang gnu", "clang c99" };

/* One build's functions for one shape: its four ops, then the fused variants
** (bench/CMakeLists.txt: ID_relu, ID_sgd, ID_sgdm). */
struct kernels {
	void (*forward)(const float *, const float *, const float *, float *);
	void (*grad_weight)(const float *, const float *, float *);
	void (*grad_input)(const float *, const float *, float *);
	void (*grad_bias)(const float *, float *);
	void (*forward_relu)(const float *, const float *, const float *, float *);
	void (*sgd_update)(const float *, const float *, float *, float *, float);
	void (*sgd_update_m)(const float *, const float *, float *, float *, float *, float *, float, float);
};
static struct kernels kern[N_BUILDS][N_SHAPES];
static const char *build_info[N_BUILDS];

/* The four ops of the main table, then the jobs of the fused one (fused_main). */
enum { FWD, GW, GI, GB, N_OPS,
       F_FWD_RELU = N_OPS, F_SGD, F_GW_LOOP, F_SGDM, F_GW_MLOOP };
static const char *op_names[N_OPS] = { "forward", "grad_weight", "grad_input", "grad_bias" };
/* implementations: the builds 0 .. N_BUILDS-1, then these */
enum { NAIVE = N_BUILDS, DNNL_NCHW, DNNL_ANY, N_IMPLS };

/* Agreement: |a - b| <= TOL * (1 + max|reference|) elementwise, float inputs in [-1, 1]. */
#define TOL 1e-4

#define CHECK(call) do { dnnl_status_t st_ = (call); if (st_ != dnnl_success) { \
	fprintf(stderr, "bench: %s: oneDNN status %d\n", #call, (int)st_); exit(1); } } while (0)


static float *alloc_random(size_t n, unsigned *seed)
{
	float *p = aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64);
	size_t i;
	if (!p) { perror("bench"); exit(1); }
	for (i = 0; i < n; i++) {
		*seed = *seed * 1103515245u + 12345u;
		p[i] = (float)((*seed >> 8) & 0xffff) / 32768.0f - 1.0f;
	}
	return p;
}

static int agree(const char *what, const float *ref, const float *got, size_t n)
{
	double mx = 0;
	size_t i;
	for (i = 0; i < n; i++)
		if (fabs(ref[i]) > mx) mx = fabs(ref[i]);
	for (i = 0; i < n; i++)
		if (!(fabs((double)ref[i] - got[i]) <= TOL * (1 + mx))) {
			fprintf(stderr, "bench: %s: element %zu: reference %g, got %g\n", what, i, ref[i], got[i]);
			return 0;
		}
	return 1;
}

/* ---- oneDNN */

struct dnnl_op {
	dnnl_primitive_t prim;
	int nargs;
	dnnl_exec_arg_t args[8];
	dnnl_memory_t out_user, out_prim;   /* result, reordered back after the timing */
};

static dnnl_engine_t engine;
static dnnl_stream_t stream;

static dnnl_memory_t make_mem(const dnnl_memory_desc_t *md, void *handle)
{
	dnnl_memory_t m;
	CHECK(dnnl_memory_create(&m, md, engine, handle ? handle : DNNL_MEMORY_ALLOCATE));
	return m;
}

static void reorder(dnnl_memory_t from, dnnl_memory_t to)
{
	const dnnl_memory_desc_t *a, *b;
	dnnl_primitive_desc_t pd;
	dnnl_primitive_t r;
	dnnl_exec_arg_t args[2];
	CHECK(dnnl_memory_get_memory_desc(from, &a));
	CHECK(dnnl_memory_get_memory_desc(to, &b));
	CHECK(dnnl_reorder_primitive_desc_create(&pd, a, engine, b, engine, NULL));
	CHECK(dnnl_primitive_create(&r, pd));
	args[0].arg = DNNL_ARG_FROM; args[0].memory = from;
	args[1].arg = DNNL_ARG_TO; args[1].memory = to;
	CHECK(dnnl_primitive_execute(r, stream, 2, args));
	CHECK(dnnl_stream_wait(stream));
	dnnl_primitive_destroy(r);
	dnnl_primitive_desc_destroy(pd);
}

/* Return memory in the primitive's format for 'user' data: 'user' itself when the
** formats match, else a reordered copy (made here, outside any timing). */
static dnnl_memory_t prim_mem(dnnl_primitive_desc_t pd, dnnl_query_t q, dnnl_memory_t user, int copy_in)
{
	const dnnl_memory_desc_t *want = dnnl_primitive_desc_query_md(pd, q, 0);
	const dnnl_memory_desc_t *have;
	dnnl_memory_t m;
	CHECK(dnnl_memory_get_memory_desc(user, &have));
	if (dnnl_memory_desc_equal(want, have))
		return user;
	m = make_mem(want, NULL);
	if (copy_in)
		reorder(user, m);
	return m;
}

struct tensors { float *x, *w, *b, *y, *dy, *dw, *dx, *db, *v; };

/* Build the oneDNN primitive for 'op': plain nchw/oihw when 'any' is 0, else
** format_tag_any with the inputs reordered once here. */
static void dnnl_setup(struct dnnl_op *d, const struct shape *s, int op, int any, struct tensors *t)
{
	dnnl_dims_t xd = { s->n, s->c, s->h, s->w }, yd = { s->n, s->k, s->oh, s->ow }, bd = { s->k };
	dnnl_dims_t wd5 = { s->g, s->k / s->g, s->c / s->g, s->k1, s->k2 }, wd4 = { s->k, s->c, s->k1, s->k2 };
	dnnl_dims_t st = { s->sh, s->sw }, dil = { s->dh - 1, s->dw - 1 }, pl = { s->ph, s->pw }, pr;
	dnnl_memory_desc_t xu, wu, bu, yu, xa, wa, ya, ba;
	dnnl_format_tag_t ft = any ? dnnl_format_tag_any : dnnl_nchw;
	dnnl_format_tag_t wt = any ? dnnl_format_tag_any : (s->g > 1 ? dnnl_goihw : dnnl_oihw);
	int grouped = s->g > 1;
	dnnl_convolution_desc_t cd;
	dnnl_primitive_desc_t fwd_pd, pd;
	dnnl_memory_t mx, mw, mb, my;
	/* right padding so that oneDNN's output size matches ours */
	pr[0] = (s->oh - 1) * s->sh + (s->k1 - 1) * s->dh + 1 - s->h - s->ph;
	pr[1] = (s->ow - 1) * s->sw + (s->k2 - 1) * s->dw + 1 - s->w - s->pw;
	CHECK(dnnl_memory_desc_init_by_tag(&xu, 4, xd, dnnl_f32, dnnl_nchw));
	CHECK(dnnl_memory_desc_init_by_tag(&yu, 4, yd, dnnl_f32, dnnl_nchw));
	CHECK(dnnl_memory_desc_init_by_tag(&bu, 1, bd, dnnl_f32, dnnl_x));
	CHECK(dnnl_memory_desc_init_by_tag(&wu, grouped ? 5 : 4, grouped ? wd5 : wd4, dnnl_f32, grouped ? dnnl_goihw : dnnl_oihw));
	CHECK(dnnl_memory_desc_init_by_tag(&xa, 4, xd, dnnl_f32, ft));
	CHECK(dnnl_memory_desc_init_by_tag(&ya, 4, yd, dnnl_f32, ft));
	CHECK(dnnl_memory_desc_init_by_tag(&ba, 1, bd, dnnl_f32, dnnl_x));
	CHECK(dnnl_memory_desc_init_by_tag(&wa, grouped ? 5 : 4, grouped ? wd5 : wd4, dnnl_f32, wt));

	CHECK(dnnl_dilated_convolution_forward_desc_init(&cd, dnnl_forward_training, dnnl_convolution_direct,
	                                                 &xa, &wa, &ba, &ya, st, dil, pl, pr));
	CHECK(dnnl_primitive_desc_create(&fwd_pd, &cd, NULL, engine, NULL));
	memset(d, 0, sizeof *d);
	if (op == FWD) {
		pd = fwd_pd;
		mx = prim_mem(pd, dnnl_query_src_md, make_mem(&xu, t->x), 1);
		mw = prim_mem(pd, dnnl_query_weights_md, make_mem(&wu, t->w), 1);
		mb = make_mem(&bu, t->b);
		d->out_user = make_mem(&yu, t->y);
		my = d->out_prim = prim_mem(pd, dnnl_query_dst_md, d->out_user, 0);
		d->args[0] = (dnnl_exec_arg_t){ DNNL_ARG_SRC, mx };
		d->args[1] = (dnnl_exec_arg_t){ DNNL_ARG_WEIGHTS, mw };
		d->args[2] = (dnnl_exec_arg_t){ DNNL_ARG_BIAS, mb };
		d->args[3] = (dnnl_exec_arg_t){ DNNL_ARG_DST, my };
		d->nargs = 4;
	} else if (op == GI) {
		CHECK(dnnl_dilated_convolution_backward_data_desc_init(&cd, dnnl_convolution_direct, &xa, &wa, &ya,
		                                                       st, dil, pl, pr));
		CHECK(dnnl_primitive_desc_create(&pd, &cd, NULL, engine, fwd_pd));
		mw = prim_mem(pd, dnnl_query_weights_md, make_mem(&wu, t->w), 1);
		my = prim_mem(pd, dnnl_query_diff_dst_md, make_mem(&yu, t->dy), 1);
		d->out_user = make_mem(&xu, t->dx);
		mx = d->out_prim = prim_mem(pd, dnnl_query_diff_src_md, d->out_user, 0);
		d->args[0] = (dnnl_exec_arg_t){ DNNL_ARG_WEIGHTS, mw };
		d->args[1] = (dnnl_exec_arg_t){ DNNL_ARG_DIFF_DST, my };
		d->args[2] = (dnnl_exec_arg_t){ DNNL_ARG_DIFF_SRC, mx };
		d->nargs = 3;
	} else {
		CHECK(dnnl_dilated_convolution_backward_weights_desc_init(&cd, dnnl_convolution_direct, &xa, &wa, &ba, &ya,
		                                                          st, dil, pl, pr));
		CHECK(dnnl_primitive_desc_create(&pd, &cd, NULL, engine, fwd_pd));
		mx = prim_mem(pd, dnnl_query_src_md, make_mem(&xu, t->x), 1);
		my = prim_mem(pd, dnnl_query_diff_dst_md, make_mem(&yu, t->dy), 1);
		mb = make_mem(&bu, t->db);
		d->out_user = make_mem(&wu, t->dw);
		mw = d->out_prim = prim_mem(pd, dnnl_query_diff_weights_md, d->out_user, 0);
		d->args[0] = (dnnl_exec_arg_t){ DNNL_ARG_SRC, mx };
		d->args[1] = (dnnl_exec_arg_t){ DNNL_ARG_DIFF_DST, my };
		d->args[2] = (dnnl_exec_arg_t){ DNNL_ARG_DIFF_WEIGHTS, mw };
		d->args[3] = (dnnl_exec_arg_t){ DNNL_ARG_DIFF_BIAS, mb };
		d->nargs = 4;
	}
	CHECK(dnnl_primitive_create(&d->prim, pd));
}

static void dnnl_run(struct dnnl_op *d)
{
	CHECK(dnnl_primitive_execute(d->prim, stream, d->nargs, d->args));
	CHECK(dnnl_stream_wait(stream));
}

/* Bring the result back to the plain layout (after the timing). */
static void dnnl_finish(struct dnnl_op *d)
{
	if (d->out_prim != d->out_user)
		reorder(d->out_prim, d->out_user);
}

/* ---- the builds */

/* dlopen every build's kernels-NAME.so and look up each shape's functions. */
static void load_builds(void)
{
	char path[4096], sym[256];
	int b;
	size_t si;
	for (b = 0; b < N_BUILDS; b++) {
		void *h;
		const char *info;
		snprintf(path, sizeof path, "%s/kernels-%s.so", BENCH_KERNEL_DIR, build_names[b]);
		if (!(h = dlopen(path, RTLD_NOW | RTLD_LOCAL))) {
			fprintf(stderr, "bench: %s\n", dlerror());
			exit(1);
		}
		info = dlsym(h, "bench_build_info");
		build_info[b] = info ? info : "?";
		for (si = 0; si < N_SHAPES; si++) {
			struct kernels *k = &kern[b][si];
#define LOOKUP(field) \
			snprintf(sym, sizeof sym, "%s_" #field, shapes[si].id); \
			*(void **)&k->field = dlsym(h, sym); \
			if (!k->field) { fprintf(stderr, "bench: %s: no symbol %s\n", path, sym); exit(1); }
			LOOKUP(forward) LOOKUP(grad_weight) LOOKUP(grad_input) LOOKUP(grad_bias)
#undef LOOKUP
#define LOOKUP(field, variant, op) \
			snprintf(sym, sizeof sym, "%s" variant "_" op, shapes[si].id); \
			*(void **)&k->field = dlsym(h, sym); \
			if (!k->field) { fprintf(stderr, "bench: %s: no symbol %s\n", path, sym); exit(1); }
			LOOKUP(forward_relu, "_relu", "forward") LOOKUP(sgd_update, "_sgd", "sgd_update")
			LOOKUP(sgd_update_m, "_sgdm", "sgd_update")
#undef LOOKUP
		}
	}
}

/* Return the "model name" of /proc/cpuinfo (in a static buffer), or "unknown CPU". */
static const char *cpu_model(void)
{
	static char name[256] = "unknown CPU";
	char buf[512];
	FILE *f = fopen("/proc/cpuinfo", "r");
	if (!f) return name;
	while (fgets(buf, sizeof buf, f)) {
		char *p = strchr(buf, ':');
		if (strncmp(buf, "model name", 10) != 0 || !p) continue;
		for (p++; *p == ' ' || *p == '\t'; p++) {}
		p[strcspn(p, "\n")] = 0;
		if (*p) snprintf(name, sizeof name, "%s", p);
		break;
	}
	fclose(f);
	return name;
}

/* Return the 1-minute load average of /proc/loadavg, or -1. */
static double load_average(void)
{
	double l = -1;
	FILE *f = fopen("/proc/loadavg", "r");
	if (f) {
		if (fscanf(f, "%lf", &l) != 1) l = -1;
		fclose(f);
	}
	return l;
}

/* ---- timing */

#define MAX_SAMPLES 64

struct job {
	int impl, op;
	const struct shape *s;
	const struct kernels *k;
	struct tensors *t;
	struct dnnl_op *d;
	long reps;
	int samples;
	double sec[MAX_SAMPLES];
};

/* The fused jobs' learning rate and momentum: small enough that W, moving by
** lr*dW per call, stays near its start over every call of a timing. */
#define LR 0x1p-24f
#define MU 0.875f

/* The update loops that sgd_update replaces, as a caller would write them. */
static void update_loop(float *w, const float *dw, size_t n, float lr)
{
	size_t i;
	for (i = 0; i < n; i++)
		w[i] -= lr * dw[i];
}

static void momentum_loop(float *w, float *v, const float *dw, size_t n, float lr, float mu)
{
	size_t i;
	for (i = 0; i < n; i++) {
		v[i] = mu * v[i] + dw[i];
		w[i] -= lr * v[i];
	}
}

static void run_job(struct job *j)
{
	const struct shape *s = j->s;
	struct tensors *t = j->t;
	size_t nw = (size_t)s->k * (s->c / s->g) * s->k1 * s->k2;
	if (j->impl < N_BUILDS) {
		const struct kernels *k = j->k;
		if (j->op == F_FWD_RELU) k->forward_relu(t->x, t->w, t->b, t->y);
		else if (j->op == F_SGD) k->sgd_update(t->x, t->dy, t->w, NULL, LR);
		else if (j->op == F_GW_LOOP) { k->grad_weight(t->x, t->dy, t->dw); update_loop(t->w, t->dw, nw, LR); }
		else if (j->op == F_SGDM) k->sgd_update_m(t->x, t->dy, t->w, NULL, t->v, NULL, LR, MU);
		else if (j->op == F_GW_MLOOP) {
			k->grad_weight(t->x, t->dy, t->dw);
			momentum_loop(t->w, t->v, t->dw, nw, LR, MU);
		}
		else if (j->op == FWD) k->forward(t->x, t->w, t->b, t->y);
		else if (j->op == GW) k->grad_weight(t->x, t->dy, t->dw);
		else if (j->op == GI) k->grad_input(t->w, t->dy, t->dx);
		else k->grad_bias(t->dy, t->db);
	} else if (j->impl == NAIVE) {
		if (j->op == FWD) naive_forward(s, t->x, t->w, t->b, t->y);
		else if (j->op == GW) naive_grad_weight(s, t->x, t->dy, t->dw);
		else if (j->op == GI) naive_grad_input(s, t->w, t->dy, t->dx);
		else naive_grad_bias(s, t->dy, t->db);
	} else {
		dnnl_run(j->d);
	}
}

/* Return whether 'name' is in the comma list in environment variable 'var' (unset: yes). */
static int listed(const char *var, const char *name)
{
	const char *l = getenv(var), *p;
	size_t n = strlen(name);
	if (!l || !*l) return 1;
	for (p = l; (p = strstr(p, name)) != NULL; p += n)
		if ((p == l || p[-1] == ',') && (p[n] == ',' || p[n] == 0)) return 1;
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Time jobs j[0 .. n-1]: each gets the number of calls per sample that lasts >= min_sec,
** then the samples are taken round-robin (sample 0 of every job, sample 1, ...).  A
** sample of several calls starts with one untimed call, so that no job starts cold
** after another's run.  Return each job's median seconds per call in secs[]. */
static void time_jobs(struct job *j, int n, double min_sec, double *secs)
{
	int i, r, most = 0;
	long c;
	double t0;
	for (i = 0; i < n; i++) {
		run_job(&j[i]); /* warm up */
		for (j[i].reps = 1;; j[i].reps *= 2) {
			t0 = bench_now();
			for (c = 0; c < j[i].reps; c++) run_job(&j[i]);
			if (bench_now() - t0 >= min_sec) break;
		}
		if (j[i].samples > most) most = j[i].samples;
	}
	for (r = 0; r < most; r++)
		for (i = 0; i < n; i++) {
			if (r >= j[i].samples) continue;
			if (j[i].reps > 1) run_job(&j[i]);
			t0 = bench_now();
			for (c = 0; c < j[i].reps; c++) run_job(&j[i]);
			j[i].sec[r] = (bench_now() - t0) / j[i].reps;
		}
	for (i = 0; i < n; i++) {
		qsort(j[i].sec, j[i].samples, sizeof j[i].sec[0], cmp_double);
		secs[i] = j[i].sec[j[i].samples / 2];
	}
}

/* Write 'line' to stdout and to 'md' (if open). */
static void emit(FILE *md, const char *line)
{
	fputs(line, stdout);
	fflush(stdout);
	if (md) fputs(line, md);
}

/* ---- the fused kernels (BENCH_FUSED=1) */

/* The builds the fused table times: one per compiler, GNU mode. */
static const int fused_builds[] = { GCC_GNU, CLANG_GNU };
#define N_FUSED_BUILDS (sizeof fused_builds / sizeof fused_builds[0])

/* The jobs of one row, timed together; ratios divide a baseline's time by a
** fused job's, so > 1 means the fused kernel is faster. */
enum { J_FWD, J_FWD_RELU, J_GW, J_SGD, J_GW_LOOP, J_SGDM, J_GW_MLOOP, N_FUSED_JOBS };
static const int fused_ops[N_FUSED_JOBS] = { FWD, F_FWD_RELU, GW, F_SGD, F_GW_LOOP, F_SGDM, F_GW_MLOOP };

/* Check build b's fused kernels for shape s against the naive loops: the ReLU
** forward against max(0, naive forward), and one step of each sgd_update, with
** a bias and lr = 1/2 so that dW weighs in W', against W - lr dW (with momentum:
** v' = mu v + dW, W' = W - lr v').  Return 0 on a disagreement. */
static int check_fused(const struct shape *s, const struct kernels *k, const char *label,
                       const struct tensors *t, const struct tensors *ref, unsigned *seed)
{
	size_t ny = (size_t)s->n * s->k * s->oh * s->ow, nw = (size_t)s->k * (s->c / s->g) * s->k1 * s->k2;
	size_t nb = s->k, i;
	float *y = alloc_random(ny, seed), *want_y = alloc_random(ny, seed);
	float *w = alloc_random(nw, seed), *v = alloc_random(nw, seed), *b = alloc_random(nb, seed), *vb = alloc_random(nb, seed);
	float *want_w = alloc_random(nw, seed), *want_v = alloc_random(nw, seed);
	float *want_b = alloc_random(nb, seed), *want_vb = alloc_random(nb, seed);
	const float lr = 0.5f;
	char what[160];
	int ok = 1;

	for (i = 0; i < ny; i++)
		want_y[i] = ref->y[i] > 0 ? ref->y[i] : 0;
	memset(y, 0xff, ny * sizeof *y);
	k->forward_relu(t->x, t->w, t->b, y);
	snprintf(what, sizeof what, "%s forward --activation relu %s", s->id, label);
	ok &= agree(what, want_y, y, ny);

	for (i = 0; i < nw; i++) want_w[i] = t->w[i] - lr * ref->dw[i];
	for (i = 0; i < nb; i++) want_b[i] = t->b[i] - lr * ref->db[i];
	memcpy(w, t->w, nw * sizeof *w);
	memcpy(b, t->b, nb * sizeof *b);
	k->sgd_update(t->x, t->dy, w, b, lr);
	snprintf(what, sizeof what, "%s sgd_update weight %s", s->id, label);
	ok &= agree(what, want_w, w, nw);
	snprintf(what, sizeof what, "%s sgd_update bias %s", s->id, label);
	ok &= agree(what, want_b, b, nb);

	for (i = 0; i < nw; i++) {
		want_v[i] = MU * t->v[i] + ref->dw[i];
		want_w[i] = t->w[i] - lr * want_v[i];
	}
	for (i = 0; i < nb; i++) {
		want_vb[i] = MU * t->v[i % nw] + ref->db[i];
		want_b[i] = t->b[i] - lr * want_vb[i];
		vb[i] = t->v[i % nw];
	}
	memcpy(w, t->w, nw * sizeof *w);
	memcpy(v, t->v, nw * sizeof *v);
	memcpy(b, t->b, nb * sizeof *b);
	k->sgd_update_m(t->x, t->dy, w, b, v, vb, lr, MU);
	snprintf(what, sizeof what, "%s sgd_update --momentum weight %s", s->id, label);
	ok &= agree(what, want_w, w, nw);
	snprintf(what, sizeof what, "%s sgd_update --momentum velocity %s", s->id, label);
	ok &= agree(what, want_v, v, nw);
	snprintf(what, sizeof what, "%s sgd_update --momentum bias %s", s->id, label);
	ok &= agree(what, want_b, b, nb);
	snprintf(what, sizeof what, "%s sgd_update --momentum bias velocity %s", s->id, label);
	ok &= agree(what, want_vb, vb, nb);
	free(y); free(want_y); free(w); free(v); free(b); free(vb);
	free(want_w); free(want_v); free(want_b); free(want_vb);
	return ok;
}

/* The fused table: per shape and build, medians in microseconds per call and
** the fused kernels' speed over their baselines', all measured in this run;
** then, per build, the least and the median of each ratio over the shapes. */
static int fused_main(const char *md_path, int cpu, int samples)
{
	double ratios[N_FUSED_BUILDS][4][N_SHAPES], load_start = load_average();
	int n_rows[N_FUSED_BUILDS] = { 0 };
	static const char *ratio_names[4] = {
		"forward --activation relu / forward", "sgd_update / grad_weight",
		"sgd_update / (grad_weight + update loop)", "sgd_update --momentum / (grad_weight + momentum loop)" };
	static const char *ratio_targets[4] = { ">= 0.95", ">= 0.90", "> 1", "> 1" };
	FILE *md = NULL;
	char line[2048];
	size_t si, bi;
	int failed = 0, r;

	if (md_path && !(md = fopen(md_path, "w"))) { perror(md_path); return 1; }
	snprintf(line, sizeof line, "CPU: %s, core %d.\n\n", cpu_model(), cpu);
	emit(md, line);
	snprintf(line, sizeof line, "Generated kernels with %s: gcc gnu = %s; clang gnu = %s. "
	         "Update loops in the harness: " BENCH_HARNESS_CC " -std=gnu99 %s.\n\n", BENCH_CFLAGS_STR,
	         build_info[GCC_GNU], build_info[CLANG_GNU], BENCH_CFLAGS_STR);
	emit(md, line);
	snprintf(line, sizeof line,
	         "Microseconds per call, median of %d samples, the samples of a row's seven jobs interleaved; %s. "
	         "Each layer generated as shapes.inc gives it, float, and again with `--activation relu --ops forward`, "
	         "`--ops sgd_update` and `--ops sgd_update --momentum`. sgd_update is called with bias and "
	         "velocity_b NULL, as grad_weight computes no dL/db; update loop: `w[i] -= lr * dw[i]` after "
	         "grad_weight; momentum loop: `v[i] = mu * v[i] + dw[i]; w[i] -= lr * v[i]`. "
	         "Speed ratios (baseline's time / fused kernel's time; > 1: the fused kernel is faster): "
	         "relu = forward --activation relu over forward; sgd/gw: sgd_update over grad_weight alone; "
	         "sgd/(gw+loop) and sgdm/(gw+mloop): over grad_weight followed by the loop.\n\n",
	         samples, getenv("BENCH_WALL") && *getenv("BENCH_WALL") && strcmp(getenv("BENCH_WALL"), "0")
	         ? "wall-clock time" : "CPU time of the process");
	emit(md, line);
	emit(md, "| shape | build | forward | forward relu | relu | grad_weight | sgd_update | sgd/gw "
	         "| gw + loop | sgd/(gw+loop) | sgd_update momentum | gw + momentum loop | sgdm/(gw+mloop) |\n"
	         "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");

	for (si = 0; si < N_SHAPES; si++) {
		const struct shape *s = &shapes[si];
		size_t nx = (size_t)s->n * s->c * s->h * s->w, ny = (size_t)s->n * s->k * s->oh * s->ow;
		size_t nw = (size_t)s->k * (s->c / s->g) * s->k1 * s->k2, nb = s->k;
		unsigned seed = 12345u + (unsigned)si;
		struct tensors t, ref;
		if (!listed("BENCH_ONLY", s->id)) continue;
		memset(&t, 0, sizeof t);
		t.x = alloc_random(nx, &seed); t.w = alloc_random(nw, &seed); t.b = alloc_random(nb, &seed);
		t.dy = alloc_random(ny, &seed); t.y = alloc_random(ny, &seed); t.dw = alloc_random(nw, &seed);
		t.v = alloc_random(nw, &seed);
		ref = t;
		ref.y = alloc_random(ny, &seed); ref.dw = alloc_random(nw, &seed); ref.db = alloc_random(nb, &seed);
		naive_forward(s, t.x, t.w, t.b, ref.y);
		naive_grad_weight(s, t.x, t.dy, ref.dw);
		naive_grad_bias(s, t.dy, ref.db);
		for (bi = 0; bi < N_FUSED_BUILDS; bi++) {
			int b = fused_builds[bi], i;
			struct job jobs[N_FUSED_JOBS];
			double sec[N_FUSED_JOBS];
			float *w0 = alloc_random(nw, &seed);
			memcpy(w0, t.w, nw * sizeof *w0);
			if (!check_fused(s, &kern[b][si], build_labels[b], &t, &ref, &seed)) failed = 1;
			for (i = 0; i < N_FUSED_JOBS; i++) {
				memset(&jobs[i], 0, sizeof jobs[i]);
				jobs[i].impl = b; jobs[i].op = fused_ops[i]; jobs[i].s = s; jobs[i].t = &t;
				jobs[i].k = &kern[b][si]; jobs[i].samples = samples;
			}
			time_jobs(jobs, N_FUSED_JOBS, 0.01, sec);
			memcpy(t.w, w0, nw * sizeof *w0); /* the updates moved it: the next build starts alike */
			free(w0);
			r = n_rows[bi]++;
			ratios[bi][0][r] = sec[J_FWD] / sec[J_FWD_RELU];
			ratios[bi][1][r] = sec[J_GW] / sec[J_SGD];
			ratios[bi][2][r] = sec[J_GW_LOOP] / sec[J_SGD];
			ratios[bi][3][r] = sec[J_GW_MLOOP] / sec[J_SGDM];
			snprintf(line, sizeof line, "| %s | %s | %.3f | %.3f | %.2fx | %.3f | %.3f | %.2fx | %.3f | %.2fx "
			         "| %.3f | %.3f | %.2fx |\n", s->label, build_labels[b],
			         sec[J_FWD] * 1e6, sec[J_FWD_RELU] * 1e6, ratios[bi][0][r], sec[J_GW] * 1e6, sec[J_SGD] * 1e6, ratios[bi][1][r],
			         sec[J_GW_LOOP] * 1e6, ratios[bi][2][r], sec[J_SGDM] * 1e6, sec[J_GW_MLOOP] * 1e6,
			         ratios[bi][3][r]);
			emit(md, line);
		}
		free(t.x); free(t.w); free(t.b); free(t.dy); free(t.y); free(t.dw); free(t.v);
		free(ref.y); free(ref.dw); free(ref.db);
	}

	emit(md, "\nOver the shapes, per build: the least and the median speed ratio, and how many "
	         "shapes meet the target.\n\n| ratio | target | build | least | median | shapes meeting it |\n"
	         "|---|---|---|---:|---:|---:|\n");
	for (r = 0; r < 4; r++)
		for (bi = 0; bi < N_FUSED_BUILDS; bi++) {
			int n = n_rows[bi], i, meet = 0;
			double *x = ratios[bi][r];
			if (n == 0) continue;
			for (i = 0; i < n; i++)
				meet += r == 0 ? x[i] >= 0.95 : r == 1 ? x[i] >= 0.9 : x[i] > 1;
			qsort(x, n, sizeof *x, cmp_double);
			snprintf(line, sizeof line, "| %s | %s | %s | %.2fx | %.2fx | %d of %d |\n", ratio_names[r],
			         ratio_targets[r], build_labels[fused_builds[bi]], x[0], x[n / 2], meet, n);
			emit(md, line);
		}
	snprintf(line, sizeof line, "\nLoad average (1 minute, /proc/loadavg) at the start %.2f, at the end %.2f, "
	         "on %ld online CPUs.\n", load_start, load_average(), sysconf(_SC_NPROCESSORS_ONLN));
	emit(md, line);
	if (md) {
		fprintf(md, "\nAgreement checked before timing, for each build: forward --activation relu against "
		            "max(0, naive forward), and one step of each sgd_update (with a bias, lr = 1/2, "
		            "momentum %g) against the naive grad_weight and grad_bias and the update written out, "
		            "within |a-b| <= %g * (1 + max|ref|) elementwise.%s\n", (double)MU, TOL,
		        failed ? " **SOME CHECK FAILED: see stderr.**" : "");
		fclose(md);
	}
	if (failed) fprintf(stderr, "bench: results disagree (see above)\n");
	return failed;
}

int main(int argc, char **argv)
{
	const char *md_path = argc > 1 ? argv[1] : NULL, *dat_path = argc > 2 ? argv[2] : NULL;
	int cpu = getenv("BENCH_CPU") ? atoi(getenv("BENCH_CPU")) : 1;
	int samples = getenv("BENCH_SAMPLES") ? atoi(getenv("BENCH_SAMPLES")) : 9;
	int gen_only = getenv("BENCH_GEN_ONLY") != NULL;
	double min_sec = 0.01, peak, peak_end, load_start = load_average();
	const char *isa;
	FILE *md = NULL, *dat = NULL;
	cpu_set_t set;
	size_t si;
	int failed = 0, b;
	char line[2048];

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof set, &set) != 0)
		perror("bench: sched_setaffinity (not pinned)");
	load_builds();
	if (samples < 1 || samples > MAX_SAMPLES) samples = 9;
	/* A fused kernel and its baseline differ by a few percent: on a loaded
	** machine their medians need more samples than the main table's to settle. */
	if (getenv("BENCH_FUSED") && *getenv("BENCH_FUSED") && strcmp(getenv("BENCH_FUSED"), "0"))
		return fused_main(md_path, cpu, getenv("BENCH_SAMPLES") ? samples : 63);
	CHECK(dnnl_engine_create(&engine, dnnl_cpu, 0));
	CHECK(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags));

	peak = bench_peak(&isa);
	if (md_path && !(md = fopen(md_path, "w"))) { perror(md_path); return 1; }
	if (dat_path && !(dat = fopen(dat_path, "w"))) { perror(dat_path); return 1; }
	snprintf(line, sizeof line, "CPU: %s, core %d. FP32 FMA peak of that core, measured in this run with %s "
	         "intrinsics: %.1f GFLOP/s.\n\n", cpu_model(), cpu, isa, peak);
	emit(md, line);
	snprintf(line, sizeof line, "Generated kernels in four builds, each with %s:", BENCH_CFLAGS_STR);
	emit(md, line);
	for (b = 0; b < N_BUILDS; b++) {
		snprintf(line, sizeof line, " %s = %s%s", build_labels[b], build_info[b], b + 1 < N_BUILDS ? ";" : ".");
		emit(md, line);
	}
	snprintf(line, sizeof line, " Naive loops: " BENCH_HARNESS_CC " -std=gnu99 %s. oneDNN %d.%d on one thread.\n\n",
	         BENCH_CFLAGS_STR, dnnl_version()->major, dnnl_version()->minor);
	emit(md, line);
	snprintf(line, sizeof line,
	         "Median of %d samples (naive: 3 when a call takes long), the implementations' samples interleaved; "
	         "times are %s. "
	         "GFLOP/s count 2 flops per multiply-add (grad_bias: 1 per add) over every tap of every output, "
	         "padding included. %% of peak: the best of the four builds. vs naive, vs best oneDNN: gcc gnu. "
	         "c99/gnu: gcc c99 over gcc gnu; clang/gcc: clang gnu over gcc gnu.\n\n", samples,
	         getenv("BENCH_WALL") && *getenv("BENCH_WALL") && strcmp(getenv("BENCH_WALL"), "0") ? "wall-clock time"
	         : "CPU time of the process (CLOCK_PROCESS_CPUTIME_ID: time the core spends on other work does not count)");
	emit(md, line);
	snprintf(line, sizeof line,
	         "| shape | op | gcc gnu | gcc c99 | clang gnu | clang c99 | naive | oneDNN nchw | oneDNN any "
	         "| %% of peak | vs naive | vs best oneDNN | c99/gnu (gcc) | clang/gcc (gnu) |\n"
	         "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
	emit(md, line);
	if (dat) fprintf(dat, "# label gcc_gnu gcc_c99 clang_gnu clang_c99 naive onednn_nchw onednn_any (GFLOP/s)\n");

	for (si = 0; si < N_SHAPES; si++) {
		const struct shape *s = &shapes[si];
		size_t nx = (size_t)s->n * s->c * s->h * s->w, ny = (size_t)s->n * s->k * s->oh * s->ow;
		size_t nw = (size_t)s->k * (s->c / s->g) * s->k1 * s->k2, nb = s->k;
		double macs = (double)ny * (s->c / s->g) * s->k1 * s->k2;
		unsigned seed = 12345u + (unsigned)si;
		struct tensors t, ref;
		int op;
		if (!listed("BENCH_ONLY", s->id)) continue;
		t.x = alloc_random(nx, &seed); t.w = alloc_random(nw, &seed); t.b = alloc_random(nb, &seed);
		t.dy = alloc_random(ny, &seed);
		t.y = alloc_random(ny, &seed); t.dw = alloc_random(nw, &seed);
		t.dx = alloc_random(nx, &seed); t.db = alloc_random(nb, &seed);
		ref = t;
		ref.y = alloc_random(ny, &seed); ref.dw = alloc_random(nw, &seed);
		ref.dx = alloc_random(nx, &seed); ref.db = alloc_random(nb, &seed);
		naive_forward(s, t.x, t.w, t.b, ref.y);
		naive_grad_weight(s, t.x, t.dy, ref.dw);
		naive_grad_input(s, t.w, t.dy, ref.dx);
		naive_grad_bias(s, t.dy, ref.db);

		for (op = 0; op < N_OPS; op++) {
			double sec[N_IMPLS], gf[N_IMPLS], flops = op == GB ? (double)ny : 2 * macs, best_dnnl, best_gen = 0;
			struct dnnl_op d[2];
			struct job jobs[N_IMPLS];
			int impl, n_jobs = 0, i;
			const float *want = op == FWD ? ref.y : op == GW ? ref.dw : op == GI ? ref.dx : ref.db;
			float *got = op == FWD ? t.y : op == GW ? t.dw : op == GI ? t.dx : t.db;
			size_t n_out = op == FWD ? ny : op == GW ? nw : op == GI ? nx : nb;
			char what[128];
			if (!listed("BENCH_OPS", op_names[op])) continue;
			/* check every implementation, then time them together */
			for (impl = 0; impl < N_IMPLS; impl++) {
				struct job *j = &jobs[n_jobs];
				gf[impl] = 0;
				if (impl >= N_BUILDS && gen_only) continue;
				if (impl >= DNNL_NCHW && op == GB) continue; /* oneDNN's backward weights gives db with dW: timed there */
				memset(j, 0, sizeof *j);
				j->impl = impl; j->op = op; j->s = s; j->t = &t;
				j->k = impl < N_BUILDS ? &kern[impl][si] : NULL;
				j->samples = impl == NAIVE && macs > 2e7 ? (samples < 3 ? samples : 3) : samples;
				if (impl >= DNNL_NCHW) {
					j->d = &d[impl - DNNL_NCHW];
					dnnl_setup(j->d, s, op, impl == DNNL_ANY, &t);
				}
				memset(got, 0xff, n_out * sizeof *got); /* NaN: a result must overwrite it */
				run_job(j);
				if (j->d) dnnl_finish(j->d);
				snprintf(what, sizeof what, "%s %s %s", s->id, op_names[op],
				         impl < N_BUILDS ? build_labels[impl] : impl == NAIVE ? "naive" :
				         impl == DNNL_NCHW ? "oneDNN nchw" : "oneDNN any");
				if (!agree(what, want, got, n_out)) failed = 1;
				if (op == GW && impl >= DNNL_NCHW) {
					snprintf(what, sizeof what, "%s grad_bias (oneDNN bwd weights) impl %d", s->id, impl);
					if (!agree(what, ref.db, t.db, nb)) failed = 1;
				}
				n_jobs++;
			}
			time_jobs(jobs, n_jobs, min_sec, sec);
			for (i = 0; i < n_jobs; i++) {
				impl = jobs[i].impl;
				gf[impl] = flops / sec[i] * 1e-9;
				if (impl < N_BUILDS && gf[impl] > best_gen) best_gen = gf[impl];
				if (jobs[i].d) dnnl_primitive_destroy(jobs[i].d->prim);
			}
			best_dnnl = gf[DNNL_NCHW] > gf[DNNL_ANY] ? gf[DNNL_NCHW] : gf[DNNL_ANY];
			i = snprintf(line, sizeof line, "| %s | %s | %.2f | %.2f | %.2f | %.2f | ", s->label, op_names[op],
			             gf[GCC_GNU], gf[GCC_C99], gf[CLANG_GNU], gf[CLANG_C99]);
			if (gen_only)
				i += snprintf(line + i, sizeof line - i, "- | - | - | %.1f%% | - | - |", 100 * best_gen / peak);
			else if (op == GB)
				i += snprintf(line + i, sizeof line - i, "%.2f | n/a | n/a | %.1f%% | %.1fx | n/a |",
				              gf[NAIVE], 100 * best_gen / peak, gf[GCC_GNU] / gf[NAIVE]);
			else
				i += snprintf(line + i, sizeof line - i, "%.2f | %.2f | %.2f | %.1f%% | %.1fx | %.2fx |",
				              gf[NAIVE], gf[DNNL_NCHW], gf[DNNL_ANY], 100 * best_gen / peak,
				              gf[GCC_GNU] / gf[NAIVE], gf[GCC_GNU] / best_dnnl);
			snprintf(line + i, sizeof line - i, " %.2f | %.2f |\n", gf[GCC_C99] / gf[GCC_GNU],
			         gf[CLANG_GNU] / gf[GCC_GNU]);
			emit(md, line);
			if (dat)
				fprintf(dat, "\"%s %s\" %.3f %.3f %.3f %.3f %.3f %.3f %.3f\n", s->id, op_names[op],
				        gf[GCC_GNU], gf[GCC_C99], gf[CLANG_GNU], gf[CLANG_C99], gf[NAIVE],
				        gf[DNNL_NCHW], gf[DNNL_ANY]);
		}
		free(t.x); free(t.w); free(t.b); free(t.dy); free(t.y); free(t.dw); free(t.dx); free(t.db);
		free(ref.y); free(ref.dw); free(ref.dx); free(ref.db);
	}
	peak_end = bench_peak(&isa);
	snprintf(line, sizeof line, "\nPeak measured again after the timings: %.1f GFLOP/s. Load average "
	         "(1 minute, /proc/loadavg) at the start %.2f, at the end %.2f, on %ld online CPUs: other work "
	         "on the machine shows in both numbers.\n", peak_end, load_start, load_average(),
	         sysconf(_SC_NPROCESSORS_ONLN));
	emit(md, line);
	if (md) {
		fprintf(md, "\nAgreement checked before timing: every implementation (each of the four builds, naive, "
		            "both oneDNN layouts) within |a-b| <= %g * (1 + max|ref|) of the naive loops, elementwise "
		            "(inputs uniform in [-1, 1]).%s\n", TOL,
		        failed ? " **SOME CHECK FAILED: see stderr.**" : "");
		fclose(md);
	}
	if (dat) fclose(dat);
	if (failed) fprintf(stderr, "bench: results disagree (see above)\n");
	return failed;
}
