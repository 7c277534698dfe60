/* train.c: on-device training in plain C with convgen's generated kernels.
**
** A tiny CNN tells bars from crosses on 8x8 synthetic images:
**
**   image 1x8x8 -> conv1 (3x3, 1 -> 4 channels, padding 1) -> ReLU
**               -> readout (8x8 kernel over the 4x8x8 map, 4 -> 1: a linear layer) -> score
**
** trained by minibatch SGD on the mean squared error between the score and the
** label (+1 cross, -1 bar).  Both layers, forward and backward, are kernels that
** convgen generated for a batch of BATCH images and proved (CMakeLists.txt:
** convgen_generate(... VERIFY)): conv1's ReLU is fused into its kernels
** (--activation relu), and each layer's SGD step is its sgd_update, which
** computes dL/dW tile by tile and updates W and b in place, so no dL/dW array
** exists here.  This file only adds the loss.  Deterministic: its own seeded
** PRNG, no clock, no threads.
**
** Exit status 0 only if the loss fell at least 10x and the net classifies at
** least 95% of freshly generated held-out images right. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "conv1.h"
#include "readout.h"

#define BATCH conv1_BATCH
#define SIDE conv1_INPUT_H
#define PIXELS (SIDE * SIDE)
#define TRAIN_BATCHES 64        /* 1024 training images */
#define TEST_BATCHES 128        /* 2048 held-out images */
#define EPOCHS 100
#define RATE 0.05f

/* The two layers fit together: conv1's output map is readout's input. */
typedef char check_shapes[(conv1_OUTPUT_SIZE == readout_INPUT_SIZE && readout_BATCH == BATCH &&
                           readout_OUTPUT_SIZE == BATCH) ? 1 : -1];

/* splitmix64: a small, well-mixed PRNG, seeded per use. */
static uint64_t rng_state;

