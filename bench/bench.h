/* bench/bench.h: what the benchmark's files share. */
#ifndef BENCH_H
#define BENCH_H

struct shape {
	const char *id, *label;
	int n, c, k, g, h, w, k1, k2, sh, sw, ph, pw, dh, dw, oh, ow;
};

extern volatile float bench_sink;

/* peak.c: the clock of every timing: process CPU time, or wall time with BENCH_WALL=1. */
double bench_now(void);

/* peak.c: the measured FP32 FMA peak of one core (GFLOP/s); *isa names the vector ISA used. */
double bench_peak(const char **isa);

/* naive.c: docs/math.md as plain loops with bounds checks. */
#ifndef NAIVE_STATIC
void naive_forward(const struct shape *s, const float *x, const float *w, const float *b, float *y);
void naive_grad_weight(const struct shape *s, const float *x, const float *dy, float *dw);
void naive_grad_input(const struct shape *s, const float *w, const float *dy, float *dx);
void naive_grad_bias(const struct shape *s, const float *dy, float *db);
#endif

#endif
