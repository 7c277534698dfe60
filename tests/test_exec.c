/* test_exec.c: proofs on the target, 'convgen verify --exec'.  Every row of
** layers.inc is generated for a target, built by that target's compiler with
** strict flags, and proven by the same checks as on this machine, each op
** running under QEMU: aarch64 and armhf Linux programs under qemu-user, and
** a Cortex-M4 firmware image on QEMU's mps2-an386 board, talking through
** semihosting.  The broken fixtures (tests/fixtures/) must be rejected there
** too, in the check that should catch them.  Without a target's compiler or
** emulator its tests are skipped, naming the missing tool (CTest reports them
** as not run; CI fails on a skip). */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

#define STRICT "-Wall -Wextra -Wpedantic -Werror"

/* armhf has no target of its own: it gets aarch64's schedule (4-float
** vectors in plain C), so the vector code runs under a 32-bit ABI too. */
struct target {
	const char *cc, *arch, *exec, *tools[2], *packages, *convgen_target;
};

static const struct target aarch64 = {
	"aarch64-linux-gnu-gcc", "", "qemu-aarch64 -L /usr/aarch64-linux-gnu",
	{ "aarch64-linux-gnu-gcc", "qemu-aarch64" }, "gcc-aarch64-linux-gnu qemu-user", "aarch64",
};
static const struct target armhf = {
	"arm-linux-gnueabihf-gcc", "", "qemu-arm -L /usr/arm-linux-gnueabihf",
	{ "arm-linux-gnueabihf-gcc", "qemu-arm" }, "gcc-arm-linux-gnueabihf qemu-user", "aarch64",
};
static const struct target cortex_m4 = {
	"arm-none-eabi-gcc", "-mcpu=cortex-m4 -mthumb -mfpu=fpv4-sp-d16 -mfloat-abi=hard",
	"qemu-system-arm -M mps2-an386 -cpu cortex-m4 -nographic -semihosting -kernel",
	{ "arm-none-eabi-gcc", "qemu-system-arm" },
	"gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm", "cortex-m4",
};

static void need_tools(const struct target *t)
{
	char cmd[256];
	size_t i;
	for (i = 0; i < 2; i++) {
		snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", t->tools[i]);
		if (run_shell(cmd) != 0)
			cr_skip_test("%s is not installed (Debian: apt-get install %s)", t->tools[i], t->packages);
	}
}

/* verify --file DIR/NAME.c under the target's compiler, with CFLAGS 'opt'
** and the target's own, and its emulator. */
static void verify_on(const struct target *t, const char *opt, const char *file, struct run *r)
{
	char args[1024], cflags[512];
	snprintf(cflags, sizeof cflags, "%s %s", opt, t->arch);
	setenv("CFLAGS", cflags, 1);
	setenv("CONVGEN_EXEC", t->exec, 1);
	snprintf(args, sizeof args, "verify --file %s", file);
	run_convgen(r, NULL, t->cc, args);
}

static void prove_layer(const struct target *t, const char *opts, const char *dtype)
{
	struct run *r = malloc(sizeof *r);
	char dir[256], all[512], file[300], ran[300];

	need_tools(t);
	cr_assert(scratch_dir(dir, sizeof dir));
	snprintf(all, sizeof all, "%s --dtype %s --target %s", opts, dtype, t->convgen_target);
	cr_assert_eq(generate(dir, "conv", all), 0, "convgen generate %s failed", all);
	snprintf(file, sizeof file, "%s/conv.c", dir);
	verify_on(t, "-O3 " STRICT, file, r);
	cr_expect_eq(r->status, 0, "CC=%s CFLAGS='%s' convgen verify --exec '%s' (layer: %s): exit %d\n%s%s",
	             t->cc, getenv("CFLAGS"), t->exec, all, r->status, r->out, r->err);
	snprintf(ran, sizeof ran, "run under '%s'\n", t->exec);
	cr_expect(strstr(r->out, ran) != NULL, "the report does not name the emulator:\n%s", r->out);
	cr_expect(strstr(r->out, "proved: 4 ops, 15 checks hold") != NULL, "%s", r->out);
	free(r);
	remove_dir(dir);
}

