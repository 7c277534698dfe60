/* bench/mcu/naive_fixed.c: the baseline, bench/naive.c's loops specialized to
** the layer of conv.h: each static loop nest is called once with a constant
** shape, so the compiler folds every size into it, as in hand-written
** fixed-size loops. */
#define NAIVE_STATIC
#include "naive.c"
#include "conv.h"
#include "naive_fixed.h"

static const struct shape fixed = {
	"conv", "", conv_BATCH, conv_IN_CHANNELS, conv_OUT_CHANNELS, conv_GROUPS, conv_INPUT_H, conv_INPUT_W,
	conv_KERNEL_H, conv_KERNEL_W, conv_STRIDE_H, conv_STRIDE_W, conv_PADDING_H, conv_PADDING_W,
	conv_DILATION_H, conv_DILATION_W, conv_OUTPUT_H, conv_OUTPUT_W,
};

void fixed_forward(const float *x, const float *w, const float *b, float *y)
{
	naive_forward(&fixed, x, w, b, y);
}

void fixed_grad_weight(const float *x, const float *dy, float *dw)
{
	naive_grad_weight(&fixed, x, dy, dw);
}

void fixed_grad_input(const float *w, const float *dy, float *dx)
{
	naive_grad_input(&fixed, w, dy, dx);
}

void fixed_grad_bias(const float *dy, float *db)
{
	naive_grad_bias(&fixed, dy, db);
}
