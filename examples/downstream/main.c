/* main.c: call the generated layer and check one value by hand. */
#include <stdio.h>

#include "conv1.h"

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
	return 0;
}