#define LAYER(id, opts) \
	Test(full_exec_aarch64, id, .timeout = 600) { prove_layer(&aarch64, opts, "float"); } \
	Test(full_exec_aarch64_double, id, .timeout = 600) { prove_layer(&aarch64, opts, "double"); } \
	Test(full_exec_armhf, id, .timeout = 600) { prove_layer(&armhf, opts, "float"); } \
	Test(full_exec_cortex_m4, id, .timeout = 600) { prove_layer(&cortex_m4, opts, "float"); }
#include "layers.inc"

/* Double on a Cortex-M4 is software floating point: correct, if slow. */
Test(exec_cortex_m4_double, seed_5x5, .timeout = 600) { prove_layer(&cortex_m4, "--input 5x5 --kernel 3x3", "double"); }
Test(exec_cortex_m4_double, general, .timeout = 600)
{
	prove_layer(&cortex_m4, "--input 9x8 --kernel 3x2 --batch 2 --in-channels 4 --out-channels 2 --groups 2 "
	                        "--stride 2x1 --padding 2x1 --dilation 2x3", "double");
}

/* The code options on the board, each on a layer with groups, strides,
** dilation and padding on every side: the layout channels-last, the smallest
** code, the caller's workspace, a tight stack, TensorFlow's SAME padding. */
#define GENERAL "--input 9x8 --kernel 3x2 --batch 2 --in-channels 4 --out-channels 2 --groups 2 " \
	"--stride 2x1 --dilation 2x3"
Test(exec_cortex_m4_code, layout_nhwc, .timeout = 600) { prove_layer(&cortex_m4, GENERAL " --padding 2x1 --layout nhwc", "float"); }
Test(exec_cortex_m4_code, optimize_size, .timeout = 600) { prove_layer(&cortex_m4, GENERAL " --padding 2x1 --optimize size", "float"); }
Test(exec_cortex_m4_code, workspace, .timeout = 600) { prove_layer(&cortex_m4, GENERAL " --padding 2x1 --workspace", "float"); }
Test(exec_cortex_m4_code, stack_limit, .timeout = 600) { prove_layer(&cortex_m4, GENERAL " --padding 2x1 --stack-limit 384", "float"); }
Test(exec_cortex_m4_code, padding_same, .timeout = 600) { prove_layer(&cortex_m4, GENERAL " --padding same --layout nhwc", "float"); }

/* A fixture has one op, one bug: verify must fail it on the target, in
** 'check' (at -O2 without -Werror: a compiler that sees the bug is not what
** is tested here). */
static void expect_rejected(const struct target *t, const char *fixture, const char *op, const char *check)
{
	struct run *r = malloc(sizeof *r);
	char file[512], line[64];

	need_tools(t);
	snprintf(file, sizeof file, "%s/tests/fixtures/%s/%s.c", SOURCE_DIR, fixture, fixture);
	verify_on(t, "-O2", file, r);
	cr_expect_eq(r->status, 1, "%s: exit %d, want 1\n%s%s", fixture, r->status, r->out, r->err);
	snprintf(line, sizeof line, "\n%-12s %-13s FAILED", op, check);
	cr_expect(strstr(r->out, line) != NULL, "%s: no '%s %s FAILED' line:\n%s%s", fixture, op, check, r->out,
	          r->err);
	cr_expect(strstr(r->out, "proved") == NULL, "%s", r->out);
	free(r);
}

