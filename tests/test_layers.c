/* test_layers.c: every row of layers.inc, in float and double, is generated,
** compiled strictly by gcc and clang, its header compiled as C++, and proven
** by 'convgen verify --file' on the very file generated.  Criterion forks
** each test, so setenv() here reaches that test's convgen only. */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

#include "checks.h"

static void check_layer(const char *opts, const char *dtype)
{
	char dir[256], all[512], cmd[2048];
	struct run *r = malloc(sizeof *r);
	const char *cc[] = { "gcc", "clang" };
	const char *opt[] = { "-O2", "-O3 -march=native" };
	size_t i, o;
	cr_assert(scratch_dir(dir, sizeof dir));
	snprintf(all, sizeof all, "%s --dtype %s", opts, dtype);

	/* generate */
	cr_assert_eq(generate(dir, "conv", all), 0, "convgen generate %s failed", all);
	check_frames(dir, "gcc -march=native", "-O2", 61440, all);
	check_frames(dir, "gcc -march=native", "-Os", 61440, all);

	/* compile: C99 under both compilers at both levels, the header as C++ */
	for (i = 0; i < 2; i++)
		for (o = 0; o < 2; o++) {
			snprintf(cmd, sizeof cmd, "%s " STRICT " %s -c %s/conv.c -o %s/conv_%s.o",
			         cc[i], opt[o], dir, dir, cc[i]);
			cr_expect_eq(run_shell(cmd), 0, "%s (layer: %s)", cmd, all);
		}
	check_cxx_header(dir, all);

	/* verify: float rows with the flags users ship fast code with (vector
	** widths, alignment and FMA contraction differ from -O2), double rows with
	** verify's default -O2. */
	if (strcmp(dtype, "float") == 0)
		setenv("CFLAGS", "-O3 -march=native -ffp-contract=fast", 1);
	snprintf(cmd, sizeof cmd, "verify --file %s/conv.c", dir);
	run_convgen(r, NULL, NULL, cmd);
	cr_expect_eq(r->status, 0, "convgen verify %s: exit %d\n%s%s", all, r->status, r->out, r->err);
	cr_expect(strstr(r->out, "proved") != NULL, "no proof line for %s:\n%s", all, r->out);
	free(r);
	remove_dir(dir);
}

/* Each target's schedule of the same layer, with code options 'code', in
** 'dtype' (NULL: both): generated, built strictly by gcc, its frames checked against the
** header under the target's own gcc ('target_cc') at -O2 and -Os, and proven by
** 'convgen verify --file' (the code is plain C99 for any machine; the target
** only shapes it). */
static void check_code(const char *opts, const char *target, const char *code, const char *dtype,
                       const char *target_cc, int limit)
{
	static const char *const dtypes[] = { "float", "double" };
	char dir[256], all[512], cmd[2048];
	struct run *r = malloc(sizeof *r);
	size_t d;
	cr_assert(scratch_dir(dir, sizeof dir));
	setenv("CFLAGS", "-O2 -march=native", 1);
	for (d = 0; d < 2; d++) {
		if (dtype && strcmp(dtype, dtypes[d]) != 0)
			continue;
		snprintf(all, sizeof all, "%s --dtype %s --target %s%s", opts, dtypes[d], target, code);
		cr_assert_eq(generate(dir, "conv", all), 0, "convgen generate %s failed", all);
		snprintf(cmd, sizeof cmd, "gcc " STRICT " -O2 -c %s/conv.c -o %s/conv.o", dir, dir);
		cr_expect_eq(run_shell(cmd), 0, "%s (layer: %s)", cmd, all);
		check_frames(dir, target_cc, "-O2", limit, all);
		check_frames(dir, target_cc, "-Os", limit, all);
		snprintf(cmd, sizeof cmd, "verify --file %s/conv.c", dir);
		run_convgen(r, NULL, NULL, cmd);
		cr_expect_eq(r->status, 0, "convgen verify %s: exit %d\n%s%s", all, r->status, r->out, r->err);
	}
	free(r);
	remove_dir(dir);
}

static void check_target(const char *opts, const char *target, const char *target_cc, int limit)
{
	check_code(opts, target, "", NULL, target_cc, limit);
}

/* The default stack limits of docs/cli.md, and the Cortex-M builds of the target's gcc. */
#define DESKTOP 61440
#define CORTEX_M4_CC "arm-none-eabi-gcc -mcpu=cortex-m4 -mthumb -mfpu=fpv4-sp-d16 -mfloat-abi=hard"
#define CORTEX_M7_CC "arm-none-eabi-gcc -mcpu=cortex-m7 -mthumb -mfpu=fpv5-d16 -mfloat-abi=hard"
#define FUSED " --activation relu --ops forward,grad_weight,grad_input,grad_bias,sgd_update"

#define LAYER(id, opts) \
	Test(full_layer_float, id) { check_layer(opts, "float"); } \
	Test(full_layer_double, id) { check_layer(opts, "double"); } \
	Test(full_target_x86_64_v3, id, .timeout = 600) { check_target(opts, "x86-64-v3", "gcc -march=x86-64-v3", DESKTOP); } \
	Test(full_target_x86_64_v4, id, .timeout = 600) { check_target(opts, "x86-64-v4", "gcc -march=x86-64-v4", DESKTOP); } \
	Test(full_target_aarch64, id, .timeout = 600) { check_target(opts, "aarch64", "aarch64-linux-gnu-gcc", DESKTOP); } \
	Test(full_target_cortex_m4, id, .timeout = 600) { check_target(opts, "cortex-m4", CORTEX_M4_CC, 1024); } \
	Test(full_target_cortex_m7, id, .timeout = 600) { check_target(opts, "cortex-m7", CORTEX_M7_CC, 1024); } \
	Test(full_target_generic, id, .timeout = 600) { check_target(opts, "generic", "gcc", DESKTOP); } \
	/* Code options, one dtype each to keep the suite short (both dtypes of  */ \
	/* each target are above): channels-last on a vector target (the scalar   */ \
	/* schedule) and on a Cortex-M; the smallest code on a soft-double core; the */ \
	/* vector plans' scratch in the caller's workspace. */ \
	Test(full_layout_nhwc, id, .timeout = 600) { check_code(opts, "x86-64-v3", " --layout nhwc", "float", "gcc -march=x86-64-v3", DESKTOP); } \
	Test(full_layout_nhwc_cortex_m7, id, .timeout = 600) { check_code(opts, "cortex-m7", " --layout nhwc", "double", CORTEX_M7_CC, 1024); } \
	Test(full_optimize_size, id, .timeout = 600) { check_code(opts, "cortex-m4", " --optimize size", "double", CORTEX_M4_CC, 1024); } \
	Test(full_workspace, id, .timeout = 600) { check_code(opts, "x86-64-v3", " --workspace", "float", "gcc -march=x86-64-v3", DESKTOP); } \
	/* The fused ReLU and sgd_update: the vector schedule with momentum, the */ \
	/* scalar one channels-last on a Cortex-M4, and --optimize size's loops. */ \
	Test(full_fused, id, .timeout = 600) { check_code(opts, "x86-64-v3", FUSED " --momentum", "float", "gcc -march=x86-64-v3", DESKTOP); } \
	Test(full_fused_nhwc_cortex_m4, id, .timeout = 600) { check_code(opts, "cortex-m4", FUSED " --layout nhwc", "float", CORTEX_M4_CC, 1024); } \
	Test(full_fused_size, id, .timeout = 600) { check_code(opts, "generic", FUSED " --momentum --optimize size", "double", "gcc", DESKTOP); }
#include "layers.inc"
