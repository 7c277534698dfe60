/* cross_driver.c: runs a generated layer's kernels on small integer inputs and
** compares every output element, with ==, to naive loops written from the
** formulas of docs/math.md.  tests/test_cross.c builds it together with the
** generated NAME.c for aarch64 and runs it under qemu; it is plain C99 and
** builds for any target.
**
** Build with:
**   -DCROSS_HEADER='"NAME.h"'  the generated header
**   -DCROSS_NAME=NAME          the --name the kernels were generated with
**   -DCROSS_REAL=float|double  their --dtype
**   -DCROSS_FORWARD -DCROSS_GRAD_WEIGHT -DCROSS_GRAD_INPUT -DCROSS_GRAD_BIAS
**                              the ops to run, when the file has only some
**                              (--ops); none of them means all four.
**
** Every input is an integer in [-8, 8], so every product and partial sum is an
** integer far below 2^24: exact in float and double, in any order of
** summation.  The references are computed in 64-bit integers.  Outputs are
** pre-filled with NaN (a kernel must overwrite them, not add to them), and
** followed by guard elements that must stay untouched.
**
** Prints the first mismatch (op, index, expected, got) and exits 1, or prints
** one summary line starting "cross: all exact" and exits 0. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include CROSS_HEADER

#if !defined(CROSS_FORWARD) && !defined(CROSS_GRAD_WEIGHT) && !defined(CROSS_GRAD_INPUT) && \
    !defined(CROSS_GRAD_BIAS)
#define CROSS_FORWARD
#define CROSS_GRAD_WEIGHT
#define CROSS_GRAD_INPUT
#define CROSS_GRAD_BIAS
#endif

#define CAT_(a, b) a##_##b
#define CAT(a, b) CAT_(a, b)
#define L(x) CAT(CROSS_NAME, x)

typedef CROSS_REAL real;

#define NB L(BATCH)
#define C L(IN_CHANNELS)
#define K L(OUT_CHANNELS)
#define G L(GROUPS)
#define H L(INPUT_H)
#define W L(INPUT_W)
#define K1 L(KERNEL_H)
#define K2 L(KERNEL_W)
#define SH L(STRIDE_H)
#define SW L(STRIDE_W)
#define PH L(PADDING_H)
#define PW L(PADDING_W)
#define DH L(DILATION_H)
#define DW L(DILATION_W)
#define OH L(OUTPUT_H)
#define OW L(OUTPUT_W)
#define CG (C / G)
#define KG (K / G)

#define IN_SIZE L(INPUT_SIZE)
#define W_SIZE L(WEIGHT_SIZE)
#define OUT_SIZE L(OUTPUT_SIZE)
#define B_SIZE L(BIAS_SIZE)

/* Guard elements after each output array. */
#define GUARD 16
#define GUARD_VALUE ((real)12345)

static unsigned long state = 12345;

static int small_int(void)
{
	state = (state * 1103515245UL + 12345UL) & 0x7fffffffUL;
	return (int)((state >> 16) % 17) - 8;
}

static real *fill_input(long n, long *ints)
{
	real *a = malloc((size_t)n * sizeof *a);
	long i;
	if (!a)
		exit(2);
	for (i = 0; i < n; i++)
		a[i] = (real)(ints[i] = small_int());
	return a;
}

static real *new_output(long n)
{
	real *a = malloc((size_t)(n + GUARD) * sizeof *a);
	long i;
	if (!a)
		exit(2);
	for (i = 0; i < n; i++)
		a[i] = (real)NAN;
	for (i = n; i < n + GUARD; i++)
		a[i] = GUARD_VALUE;
	return a;
}

static long *new_longs(long n)
{
	long *a = calloc((size_t)n, sizeof *a);
	if (!a)
		exit(2);
	return a;
}

/* Exit 1 at the first element of 'got' that differs from 'want', or at a
** guard element that changed; returns the number of elements compared. */
static long check(const char *op, const long *want, const real *got, long n)
{
	long i;
	for (i = 0; i < n; i++)
		if (!(got[i] == (real)want[i])) {
			printf("cross: mismatch in %s at index %ld of %ld: expected %ld, got %.17g\n", op, i, n,
			       want[i], (double)got[i]);
			exit(1);
		}
	for (i = n; i < n + GUARD; i++)
		if (!(got[i] == GUARD_VALUE)) {
			printf("cross: mismatch in %s at index %ld, past the end of its %ld elements: "
			       "expected %g (untouched), got %.17g\n",
			       op, i, n, (double)GUARD_VALUE, (double)got[i]);
			exit(1);
		}
	return n;
}

static long in_index(long n, long ch, long y, long x)
{
	return ((n * C + ch) * H + y) * W + x;
}

static long w_index(long k, long c, long m, long q)
{
	return ((k * CG + c) * K1 + m) * K2 + q;
}

static long out_index(long n, long k, long i, long j)
{
	return ((n * K + k) * OH + i) * OW + j;
}

