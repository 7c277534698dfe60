/* test_cross.c: every row of layers.inc, in float and double, generated for
** aarch64, built by the cross compiler with strict flags and -O3 together with
** tests/cross_driver.c, and run under qemu-user: the driver compares every
** output element of the four ops to naive loops, exactly.  Broken fixtures
** (tests/fixtures/) show that the driver rejects a wrong kernel and names the
** op.  Without the cross compiler or qemu the tests are skipped, saying which
** tool is missing, and CTest reports them as not run. */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

/* The kernels are generated for the aarch64 target (NEON: 4-float lanes). */
#define CROSS_TARGET "--target aarch64"

#define CROSS_CC "aarch64-linux-gnu-gcc"
#define CROSS_QEMU "qemu-aarch64"
#define CROSS_SYSROOT "/usr/aarch64-linux-gnu"
#define CROSS_CFLAGS "-std=c99 -O3 -Wall -Wextra -Wpedantic -Werror"

static void need_tools(void)
{
	static const char *const tools[] = { CROSS_CC, CROSS_QEMU };
	char cmd[256];
	size_t i;
	for (i = 0; i < sizeof tools / sizeof tools[0]; i++) {
		snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", tools[i]);
		if (run_shell(cmd) != 0)
			cr_skip_test("%s is not installed (Debian: apt-get install gcc-aarch64-linux-gnu qemu-user)",
			             tools[i]);
	}
}

/* Build DIR/NAME.c with the driver ('defines' selects name, dtype, ops) and run
** it under qemu; returns the driver's exit status, its output in 'out'. */
static int build_and_run(const char *src_dir, const char *out_dir, const char *name, const char *defines,
                         char *out, size_t out_len)
{
	char cmd[4096], path[512], *text;
	int status;
	snprintf(cmd, sizeof cmd,
	         CROSS_CC " " CROSS_CFLAGS " -I'%s' -DCROSS_HEADER='\"%s.h\"' -DCROSS_NAME=%s %s "
	                  "'%s/%s.c' '%s/tests/cross_driver.c' -o '%s/driver' >'%s/build.log' 2>&1",
	         src_dir, name, name, defines, src_dir, name, SOURCE_DIR, out_dir, out_dir);
	status = run_shell(cmd);
	if (status != 0) {
		snprintf(path, sizeof path, "%s/build.log", out_dir);
		text = read_file(path, NULL);
		snprintf(out, out_len, "cross build failed (exit %d): %s\n%s", status, cmd, text ? text : "");
		free(text);
		return -1;
	}
	snprintf(cmd, sizeof cmd, CROSS_QEMU " -L " CROSS_SYSROOT " '%s/driver' >'%s/run.log' 2>&1", out_dir,
	         out_dir);
	status = run_shell(cmd);
	snprintf(path, sizeof path, "%s/run.log", out_dir);
	text = read_file(path, NULL);
	snprintf(out, out_len, "%s", text ? text : "");
	free(text);
	return status;
}

static void check_layer(const char *opts, const char *dtype)
{
	char dir[256], all[512], defines[64], out[4096], summary[160];
	int status;
	need_tools();
	cr_assert(scratch_dir(dir, sizeof dir));
	snprintf(all, sizeof all, "%s --dtype %s " CROSS_TARGET, opts, dtype);
	cr_assert_eq(generate(dir, "conv", all), 0, "convgen generate %s failed", all);
	snprintf(defines, sizeof defines, "-DCROSS_REAL=%s", dtype);
	status = build_and_run(dir, dir, "conv", defines, out, sizeof out);
	cr_assert_neq(status, -1, "layer: %s\n%s", all, out);
	cr_expect_eq(status, 0, "driver exit %d under " CROSS_QEMU " (layer: %s):\n%s", status, all, out);
	snprintf(summary, sizeof summary,
	         " elements of forward, forward (bias NULL), grad_weight, grad_input, grad_bias (%s)\n", dtype);
	cr_expect(strncmp(out, "cross: all exact: ", 18) == 0 && strstr(out, summary) != NULL,
	          "no summary line (layer: %s):\n%s", all, out);
	remove_dir(dir);
}

#define LAYER(id, opts) \
	Test(cross_float, id) { check_layer(opts, "float"); } \
	Test(cross_double, id) { check_layer(opts, "double"); }
#include "layers.inc"

/* A fixture has one op, one bug: the driver must fail on it, naming the op. */
static void expect_rejected(const char *fixture, const char *op, const char *define)
{
	char src[512], dir[256], defines[128], out[4096], named[64];
	int status;
	need_tools();
	cr_assert(scratch_dir(dir, sizeof dir));
	snprintf(src, sizeof src, "%s/tests/fixtures/%s", SOURCE_DIR, fixture);
	snprintf(defines, sizeof defines, "-DCROSS_REAL=float -D%s", define);
	status = build_and_run(src, dir, fixture, defines, out, sizeof out);
	cr_assert_neq(status, -1, "%s", out);
	cr_expect_eq(status, 1, "%s: driver exit %d, want 1:\n%s", fixture, status, out);
	snprintf(named, sizeof named, "cross: mismatch in %s at index ", op);
	cr_expect(strncmp(out, named, strlen(named)) == 0, "%s: want a line starting '%s', got:\n%s", fixture,
	          named, out);
	remove_dir(dir);
}

Test(cross_rejects, border_off_by_one) { expect_rejected("border_off_by_one", "forward", "CROSS_FORWARD"); }
Test(cross_rejects, no_flip) { expect_rejected("no_flip", "grad_input", "CROSS_GRAD_INPUT"); }
/* The outputs start as NaN: a kernel that adds into them is caught. */
Test(cross_rejects, accumulates) { expect_rejected("accumulates", "grad_weight", "CROSS_GRAD_WEIGHT"); }
/* Guard elements follow each output: a write past its end is caught. */
Test(cross_rejects, writes_past_end) { expect_rejected("writes_past_end", "grad_input", "CROSS_GRAD_INPUT"); }
