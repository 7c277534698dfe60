/* test_layout.c: channels-last checked without the verifier.  Every row of
** layers.inc is generated NCHW (the vector schedule of x86-64-v3) and NHWC (the
** scalar schedule of cortex-m4), and tests/layout/compare.c, which transposes
** the data itself, must find every output of the two equal. */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

static void compare_layouts(const char *opts)
{
	char dir[256], all[512], cmd[2048], out[300];
	char *text;
	int status;
	cr_assert(scratch_dir(dir, sizeof dir));
	snprintf(all, sizeof all, "%s --dtype float --target x86-64-v3", opts);
	cr_assert_eq(generate(dir, "nchw", all), 0, "convgen generate %s failed", all);
	snprintf(all, sizeof all, "%s --dtype float --target cortex-m4 --layout nhwc", opts);
	cr_assert_eq(generate(dir, "nhwc", all), 0, "convgen generate %s failed", all);
	snprintf(cmd, sizeof cmd,
	         "cd %s && gcc -std=c99 -O2 -Wall -Wextra -Werror -I. %s/tests/layout/compare.c nchw.c nhwc.c "
	         "-o compare && ./compare > compare.out 2>&1", dir, SOURCE_DIR);
	snprintf(out, sizeof out, "%s/compare.out", dir);
	status = run_shell(cmd);
	text = read_file(out, NULL);
	cr_expect_eq(status, 0, "NCHW and NHWC differ (layer: %s):\n%s", opts, text ? text : "(no output)");
	cr_expect(text && strstr(text, ", 0 differ") != NULL, "no comparison line (layer: %s): %s", opts,
	          text ? text : "(none)");
	free(text);
	remove_dir(dir);
}

#define LAYER(id, opts) Test(full_layout_transposed, id) { compare_layouts(opts); }
#include "layers.inc"