#define REJECTS(suite, t) \
	Test(suite, border_off_by_one) { expect_rejected(t, "border_off_by_one", "forward", "reference"); } \
	Test(suite, no_flip) { expect_rejected(t, "no_flip", "grad_input", "reference"); } \
	Test(suite, stride_ignored) { expect_rejected(t, "stride_ignored", "grad_input", "finite-diff"); } \
	Test(suite, group_offset) { expect_rejected(t, "group_offset", "grad_weight", "reference"); } \
	Test(suite, swapped_operands) { expect_rejected(t, "swapped_operands", "grad_weight", "reference"); } \
	Test(suite, no_bias) { expect_rejected(t, "no_bias", "forward", "reference"); } \
	/* the output starts as NaN: adding into it shows */ \
	Test(suite, accumulates) { expect_rejected(t, "accumulates", "grad_weight", "reference"); } \
	/* guard bytes follow the output on the target: a write past its end shows */ \
	Test(suite, writes_past_end) { expect_rejected(t, "writes_past_end", "grad_input", "reference"); } \
	/* the driver fills the stack with NaN on the target too */ \
	Test(suite, uninit_partial_sum) { expect_rejected(t, "uninit_partial_sum", "grad_bias", "reference"); } \
	/* the driver's workspace is guarded and filled with NaN on the target */ \
	Test(suite, workspace_overrun) { expect_rejected(t, "workspace_overrun", "grad_weight", "reference"); } \
	Test(suite, workspace_unset) { expect_rejected(t, "workspace_unset", "grad_weight", "reference"); }
REJECTS(exec_rejects_aarch64, &aarch64)
REJECTS(exec_rejects_armhf, &armhf)
REJECTS(exec_rejects_cortex_m4, &cortex_m4)

/* The kernel's own stack arrays are checked on this machine under ASan (no
** sanitizer runs on the target): the fixture's overrun fails the memory check. */
Test(exec_rejects_aarch64, stack_overrun)
{
	struct run *r = malloc(sizeof *r);
	char file[512];
	need_tools(&aarch64);
	snprintf(file, sizeof file, "%s/tests/fixtures/stack_overrun/stack_overrun.c", SOURCE_DIR);
	verify_on(&aarch64, "-O2 -Wno-aggressive-loop-optimizations", file, r);
	cr_expect_eq(r->status, 1, "exit %d\n%s%s", r->status, r->out, r->err);
	cr_expect(strstr(r->out, "grad_bias    memory        FAILED grad_bias under ASan: ERROR: AddressSanitizer: "
	                         "stack-buffer-overflow") != NULL, "%s", r->out);
	free(r);
}

/* Without --exec, a compiler for another machine is refused with the fix. */
Test(exec_errors, a_cross_compiler_without_exec_says_to_use_it)
{
	struct run *r = malloc(sizeof *r);
	need_tools(&aarch64);
	unsetenv("CONVGEN_EXEC");
	run_convgen(r, NULL, aarch64.cc, "verify --input 5x5 --kernel 3x3 --ops grad_bias");
	cr_expect_eq(r->status, 1, "exit %d\n%s%s", r->status, r->out, r->err);
	cr_expect(strstr(r->err, "'aarch64-linux-gnu-gcc' builds for aarch64-linux-gnu, not for this machine") != NULL &&
	          strstr(r->err, "give --exec with an emulator for it, e.g. --exec 'qemu-aarch64 -L "
	                         "/usr/aarch64-linux-gnu'") != NULL, "%s", r->err);
	cr_expect_str_eq(r->out, "", "no report for a file that was not built");
	free(r);
}

/* The JSON report names the compiler, its flags and the emulator. */
Test(exec_errors, the_json_report_names_the_target_build)
{
	struct run *r = malloc(sizeof *r);
	need_tools(&aarch64);
	setenv("CFLAGS", "-O1", 1);
	setenv("CONVGEN_EXEC", aarch64.exec, 1);
	run_convgen(r, NULL, aarch64.cc, "verify --input 5x5 --kernel 3x3 --ops grad_bias --json");
	cr_expect_eq(r->status, 0, "exit %d\n%s%s", r->status, r->out, r->err);
	cr_expect(strstr(r->out, "\"build\": {\n    \"cc\": \"aarch64-linux-gnu-gcc\",\n    \"compiler\": "
	                         "\"aarch64-linux-gnu-gcc ") != NULL, "%s", r->out);
	cr_expect(strstr(r->out, "\"cflags\": \"-O1\",\n    \"exec\": \"qemu-aarch64 -L /usr/aarch64-linux-gnu\"")
	          != NULL, "%s", r->out);
	free(r);
}

