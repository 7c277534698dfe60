/* bench/mcu/fused.c: the firmware of one fused measurement of scripts/bench-mcu
** --fused, on QEMU's mps2-an386 board.  One layer generated four times: conv.h
** (the plain ops), relu.h (--activation relu --ops forward), sgd.h (--ops
** sgd_update) and sgdm.h (--ops sgd_update --momentum).  Each job runs once
** between two calls of bench_mark(), as in harness.c: forward, forward with
** the ReLU, grad_weight, sgd_update, grad_weight followed by the update loop a
** caller would write, sgd_update with momentum, grad_weight followed by the
** momentum loop.  sgd_update is called with bias NULL, as grad_weight gives no
** dL/db. */
#include <stddef.h>
#include <stdio.h>

#include "conv.h"
#include "relu.h"
#include "sgd.h"
#include "sgdm.h"

typedef float T;
#include "harness.h"

static T x[conv_INPUT_SIZE], w[conv_WEIGHT_SIZE], b[conv_BIAS_SIZE], y[conv_OUTPUT_SIZE];
static T dy[conv_OUTPUT_SIZE], dw[conv_WEIGHT_SIZE], v[conv_WEIGHT_SIZE];

/* The loops sgd_update replaces. */
static void update_loop(T *weight, const T *grad, T lr)
{
	size_t i;
	for (i = 0; i < conv_WEIGHT_SIZE; i++)
		weight[i] -= lr * grad[i];
}

static void momentum_loop(T *weight, T *velocity, const T *grad, T lr, T momentum)
{
	size_t i;
	for (i = 0; i < conv_WEIGHT_SIZE; i++) {
		velocity[i] = momentum * velocity[i] + grad[i];
		weight[i] -= lr * velocity[i];
	}
}

int main(void)
{
	const T lr = 0.0078125f, momentum = 0.875f;
	fill(x, conv_INPUT_SIZE, 3);
	fill(w, conv_WEIGHT_SIZE, 5);
	fill(b, conv_BIAS_SIZE, 2);
	fill(dy, conv_OUTPUT_SIZE, 4);
	MEASURE((void)0);
	MEASURE(conv_forward(x, w, b, y));
	MEASURE(relu_forward(x, w, b, y));
	MEASURE(conv_grad_weight(x, dy, dw));
	MEASURE(sgd_sgd_update(x, dy, w, NULL, lr));
	MEASURE((conv_grad_weight(x, dy, dw), update_loop(w, dw, lr)));
	MEASURE(sgdm_sgd_update(x, dy, w, NULL, v, NULL, lr, momentum));
	MEASURE((conv_grad_weight(x, dy, dw), momentum_loop(w, v, dw, lr, momentum)));
	/* The results are used, so no call is dead. */
	printf("sums %g %g %g %g\n", sum(y, conv_OUTPUT_SIZE), sum(dw, conv_WEIGHT_SIZE), sum(w, conv_WEIGHT_SIZE),
	       sum(v, conv_WEIGHT_SIZE));
	return 0;
}
