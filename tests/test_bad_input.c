/* test_bad_input.c: the table of bad input, one Criterion test per
** row, run through the real binary.  Every row must give the exit status of
** docs/cli.md (2 bad usage or a senseless layer, 1 anything else), a message on
** stderr naming the problem, no Lua traceback, no signal, no new file (in the
** output directory, the current directory or $TMPDIR) and the files that were
** there before left byte-identical.  test_cli.c and test_layer.c hold the
** first cases; this table adds the rest: every option malformed, zero,
** negative, overflowing, repeated and without its value, inconsistent groups,
** empty outputs, arrays that overflow int, and 'verify --file' on files
** edited by hand or cut short.
**
** Each test works in a fresh directory D:
**   D/out   the current directory and '-o .'; holds conv.h, conv.c beforehand
**   D/in    good.h, good.c for the 'verify --file' rows, edited by 'prep'
**   D/tmp   $TMPDIR of the run: must stay empty */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "support.h"

/* Row flags. */
#define ONE_LINE 0   /* stderr is exactly one line, "convgen: ..." */
#define CC_CHAT  1   /* the C compiler may print before convgen's last line */
#define REPORT   2   /* a failed check: the needle is in the report on stdout */

/* A listing of D with a checksum per file: equal listings before and after
** mean no file appeared, vanished or changed. */
static char *snapshot(const char *dir)
{
	char cmd[1024];
	size_t used = 0, cap = 1 << 16;
	char *buf = malloc(cap);
	FILE *p;
	snprintf(cmd, sizeof cmd,
	         "cd '%s' && find . -print | LC_ALL=C sort | while read -r f; do "
	         "if [ -f \"$f\" ]; then cksum \"$f\"; else echo \"$f\"; fi; done", dir);
	p = popen(cmd, "r");
	cr_assert(p && buf);
	while (used + 1 < cap) {
		size_t n = fread(buf + used, 1, cap - 1 - used, p);
		if (n == 0)
			break;
		used += n;
	}
	buf[used] = '\0';
	pclose(p);
	return buf;
}

static const char *last_line(const char *s)
{
	size_t len = strlen(s);
	const char *p;
	if (len == 0)
		return s;
	for (p = s + len - 1; p > s && p[-1] != '\n'; p--)
		;
	return p;
}

static void check_bad(const char *id, int status, const char *needle, int flags,
                      const char *prep, const char *args)
{
	char d[256], out[300], in[300], tmp[300], cmd[2048], path[400];
	char *before, *after, *h0, *c0, *h1, *c1;
	size_t len_h, len_c, len_h1 = 0, len_c1 = 0;
	struct run *r = malloc(sizeof *r);
	const char *last;

	cr_assert(r && scratch_dir(d, sizeof d));
	snprintf(out, sizeof out, "%s/out", d);
	snprintf(in, sizeof in, "%s/in", d);
	snprintf(tmp, sizeof tmp, "%s/tmp", d);
	cr_assert(mkdir(tmp, 0777) == 0 && mkdir(in, 0777) == 0);
	cr_assert_eq(generate(out, "conv", "--input 5x5 --kernel 3x3"), 0);
	if (prep) {
		cr_assert_eq(generate(in, "good", "--input 6x6 --kernel 3x3 --target generic"), 0);
		snprintf(cmd, sizeof cmd, "cd '%s' && { %s ; }", in, prep);
		cr_assert_eq(run_shell(cmd), 0, "%s: preparing the input failed: %s", id, prep);
	}
	snprintf(path, sizeof path, "%s/conv.h", out);
	h0 = read_file(path, &len_h);
	snprintf(path, sizeof path, "%s/conv.c", out);
	c0 = read_file(path, &len_c);
	cr_assert(h0 && c0);
	before = snapshot(d);

	/* call */
	setenv("TMPDIR", tmp, 1);
	run_convgen(r, out, NULL, args);

	/* compare */
	cr_expect_eq(r->status, status, "%s: convgen %s: exit %d, expected %d\nstdout: %.2000s\nstderr: %s",
	             id, args, r->status, status, r->out, r->err);
	if (flags & REPORT) {
		cr_expect(strstr(r->out, needle) != NULL, "%s: convgen %s: report lacks '%s': %.2000s",
		          id, args, needle, r->out);
	} else {
		last = last_line(r->err);
		cr_expect(strncmp(last, "convgen: ", 9) == 0,
		          "%s: convgen %s: last line of stderr does not start with 'convgen: ': %s", id, args, r->err);
		cr_expect(strstr(last, needle) != NULL, "%s: convgen %s: message lacks '%s': %s",
		          id, args, needle, r->err);
		if (!(flags & CC_CHAT))
			cr_expect(last == r->err, "%s: convgen %s: more than one line on stderr: %s", id, args, r->err);
	}
	cr_expect(strstr(r->err, "traceback") == NULL && strstr(r->err, ".lua:") == NULL &&
	          strstr(r->err, "internal error") == NULL,
	          "%s: convgen %s: Lua internals shown: %s", id, args, r->err);
	snprintf(path, sizeof path, "%s/conv.h", out);
	h1 = read_file(path, &len_h1);
	snprintf(path, sizeof path, "%s/conv.c", out);
	c1 = read_file(path, &len_c1);
	cr_expect(h1 && len_h1 == len_h && memcmp(h0, h1, len_h) == 0, "%s: convgen %s changed conv.h", id, args);
	cr_expect(c1 && len_c1 == len_c && memcmp(c0, c1, len_c) == 0, "%s: convgen %s changed conv.c", id, args);
	after = snapshot(d);
	cr_expect_str_eq(after, before, "%s: convgen %s: files appeared, vanished or changed under %s", id, args, d);

	free(before);
	free(after);
	free(h0);
	free(c0);
	free(h1);
	free(c1);
	free(r);
	remove_dir(d);
}