int main(void)
{
	long *ii = new_longs(IN_SIZE), *wi = new_longs(W_SIZE), *bi = new_longs(B_SIZE);
	long *dyi = new_longs(OUT_SIZE);
	real *in = fill_input(IN_SIZE, ii), *weight = fill_input(W_SIZE, wi);
	real *bias = fill_input(B_SIZE, bi), *dy = fill_input(OUT_SIZE, dyi);
	long n, k, c, m, q, i, j, checked = 0;
	char ops[128] = "";
	(void)in; (void)weight; (void)bias; (void)dy;
	(void)n; (void)k; (void)c; (void)m; (void)q; (void)i; (void)j;
	(void)in_index; (void)w_index; (void)out_index;

#ifdef CROSS_FORWARD
	{
		long *y = new_longs(OUT_SIZE), *y0 = new_longs(OUT_SIZE);
		real *got = new_output(OUT_SIZE);
		for (n = 0; n < NB; n++)
			for (k = 0; k < K; k++)
				for (i = 0; i < OH; i++)
					for (j = 0; j < OW; j++) {
						long s = 0;
						for (c = 0; c < CG; c++)
							for (m = 0; m < K1; m++)
								for (q = 0; q < K2; q++) {
									long yy = i * SH + m * DH - PH, xx = j * SW + q * DW - PW;
									if (yy >= 0 && yy < H && xx >= 0 && xx < W)
										s += ii[in_index(n, (k / KG) * CG + c, yy, xx)] *
										     wi[w_index(k, c, m, q)];
								}
						y0[out_index(n, k, i, j)] = s;
						y[out_index(n, k, i, j)] = s + bi[k];
					}
		L(forward)(in, weight, bias, got);
		checked += check("forward", y, got, OUT_SIZE);
		free(got);
		got = new_output(OUT_SIZE);
		L(forward)(in, weight, NULL, got);
		checked += check("forward (bias NULL)", y0, got, OUT_SIZE);
		free(got);
		free(y);
		free(y0);
		strcat(ops, "forward, forward (bias NULL)");
	}
#endif
#ifdef CROSS_GRAD_WEIGHT
	{
		long *dw = new_longs(W_SIZE);
		real *got = new_output(W_SIZE);
		for (k = 0; k < K; k++)
			for (c = 0; c < CG; c++)
				for (m = 0; m < K1; m++)
					for (q = 0; q < K2; q++) {
						long s = 0;
						for (n = 0; n < NB; n++)
							for (i = 0; i < OH; i++)
								for (j = 0; j < OW; j++) {
									long yy = i * SH + m * DH - PH, xx = j * SW + q * DW - PW;
									if (yy >= 0 && yy < H && xx >= 0 && xx < W)
										s += ii[in_index(n, (k / KG) * CG + c, yy, xx)] *
										     dyi[out_index(n, k, i, j)];
								}
						dw[w_index(k, c, m, q)] = s;
					}
		L(grad_weight)(in, dy, got);
		checked += check("grad_weight", dw, got, W_SIZE);
		free(got);
		free(dw);
		sprintf(ops + strlen(ops), "%sgrad_weight", *ops ? ", " : "");
	}
#endif
#ifdef CROSS_GRAD_INPUT
	{
		/* dI[n,ch,y,x]: the sum over the (k, m, q, i, j) that read input (y, x),
		** gathered here by spreading each product onto the position it reads. */
		long *di = new_longs(IN_SIZE);
		real *got = new_output(IN_SIZE);
		for (n = 0; n < NB; n++)
			for (k = 0; k < K; k++)
				for (c = 0; c < CG; c++)
					for (m = 0; m < K1; m++)
						for (q = 0; q < K2; q++)
							for (i = 0; i < OH; i++)
								for (j = 0; j < OW; j++) {
									long yy = i * SH + m * DH - PH, xx = j * SW + q * DW - PW;
									if (yy >= 0 && yy < H && xx >= 0 && xx < W)
										di[in_index(n, (k / KG) * CG + c, yy, xx)] +=
										    wi[w_index(k, c, m, q)] * dyi[out_index(n, k, i, j)];
								}
		L(grad_input)(weight, dy, got);
		checked += check("grad_input", di, got, IN_SIZE);
		free(got);
		free(di);
		sprintf(ops + strlen(ops), "%sgrad_input", *ops ? ", " : "");
	}
#endif
#ifdef CROSS_GRAD_BIAS
	{
		long *db = new_longs(B_SIZE);
		real *got = new_output(B_SIZE);
		for (k = 0; k < K; k++)
			for (n = 0; n < NB; n++)
				for (i = 0; i < OH; i++)
					for (j = 0; j < OW; j++)
						db[k] += dyi[out_index(n, k, i, j)];
		L(grad_bias)(dy, got);
		checked += check("grad_bias", db, got, B_SIZE);
		free(got);
		free(db);
		sprintf(ops + strlen(ops), "%sgrad_bias", *ops ? ", " : "");
	}
#endif
	printf("cross: all exact: %ld elements of %s (%s)\n", checked, ops,
	       sizeof(real) == sizeof(float) ? "float" : "double");
	return 0;
}