/* An image for the wrong board never starts: said at once, no hang. */
Test(exec_errors, an_image_that_does_not_start_is_named, .timeout = 120)
{
	struct run *r = malloc(sizeof *r);
	need_tools(&cortex_m4);
	setenv("CFLAGS", cortex_m4.arch, 1);
	setenv("CONVGEN_EXEC", "qemu-system-arm -M mps2-an505 -cpu cortex-m33 -nographic -semihosting -kernel", 1);
	run_convgen(r, NULL, cortex_m4.cc, "verify --input 5x5 --kernel 3x3 --ops grad_bias --target cortex-m4");
	cr_expect_eq(r->status, 1, "exit %d\n%s%s", r->status, r->out, r->err);
	cr_expect(strstr(r->err, "the program did not start under 'qemu-system-arm -M mps2-an505") != NULL, "%s",
	          r->err);
	free(r);
}

/* The emulator a refusal names follows the compiler's machine: QEMU's board
** for a bare-metal Cortex-M, qemu-arm for armhf Linux. */
static void expect_exec_hint(const char *cc, const char *target, const char *hint)
{
	struct run *r = malloc(sizeof *r);
	char args[256];
	unsetenv("CONVGEN_EXEC");
	unsetenv("CFLAGS");
	snprintf(args, sizeof args, "verify --input 5x5 --kernel 3x3 --ops grad_bias --target %s", target);
	run_convgen(r, NULL, cc, args);
	cr_expect_eq(r->status, 1, "exit %d\n%s%s", r->status, r->out, r->err);
	cr_expect(strstr(r->err, hint) != NULL, "no '%s' in:\n%s", hint, r->err);
	cr_expect_str_eq(r->out, "", "no report for a file that was not built");
	free(r);
}

Test(exec_errors, a_bare_metal_compiler_without_exec_is_told_the_board)
{
	need_tools(&cortex_m4);
	expect_exec_hint(cortex_m4.cc, "cortex-m4",
	                 "give --exec with an emulator for it, e.g. --exec 'qemu-system-arm -M mps2-an386 -cpu cortex-m4");
}

Test(exec_errors, an_armhf_compiler_without_exec_is_told_qemu_arm)
{
	need_tools(&armhf);
	expect_exec_hint(armhf.cc, "aarch64", "e.g. --exec 'qemu-arm -L /usr/arm-linux-gnueabihf'");
}

/* The target's program that does not compile: the compiler's words on
** stderr, its exit status in the message, no report. */
Test(exec_errors, a_target_program_that_does_not_build_is_said)
{
	struct run *r = malloc(sizeof *r);
	need_tools(&aarch64);
	setenv("CFLAGS", "-include /nonexistent/convgen.h", 1);
	setenv("CONVGEN_EXEC", aarch64.exec, 1);
	run_convgen(r, NULL, aarch64.cc, "verify --input 5x5 --kernel 3x3 --ops grad_bias");
	cr_expect_eq(r->status, 1, "exit %d\n%s%s", r->status, r->out, r->err);
	cr_expect(strstr(r->err, "/nonexistent/convgen.h") != NULL, "the compiler's message is not shown:\n%s", r->err);
	cr_expect(strstr(r->err, "the C compiler 'aarch64-linux-gnu-gcc' failed with exit status 1") != NULL, "%s",
	          r->err);
	cr_expect_str_eq(r->out, "", "no report for a program that was not built");
	free(r);
}
