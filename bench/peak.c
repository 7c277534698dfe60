/* bench/peak.c: the FP32 FMA peak of one core, measured: 12 independent chains of
** vector multiply-adds (GCC vector extensions, so -march=native picks the width). */
#include <time.h>

#include "bench.h"

#define CHAINS 12

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec * 1e-9;
}

#define PEAK_LOOP(fname, bytes) \
typedef float fname##_v __attribute__((vector_size(bytes))); \
static double fname(long iters) \
{ \
	fname##_v a[CHAINS], b, c; \
	int i, l; \
	long r; \
	double t0, t; \
	float sink = 0; \
	for (l = 0; l < (int)(bytes / 4); l++) { b[l] = 0.999f; c[l] = 0.001f; } \
	for (i = 0; i < CHAINS; i++) for (l = 0; l < (int)(bytes / 4); l++) a[i][l] = (float)i; \
	t0 = now(); \
	for (r = 0; r < iters; r++) { \
		_Pragma("GCC unroll 12") \
		for (i = 0; i < CHAINS; i++) a[i] = a[i] * b + c; \
		__asm__ volatile("" : "+x"(b)); \
	} \
	t = now() - t0; \
	for (i = 0; i < CHAINS; i++) sink += a[i][0]; \
	bench_sink += sink; \
	return 2.0 * CHAINS * (bytes / 4) * iters / t * 1e-9; \
}
PEAK_LOOP(peak256, 32)
PEAK_LOOP(peak512, 64)

/* Return the best of 5 runs of ~0.1 s: GFLOP/s with 256-bit and with 512-bit vectors. */
void bench_peak(double *gflops256, double *gflops512)
{
	int r;
	*gflops256 = *gflops512 = 0;
	for (r = 0; r < 5; r++) {
		double a = peak256(4000000), b = peak512(2000000);
		if (a > *gflops256) *gflops256 = a;
		if (b > *gflops512) *gflops512 = b;
	}
}
