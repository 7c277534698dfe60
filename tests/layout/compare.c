/* tests/layout/compare.c: the same layer generated channels-first (nchw.h)
** and channels-last (nhwc.h), run on the same integer data: this program
** transposes the tensors itself, NCHW to NHWC and OIHW weights to OHWI, and
** every output of the two must be equal (integers this small sum exactly in
** float, in any order).  Independent of the verifier's own channels-last
** mapping.  Prints each mismatch; exits 1 on any. */
#include <stdio.h>

#include "nchw.h"
#include "nhwc.h"

#define N nchw_BATCH
#define C nchw_IN_CHANNELS
#define K nchw_OUT_CHANNELS
#define CG (nchw_IN_CHANNELS / nchw_GROUPS)
#define H nchw_INPUT_H
#define W nchw_INPUT_W
#define OH nchw_OUTPUT_H
#define OW nchw_OUTPUT_W
#define K1 nchw_KERNEL_H
#define K2 nchw_KERNEL_W

static float x[nchw_INPUT_SIZE], xt[nchw_INPUT_SIZE], w[nchw_WEIGHT_SIZE], wt[nchw_WEIGHT_SIZE];
static float b[nchw_BIAS_SIZE], dy[nchw_OUTPUT_SIZE], dyt[nchw_OUTPUT_SIZE];
static float y[nchw_OUTPUT_SIZE], yt[nchw_OUTPUT_SIZE], dx[nchw_INPUT_SIZE], dxt[nchw_INPUT_SIZE];
static float dw[nchw_WEIGHT_SIZE], dwt[nchw_WEIGHT_SIZE], db[nchw_BIAS_SIZE], dbt[nchw_BIAS_SIZE];
#ifdef nhwc_WORKSPACE_ARG
#error "compare.c: generate without --workspace"
#endif

static int bad;

static void same(const char *what, int i, float first, float last)
{
	if (first != last && bad++ < 20)
		printf("%s[%d]: nchw %g, nhwc %g\n", what, i, (double)first, (double)last);
}

int main(void)
{
	int n, c, k, i, j, m, q;
	for (i = 0; i < nchw_INPUT_SIZE; i++)
		x[i] = (float)(i * 7 % 11 - 5);
	for (i = 0; i < nchw_WEIGHT_SIZE; i++)
		w[i] = (float)(i * 5 % 7 - 3);
	for (i = 0; i < nchw_BIAS_SIZE; i++)
		b[i] = (float)(i % 5 - 2);
	for (i = 0; i < nchw_OUTPUT_SIZE; i++)
		dy[i] = (float)(i * 3 % 13 - 6);
	for (n = 0; n < N; n++)
		for (c = 0; c < C; c++)
			for (i = 0; i < H; i++)
				for (j = 0; j < W; j++)
					xt[((n * H + i) * W + j) * C + c] = x[((n * C + c) * H + i) * W + j];
	for (n = 0; n < N; n++)
		for (k = 0; k < K; k++)
			for (i = 0; i < OH; i++)
				for (j = 0; j < OW; j++)
					dyt[((n * OH + i) * OW + j) * K + k] = dy[((n * K + k) * OH + i) * OW + j];
	for (k = 0; k < K; k++)
		for (c = 0; c < CG; c++)
			for (m = 0; m < K1; m++)
				for (q = 0; q < K2; q++)
					wt[((k * K1 + m) * K2 + q) * CG + c] = w[((k * CG + c) * K1 + m) * K2 + q];

	nchw_forward(x, w, b, y);
	nhwc_forward(xt, wt, b, yt);
	nchw_grad_weight(x, dy, dw);
	nhwc_grad_weight(xt, dyt, dwt);
	nchw_grad_input(w, dy, dx);
	nhwc_grad_input(wt, dyt, dxt);
	nchw_grad_bias(dy, db);
	nhwc_grad_bias(dyt, dbt);

	for (n = 0; n < N; n++)
		for (k = 0; k < K; k++)
			for (i = 0; i < OH; i++)
				for (j = 0; j < OW; j++) {
					int at = ((n * K + k) * OH + i) * OW + j;
					same("output", at, y[at], yt[((n * OH + i) * OW + j) * K + k]);
				}
	for (n = 0; n < N; n++)
		for (c = 0; c < C; c++)
			for (i = 0; i < H; i++)
				for (j = 0; j < W; j++) {
					int at = ((n * C + c) * H + i) * W + j;
					same("grad_input", at, dx[at], dxt[((n * H + i) * W + j) * C + c]);
				}
	for (k = 0; k < K; k++)
		for (c = 0; c < CG; c++)
			for (m = 0; m < K1; m++)
				for (q = 0; q < K2; q++) {
					int at = ((k * CG + c) * K1 + m) * K2 + q;
					same("grad_weight", at, dw[at], dwt[((k * K1 + m) * K2 + q) * CG + c]);
				}
	for (k = 0; k < K; k++)
		same("grad_bias", k, db[k], dbt[k]);
	printf("compared %d outputs, %d differ\n",
	       nchw_OUTPUT_SIZE + nchw_INPUT_SIZE + nchw_WEIGHT_SIZE + nchw_BIAS_SIZE, bad);
	return bad != 0;
}
