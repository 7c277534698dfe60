/* bench/peak.c: the FP32 FMA peak of one core, measured with intrinsics, so that
** the instructions timed are the same whatever the compiler or language mode:
** CHAINS independent chains acc = acc * b + c of fused multiply-adds on the widest
** vector the CPU supports (chosen at run time on x86-64: AVX-512F, else AVX2+FMA;
** NEON on AArch64).  CHAINS covers FMA latency x FMA ports on current cores
** (e.g. 4 cycles x 2 ports = 8 in flight on Zen 3, Skylake, Neoverse N1). */
#define _POSIX_C_SOURCE 200112L
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#elif defined(__aarch64__)
#include <arm_neon.h>
#endif

/* The benchmark's clock, in seconds: the CPU time of the process (so that time the
** scheduler gives to other work on the same core does not count), or with
** BENCH_WALL=1 in the environment the monotonic wall clock. */
double bench_now(void)
{
	static int wall = -1;
	struct timespec t;
	if (wall < 0) wall = getenv("BENCH_WALL") && *getenv("BENCH_WALL") && strcmp(getenv("BENCH_WALL"), "0");
	clock_gettime(wall ? CLOCK_MONOTONIC : CLOCK_PROCESS_CPUTIME_ID, &t);
	return t.tv_sec + t.tv_nsec * 1e-9;
}

/* Each kernel runs 'iters' rounds of CHAINS FMAs and returns GFLOP/s (2 flops per
** lane per FMA).  The empty asm on b each round keeps the compiler from folding. */
#define PEAK_BODY(vec, lanes, chains, set1, fmadd, cvt, reg) \
	vec a[chains], b = set1(0.999f), c = set1(0.001f); \
	int i; \
	long r; \
	double t0, t; \
	float sink = 0; \
	for (i = 0; i < chains; i++) a[i] = set1((float)i); \
	t0 = bench_now(); \
	for (r = 0; r < iters; r++) { \
		_Pragma("GCC unroll 16") \
		for (i = 0; i < chains; i++) a[i] = fmadd(a[i], b, c); \
		__asm__ volatile("" : "+" reg(b)); \
	} \
	t = bench_now() - t0; \
	for (i = 0; i < chains; i++) sink += cvt(a[i]); \
	bench_sink += sink; \
	return 2.0 * chains * lanes * iters / t * 1e-9;

#if defined(__x86_64__) || defined(__i386__)
__attribute__((target("avx512f"))) static float first512(__m512 v) { return _mm512_cvtss_f32(v); }
__attribute__((target("avx512f"))) static double peak_avx512(long iters)
{
	PEAK_BODY(__m512, 16, 16, _mm512_set1_ps, _mm512_fmadd_ps, first512, "v")
}

__attribute__((target("avx2,fma"))) static float first256(__m256 v) { return _mm256_cvtss_f32(v); }
__attribute__((target("avx2,fma"))) static double peak_avx2(long iters)
{
	PEAK_BODY(__m256, 8, 12, _mm256_set1_ps, _mm256_fmadd_ps, first256, "x")
}
#elif defined(__aarch64__)
/* vfmaq_f32(acc, x, y) is acc + x * y: argument order adapted to fmadd(a, b, c) = a * b + c. */
#define vfmaq_f32_acc(a, b, c) vfmaq_f32((c), (a), (b))
#define vgetq_lane_f32_0(v) vgetq_lane_f32((v), 0)
static double peak_neon(long iters)
{
	PEAK_BODY(float32x4_t, 4, 16, vdupq_n_f32, vfmaq_f32_acc, vgetq_lane_f32_0, "w")
}
#endif

static float first1(float v) { return v; }
static double peak_scalar(long iters)
{
	PEAK_BODY(float, 1, 12, (float), fmaf, first1, "g")
}

/* Return the best of 9 runs of ~0.05 s, in GFLOP/s, with *isa naming the vector ISA used. */
double bench_peak(const char **isa)
{
	double best = 0, g;
	double (*fn)(long) = peak_scalar;
	long iters = 25000000;
	int r;
	*isa = "scalar fmaf, 32-bit";
#if defined(__x86_64__) || defined(__i386__)
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx512f")) {
		fn = peak_avx512; iters = 25000000;
		*isa = "AVX-512F FMA, 512-bit";
	} else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
		fn = peak_avx2; iters = 25000000;
		*isa = "AVX2 FMA, 256-bit";
	}
#elif defined(__aarch64__)
	fn = peak_neon; iters = 25000000;
	*isa = "NEON FMA, 128-bit";
#endif
	for (r = 0; r < 9; r++)
		if ((g = fn(iters)) > best) best = g;
	return best;
}
