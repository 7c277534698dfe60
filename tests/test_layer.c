/* test_layer.c: gen/layer/layer.c, the one parser and validator of a layer. */
#include <criterion/criterion.h>
#include <string.h>

#include "layer.h"

/* Parse the space-separated words of 'opts' as generate's options. */
static int parse(const char *opts, struct cg_layer *l, char *msg, size_t msg_len)
{
	char copy[1024], *argv[64], *save = NULL, *w;
	struct cg_extra x;
	int argc = 0;
	strcpy(copy, opts);
	for (w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save))
		argv[argc++] = w;
	return cg_layer_parse(argc, argv, CG_ALLOW_OUT | CG_ALLOW_SCHEDULE, l, &x, msg, msg_len);
}

Test(layer, applies_spec_defaults_to_the_seed_layer)
{
	struct cg_layer l;
	char msg[256];
	cr_assert_eq(parse("--input 5x5 --kernel 3x3", &l, msg, sizeof msg), CG_EXIT_OK, "%s", msg);
	cr_expect_eq(l.n, 1); cr_expect_eq(l.c, 1); cr_expect_eq(l.k, 1); cr_expect_eq(l.g, 1);
	cr_expect_eq(l.sh, 1); cr_expect_eq(l.sw, 1); cr_expect_eq(l.ph, 0); cr_expect_eq(l.pw, 0);
	cr_expect_eq(l.dh, 1); cr_expect_eq(l.dw, 1);
	cr_expect_eq(l.dtype, CG_FLOAT);
	cr_expect_eq(l.ops, CG_DEFAULT_OPS);
	cr_expect_str_eq(l.name, "conv");
	/* docs/math.md, the seed example: Y is (H-k1+1) x (W-k2+1) = 3x3 */
	cr_expect_eq(l.oh, 3); cr_expect_eq(l.ow, 3);
}

Test(layer, computes_output_size_per_axis)
{
	struct cg_layer l;
	char msg[256];
	/* OH = floor((9 + 2*1 - 2*(3-1) - 1)/2) + 1 = floor(6/2) + 1 = 4;
	   OW = floor((7 + 2*0 - 3*(2-1) - 1)/1) + 1 = 4 */
	cr_assert_eq(parse("--input 9x7 --kernel 3x2 --padding 1x0 --dilation 2x3 --stride 2x1", &l, msg, sizeof msg),
	             CG_EXIT_OK, "%s", msg);
	cr_expect_eq(l.oh, 4);
	cr_expect_eq(l.ow, 4);
	cr_expect_eq(l.ph, 1); cr_expect_eq(l.pw, 0);
	cr_expect_eq(l.dh, 2); cr_expect_eq(l.dw, 3);
	cr_expect_eq(cg_input_size(&l), 63u);
	cr_expect_eq(cg_weight_size(&l), 6u);
	cr_expect_eq(cg_output_size(&l), 16u);
}

Test(layer, sizes_count_groups)
{
	struct cg_layer l;
	char msg[256];
	cr_assert_eq(parse("--input 5x6 --kernel 2x3 --batch 2 --in-channels 4 --out-channels 6 --groups 2",
	                   &l, msg, sizeof msg), CG_EXIT_OK, "%s", msg);
	cr_expect_eq(cg_input_size(&l), 2u * 4 * 5 * 6);
	cr_expect_eq(cg_weight_size(&l), 6u * 2 * 2 * 3);
	cr_expect_eq(cg_output_size(&l), 2u * 6 * 4 * 4);
	cr_expect_eq(cg_bias_size(&l), 6u);
}

Test(layer, canonical_op_set_from_a_list)
{
	struct cg_layer l;
	char msg[256];
	cr_assert_eq(parse("--input 5x5 --kernel 3x3 --ops grad_bias,forward", &l, msg, sizeof msg), CG_EXIT_OK);
	cr_expect_eq(l.ops, CG_OP_BIT(CG_FORWARD) | CG_OP_BIT(CG_GRAD_BIAS));
}

Test(layer, accepts_a_kernel_as_large_as_the_padded_input)
{
	struct cg_layer l;
	char msg[256];
	cr_assert_eq(parse("--input 3x4 --kernel 5x6 --padding 1", &l, msg, sizeof msg), CG_EXIT_OK, "%s", msg);
	cr_expect_eq(l.oh, 1);
	cr_expect_eq(l.ow, 1);
}

/* Each row: options, then a piece the message must contain. */
static const char *const rejected[][2] = {
	{ "--input 0x5 --kernel 3x3", "--input" },
	{ "--input 5x5 --kernel 3x0", "--kernel" },
	{ "--input -5x5 --kernel 3x3", "--input" },
	{ "--input fivexfive --kernel 3x3", "--input" },
	{ "--input 5y5 --kernel 3x3", "--input" },
	{ "--input=5x --kernel 3x3", "--input" },
	{ "--input 5x5 --kernel 3x3 --momentum=1", "--momentum: takes no value" },
	{ "--input 5x --kernel 3x3", "--input" },
	{ "--input 5x5x5 --kernel 3x3", "--input" },
	{ "--input 99999999999999999999x5 --kernel 3x3", "too large" },
	{ "--input 5x5 --kernel 7x7", "larger than the padded input" },
	{ "--input 5x5 --kernel 3x3 --dilation 3", "larger than the padded input" },
	{ "--input 5x5 --kernel 3x3 --stride 0", "--stride" },
	{ "--input 5x5 --kernel 3x3 --dilation 0x1", "--dilation" },
	{ "--input 5x5 --kernel 3x3 --padding -1", "--padding" },
	{ "--input 5x5 --kernel 3x3 --batch 0", "--batch" },
	{ "--input 5x5 --kernel 3x3 --in-channels 4 --groups 3", "does not divide --in-channels" },
	{ "--input 5x5 --kernel 3x3 --in-channels 4 --out-channels 6 --groups 4", "does not divide --out-channels" },
	{ "--input 5x5 --kernel 3x3 --dtype half", "--dtype" },
	{ "--input 5x5 --kernel 3x3 --ops forward,backward", "unknown op 'backward'" },
	{ "--input 5x5 --kernel 3x3 --ops forward,forward", "twice" },
	{ "--input 5x5 --kernel 3x3 --ops", "missing value" },
	{ "--input 5x5 --kernel 3x3 --name 1conv", "--name" },
	{ "--input 5x5 --kernel 3x3 --name my-conv", "--name" },
	{ "--input 5x5 --kernel 3x3 --frobnicate", "unknown option" },
	{ "--input 5x5 --input 6x6 --kernel 3x3", "given twice" },
	{ "--kernel 3x3", "--input: required" },
	{ "--input 5x5", "--kernel: required" },
	{ "--input 50000x50000 --kernel 3x3 --batch 4", "too large" },
	{ "--input 5x5 --kernel 100x100 --padding 60", "taps" },
	{ "--input 5x5 --kernel 3x3 stray", "unexpected argument" },
};

Test(layer, rejects_nonsense_with_a_message_naming_the_option)
{
	size_t i;
	for (i = 0; i < sizeof rejected / sizeof rejected[0]; i++) {
		struct cg_layer l;
		char msg[256] = "";
		int status = parse(rejected[i][0], &l, msg, sizeof msg);
		cr_expect_eq(status, CG_EXIT_USAGE, "'%s' was accepted", rejected[i][0]);
		cr_expect(strstr(msg, rejected[i][1]) != NULL, "'%s': message '%s' lacks '%s'",
		          rejected[i][0], msg, rejected[i][1]);
	}
}
