/* bench/bench.h: what the benchmark's files share. */
#ifndef BENCH_H
#define BENCH_H

struct shape {
	const char *id, *label;
	int n, c, k, g, h, w, k1, k2, sh, sw, ph, pw, dh, dw, oh, ow;
	void (*forward)(const float *, const float *, const float *, float *);
	void (*grad_weight)(const float *, const float *, float *);
	void (*grad_input)(const float *, const float *, float *);
	void (*grad_bias)(const float *, float *);
};

extern volatile float bench_sink;

void bench_peak(double *gflops256, double *gflops512);

/* naive.c: MATH.md part II as plain loops with bounds checks. */
void naive_forward(const struct shape *s, const float *x, const float *w, const float *b, float *y);
void naive_grad_weight(const struct shape *s, const float *x, const float *dy, float *dw);
void naive_grad_input(const struct shape *s, const float *w, const float *dy, float *dx);
void naive_grad_bias(const struct shape *s, const float *dy, float *db);

#endif
