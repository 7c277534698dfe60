/* bench/mcu/harness.h: what the firmware of harness.c and fused.c share: the
** mark the insns.so plugin counts up to, and the buffers' fill and checksum.
** Each image includes it once, after typedef'ing T. */
#ifndef BENCH_MCU_HARNESS_H
#define BENCH_MCU_HARNESS_H

#include <stddef.h>

/* Not inlined, and a call the compiler cannot drop or move across the
** buffers: the plugin counts at its entry. */
__attribute__((noinline)) void bench_mark(void);
__attribute__((noinline)) void bench_mark(void)
{
	__asm__ volatile("" : : : "memory");
}

#define MEASURE(call) do { bench_mark(); call; bench_mark(); } while (0)

static void fill(T *p, size_t n, unsigned step)
{
	size_t i;
	for (i = 0; i < n; i++)
		p[i] = (T)((int)(i * step % 7u) - 3) * 0.25f;
}

static double sum(const T *p, size_t n)
{
	double s = 0;
	size_t i;
	for (i = 0; i < n; i++)
		s += (double)p[i];
	return s;
}

#endif
