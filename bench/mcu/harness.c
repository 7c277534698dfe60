/* bench/mcu/harness.c: the firmware of one bench/mcu measurement, on QEMU's
** mps2-an386 board.  It calls each op of conv.h once (and, with BENCH_NAIVE,
** the naive loops of naive_fixed.c once each) between two calls of
** bench_mark(), whose entries the insns.so plugin counts up to: an op's
** instructions are the difference of its two counts, less that of two marks
** with nothing between them. */
#include <stddef.h>
#include <stdio.h>

#include "conv.h"
#ifdef BENCH_NAIVE
#include "naive_fixed.h"
#endif

typedef float T;
#include "harness.h"

static T x[conv_INPUT_SIZE], w[conv_WEIGHT_SIZE], b[conv_BIAS_SIZE], y[conv_OUTPUT_SIZE];
static T dy[conv_OUTPUT_SIZE], dx[conv_INPUT_SIZE], dw[conv_WEIGHT_SIZE], db[conv_BIAS_SIZE];
#ifdef conv_WORKSPACE_ARG
/* T's alignment is the workspace's on a core without a vector unit. */
typedef char ws_alignment_ok[conv_WORKSPACE_ALIGN <= sizeof(T) ? 1 : -1];
static T ws[(conv_WORKSPACE_BYTES + sizeof(T) - 1) / sizeof(T)];
#define WS , ws
#else
#define WS
#endif

int main(void)
{
	fill(x, conv_INPUT_SIZE, 3);
	fill(w, conv_WEIGHT_SIZE, 5);
	fill(b, conv_BIAS_SIZE, 2);
	fill(dy, conv_OUTPUT_SIZE, 4);
	MEASURE((void)0);
	MEASURE(conv_forward(x, w, b, y WS));
	MEASURE(conv_grad_weight(x, dy, dw WS));
	MEASURE(conv_grad_input(w, dy, dx WS));
	MEASURE(conv_grad_bias(dy, db WS));
#ifdef BENCH_NAIVE
	MEASURE(fixed_forward(x, w, b, y));
	MEASURE(fixed_grad_weight(x, dy, dw));
	MEASURE(fixed_grad_input(w, dy, dx));
	MEASURE(fixed_grad_bias(dy, db));
#endif
	/* The results are used, so no call is dead. */
	printf("sums %g %g %g %g\n", sum(y, conv_OUTPUT_SIZE), sum(dw, conv_WEIGHT_SIZE), sum(dx, conv_INPUT_SIZE),
	       sum(db, conv_BIAS_SIZE));
	return 0;
}
