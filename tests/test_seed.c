/* test_seed.c: the notes' worked example (docs/math.md, the seed example): a 5x5 input and a
** 3x3 kernel give Y 3x3, dW 3x3, dI 5x5.  Expected values are derived by hand
** in the comments, not computed by any code under test. */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

typedef void forward_fn(const double *, const double *, const double *, double *);
typedef void grad_weight_fn(const double *, const double *, double *);
typedef void grad_input_fn(const double *, const double *, double *);
typedef void grad_bias_fn(const double *, double *);

static char dir[256];
static void *lib;
static forward_fn *forward;
static grad_weight_fn *grad_weight;
static grad_input_fn *grad_input;
static grad_bias_fn *grad_bias;

/* I(i,j) = 5i + j: 0..24 in row-major order. */
static double I[25];

static void setup(void)
{
	char cmd[1024], so[300];
	int p;
	for (p = 0; p < 25; p++)
		I[p] = p;
	cr_assert(scratch_dir(dir, sizeof dir));
	cr_assert_eq(generate(dir, "seed", "--input 5x5 --kernel 3x3 --dtype double"), 0);
	snprintf(so, sizeof so, "%s/seed.so", dir);
	snprintf(cmd, sizeof cmd, "cc -std=c99 -O2 -shared -fPIC -o %s %s/seed.c", so, dir);
	cr_assert_eq(run_shell(cmd), 0, "%s", cmd);
	lib = dlopen(so, RTLD_NOW);
	cr_assert(lib, "%s", dlerror());
	*(void **)&forward = dlsym(lib, "seed_forward");
	*(void **)&grad_weight = dlsym(lib, "seed_grad_weight");
	*(void **)&grad_input = dlsym(lib, "seed_grad_input");
	*(void **)&grad_bias = dlsym(lib, "seed_grad_bias");
	cr_assert(forward && grad_weight && grad_input && grad_bias);
}

static void teardown(void)
{
	if (lib)
		dlclose(lib);
	remove_dir(dir);
}

TestSuite(seed, .init = setup, .fini = teardown);

/* W = identity on the diagonal: Y(i,j) = I(i,j) + I(i+1,j+1) + I(i+2,j+2) + b
**   = (5i+j) + (5i+j+6) + (5i+j+12) + b = 15i + 3j + 18 + b. */
Test(seed, forward_with_a_diagonal_kernel)
{
	const double W[9] = { 1, 0, 0, 0, 1, 0, 0, 0, 1 }, b = 1;
	double Y[9];
	int i, j;
	forward(I, W, &b, Y);
	for (i = 0; i < 3; i++)
		for (j = 0; j < 3; j++)
			cr_expect_eq(Y[i * 3 + j], 15 * i + 3 * j + 19, "Y(%d,%d) = %g", i, j, Y[i * 3 + j]);
	forward(I, W, NULL, Y);
	cr_expect_eq(Y[8], 15 * 2 + 3 * 2 + 18, "bias NULL adds no bias");
}

/* W has a single 1 at (m,n) = (0,2): Y(i,j) = I(i, j+2) + b = 5i + j + 2 + b.
** A flipped (convolution) kernel would give I(i+2, j) instead. */
Test(seed, forward_is_a_cross_correlation_not_a_convolution)
{
	const double W[9] = { 0, 0, 1, 0, 0, 0, 0, 0, 0 }, b = -3;
	double Y[9];
	int i, j;
	forward(I, W, &b, Y);
	for (i = 0; i < 3; i++)
		for (j = 0; j < 3; j++)
			cr_expect_eq(Y[i * 3 + j], 5 * i + j + 2 - 3, "Y(%d,%d) = %g", i, j, Y[i * 3 + j]);
}

/* dY(i,j) = 3i + j + 1 (1..9).  dW(m,n) = sum_ij dY(i,j) I(i+m, j+n)
**   = sum (3i+j+1)(5i+j) + (5m+n) sum (3i+j+1)
**   = (15*15 + 8*9 + 15 + 5*9 + 9) + 45 (5m+n) = 366 + 225m + 45n,
** using over the 3x3 grid: sum i^2 = 15, sum ij = 9, sum i = sum j = 9. */
Test(seed, grad_weight_is_dY_cross_correlated_with_I)
{
	const double dY[9] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };
	double dW[9];
	int m, n;
	grad_weight(I, dY, dW);
	for (m = 0; m < 3; m++)
		for (n = 0; n < 3; n++)
			cr_expect_eq(dW[m * 3 + n], 366 + 225 * m + 45 * n, "dW(%d,%d) = %g", m, n, dW[m * 3 + n]);
}

/* W with a single 1 at (0,2): dI(y,x) = sum_mn dY(y-m, x-n) W(m,n) = dY(y, x-2),
** zero where (y, x-2) leaves dY's 3x3 range: dY shifted right by two. */
Test(seed, grad_input_is_the_full_convolution_with_W)
{
	const double W[9] = { 0, 0, 1, 0, 0, 0, 0, 0, 0 };
	const double dY[9] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };
	const double expected[25] = {
		0, 0, 1, 2, 3,
		0, 0, 4, 5, 6,
		0, 0, 7, 8, 9,
		0, 0, 0, 0, 0,
		0, 0, 0, 0, 0,
	};
	double dI[25];
	int p;
	grad_input(W, dY, dI);
	for (p = 0; p < 25; p++)
		cr_expect_eq(dI[p], expected[p], "dI(%d,%d) = %g, expected %g", p / 5, p % 5, dI[p], expected[p]);
}

/* Diagonal W and dY = 1: dI(y,x) counts the m in 0..2 with 0 <= y-m <= 2 and
** 0 <= x-m <= 2, i.e. m in [max(0, y-2, x-2), min(2, y, x)]. */
Test(seed, grad_input_counts_the_outputs_each_pixel_touches)
{
	const double W[9] = { 1, 0, 0, 0, 1, 0, 0, 0, 1 };
	const double dY[9] = { 1, 1, 1, 1, 1, 1, 1, 1, 1 };
	const double expected[25] = {
		1, 1, 1, 0, 0,
		1, 2, 2, 1, 0,
		1, 2, 3, 2, 1,
		0, 1, 2, 2, 1,
		0, 0, 1, 1, 1,
	};
	double dI[25];
	int p;
	grad_input(W, dY, dI);
	for (p = 0; p < 25; p++)
		cr_expect_eq(dI[p], expected[p], "dI(%d,%d) = %g, expected %g", p / 5, p % 5, dI[p], expected[p]);
}

/* db = sum dY = 1 + ... + 9 = 45. */
Test(seed, grad_bias_sums_dY)
{
	const double dY[9] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };
	double db = -1;
	grad_bias(dY, &db);
	cr_expect_eq(db, 45);
}

/* The whole chain, as the notes derive it, on the 5x5 example: verify proves it. */
Test(seed, verify_proves_the_notes_layer)
{
	struct run *r = malloc(sizeof *r);
	run_convgen(r, NULL, NULL, "verify --input 5x5 --kernel 3x3");
	cr_expect_eq(r->status, 0, "%s%s", r->out, r->err);
	cr_expect(strstr(r->out, "proved") != NULL, "%s", r->out);
	free(r);
}