/* Shell snippets run in D/in on good.c (--input 6x6 --kernel 3x3 --target generic): the
** command on line 2, the trailer 'end of good.c' comment on the last line. */
#define EDIT(from, to) "sed -i '2s/" from "/" to "/' good.c"
#define WORDS_130 "sed -i \"2s/\\$/$(printf ' x%.0s' $(seq 130))/\" good.c"

/* X(id, exit status, needle, flags, prep or NULL, arguments) */
#define BAD_INPUT(X) \
	/* --input */ \
	X(input_empty,              2, "--input",            ONE_LINE, NULL, "generate --input '' --kernel 3x3 -o .") \
	X(input_zero_width,         2, "--input",            ONE_LINE, NULL, "generate --input 5x0 --kernel 3x3 -o .") \
	X(input_plus_sign,          2, "--input",            ONE_LINE, NULL, "generate --input +5x5 --kernel 3x3 -o .") \
	X(input_fraction,           2, "--input",            ONE_LINE, NULL, "generate --input 5.5x5 --kernel 3x3 -o .") \
	X(input_capital_x,          2, "--input",            ONE_LINE, NULL, "generate --input 5X5 --kernel 3x3 -o .") \
	X(input_above_limit,        2, "too large",          ONE_LINE, NULL, "generate --input 1000000001x1 --kernel 1x1 -o .") \
	/* --kernel */ \
	X(kernel_one_number_zero,   2, "--kernel 0: must be at least 1", ONE_LINE, NULL, "generate --input 5x5 --kernel 0 -o .") \
	X(kernel_negative,          2, "--kernel",           ONE_LINE, NULL, "generate --input 5x5 --kernel -3x3 -o .") \
	X(kernel_zero,              2, "--kernel",           ONE_LINE, NULL, "generate --input 5x5 --kernel 0x3 -o .") \
	X(kernel_wider_than_input,  2, "larger than the padded input", ONE_LINE, NULL, "generate --input 5x5 --kernel 3x6 -o .") \
	X(kernel_too_many_taps,     2, "taps",               ONE_LINE, NULL, "generate --input 5000x5000 --kernel 65x65 -o .") \
	/* --batch, --in-channels, --out-channels */ \
	X(batch_zero,               2, "--batch",            ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --batch 0 -o .") \
	X(batch_negative,           2, "--batch",            ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --batch -2 -o .") \
	X(batch_empty,              2, "--batch",            ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --batch '' -o .") \
	X(batch_pair,               2, "--batch",            ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --batch 2x2 -o .") \
	X(batch_wraps_to_zero,      2, "--batch",            ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --batch 4294967296 -o .") \
	X(in_channels_zero,         2, "--in-channels",      ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --in-channels 0 -o .") \
	X(in_channels_word,         2, "--in-channels",      ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --in-channels three -o .") \
	X(out_channels_zero,        2, "--out-channels",     ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --out-channels 0 -o .") \
	X(out_channels_above_limit, 2, "too large",          ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --out-channels 1000000001 -o .") \
	/* --groups: inconsistent with the channels */ \
	X(groups_zero,              2, "--groups",           ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --groups 0 -o .") \
	X(groups_exceed_channels,   2, "does not divide",    ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --in-channels 2 --out-channels 2 --groups 4 -o .") \
	X(groups_divide_in_not_out, 2, "--out-channels 4",   ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --in-channels 6 --out-channels 4 --groups 3 -o .") \
	X(groups_divide_out_not_in, 2, "--in-channels 4",    ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --in-channels 4 --out-channels 6 --groups 3 -o .") \
	X(groups_default_channels,  2, "--groups 2",         ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --groups 2 -o .") \
	/* --stride, --padding, --dilation */ \
	X(stride_zero_height,       2, "--stride",           ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --stride 0x1 -o .") \
	X(stride_zero_width,        2, "--stride",           ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --stride 1x0 -o .") \
	X(stride_trailing_x,        2, "--stride",           ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --stride 2x -o .") \
	X(stride_three_numbers,     2, "--stride",           ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --stride 1x1x1 -o .") \
	X(stride_negative,          2, "--stride",           ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --stride -1 -o .") \
	X(padding_negative_width,   2, "--padding",          ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --padding 1x-1 -o .") \
	X(padding_word,             2, "--padding",          ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --padding full -o .") \
	X(padding_same_capitals,    2, "--padding",          ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --padding SAME -o .") \
	X(padding_same_and_end,     2, "--padding-end: --padding same decides", ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --padding same --padding-end 1 -o .") \
	X(padding_end_negative,     2, "--padding-end",      ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --padding-end -1 -o .") \
	X(padding_end_word,         2, "--padding-end",      ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --padding-end same -o .") \
	X(padding_end_three_numbers, 2, "--padding-end",     ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --padding-end 1x1x1 -o .") \
	X(padding_end_above_limit,  2, "too large",          ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --padding-end 1000000001 -o .") \
	X(padding_end_missing,      2, "--padding-end: missing value", ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --padding-end") \
	X(padding_end_twice,        2, "--padding-end: given twice", ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --padding-end 1 --padding-end 1 -o .") \
	X(kernel_beyond_end_padding, 2, "larger than the padded input", ONE_LINE, NULL, "generate --input 2x2 --kernel 5x5 --padding-end 2 -o .") \
	X(end_padding_too_large,    2, "more than",          ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --padding-end 999999999x1 -o .") \
	X(padding_above_limit,      2, "too large",          ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --padding 1000000001 -o .") \
	X(dilation_zero,            2, "--dilation",         ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --dilation 0 -o .") \
	X(dilation_huge,            2, "larger than the padded input", ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --dilation 1000000000 -o .") \
	/* an output that would be empty */ \
	X(empty_output_kernel,      2, "larger than the padded input", ONE_LINE, NULL, "generate --input 2x2 --kernel 3x3 -o .") \
	X(empty_output_dilation,    2, "larger than the padded input", ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --dilation 1x3 -o .") \
	X(empty_output_one_axis,    2, "larger than the padded input", ONE_LINE, NULL, "generate --input 9x2 --kernel 3x3 --padding 0 -o .") \
	/* sizes whose arrays overflow int */ \
	X(overflow_input_array,     2, "too large",          ONE_LINE, NULL, "generate --input 1000x1000 --batch 1000 --in-channels 3 --kernel 1x1 -o .") \
	X(overflow_output_array,    2, "too large",          ONE_LINE, NULL, "generate --input 1x1 --kernel 1x1 --batch 50000 --out-channels 50000 -o .") \
	X(overflow_weight_array,    2, "too large",          ONE_LINE, NULL, "generate --input 1x1 --kernel 1x1 --in-channels 50000 --out-channels 50000 -o .") \
	X(overflow_padded_plane,    2, "too large",          ONE_LINE, NULL, "generate --input 1x1 --kernel 1x1 --padding 40000 -o .") \
	X(overflow_at_dim_limit,    2, "too large",          ONE_LINE, NULL, "generate --input 1000000000x1000000000 --kernel 1x1 -o .") \
	/* --dtype, --ops, --name */ \
	X(dtype_empty,              2, "--dtype",            ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --dtype '' -o .") \
	X(dtype_capitalised,        2, "--dtype",            ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --dtype Float -o .") \
	X(ops_empty,                2, "--ops",              ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --ops '' -o .") \
	X(ops_trailing_comma,       2, "--ops",              ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --ops forward, -o .") \
	X(ops_leading_comma,        2, "--ops",              ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --ops ,forward -o .") \
	X(ops_capitalised,          2, "--ops",              ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --ops FORWARD -o .") \
	X(name_empty,               2, "--name",             ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --name '' -o .") \
	X(name_path,                2, "--name",             ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --name ../conv -o .") \
	X(name_dot,                 2, "--name",             ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --name conv.v2 -o .") \
	X(name_64_characters,       2, "--name",             ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --name " \
	  "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc -o .") \
	/* --target */ \
	X(target_unknown,           2, "--target 'x86-64-v5': unknown target", ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --target x86-64-v5 -o .") \
	/* --layout, --stack-limit, --workspace, --optimize */ \
	X(layout_unknown,           2, "--layout 'chwn': expected nchw or nhwc", ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --layout chwn -o .") \
	X(layout_capitals,          2, "--layout 'NHWC'",    ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --layout NHWC -o .") \
	X(layout_empty,             2, "--layout ''",        ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --layout '' -o .") \
	X(layout_twice,             2, "--layout: given twice", ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --layout nchw --layout nhwc -o .") \
	X(stack_limit_zero,         2, "--stack-limit 0: must be at least 1", ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --stack-limit 0 -o .") \
	X(stack_limit_word,         2, "--stack-limit 'small'", ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --stack-limit small -o .") \
	X(stack_limit_negative,     2, "--stack-limit '-1'", ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --stack-limit -1 -o .") \
	X(stack_limit_with_unit,    2, "--stack-limit '1k'", ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --stack-limit 1k -o .") \
	X(stack_limit_missing,      2, "--stack-limit: missing value", ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --stack-limit") \
	X(stack_limit_unkeepable,   2, "--stack-limit 16: ", ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --stack-limit 16 -o .") \
	X(stack_limit_unkeepable_m4, 2, "--stack-limit 8: ", ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --target cortex-m4 --stack-limit 8 -o .") \
	X(verify_stack_unkeepable,  2, "--stack-limit 16: ", ONE_LINE, NULL, "verify --input 5x5 --kernel 3x3 --stack-limit 16") \
	X(workspace_with_value,     2, "'yes': unexpected argument", ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --workspace yes -o .") \
	X(workspace_twice,          2, "--workspace: given twice", ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --workspace --workspace -o .") \
	X(workspace_with_file,      2, "--file: the layer comes from the file's header", ONE_LINE, NULL, "verify --file x.c --workspace") \
	X(optimize_unknown,         2, "--optimize 'fast': expected speed or size", ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --optimize fast -o .") \
	X(optimize_empty,           2, "--optimize ''",      ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --optimize '' -o .") \
	X(optimize_missing,         2, "--optimize: missing value", ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --optimize") \
	/* --activation, --momentum, sgd_update */ \
	X(activation_unknown,       2, "--activation 'tanh': expected none or relu", ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --activation tanh -o .") \
	X(activation_capitals,      2, "--activation 'ReLU'", ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --activation ReLU -o .") \
	X(activation_empty,         2, "--activation ''",    ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --activation '' -o .") \
	X(activation_missing,       2, "--activation: missing value", ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --activation") \
	X(activation_twice,         2, "--activation: given twice", ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --activation relu --activation none -o .") \
	X(activation_with_file,     2, "--file: the layer comes from the file's header", ONE_LINE, NULL, "verify --file x.c --activation relu") \
	X(momentum_without_sgd,     2, "--momentum: only sgd_update keeps a velocity", ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --momentum -o .") \
	X(momentum_with_value,      2, "'0.9': unexpected argument", ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --ops sgd_update --momentum 0.9 -o .") \
	X(momentum_twice,           2, "--momentum: given twice", ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --ops sgd_update --momentum --momentum -o .") \
	X(ops_sgd_twice,            2, "'sgd_update' listed twice", ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --ops sgd_update,forward,sgd_update -o .") \
	X(ops_sgd_misspelt,         2, "unknown op 'sgd'",  ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --ops sgd -o .") \
	X(schedule_sgd_update,      2, "sgd_update takes grad_weight's schedule", ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --ops sgd_update --schedule sgd_update.lanes=4 -o .") \
	X(header_activation_unknown, 2, "--activation 'sigmoid'", ONE_LINE, EDIT("--target generic", "--activation sigmoid --target generic"), "verify --file ../in/good.c") \
	X(header_momentum_without_sgd, 2, "--momentum: only sgd_update keeps a velocity", ONE_LINE, EDIT("--target generic", "--momentum --target generic"), "verify --file ../in/good.c") \
	X(header_layout_unknown,    2, "--layout 'hwcn'",    ONE_LINE, EDIT("--target generic", "--layout hwcn --target generic"), "verify --file ../in/good.c") \
	X(header_workspace_no_size, 1, "_WORKSPACE_BYTES and ", ONE_LINE, EDIT("--target generic", "--target generic --workspace"), "verify --file ../in/good.c") \
	X(target_empty,             2, "--target '': unknown target", ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --target '' -o .") \
	X(target_capitalised,       2, "--target 'Generic'", ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --target Generic -o .") \
	X(target_missing_value,     2, "--target: missing value", ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 -o . --target") \
	X(target_given_twice,       2, "--target: given twice", ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --target generic --target host -o .") \
	X(target_with_file,         2, "--file: the layer comes from the file's header", ONE_LINE, NULL, "verify --file conv.c --target generic") \
	X(header_target_unknown,    2, "--target 'pdp-11'", ONE_LINE, EDIT("--target generic", "--target pdp-11"), "verify --file ../in/good.c") \
	/* --schedule */ \
	X(schedule_empty,           2, "--schedule '': expected OP.KEY=VALUE", ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --schedule '' -o .") \
	X(schedule_unknown_op,      2, "'fwd.lanes=2' is not OP.KEY=VALUE with a known op", ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --schedule fwd.lanes=2 -o .") \
	X(schedule_no_value,        2, "'forward.lanes' is not OP.KEY=VALUE", ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --schedule forward.lanes -o .") \
	X(schedule_unknown_key,     2, "unknown key (known: lanes, acc, roll)", ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --schedule forward.width=2 -o .") \
	X(schedule_lanes_not_pow2,  2, "forward.lanes=12 out of range", ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --schedule forward.lanes=12 -o .") \
	X(schedule_lanes_too_many,  2, "grad_bias.lanes=128 out of range", ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --schedule grad_bias.lanes=128 -o .") \
	X(schedule_acc_zero,        2, "grad_input.acc=0 out of range", ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --schedule grad_input.acc=0 -o .") \
	X(schedule_roll_three,      2, "grad_weight.roll=3 out of range", ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --schedule grad_weight.roll=3 -o .") \
	X(schedule_negative,        2, "expected a decimal value", ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --schedule forward.acc=-1 -o .") \
	X(schedule_key_twice,       2, "forward.lanes given twice", ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --schedule forward.lanes=4,forward.lanes=8 -o .") \
	X(schedule_trailing_comma,  2, "'' is not OP.KEY=VALUE", ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --schedule forward.lanes=4, -o .") \
	X(schedule_given_twice,     2, "--schedule: given twice", ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --schedule forward.acc=2 --schedule forward.acc=2 -o .") \
	/* --tuning and tune (the records are written by 'prep' into D/in) */ \
	X(tuning_empty,             2, "--tuning '': expected a tuning record file", ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --tuning '' -o .") \
	X(tuning_missing_file,      2, "--tuning ../in/none: No such file", ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --tuning ../in/none -o .") \
	X(tuning_missing_value,     2, "--tuning: missing value", ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 -o . --tuning") \
	X(tuning_and_schedule,      2, "--tuning: gives the schedule already; drop --schedule", ONE_LINE, "printf 'layer --input 6x6 --kernel 3x3 --batch 1 --in-channels 1 --out-channels 1 --groups 1 --stride 1x1 --padding 0x0 --dilation 1x1 --target generic --dtype float\\nschedule\\n' > rec", "generate --input 6x6 --kernel 3x3 --target generic --tuning ../in/rec --schedule forward.acc=2 -o .") \
	X(tuning_other_layer,       2, "a record of another layer", ONE_LINE, "printf 'layer --input 5x5 --kernel 3x3 --batch 1 --in-channels 1 --out-channels 1 --groups 1 --stride 1x1 --padding 0x0 --dilation 1x1 --target generic --dtype float\\nschedule\\n' > rec", "generate --input 6x6 --kernel 3x3 --target generic --tuning ../in/rec -o .") \
	X(tuning_other_target,      2, "a record of another layer", ONE_LINE, "printf 'layer --input 6x6 --kernel 3x3 --batch 1 --in-channels 1 --out-channels 1 --groups 1 --stride 1x1 --padding 0x0 --dilation 1x1 --target generic --dtype float\\nschedule\\n' > rec", "generate --input 6x6 --kernel 3x3 --target x86-64-v4 --tuning ../in/rec -o .") \
	X(tuning_not_a_record,      2, "not a tuning record (line 'hello')", ONE_LINE, "echo hello > rec", "generate --input 6x6 --kernel 3x3 --tuning ../in/rec -o .") \
	X(tuning_no_schedule_line,  2, "not a tuning record (no schedule line)", ONE_LINE, "printf 'layer --input 6x6 --kernel 3x3 --batch 1 --in-channels 1 --out-channels 1 --groups 1 --stride 1x1 --padding 0x0 --dilation 1x1 --target generic --dtype float\\n' > rec", "generate --input 6x6 --kernel 3x3 --target generic --tuning ../in/rec -o .") \
	X(tuning_bad_schedule,      2, "forward.lanes=3 out of range", ONE_LINE, "printf 'layer --input 6x6 --kernel 3x3 --batch 1 --in-channels 1 --out-channels 1 --groups 1 --stride 1x1 --padding 0x0 --dilation 1x1 --target generic --dtype float\\nschedule forward.lanes=3\\n' > rec", "generate --input 6x6 --kernel 3x3 --target generic --tuning ../in/rec -o .") \
	X(tuning_with_file,         2, "--file: the layer comes from the file's header", ONE_LINE, NULL, "verify --file ../in/good.c --tuning ../in/good.c") \
	X(tune_with_schedule,       2, "--schedule: tune measures the schedule itself", ONE_LINE, NULL, "tune --input 5x5 --kernel 3x3 --schedule forward.acc=2") \
	X(tune_with_tuning,         2, "--tuning: tune measures the schedule itself", ONE_LINE, "printf 'layer --input 5x5 --kernel 3x3 --batch 1 --in-channels 1 --out-channels 1 --groups 1 --stride 1x1 --padding 0x0 --dilation 1x1 --target generic --dtype float\\nschedule\\n' > rec", "tune --input 5x5 --kernel 3x3 --target generic --tuning ../in/rec") \
	X(tune_with_file,           2, "--file: unknown option", ONE_LINE, NULL, "tune --file ../in/good.c") \
	X(tune_for_cortex_m4,       2, "--target cortex-m4: tune times the candidates on this machine", ONE_LINE, NULL, "tune --input 5x5 --kernel 3x3 --target cortex-m4") \
	X(tune_for_aarch64,         2, "which does not run code shaped for aarch64", ONE_LINE, NULL, "tune --input 5x5 --kernel 3x3 --target aarch64") \
	X(verify_file_a_header,     2, "a header; verify the source beside it: --file ../in/good.c", ONE_LINE, "true", "verify --file ../in/good.h") \
	X(tune_bad_layer,           2, "--kernel 9x9: larger than the padded input", ONE_LINE, NULL, "tune --input 5x5 --kernel 9x9") \
	X(tune_record_dir_missing,  1, "/dev/null/no: cannot create directory", ONE_LINE, NULL, "tune --input 3x3 --kernel 2x2 --target generic --ops grad_bias -o /dev/null/no/such/rec") \
	/* --exec, --no-memory, --sanitize */ \
	X(exec_missing_value,       2, "--exec: missing value", ONE_LINE, NULL, "verify --input 5x5 --kernel 3x3 --exec") \
	X(exec_given_twice,         2, "--exec: given twice", ONE_LINE, NULL, "verify --input 5x5 --kernel 3x3 --exec qemu-aarch64 --exec qemu-arm") \
	X(exec_on_generate,         2, "--exec",             ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --exec qemu-aarch64 -o .") \
	X(exec_on_tune,             2, "--exec",             ONE_LINE, NULL, "tune --input 5x5 --kernel 3x3 --exec qemu-aarch64") \
	X(exec_not_found,           1, "the emulator command 'no-such-emulator' cannot be run (exit status 127)", ONE_LINE, NULL, "verify --input 3x3 --kernel 2x2 --ops grad_bias --exec no-such-emulator") \
	X(no_memory_with_sanitize,  2, "--sanitize: strengthens the memory check that --no-memory leaves out", ONE_LINE, NULL, "verify --input 5x5 --kernel 3x3 --sanitize --no-memory") \
	X(no_memory_on_generate,    2, "--no-memory",        ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --no-memory -o .") \
	X(no_memory_given_twice,    2, "--no-memory: given twice", ONE_LINE, NULL, "verify --input 5x5 --kernel 3x3 --no-memory --no-memory") \
	/* unknown options and stray words */ \
	X(equals_form_bad_value,    2, "--input '5y5'",      ONE_LINE, NULL, "generate --input=5y5 --kernel 3x3 -o .") \
	X(equals_form_empty_value,  2, "--padding '': expected N or AxB", ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --padding= -o .") \
	X(equals_on_a_flag,         2, "--workspace: takes no value ('--workspace=yes')", ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --workspace=yes -o .") \
	X(equals_form_given_twice,  2, "--padding: given twice", ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --padding=1 --padding 1 -o .") \
	X(typo_suggests_kernel,     2, "--kernal: unknown option; did you mean --kernel?", ONE_LINE, NULL, "generate --input 5x5 --kernal 3x3 -o .") \
	X(typo_suggests_plural,     2, "--in-channel: unknown option; did you mean --in-channels?", ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --in-channel 2 -o .") \
	X(typo_underscore,          2, "--out_channels: unknown option; did you mean --out-channels?", ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --out_channels 2 -o .") \
	X(typo_equals_form,         2, "--paddng: unknown option; did you mean --padding?", ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --paddng=1 -o .") \
	X(typo_of_other_command,    2, "--seeds: unknown option (see convgen --help)", ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --seeds 3 -o .") \
	X(unknown_short_option,     2, "-x",                 ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 -x -o .") \
	X(unknown_capitalised,      2, "--Input",            ONE_LINE, NULL, "generate --Input 5x5 --kernel 3x3 -o .") \
	X(stray_positional,         2, "unexpected argument", ONE_LINE, NULL, "generate 5x5 --input 5x5 --kernel 3x3 -o .") \
	X(verify_option_on_generate, 2, "--seed",            ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --seed 3 -o .") \
	X(file_option_on_generate,  2, "--file",             ONE_LINE, NULL, "generate --file conv.c -o .") \
	/* repeated options */ \
	X(repeated_batch,           2, "--batch: given twice", ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --batch 2 --batch 2 -o .") \
	X(repeated_padding,         2, "--padding: given twice", ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --padding 1 --padding 1x1 -o .") \
	X(repeated_output_dir,      2, "-o: given twice",    ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 -o . -o .") \
	X(repeated_name,            2, "--name: given twice", ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --name a --name b -o .") \
	X(repeated_dtype,           2, "--dtype: given twice", ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --dtype float --dtype double -o .") \
	X(repeated_ops,             2, "--ops: given twice", ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 --ops forward --ops grad_bias -o .") \
	X(repeated_file,            2, "--file: given twice", ONE_LINE, NULL, "verify --file a.c --file b.c") \
	X(repeated_seed,            2, "--seed: given twice", ONE_LINE, NULL, "verify --input 5x5 --kernel 3x3 --seed 1 --seed 2") \
	/* missing values */ \
	X(missing_output_value,     2, "-o: missing value",  ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 -o") \
	X(missing_name_value,       2, "--name: missing value", ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 -o . --name") \
	X(missing_dtype_value,      2, "--dtype: missing value", ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 -o . --dtype") \
	X(missing_value_takes_next, 2, "--input '--kernel'", ONE_LINE, NULL, "generate --input --kernel 3x3 -o .") \
	X(missing_output_option,    2, "-o: required",       ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3") \
	X(empty_output_dir,         2, "-o",                 ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 -o ''") \
	X(output_dir_is_a_file,     1, "conv.h: cannot use directory", ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 -o conv.h") \
	X(output_dir_under_a_file,  1, "conv.c",             ONE_LINE, NULL, "generate --input 5x5 --kernel 3x3 -o conv.c/sub") \
	X(missing_file_value,       2, "--file: missing value", ONE_LINE, NULL, "verify --file") \
	X(empty_file_value,         2, "--file",             ONE_LINE, NULL, "verify --file ''") \
	X(missing_seed_value,       2, "--seed: missing value", ONE_LINE, NULL, "verify --input 5x5 --kernel 3x3 --seed") \
	/* verify LAYER: the same parser */ \
	X(verify_groups_zero,       2, "--groups",           ONE_LINE, NULL, "verify --input 5x5 --kernel 3x3 --groups 0") \
	X(verify_empty_output,      2, "larger than the padded input", ONE_LINE, NULL, "verify --input 2x2 --kernel 3x3") \
	X(verify_overflow,          2, "too large",          ONE_LINE, NULL, "verify --input 1x1 --kernel 1x1 --batch 50000 --out-channels 50000") \
	X(verify_output_dir,        2, "-o",                 ONE_LINE, NULL, "verify --input 5x5 --kernel 3x3 -o .") \
	X(verify_seed_overflow,     2, "--seed",             ONE_LINE, NULL, "verify --input 5x5 --kernel 3x3 --seed 99999999999999999999999") \
	X(verify_seed_word,         2, "--seed",             ONE_LINE, NULL, "verify --input 5x5 --kernel 3x3 --seed abc") \
	X(verify_file_and_layer,    2, "--file",             ONE_LINE, "true", "verify --file ../in/good.c --batch 2") \
	/* verify --file: not a generated file */ \
	X(file_missing,             1, "nope.c",             ONE_LINE, NULL, "verify --file nope.c") \
	X(file_is_directory,        1, "../in",              ONE_LINE, "true", "verify --file ../in") \
	X(file_dev_null,            1, "/dev/null",          ONE_LINE, NULL, "verify --file /dev/null") \
	X(file_one_huge_line,       1, "huge.c",             ONE_LINE, "head -c 1000000 /dev/zero | tr '\\0' a > huge.c", "verify --file ../in/huge.c") \
	/* verify --file: a header edited by hand */ \
	X(header_batch_zero,        2, "--batch",            ONE_LINE, EDIT("--batch 1", "--batch 0"), "verify --file ../in/good.c") \
	X(header_groups_inconsistent, 2, "--groups",         ONE_LINE, EDIT("--in-channels 1", "--in-channels 3") " && " EDIT("--groups 1", "--groups 2"), "verify --file ../in/good.c") \
	X(header_overflow,          2, "too large",          ONE_LINE, EDIT("--input 6x6", "--input 46341x46341"), "verify --file ../in/good.c") \
	X(header_unknown_option,    2, "--frob",             ONE_LINE, EDIT("--groups 1", "--groups 1 --frob"), "verify --file ../in/good.c") \
	X(header_repeated_option,   2, "given twice",        ONE_LINE, EDIT("--kernel 3x3", "--kernel 3x3 --kernel 3x3"), "verify --file ../in/good.c") \
	X(header_missing_value,     2, "-o: missing value",  ONE_LINE, EDIT(" -o \\.$", " -o"), "verify --file ../in/good.c") \
	X(header_too_many_words,    1, "too many words",     ONE_LINE, WORDS_130, "verify --file ../in/good.c") \
	X(header_command_deleted,   1, "no 'convgen generate' line", ONE_LINE, "sed -i 2d good.c", "verify --file ../in/good.c") \
	X(header_not_first,         1, "no 'convgen generate' line", ONE_LINE, "sed -i '1s/^/\\n/' good.c", "verify --file ../in/good.c") \
	X(header_name_changed,      1, "edited by hand",     ONE_LINE, EDIT("--name good", "--name other"), "verify --file ../in/good.c") \
	X(header_ops_narrowed,      1, "--ops does not list", ONE_LINE, EDIT("--ops forward,grad_weight,grad_input,grad_bias", "--ops forward"), "verify --file ../in/good.c") \
	X(header_kernel_changed,    1, "FAILED",             REPORT,   EDIT("--kernel 3x3", "--kernel 2x2"), "verify --file ../in/good.c") \
	X(header_dtype_changed,     1, "FAILED",             REPORT,   EDIT("--dtype float", "--dtype double"), "verify --file ../in/good.c") \
	/* verify --file: a generated file cut short */ \
	X(truncated_to_one_byte,    1, "good.c",             ONE_LINE, "head -c 1 good.c > cut && mv cut good.c", "verify --file ../in/good.c") \
	X(truncated_to_header,      1, "truncated",          ONE_LINE, "head -n 3 good.c > cut && mv cut good.c", "verify --file ../in/good.c") \
	X(truncated_in_the_middle,  1, "truncated",          ONE_LINE, "head -c 3000 good.c > cut && mv cut good.c", "verify --file ../in/good.c") \
	X(truncated_before_trailer, 1, "truncated",          ONE_LINE, "head -n -1 good.c > cut && mv cut good.c", "verify --file ../in/good.c") \
	X(truncated_in_the_trailer, 1, "truncated",          ONE_LINE, "head -c -5 good.c > cut && mv cut good.c", "verify --file ../in/good.c") \
	X(middle_lines_missing,     1, "good.c",             CC_CHAT,  "{ head -n 60 good.c; tail -n 1 good.c; } > cut && mv cut good.c", "verify --file ../in/good.c") \
	X(body_garbled,             1, "good.c",             CC_CHAT,  "sed -i '100s/.*/@@ not C @@/' good.c", "verify --file ../in/good.c")

#define X(id, status, needle, flags, prep, args) \
	Test(bad_input, id) { check_bad(#id, status, needle, flags, prep, args); }
BAD_INPUT(X)
#undef X