static uint64_t rng_next(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

static int rng_int(int n) /* uniform in [0, n) */
{
	return (int)(rng_next() % (uint64_t)n);
}

static float rng_uniform(void) /* uniform in [0, 1) */
{
	return (float)(rng_next() >> 40) / (float)(1u << 24);
}

/* One image: a bar (a horizontal or vertical segment of 4..8 pixels) or a
** cross (a '+' with arms of 1..3 pixels, so 5..13 pixels: pixel counts overlap
** the bars'), anywhere in the image, on faint noise.  Returns the label. */
static float make_image(float *img)
{
	int cross = rng_int(2), i;
	for (i = 0; i < PIXELS; i++)
		img[i] = 0.2f * rng_uniform();
	if (cross) {
		int arm = 1 + rng_int(3);
		int r = arm + rng_int(SIDE - 2 * arm), c = arm + rng_int(SIDE - 2 * arm);
		for (i = -arm; i <= arm; i++) {
			img[(r + i) * SIDE + c] = 0.8f + 0.2f * rng_uniform();
			img[r * SIDE + c + i] = 0.8f + 0.2f * rng_uniform();
		}
	} else {
		int len = 4 + rng_int(SIDE - 3), along = rng_int(SIDE - len + 1), across = rng_int(SIDE);
		int vertical = rng_int(2);
		for (i = 0; i < len; i++) {
			int r = vertical ? along + i : across, c = vertical ? across : along + i;
			img[r * SIDE + c] = 0.8f + 0.2f * rng_uniform();
		}
	}
	return cross ? 1.0f : -1.0f;
}

static void make_batch(float *x, float *y)
{
	int b;
	for (b = 0; b < BATCH; b++)
		y[b] = make_image(x + b * PIXELS);
}

/* The parameters and the activations of one batch. */
static float w1[conv1_WEIGHT_SIZE], b1[conv1_BIAS_SIZE];
static float w2[readout_WEIGHT_SIZE], b2[readout_BIAS_SIZE];
static float a1[conv1_OUTPUT_SIZE], score[readout_OUTPUT_SIZE];

static void forward(const float *x)
{
	conv1_forward(x, w1, b1, a1); /* a1 = max(0, conv + b1) */
	readout_forward(a1, w2, b2, score);
}

/* One SGD step on a batch; returns the batch's loss, mean of (score - y)^2 / 2. */
static double train_step(const float *x, const float *y)
{
	static float g_score[readout_OUTPUT_SIZE], g_a1[conv1_OUTPUT_SIZE];
	double loss = 0.0;
	int i;

	forward(x);
	for (i = 0; i < BATCH; i++) {
		float e = score[i] - y[i];
		loss += 0.5 * (double)e * e;
		g_score[i] = e / BATCH;
	}
	/* dL/da1 needs readout's weight before its step changes it. */
	readout_grad_input(w2, g_score, g_a1);
	readout_sgd_update(a1, g_score, w2, b2, RATE);
	/* conv1 masks dL/da1 with [a1 > 0] itself: the ReLU's backward pass. */
	conv1_sgd_update(x, a1, g_a1, w1, b1, RATE);
	return loss / BATCH;
}

static double mean_loss(const float *x, const float *y, int batches)
{
	double loss = 0.0;
	int n, i;
	for (n = 0; n < batches; n++) {
		forward(x + n * BATCH * PIXELS);
		for (i = 0; i < BATCH; i++) {
			double e = (double)score[i] - y[n * BATCH + i];
			loss += 0.5 * e * e;
		}
	}
	return loss / (batches * BATCH);
}

int main(void)
{
	static float train_x[TRAIN_BATCHES * BATCH * PIXELS], train_y[TRAIN_BATCHES * BATCH];
	static float test_x[BATCH * PIXELS], test_y[BATCH];
	double first, last = 0.0;
	int epoch, n, i, right = 0, total = 0, ok;

	/* He-style initialization: uniform with the variance 2/fan_in. */
	rng_state = 1;
	for (i = 0; i < conv1_WEIGHT_SIZE; i++)
		w1[i] = (2.0f * rng_uniform() - 1.0f) * sqrtf(6.0f / (conv1_KERNEL_H * conv1_KERNEL_W));
	for (i = 0; i < readout_WEIGHT_SIZE; i++)
		w2[i] = (2.0f * rng_uniform() - 1.0f) * sqrtf(3.0f / (readout_WEIGHT_SIZE)) * 0.1f;

	rng_state = 2;
	for (n = 0; n < TRAIN_BATCHES; n++)
		make_batch(train_x + n * BATCH * PIXELS, train_y + n * BATCH);

	first = mean_loss(train_x, train_y, TRAIN_BATCHES);
	printf("train: %d images of bars and crosses, batch %d, %d epochs, SGD rate %g\n",
	       TRAIN_BATCHES * BATCH, BATCH, EPOCHS, (double)RATE);
	printf("epoch %3d  loss %.5f\n", 0, first);
	for (epoch = 1; epoch <= EPOCHS; epoch++) {
		double sum = 0.0;
		for (n = 0; n < TRAIN_BATCHES; n++)
			sum += train_step(train_x + n * BATCH * PIXELS, train_y + n * BATCH);
		last = sum / TRAIN_BATCHES;
		if (epoch % 10 == 0)
			printf("epoch %3d  loss %.5f\n", epoch, last);
	}
	last = mean_loss(train_x, train_y, TRAIN_BATCHES);

	/* Held out: images the net never saw, from another seed. */
	rng_state = 3;
	for (n = 0; n < TEST_BATCHES; n++) {
		make_batch(test_x, test_y);
		forward(test_x);
		for (i = 0; i < BATCH; i++, total++)
			right += (score[i] > 0.0f) == (test_y[i] > 0.0f);
	}

	ok = last * 10.0 <= first && right * 100 >= 95 * total;
	printf("training loss %.5f -> %.5f (%.0fx lower, need >= 10x)\n", first, last, first / last);
	printf("held-out accuracy %d/%d = %.1f%% (need >= 95%%)\n", right, total, 100.0 * right / total);
	printf("%s\n", ok ? "learned: ok" : "learned: FAILED");
	return ok ? 0 : 1;
}
