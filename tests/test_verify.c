/* test_verify.c: a verifier that cannot catch a wrong kernel is worse than
** none.  Each fixture in tests/fixtures/ is a generated file broken on purpose
** (its comment says how); verify --file must reject it, exit 1, in the check
** that should catch it, and name the op. */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

/* The report has a line '<op> <check> FAILED ...' for the failed check. */
static int has_failed_line(const char *report, const char *op, const char *check)
{
	const char *line = report;
	while (line && *line) {
		char o[32], c[32], verdict[32];
		if (sscanf(line, "%31s %31s %31s", o, c, verdict) == 3 &&
		    strcmp(o, op) == 0 && strcmp(c, check) == 0 && strcmp(verdict, "FAILED") == 0)
			return 1;
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return 0;
}

/* 'cc': $CC for convgen, or NULL for the default. */
static void expect_rejected_by(const char *cc, const char *fixture, const char *flags, const char *op,
                               const char *check)
{
	struct run *r = malloc(sizeof *r);
	char args[1024];
	snprintf(args, sizeof args, "verify --file %s/tests/fixtures/%s/%s.c %s", SOURCE_DIR, fixture, fixture, flags);
	run_convgen(r, NULL, cc, args);
	cr_expect_eq(r->status, 1, "%s: exit %d, expected 1\n%s%s", fixture, r->status, r->out, r->err);
	cr_expect(has_failed_line(r->out, op, check), "%s: no '%s %s FAILED' line:\n%s%s", fixture, op, check, r->out, r->err);
	cr_expect(strstr(r->out, "FAILED") != NULL && strstr(r->out, "proved") == NULL,
	          "%s: summary does not say FAILED:\n%s", fixture, r->out);
	free(r);
}

static void expect_rejected_with(const char *fixture, const char *flags, const char *op, const char *check)
{
	expect_rejected_by(NULL, fixture, flags, op, check);
}

static void expect_rejected(const char *fixture, const char *op, const char *check)
{
	expect_rejected_with(fixture, "", op, check);
}

Test(verify, rejects_grad_input_without_the_flip)     { expect_rejected("no_flip", "grad_input", "reference"); }
Test(verify, finite_differences_catch_the_missing_flip) { expect_rejected("no_flip", "grad_input", "finite-diff"); }
Test(verify, rejects_an_off_by_one_at_the_border)     { expect_rejected("border_off_by_one", "forward", "reference"); }
Test(verify, rejects_grad_weight_with_I_and_dY_swapped) { expect_rejected("swapped_operands", "grad_weight", "reference"); }
Test(verify, rejects_a_forward_that_drops_the_bias)   { expect_rejected("no_bias", "forward", "reference"); }
Test(verify, rejects_accumulating_into_the_output)    { expect_rejected("accumulates", "grad_weight", "reference"); }
Test(verify, rejects_a_group_offset_off_by_one)       { expect_rejected("group_offset", "grad_weight", "reference"); }
Test(verify, finite_differences_catch_the_group_offset) { expect_rejected("group_offset", "grad_weight", "finite-diff"); }
Test(verify, rejects_stride_ignored_in_grad_input)    { expect_rejected("stride_ignored", "grad_input", "reference"); }
Test(verify, rejects_dilation_on_the_wrong_axis)      { expect_rejected("dilation_axis", "forward", "reference"); }
Test(verify, rejects_a_write_past_the_end)            { expect_rejected("writes_past_end", "grad_input", "reference"); }

Test(verify, rejects_padding_put_before_that_belongs_after) { expect_rejected("end_padding_as_start", "forward", "reference"); }
/* The workspace ends at a guard page and holds NaN until the kernel writes it. */
Test(verify, rejects_a_write_past_the_workspace)      { expect_rejected("workspace_overrun", "grad_weight", "reference"); }
Test(verify, the_memory_check_sees_a_write_past_the_workspace) { expect_rejected("workspace_overrun", "grad_weight", "memory"); }
Test(verify, rejects_scratch_read_before_it_is_written) { expect_rejected("workspace_unset", "grad_weight", "reference"); }

/* A local read before it is written: verify poisons the stack with NaN. */
Test(verify, rejects_a_partial_sum_left_unset) { expect_rejected("uninit_partial_sum", "grad_bias", "reference"); }

/* --activation relu and sgd_update (docs/math.md, "A fused ReLU and the SGD step"). */
Test(verify, rejects_a_mask_read_one_element_off)     { expect_rejected("mask_off_by_one", "grad_bias", "reference"); }
Test(verify, finite_differences_catch_the_mask_one_element_off) { expect_rejected("mask_off_by_one", "grad_bias", "finite-diff"); }
/* Its first read lands before Y: the memory check's arrays are exactly sized. */
Test(verify, the_memory_check_sees_a_mask_read_before_Y) { expect_rejected("mask_off_by_one", "grad_bias", "memory"); }
Test(verify, relu_at_zero_rejects_a_mask_with_Y_at_least_0) { expect_rejected("mask_at_zero", "grad_weight", "relu-at-zero"); }
Test(verify, finite_differences_catch_a_mask_with_Y_at_least_0) { expect_rejected("mask_at_zero", "grad_weight", "finite-diff"); }
Test(verify, rejects_a_velocity_that_forgets_momentum) { expect_rejected("velocity_not_carried", "sgd_update", "reference"); }
Test(verify, finite_differences_catch_the_forgotten_velocity) { expect_rejected("velocity_not_carried", "sgd_update", "finite-diff"); }
/* A code written against seed 1's first draw passes it; the later draws do not. */
Test(verify, later_draws_catch_a_code_that_fools_the_first_draw)
{
	struct run *r = malloc(sizeof *r);
	char args[1024];

	expect_rejected("fools_the_first_draw", "forward", "reference");
	snprintf(args, sizeof args, "verify --file %s/tests/fixtures/fools_the_first_draw/fools_the_first_draw.c",
	         SOURCE_DIR);
	run_convgen(r, NULL, NULL, args);
	cr_expect(strstr(r->out, "(draw 2): expected") != NULL, "not caught by the second draw:\n%s", r->out);
	free(r);
}
Test(verify, rejects_an_sgd_step_taken_twice)         { expect_rejected("update_twice", "sgd_update", "reference"); }
Test(verify, finite_differences_catch_the_step_taken_twice) { expect_rejected("update_twice", "sgd_update", "finite-diff"); }

/* The failure names the array of sgd_update it is in, and exact dyadic values. */
Test(verify, an_sgd_failure_names_the_array_and_both_values)
{
	struct run *r = malloc(sizeof *r);
	char args[1024];
	snprintf(args, sizeof args, "verify --file %s/tests/fixtures/velocity_not_carried/velocity_not_carried.c", SOURCE_DIR);
	run_convgen(r, NULL, NULL, args);
	cr_expect(strstr(r->out, "sgd_update   reference     FAILED sgd_update weight[k=0,c=0,m=0,q=0]: expected ") != NULL,
	          "%s", r->out);
	free(r);
}

/* 'convgen ARGS' proves its layer: exit 0, and each of 'want' (NULL-ended)
** in the report, and 'absent' (or NULL) not. */
static void expect_proved(const char *args, const char *const *want, const char *absent)
{
	struct run *r = malloc(sizeof *r);
	run_convgen(r, NULL, NULL, args);
	cr_expect_eq(r->status, 0, "convgen %s: exit %d\n%s%s", args, r->status, r->out, r->err);
	for (; *want; want++)
		cr_expect(strstr(r->out, *want) != NULL, "no '%s' in:\n%s", *want, r->out);
	cr_expect(!absent || strstr(r->out, absent) == NULL, "'%s' in:\n%s", absent, r->out);
	free(r);
}

/* A correct relu layer with every op, momentum and a bias: every check
** holds, relu-at-zero runs for each masked op, and the claims say what ran. */
Test(verify, proves_a_relu_layer_with_sgd_and_momentum)
{
	static const char *const want[] = {
		"proved: 5 ops, 23 checks hold (seed 1)", "grad_input   relu-at-zero  ok   ",
		"sgd_update   relu-at-zero  ok   ", "with bias and with bias NULL; lr 2^-3, momentum 2^-1",
		"sgd_update   finite-diff   ok   dW = (W - W')/lr - momentum v and db likewise: ", NULL,
	};
	expect_proved("verify --input 6x5 --kernel 3x2 --batch 2 --in-channels 2 --out-channels 4 --groups 2 "
	              "--padding 1 --stride 2x1 --activation relu --momentum "
	              "--ops forward,grad_weight,grad_input,grad_bias,sgd_update", want, "forward      relu-at-zero");
}

/* Above 2^28 multiply-adds of reference work (this forward: 984064 outputs
** of 289 terms) the rounding check compares a uniform sample worth that
** much, 2^28 / 289 outputs, and its line says it was a sample. */
Test(verify, rounding_samples_a_large_layer_and_says_so)
{
	static const char *const want[] = {
		"forward      rounding      ok   928842 of 984064 outputs (a uniform sample) within "
		"gamma_n*sum|a*b|", NULL,
	};
	expect_proved("verify --input 64x64 --kernel 3x3 --batch 8 --in-channels 32 --out-channels 32 "
	              "--ops forward --no-memory", want, NULL);
}

/* sgd_update alone, in double, channels last, with a workspace. */
Test(verify, proves_sgd_update_without_relu)
{
	static const char *const want[] = {
		"proved: 1 ops, 4 checks hold (seed 1)", "with bias and with bias NULL; lr 2^-3; ",
		"\nover all inputs: P(a code computing another function passes) <= 2^-",
		" for each op; at the inputs drawn, every gradient coordinate compared exactly\n", NULL,
	};
	expect_proved("verify --input 7x6 --kernel 3x3 --in-channels 3 --out-channels 2 --layout nhwc "
	              "--dtype double --workspace --ops sgd_update", want, "relu-at-zero");
}

/* On a Cortex-M4 under QEMU, through semihosting: the driver program passes
** Y, the arrays sgd_update reads and writes, lr and momentum.  Without the
** toolchain the tests are skipped, naming it (CTest: not run). */
#define M4_CC "arm-none-eabi-gcc"
#define M4_CFLAGS "-O2 -mcpu=cortex-m4 -mthumb -mfpu=fpv4-sp-d16 -mfloat-abi=hard"
#define M4_EXEC "qemu-system-arm -M mps2-an386 -cpu cortex-m4 -nographic -semihosting -kernel"

static void need_m4(void)
{
	if (run_shell("command -v " M4_CC " >/dev/null 2>&1 && command -v qemu-system-arm >/dev/null 2>&1") != 0)
		cr_skip_test(M4_CC " or qemu-system-arm is not installed (Debian: apt-get install gcc-arm-none-eabi "
		             "libnewlib-arm-none-eabi qemu-system-arm)");
	setenv("CFLAGS", M4_CFLAGS, 1);
	setenv("CONVGEN_EXEC", M4_EXEC, 1);
}

Test(verify, proves_relu_and_sgd_with_momentum_on_a_cortex_m4, .timeout = 600)
{
	struct run *r = malloc(sizeof *r);
	char dir[256], file[300], args[400];

	need_m4();
	cr_assert(scratch_dir(dir, sizeof dir));
	cr_assert_eq(generate(dir, "conv", "--input 6x5 --kernel 3x2 --in-channels 2 --out-channels 2 --padding 1 "
	                      "--activation relu --momentum --target cortex-m4 "
	                      "--ops forward,grad_weight,grad_input,grad_bias,sgd_update"), 0);
	snprintf(file, sizeof file, "%s/conv.c", dir);
	snprintf(args, sizeof args, "verify --file %s", file);
	run_convgen(r, NULL, M4_CC, args);
	cr_expect_eq(r->status, 0, "exit %d\n%s%s", r->status, r->out, r->err);
	cr_expect(strstr(r->out, "run under '" M4_EXEC "'") != NULL, "%s", r->out);
	cr_expect(strstr(r->out, "proved: 5 ops, 23 checks hold (seed 1)") != NULL, "%s", r->out);
	free(r);
	remove_dir(dir);
}

Test(verify, rejects_the_forgotten_velocity_on_a_cortex_m4, .timeout = 600)
{
	need_m4();
	expect_rejected_by(M4_CC, "velocity_not_carried", "", "sgd_update", "reference");
}

Test(verify, relu_at_zero_rejects_Y_at_least_0_on_a_cortex_m4, .timeout = 600)
{
	need_m4();
	expect_rejected_by(M4_CC, "mask_at_zero", "", "grad_weight", "relu-at-zero");
}

/* A header whose --ops was narrowed by hand to leave sgd_update out would
** leave it unproven: the driver program finds it on the target too. */
Test(verify, an_unlisted_sgd_update_is_found_on_a_cortex_m4, .timeout = 600)
{
	struct run *r = malloc(sizeof *r);
	char dir[256], cmd[700], args[400];

	need_m4();
	cr_assert(scratch_dir(dir, sizeof dir));
	cr_assert_eq(generate(dir, "conv", "--input 5x5 --kernel 3x3 --activation relu --target cortex-m4 "
	                      "--ops grad_bias,sgd_update"), 0);
	snprintf(cmd, sizeof cmd, "sed -i '2s/--ops grad_bias,sgd_update/--ops grad_bias/' '%s/conv.c'", dir);
	cr_assert_eq(run_shell(cmd), 0);
	snprintf(args, sizeof args, "verify --file %s/conv.c", dir);
	run_convgen(r, NULL, M4_CC, args);
	cr_expect_eq(r->status, 1, "exit %d\n%s%s", r->status, r->out, r->err);
	cr_expect(strstr(r->err, "defines conv_sgd_update, which its header's --ops does not list") != NULL, "%s", r->err);
	free(r);
	remove_dir(dir);
}

/* --json reports the new op, the new check and the layer's activation. */
Test(verify, json_reports_relu_at_zero_and_sgd_update)
{
	struct run *r = malloc(sizeof *r);
	const char *args = "verify --input 5x5 --kernel 3x3 --activation relu --ops grad_bias,sgd_update --momentum --json";
	run_convgen(r, NULL, NULL, args);
	cr_expect_eq(r->status, 0, "convgen %s: exit %d\n%s%s", args, r->status, r->out, r->err);
	cr_expect(strstr(r->out, "\"activation\": \"relu\",\n    \"momentum\": true,") != NULL, "%s", r->out);
	cr_expect(strstr(r->out, "\"op\": \"sgd_update\",\n      \"check\": \"relu-at-zero\",\n      \"result\": \"ok\"")
	          != NULL, "%s", r->out);
	cr_expect(strstr(r->out, "\"lr_log2\": -3,\n      \"momentum_log2\": -1,") != NULL, "%s", r->out);
	cr_expect(strstr(r->out, "\"n_checks\": 10,") != NULL, "%s", r->out);
	free(r);
}

/* A compiler warning of undefined behaviour in the fixture fails the
** default run, quoting the warning, before any check runs. */
static void expect_ub_warning(const char *fixture, const char *warning)
{
	struct run *r = malloc(sizeof *r);
	char args[1024];
	snprintf(args, sizeof args, "verify --file %s/tests/fixtures/%s/%s.c", SOURCE_DIR, fixture, fixture);
	run_convgen(r, NULL, NULL, args);
	cr_expect_eq(r->status, 1, "exit %d\n%s%s", r->status, r->out, r->err);
	cr_expect(strstr(r->err, "the C compiler warns of undefined behaviour, so it is not proven") != NULL &&
	          strstr(r->err, warning) != NULL, "%s", r->err);
	cr_expect(strstr(r->out, "proved") == NULL, "%s", r->out);
	free(r);
}

/* The compiler sees the overrun (its loop runs past the array). */
Test(verify, a_compiler_warning_of_undefined_behaviour_fails_the_proof)
{
	expect_ub_warning("stack_overrun", "[-Waggressive-loop-optimizations]");
}

/* With that warning off, the numbers are right: the default run's memory
** check sees the read (ASan's redzones surround the kernel's locals too), and
** so does the stronger --sanitize. */
Test(verify, the_default_run_catches_a_read_past_a_stack_array)
{
	setenv("CFLAGS", "-Wno-aggressive-loop-optimizations", 1);
	expect_rejected("stack_overrun", "grad_bias", "memory");
}

Test(verify, sanitize_catches_a_read_past_a_stack_array)
{
	setenv("CFLAGS", "-Wno-aggressive-loop-optimizations", 1);
	expect_rejected_with("stack_overrun", "--sanitize", "grad_bias", "memory");
}

/* A write one element before a local array: gcc warns of it, and without the
** warning only the memory check sees it. */
Test(verify, a_warning_of_a_write_before_a_stack_array_fails_the_proof)
{
	expect_ub_warning("stack_underrun", "[-Wstringop-overflow");
}

Test(verify, the_default_run_catches_a_write_before_a_stack_array)
{
	setenv("CFLAGS", "-Wno-stringop-overflow -Wno-array-bounds", 1);
	expect_rejected("stack_underrun", "grad_bias", "memory");
}

/* --no-memory is a partial run: it misses that write, and says what it left out. */
Test(verify, no_memory_is_a_partial_run_that_says_so)
{
	struct run *r = malloc(sizeof *r);
	char args[1024];
	setenv("CFLAGS", "-Wno-stringop-overflow -Wno-array-bounds", 1);
	snprintf(args, sizeof args, "verify --file %s/tests/fixtures/stack_underrun/stack_underrun.c --no-memory",
	         SOURCE_DIR);
	run_convgen(r, NULL, NULL, args);
	cr_expect_eq(r->status, 0, "exit %d\n%s%s", r->status, r->out, r->err);
	cr_expect(strstr(r->out, "partial run (--no-memory): the memory check is left out") != NULL, "%s", r->out);
	cr_expect(strstr(r->out, "proved: 1 ops, 3 checks hold (seed 1); partial: no memory check (--no-memory)")
	          != NULL, "%s", r->out);
	cr_expect(strstr(r->out, "grad_bias    memory") == NULL, "%s", r->out);
	free(r);
}

Test(verify, sanitize_proves_a_correct_general_layer)
{
	static const char *const want[] = { "grad_input   memory        ok", "proved: 4 ops, 15 checks hold", NULL };
	expect_proved("verify --input 9x8 --kernel 3x2 --batch 2 --in-channels 4 --out-channels 2 --groups 2 "
	              "--stride 2x1 --padding 2x1 --dilation 2x3 --sanitize", want, NULL);
}

/* Put 'stmt' last in function NAME_fn of the generated file 'path'. */
static void append_to_function(const char *path, const char *fn, const char *stmt)
{
	size_t len;
	char *text = read_file(path, &len), *at, *end;
	FILE *f;

	cr_assert(text, "cannot read %s", path);
	cr_assert((at = strstr(text, fn)) && (end = strstr(at, "\n}\n")), "%s: no function %s", path, fn);
	cr_assert((f = fopen(path, "w")));
	fprintf(f, "%.*s\n    %s%s", (int)(end - text), text, stmt, end);
	cr_assert_eq(fclose(f), 0);
	free(text);
}

/* A layer large enough for directional finite differences on all three
** gradients: the separable directions over F_p catch one output off by an
** integer, and name an output that is not an integer (channels last). */
Test(verify, separable_directions_catch_one_wrong_output)
{
	char dir[256], path[300], args[400];
	struct run *r = malloc(sizeof *r);

	cr_assert(scratch_dir(dir, sizeof dir));
	cr_assert_eq(generate(dir, "big", "--input 64x64 --kernel 3x3 --in-channels 8 --out-channels 32 "
	                      "--layout nhwc --ops grad_weight,grad_input,grad_bias"), 0);
	snprintf(path, sizeof path, "%s/big.c", dir);
	append_to_function(path, "void big_grad_input(", "grad_input[5] += 1.0f;");
	append_to_function(path, "void big_grad_weight(", "grad_weight[3] += 0.5f;");
	append_to_function(path, "void big_grad_bias(", "grad_bias[31] -= 2.0f;");
	snprintf(args, sizeof args, "verify --file %s --no-memory", path);
	run_convgen(r, NULL, NULL, args);
	cr_expect_eq(r->status, 1, "exit %d\n%s%s", r->status, r->out, r->err);
	cr_expect(strstr(r->out, "grad_input   finite-diff   FAILED grad_input, direction 1 of 2: expected <g,v> = ")
	          != NULL, "%s", r->out);
	cr_expect(strstr(r->out, "grad_bias    finite-diff   FAILED grad_bias, direction 1 of 2: ") != NULL, "%s", r->out);
	/* grad_weight[3] is k=0, c=3 (OHWI): math layout index 3 * 9 */
	cr_expect(strstr(r->out, "grad_weight  finite-diff   FAILED grad_weight[k=0,c=3,m=0,q=0]: computed ") != NULL &&
	          strstr(r->out, "not an integer of magnitude below 2^24 as the exact gradient is") != NULL, "%s", r->out);
	remove_dir(dir);
	free(r);
}

/* --sanitize with a compiler that cannot build sanitized code: the memory
** check is not applicable, which counts as failed (no claim without the run). */
Test(verify, sanitize_without_a_sanitizing_compiler_fails_the_memory_check)
{
	char dir[256], cc[300];
	struct run *r = malloc(sizeof *r);
	cr_assert(scratch_dir(dir, sizeof dir));
	write_fake_cc(dir, "case \"$*\" in *-fsanitize*) echo \"error: no sanitizers here\" >&2; exit 1;; esac\n"
	                   "exec cc \"$@\"", cc, sizeof cc);
	run_convgen(r, NULL, cc, "verify --input 5x5 --kernel 3x3 --ops grad_bias --sanitize");
	cr_expect_eq(r->status, 1, "exit %d\n%s%s", r->status, r->out, r->err);
	cr_expect(has_failed_line(r->out, "grad_bias", "memory"), "%s", r->out);
	cr_expect(strstr(r->out, "not applicable") != NULL && strstr(r->out, "no sanitizers here") != NULL, "%s", r->out);
	cr_expect(strstr(r->out, "grad_bias    reference     ok") != NULL, "%s", r->out);
	free(r);
	remove_dir(dir);
}

/* The failure names the coordinate and both values, in the verifier's format. */
Test(verify, failure_names_coordinate_expected_and_computed)
{
	struct run *r = malloc(sizeof *r);
	char args[1024];
	snprintf(args, sizeof args, "verify --file %s/tests/fixtures/border_off_by_one/border_off_by_one.c", SOURCE_DIR);
	run_convgen(r, NULL, NULL, args);
	/* forward stops at column 1: the first wrong output is Y[n=0,k=0,i=0,j=2]. */
	cr_expect(strstr(r->out, "forward[n=0,k=0,i=0,j=2]: expected ") != NULL, "%s", r->out);
	cr_expect(strstr(r->out, ", computed ") != NULL, "%s", r->out);
	free(r);
}

/* Every fixture compiles cleanly: the verifier rejects it for its values, not its syntax. */
Test(verify, fixtures_compile_under_strict_flags)
{
	char cmd[1024];
	snprintf(cmd, sizeof cmd,
	         "for f in %s/tests/fixtures/*/*.c; do gcc -std=c99 -Wall -Wextra -Wpedantic -Werror -fsyntax-only \"$f\" || exit 1; done",
	         SOURCE_DIR);
	cr_expect_eq(run_shell(cmd), 0);
}

/* verify --file works in a directory of its own under $TMPDIR: one it cannot
** make is an error that names it, with no report. */
Test(verify, a_temporary_directory_it_cannot_make_is_said)
{
	struct run *r = malloc(sizeof *r);
	char dir[256], args[400];
	cr_assert(scratch_dir(dir, sizeof dir));
	cr_assert_eq(generate(dir, "k", "--input 5x5 --kernel 3x3 --ops grad_bias"), 0);
	setenv("TMPDIR", "/nonexistent/convgen-tmp", 1);
	snprintf(args, sizeof args, "verify --file %s/k.c", dir);
	run_convgen(r, NULL, NULL, args);
	unsetenv("TMPDIR");
	cr_expect_eq(r->status, 1, "exit %d\n%s%s", r->status, r->out, r->err);
	cr_expect(strstr(r->err, "cannot create a temporary directory") != NULL, "%s", r->err);
	cr_expect_str_eq(r->out, "", "no report without a directory to build in");
	free(r);
	remove_dir(dir);
}
