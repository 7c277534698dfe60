/* bench/bench.c: generated kernels vs naive loops vs oneDNN (issue 5), one core.
** For each shape of shapes.inc and each op: check that the three agree, then time
** each (median of repeated runs) and print a markdown table and a gnuplot data file.
** Usage: bench [table.md] [chart.dat]
** While iterating: BENCH_ONLY=id,id (shapes.inc ids) limits the shapes, BENCH_OPS=forward,...
** limits the ops, BENCH_GEN_ONLY=1 times only the generated code (still checked). */
#define _GNU_SOURCE
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <dnnl.h>

#include "all_shapes.h"
#include "bench.h"

volatile float bench_sink;

#define SHAPE(id, label, opts) \
	{ #id, label, id##_BATCH, id##_IN_CHANNELS, id##_OUT_CHANNELS, id##_GROUPS, id##_INPUT_H, id##_INPUT_W, \
	  id##_KERNEL_H, id##_KERNEL_W, id##_STRIDE_H, id##_STRIDE_W, id##_PADDING_H, id##_PADDING_W, \
	  id##_DILATION_H, id##_DILATION_W, id##_OUTPUT_H, id##_OUTPUT_W, \
	  id##_forward, id##_grad_weight, id##_grad_input, id##_grad_bias },
static const struct shape shapes[] = {
#include "shapes.inc"
};
#undef SHAPE

enum { FWD, GW, GI, GB, N_OPS };
static const char *op_names[N_OPS] = { "forward", "grad_weight", "grad_input", "grad_bias" };
enum { GEN, NAIVE, DNNL_NCHW, DNNL_ANY, N_IMPLS };

/* Agreement: |a - b| <= TOL * (1 + max|reference|) elementwise, float inputs in [-1, 1]. */
#define TOL 1e-4

#define CHECK(call) do { dnnl_status_t st_ = (call); if (st_ != dnnl_success) { \
	fprintf(stderr, "bench: %s: oneDNN status %d\n", #call, (int)st_); exit(1); } } while (0)

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec * 1e-9;
}

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

struct tensors { float *x, *w, *b, *y, *dy, *dw, *dx, *db; };

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

/* ---- timing */

struct job {
	int impl, op;
	const struct shape *s;
	struct tensors *t;
	struct dnnl_op *d;
};

static void run_job(struct job *j)
{
	const struct shape *s = j->s;
	struct tensors *t = j->t;
	if (j->impl == GEN) {
		if (j->op == FWD) s->forward(t->x, t->w, t->b, t->y);
		else if (j->op == GW) s->grad_weight(t->x, t->dy, t->dw);
		else if (j->op == GI) s->grad_input(t->w, t->dy, t->dx);
		else s->grad_bias(t->dy, t->db);
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

/* Return the median seconds per call over 'samples' samples of >= 'min_sec' each. */
static double time_job(struct job *j, int samples, double min_sec)
{
	double t[64], t0;
	long reps = 1, r;
	int i;
	run_job(j); /* warm up */
	for (;;) {
		t0 = now();
		for (r = 0; r < reps; r++) run_job(j);
		if (now() - t0 >= min_sec) break;
		reps *= 2;
	}
	for (i = 0; i < samples; i++) {
		t0 = now();
		for (r = 0; r < reps; r++) run_job(j);
		t[i] = (now() - t0) / reps;
	}
	qsort(t, samples, sizeof t[0], cmp_double);
	return t[samples / 2];
}

int main(int argc, char **argv)
{
	const char *md_path = argc > 1 ? argv[1] : NULL, *dat_path = argc > 2 ? argv[2] : NULL;
	int cpu = getenv("BENCH_CPU") ? atoi(getenv("BENCH_CPU")) : 1;
	int samples = getenv("BENCH_SAMPLES") ? atoi(getenv("BENCH_SAMPLES")) : 9;
	double min_sec = 0.01, peak256, peak512, peak;
	FILE *md = NULL, *dat = NULL;
	cpu_set_t set;
	size_t si;
	int failed = 0;
	char line[512];

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof set, &set) != 0)
		perror("bench: sched_setaffinity (not pinned)");
	CHECK(dnnl_engine_create(&engine, dnnl_cpu, 0));
	CHECK(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags));
	if (samples < 1 || samples > 64) samples = 9;

	bench_peak(&peak256, &peak512);
	peak = peak512 > peak256 ? peak512 : peak256;
	if (md_path && !(md = fopen(md_path, "w"))) { perror(md_path); return 1; }
	if (dat_path && !(dat = fopen(dat_path, "w"))) { perror(dat_path); return 1; }
	snprintf(line, sizeof line,
	         "FP32 FMA peak of core %d, measured in this run: %.1f GFLOP/s with 512-bit vectors, %.1f with 256-bit; "
	         "%% of peak is of %.1f. Median of %d samples; GFLOP/s count 2 flops per multiply-add "
	         "(grad_bias: 1 per add) over every tap of every output, padding included.\n\n",
	         cpu, peak512, peak256, peak, samples);
	fputs(line, stdout);
	if (md) fputs(line, md);
	snprintf(line, sizeof line, "| shape | op | generated | naive | oneDNN nchw | oneDNN any | %% of peak | vs naive | vs best oneDNN |\n"
	                            "|---|---|---:|---:|---:|---:|---:|---:|---:|\n");
	fputs(line, stdout);
	if (md) fputs(line, md);
	if (dat) fprintf(dat, "# label generated naive onednn_nchw onednn_any (GFLOP/s)\n");

	for (si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
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
			double sec[N_IMPLS], gf[N_IMPLS], flops = op == GB ? (double)ny : 2 * macs, best_dnnl;
			struct dnnl_op d[2];
			int impl;
			const float *want = op == FWD ? ref.y : op == GW ? ref.dw : op == GI ? ref.dx : ref.db;
			float *got = op == FWD ? t.y : op == GW ? t.dw : op == GI ? t.dx : t.db;
			size_t n_out = op == FWD ? ny : op == GW ? nw : op == GI ? nx : nb;
			char what[128];
			if (!listed("BENCH_OPS", op_names[op])) continue;
			for (impl = 0; impl < N_IMPLS; impl++) {
				struct job j = { impl, op, s, &t, NULL };
				sec[impl] = gf[impl] = 0;
				if (impl != GEN && getenv("BENCH_GEN_ONLY")) { sec[impl] = 1; gf[impl] = 1e-9; continue; }
				if (impl >= DNNL_NCHW) {
					if (op == GB) continue; /* oneDNN's backward weights gives db with dW: timed there */
					j.d = &d[impl - DNNL_NCHW];
					dnnl_setup(j.d, s, op, impl == DNNL_ANY, &t);
				}
				memset(got, 0xff, n_out * sizeof *got); /* NaN: a result must overwrite it */
				run_job(&j);
				if (j.d) dnnl_finish(j.d);
				snprintf(what, sizeof what, "%s %s impl %d", s->id, op_names[op], impl);
				if (!agree(what, want, got, n_out)) failed = 1;
				if (op == GW && impl >= DNNL_NCHW) {
					snprintf(what, sizeof what, "%s grad_bias (oneDNN bwd weights) impl %d", s->id, impl);
					if (!agree(what, ref.db, t.db, nb)) failed = 1;
				}
				sec[impl] = time_job(&j, impl == NAIVE && macs > 2e7 ? 3 : samples, min_sec);
				gf[impl] = flops / sec[impl] * 1e-9;
				if (j.d) {
					dnnl_primitive_destroy(j.d->prim);
				}
			}
			best_dnnl = gf[DNNL_NCHW] > gf[DNNL_ANY] ? gf[DNNL_NCHW] : gf[DNNL_ANY];
			if (op == GB)
				snprintf(line, sizeof line, "| %s | %s | %.2f | %.2f | n/a | n/a | %.1f%% | %.1fx | n/a |\n",
				         s->label, op_names[op], gf[GEN], gf[NAIVE], 100 * gf[GEN] / peak, gf[GEN] / gf[NAIVE]);
			else
				snprintf(line, sizeof line, "| %s | %s | %.2f | %.2f | %.2f | %.2f | %.1f%% | %.1fx | %.2fx |\n",
				         s->label, op_names[op], gf[GEN], gf[NAIVE], gf[DNNL_NCHW], gf[DNNL_ANY],
				         100 * gf[GEN] / peak, gf[GEN] / gf[NAIVE], gf[GEN] / best_dnnl);
			fputs(line, stdout);
			fflush(stdout);
			if (md) fputs(line, md);
			if (dat)
				fprintf(dat, "\"%s %s\" %.3f %.3f %.3f %.3f\n", s->id, op_names[op], gf[GEN], gf[NAIVE],
				        gf[DNNL_NCHW], gf[DNNL_ANY]);
		}
		free(t.x); free(t.w); free(t.b); free(t.dy); free(t.y); free(t.dw); free(t.dx); free(t.db);
		free(ref.y); free(ref.dw); free(ref.dx); free(ref.db);
	}
	if (md) {
		fprintf(md, "\nAgreement checked before timing: every implementation within |a-b| <= %g * (1 + max|ref|) "
		            "of the naive loops, elementwise (inputs uniform in [-1, 1]).%s\n", TOL,
		        failed ? " **SOME CHECK FAILED: see stderr.**" : "");
		fclose(md);
	}
	if (dat) fclose(dat);
	if (failed) fprintf(stderr, "bench: results disagree (see above)\n");
	return failed;
}
