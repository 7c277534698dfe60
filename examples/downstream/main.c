/* main.c: call the generated layers and check values worked out by hand:
** conv1's forward, and one layer trained in place, relu1: a ReLU fused into
** its forward pass and two SGD steps with momentum. */
#include <stdio.h>

#include "conv1.h"
#include "relu1.h"

static int check(const char *what, float got, float want)
{
	if (got == want)
		return 1;
	fprintf(stderr, "%s: expected %g, computed %g\n", what, want, got);
	return 0;
}

/* relu1, 4x4 input, 3x3 kernel, padding 1, all ones in, all ones in the
** kernel, bias -5: the convolution sums 4 ones at a corner, 6 on an edge and
** 9 inside, so Y = max(0, Z - 5) is 0 at the 4 corners, 1 on the 8 edges and
** 4 at the 4 inner pixels.  With dL/dY = 1, the mask [Y > 0] keeps the 12
** pixels that are not corners: dL/db = 12, the centre tap's dL/dW = 12 (every
** kept pixel), the corner tap (0,0)'s 8 (kept pixels with a pixel up and to
** the left: the 3x3 block at the bottom right but its corner).  dL/dI at the
** corner (0,0): the kept pixels among its 4 neighbours, 3; at (1,1): 8 of 9.
** Two steps of lr 1/2, momentum 1/2 on the same gradient g, from v = 0:
** v1 = g, W1 = W0 - g/2; v2 = g/2 + g, W2 = W1 - 3g/4, all exact in float. */
static int train_relu1(void)
{
	float input[relu1_INPUT_SIZE], output[relu1_OUTPUT_SIZE], grad_output[relu1_OUTPUT_SIZE];
	float grad_input[relu1_INPUT_SIZE], weight[relu1_WEIGHT_SIZE], bias[relu1_BIAS_SIZE] = {-5.0f};
	float velocity_w[relu1_WEIGHT_SIZE], velocity_b[relu1_BIAS_SIZE] = {0.0f};
	const int centre = 1 * relu1_KERNEL_W + 1, side = relu1_OUTPUT_W;
	int i, ok = 1, step;

	for (i = 0; i < relu1_INPUT_SIZE; i++)
		input[i] = 1.0f;
	for (i = 0; i < relu1_WEIGHT_SIZE; i++) {
		weight[i] = 1.0f;
		velocity_w[i] = 0.0f;
	}
	for (i = 0; i < relu1_OUTPUT_SIZE; i++)
		grad_output[i] = 1.0f;

	relu1_forward(input, weight, bias, output);
	ok &= check("relu1 forward corner", output[0], 0.0f);
	ok &= check("relu1 forward edge", output[1], 1.0f);
	ok &= check("relu1 forward inside", output[side + 1], 4.0f);
	/* grad_input reads the weight: call it before the step changes it. */
	relu1_grad_input(weight, output, grad_output, grad_input);
	ok &= check("relu1 grad_input corner", grad_input[0], 3.0f);
	ok &= check("relu1 grad_input inside", grad_input[side + 1], 8.0f);
	for (step = 0; step < 2; step++)
		relu1_sgd_update(input, output, grad_output, weight, bias, velocity_w, velocity_b, 0.5f, 0.5f);
	ok &= check("relu1 weight (0,0) after 2 steps", weight[0], 1.0f - 0.5f * 8 - 0.75f * 8);
	ok &= check("relu1 weight centre after 2 steps", weight[centre], 1.0f - 0.5f * 12 - 0.75f * 12);
	ok &= check("relu1 velocity centre after 2 steps", velocity_w[centre], 1.5f * 12);
	ok &= check("relu1 bias after 2 steps", bias[0], -5.0f - 0.5f * 12 - 0.75f * 12);
	ok &= check("relu1 bias velocity after 2 steps", velocity_b[0], 1.5f * 12);
	printf("relu1: forward with ReLU, grad_input and 2 SGD steps with momentum: weight[centre] %g, bias %g\n",
	       weight[centre], bias[0]);
	return ok;
}

int main(void)
{
	static float input[conv1_INPUT_SIZE], output[conv1_OUTPUT_SIZE];
	float weight[conv1_WEIGHT_SIZE], bias[conv1_BIAS_SIZE] = {0.5f};
	int i;

	for (i = 0; i < conv1_INPUT_SIZE; i++)
		input[i] = 1.0f;
	for (i = 0; i < conv1_WEIGHT_SIZE; i++)
		weight[i] = 1.0f;
	conv1_forward(input, weight, bias, output);

	/* All ones, padding 1: an interior output sums 9 ones, a corner 4. */
	printf("conv1: %dx%d -> %dx%d, output[0] = %g, output[%d] = %g\n",
	       conv1_INPUT_H, conv1_INPUT_W, conv1_OUTPUT_H, conv1_OUTPUT_W,
	       output[0], conv1_OUTPUT_W + 1, output[conv1_OUTPUT_W + 1]);
	if (output[0] != 4.5f || output[conv1_OUTPUT_W + 1] != 9.5f) {
		fprintf(stderr, "conv1: wrong output\n");
		return 1;
	}
	return train_relu1() ? 0 : 1;
}
