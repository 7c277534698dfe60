/* test_cli.c: the convgen binary's promises on bad input (docs/cli.md):
** a message naming the option or file, exit 2 for bad usage and 1 for other
** failures, never a signal or a Lua traceback, never a new or changed file. */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layer.h"
#include "support.h"

static void expect_clean_error(const struct run *r, int status, const char *args, const char *needle)
{
	cr_expect_eq(r->status, status, "convgen %s: exit %d, expected %d; stderr: %s", args, r->status, status, r->err);
	cr_expect(strncmp(r->err, "convgen: ", 9) == 0, "convgen %s: stderr does not start with 'convgen: ': %s", args, r->err);
	cr_expect(strstr(r->err, needle) != NULL, "convgen %s: stderr lacks '%s': %s", args, needle, r->err);
	cr_expect(strstr(r->err, "traceback") == NULL && strstr(r->err, ".lua:") == NULL,
	          "convgen %s: Lua internals shown: %s", args, r->err);
	cr_expect(strchr(r->err, '\n') == r->err + strlen(r->err) - 1, "convgen %s: not one line: %s", args, r->err);
}

/* Bad generate options: exit 2, named, and the old files stay byte-identical. */
static const char *const bad_generate[][2] = {
	{ "--input 0x5 --kernel 3x3", "--input" },
	{ "--input -1x5 --kernel 3x3", "--input" },
	{ "--input abc --kernel 3x3", "--input" },
	{ "--input 3X3 --kernel 3x3", "--input" },
	{ "--input 3x --kernel 3x3", "--input" },
	{ "--input 4294967297x5 --kernel 3x3", "--input" },
	{ "--input 5x5 --kernel 6x6", "--kernel" },
	{ "--input 5x5 --kernel 3x3 --dtype int", "--dtype" },
	{ "--input 5x5 --kernel 3x3 --ops forward,sideways", "--ops" },
	{ "--input 5x5 --kernel 3x3 --name 'a b'", "--name" },
	{ "--input 5x5 --kernel 3x3 --name 9lives", "--name" },
	{ "--input 5x5 --kernel 3x3 --unknown 1", "--unknown" },
	{ "--input 5x5 --kernel 3x3 --stride 0", "--stride" },
	{ "--input 5x5 --kernel 3x3 --in-channels 3 --groups 2", "--groups" },
	{ "--input 5x5 --kernel 3x3 --kernel 2x2", "--kernel" },
	{ "--input 5x5 --kernel", "--kernel" },
	{ "--input 46341x46341 --kernel 3x3", "too large" },
};

Test(cli, exits_2_and_leaves_old_files_on_bad_generate_options)
{
	char dir[256], args[512], path[300];
	size_t i, len_h, len_c;
	char *h0, *c0;
	cr_assert(scratch_dir(dir, sizeof dir));
	cr_assert_eq(generate(dir, "conv", "--input 5x5 --kernel 3x3"), 0);
	snprintf(path, sizeof path, "%s/conv.h", dir);
	h0 = read_file(path, &len_h);
	snprintf(path, sizeof path, "%s/conv.c", dir);
	c0 = read_file(path, &len_c);
	cr_assert(h0 && c0);
	for (i = 0; i < sizeof bad_generate / sizeof bad_generate[0]; i++) {
		struct run *r = malloc(sizeof *r);
		char *h1, *c1;
		snprintf(args, sizeof args, "generate %s -o %s", bad_generate[i][0], dir);
		run_convgen(r, NULL, NULL, args);
		expect_clean_error(r, 2, args, bad_generate[i][1]);
		snprintf(path, sizeof path, "%s/conv.h", dir);
		h1 = read_file(path, NULL);
		snprintf(path, sizeof path, "%s/conv.c", dir);
		c1 = read_file(path, NULL);
		cr_expect(h1 && memcmp(h0, h1, len_h) == 0 && c1 && memcmp(c0, c1, len_c) == 0,
		          "convgen %s changed the existing files", args);
		free(h1);
		free(c1);
		free(r);
	}
	/* Nothing but the two files: no temporary left behind. */
	snprintf(args, sizeof args, "test $(ls -A '%s' | wc -l) -eq 2", dir);
	cr_expect_eq(run_shell(args), 0, "stray files in %s", dir);
	free(h0);
	free(c0);
	remove_dir(dir);
}

Test(cli, creates_no_directory_on_bad_options)
{
	char dir[256], out[300], args[512];
	struct run *r = malloc(sizeof *r);
	cr_assert(scratch_dir(dir, sizeof dir));
	snprintf(out, sizeof out, "%s/new/sub", dir);
	snprintf(args, sizeof args, "generate --input 5x5 --kernel 9x9 -o %s", out);
	run_convgen(r, NULL, NULL, args);
	expect_clean_error(r, 2, args, "--kernel");
	cr_expect(!file_exists(out), "%s was created", out);
	free(r);
	remove_dir(dir);
}

Test(cli, exits_2_on_usage_errors)
{
	static const char *const cases[][2] = {
		{ "", "missing command" },
		{ "frobnicate", "frobnicate" },
		{ "generate --input 5x5 --kernel 3x3", "-o" },
		{ "verify --input 5x5 --kernel 3x3 -o somewhere", "-o" },
		{ "generate --input 5x5 --kernel 3x3 --exhaustive -o x", "--exhaustive" },
		{ "verify --file x.c --input 5x5", "--file" },
		{ "verify --input 5x5 --kernel 3x3 --seed -4", "--seed" },
	};
	size_t i;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct run *r = malloc(sizeof *r);
		run_convgen(r, NULL, NULL, cases[i][0]);
		expect_clean_error(r, 2, cases[i][0], cases[i][1]);
		free(r);
	}
}

Test(cli, exits_1_when_the_output_cannot_be_written)
{
	char dir[256], args[512];
	struct run *r = malloc(sizeof *r);
	cr_assert(scratch_dir(dir, sizeof dir));
	/* A regular file where the directory should be: no user can write there, root included. */
	snprintf(args, sizeof args, "touch %s/plain", dir);
	cr_assert_eq(run_shell(args), 0);
	snprintf(args, sizeof args, "generate --input 5x5 --kernel 3x3 -o %s/plain/out", dir);
	run_convgen(r, NULL, NULL, args);
	expect_clean_error(r, 1, args, "plain");
	run_convgen(r, NULL, NULL, "generate --input 5x5 --kernel 3x3 -o /proc/convgen-test");
	expect_clean_error(r, 1, "-o /proc/convgen-test", "/proc/convgen-test");
	free(r);
	remove_dir(dir);
}

Test(cli, prints_help_and_version)
{
	struct run *r = malloc(sizeof *r);
	run_convgen(r, NULL, NULL, "--version");
	cr_expect_eq(r->status, 0);
	cr_expect_str_eq(r->out, "convgen " CG_VERSION "\n");
	run_convgen(r, NULL, NULL, "--help");
	cr_expect_eq(r->status, 0);
	cr_expect(strstr(r->out, "convgen generate LAYER") != NULL, "%s", r->out);
	cr_expect(strstr(r->out, "--dilation") != NULL);
	free(r);
}

/* verify --file on files that are not what generate wrote: exit 1, file named. */
Test(cli, verify_file_rejects_missing_empty_foreign_and_truncated_files)
{
	char dir[256], args[512], path[300], cmd[1024];
	struct run *r = malloc(sizeof *r);
	cr_assert(scratch_dir(dir, sizeof dir));

	snprintf(args, sizeof args, "verify --file %s/missing.c", dir);
	run_convgen(r, NULL, NULL, args);
	expect_clean_error(r, 1, args, "missing.c");

	snprintf(cmd, sizeof cmd, ": > %s/empty.c", dir);
	cr_assert_eq(run_shell(cmd), 0);
	snprintf(args, sizeof args, "verify --file %s/empty.c", dir);
	run_convgen(r, NULL, NULL, args);
	expect_clean_error(r, 1, args, "empty.c");

	snprintf(cmd, sizeof cmd, "printf 'int main(void) { return 0; }\\n' > %s/foreign.c", dir);
	cr_assert_eq(run_shell(cmd), 0);
	snprintf(args, sizeof args, "verify --file %s/foreign.c", dir);
	run_convgen(r, NULL, NULL, args);
	expect_clean_error(r, 1, args, "foreign.c");

	snprintf(cmd, sizeof cmd, "head -c 4000 /bin/sh > %s/binary.c", dir);
	cr_assert_eq(run_shell(cmd), 0);
	snprintf(args, sizeof args, "verify --file %s/binary.c", dir);
	run_convgen(r, NULL, NULL, args);
	expect_clean_error(r, 1, args, "binary.c");

	/* A generated file cut in the middle, as a full disk would leave it. */
	cr_assert_eq(generate(dir, "conv", "--input 6x6 --kernel 3x3"), 0);
	snprintf(path, sizeof path, "%s/conv.c", dir);
	snprintf(cmd, sizeof cmd, "head -c $(( $(wc -c < %s) / 2 )) %s > %s/cut.c && mv %s/cut.c %s", path, path, dir, dir, path);
	cr_assert_eq(run_shell(cmd), 0);
	snprintf(args, sizeof args, "verify --file %s", path);
	run_convgen(r, NULL, NULL, args);
	expect_clean_error(r, 1, args, "conv.c");
	free(r);
	remove_dir(dir);
}

Test(cli, verify_file_rejects_a_hand_edited_header)
{
	char dir[256], args[512], cmd[1024];
	struct run *r = malloc(sizeof *r);
	cr_assert(scratch_dir(dir, sizeof dir));
	cr_assert_eq(generate(dir, "conv", "--input 6x6 --kernel 3x3"), 0);
	/* A layer that makes no sense: exit 2, like the same options on the command line. */
	snprintf(cmd, sizeof cmd, "sed -i '2s/--kernel 3x3/--kernel 9x9/' %s/conv.c", dir);
	cr_assert_eq(run_shell(cmd), 0);
	snprintf(args, sizeof args, "verify --file %s/conv.c", dir);
	run_convgen(r, NULL, NULL, args);
	expect_clean_error(r, 2, args, "--kernel");
	/* A sensible layer that is not the code's: the checks fail, exit 1. */
	snprintf(cmd, sizeof cmd, "sed -i '2s/--kernel 9x9/--kernel 2x2/' %s/conv.c", dir);
	cr_assert_eq(run_shell(cmd), 0);
	run_convgen(r, NULL, NULL, args);
	cr_expect_eq(r->status, 1, "edited header: exit %d\n%s%s", r->status, r->out, r->err);
	free(r);
	remove_dir(dir);
}

Test(cli, exits_1_when_the_c_compiler_fails)
{
	struct run *r = malloc(sizeof *r);
	const char *args = "verify --input 5x5 --kernel 3x3";
	run_convgen(r, NULL, "false", args);
	cr_expect_eq(r->status, 1, "exit %d: %s", r->status, r->err);
	cr_expect(strstr(r->err, "false") != NULL, "compiler not named: %s", r->err);
	run_convgen(r, NULL, "/nonexistent/cc", args);
	cr_expect_eq(r->status, 1, "exit %d: %s", r->status, r->err);
	free(r);
}

/* docs/cli.md holds 'convgen --help' word for word, in its first text block. */
Test(cli, help_matches_docs)
{
	struct run *r = malloc(sizeof *r);
	char path[512];
	char *doc, *start, *end;
	snprintf(path, sizeof path, "%s/docs/cli.md", SOURCE_DIR);
	doc = read_file(path, NULL);
	cr_assert(doc, "%s missing", path);
	start = strstr(doc, "```text\n");
	cr_assert(start, "no ```text block in %s", path);
	start += 8;
	end = strstr(start, "```\n");
	cr_assert(end);
	*end = '\0';
	run_convgen(r, NULL, NULL, "--help");
	cr_expect_str_eq(start, r->out, "docs/cli.md and convgen --help differ");
	free(doc);
	free(r);
}

/* A compiler killed by a signal is named as such: exit 1, no crash of convgen. */
Test(cli, exits_1_when_the_c_compiler_is_killed)
{
	char dir[256], cc[300];
	struct run *r = malloc(sizeof *r);
	cr_assert(scratch_dir(dir, sizeof dir));
	write_fake_cc(dir, "kill -9 $$", cc, sizeof cc);
	run_convgen(r, NULL, cc, "verify --input 5x5 --kernel 3x3");
	expect_clean_error(r, 1, "verify with a compiler that kills itself", "killed by signal 9");
	free(r);
	remove_dir(dir);
}

/* 'convgen COMMAND --help', anywhere among its options: that command's usage
** and the options it takes, exit 0, nothing on stderr, no file written. */
Test(cli, each_command_has_its_help)
{
	static const struct { const char *args, *has, *lacks; } rows[] = {
		{ "generate --help", "convgen generate LAYER", "--exhaustive" },
		{ "generate --input 5x5 -h", "-o DIR", "convgen verify   LAYER" },
		{ "verify --help", "--file F", "convgen tune     LAYER" },
		{ "verify --input 5x5 --kernel 3x3 --help", "--exec CMD", "convgen generate LAYER" },
		{ "tune --help", "convgen tune     LAYER", "--schedule S" },
		{ "tune --input 5x5 --kernel 3x3 --workspace --help", "--workspace", "--tuning FILE" },
	};
	struct run *r = malloc(sizeof *r);
	size_t i;
	for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		run_convgen(r, NULL, NULL, rows[i].args);
		cr_expect_eq(r->status, 0, "convgen %s: exit %d\n%s", rows[i].args, r->status, r->err);
		cr_expect_str_empty(r->err, "convgen %s: %s", rows[i].args, r->err);
		cr_expect(strstr(r->out, rows[i].has) != NULL, "convgen %s lacks '%s':\n%s", rows[i].args, rows[i].has, r->out);
		cr_expect(strstr(r->out, rows[i].lacks) == NULL, "convgen %s has '%s':\n%s", rows[i].args, rows[i].lacks, r->out);
	}
	free(r);
}

/* --option=value is --option value, and a one-number --input or --kernel is
** square: the same files, byte for byte (the canonical command too). */
Test(cli, equals_form_and_one_number_sizes_give_the_same_files)
{
	static const char *const forms[][2] = {
		{ "--input 9x9 --kernel 3x3 --padding 1 --target generic",
		  "--input=9 --kernel=3 --padding=1 --target=generic" },
		{ "--input 1x16 --kernel 1x5 --stride 1x2 --ops forward,grad_input --target cortex-m4",
		  "--input=1x16 --kernel 1x5 --stride=1x2 --ops=forward,grad_input --target=cortex-m4" },
	};
	char dir[256], a[512], b[512], cmd[1200];
	size_t i;
	cr_assert(scratch_dir(dir, sizeof dir));
	for (i = 0; i < sizeof forms / sizeof forms[0]; i++) {
		snprintf(a, sizeof a, "%s/a%zu", dir, i);
		snprintf(b, sizeof b, "%s/b%zu", dir, i);
		cr_assert_eq(generate(a, "conv", forms[i][0]), 0, "%s", forms[i][0]);
		cr_assert_eq(generate(b, "conv", forms[i][1]), 0, "%s", forms[i][1]);
		snprintf(cmd, sizeof cmd, "cmp -s %s/conv.c %s/conv.c && cmp -s %s/conv.h %s/conv.h", a, b, a, b);
		cr_expect_eq(run_shell(cmd), 0, "'%s' and '%s' differ", forms[i][0], forms[i][1]);
	}
	remove_dir(dir);
}

/* CFLAGS that let the compiler leave IEEE arithmetic get a warning on stderr
** (the run itself goes on); flags that keep it get none. */
Test(cli, verify_warns_when_cflags_leave_ieee, .timeout = 60)
{
	static const struct { const char *cflags; int warns; } rows[] = {
		{ "-O3 -ffast-math", 1 }, { "-Ofast", 1 }, { "-O2 -ffinite-math-only -g", 1 },
		{ "-O3 -march=x86-64", 0 }, { "-O2 -fno-fast-math", 0 },
	};
	struct run *r = malloc(sizeof *r);
	size_t i;
	for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		setenv("CFLAGS", rows[i].cflags, 1);
		run_convgen(r, NULL, NULL, "verify --input 4x4 --kernel 2x2 --ops grad_bias --target generic --no-memory");
		cr_expect_eq(r->status, 0, "CFLAGS='%s': exit %d\n%s%s", rows[i].cflags, r->status, r->out, r->err);
		if (rows[i].warns)
			cr_expect(strstr(r->err, "convgen: warning: CFLAGS has ") && strstr(r->err, "the proof assumes IEEE"),
			          "CFLAGS='%s': no warning: '%s'", rows[i].cflags, r->err);
		else
			cr_expect_str_empty(r->err, "CFLAGS='%s': %s", rows[i].cflags, r->err);
	}
	unsetenv("CFLAGS");
	free(r);
}

/* arm-none-eabi-gcc without -mcpu builds for a core the boards do not have:
** verify says which flags to add instead of relaying an assembler error. */
Test(cli, verify_names_the_core_flags_for_a_bare_metal_compiler, .timeout = 60)
{
	char dir[256], args[512];
	struct run *r = malloc(sizeof *r);
	cr_assert(scratch_dir(dir, sizeof dir));
	cr_assert_eq(generate(dir, "conv", "--input 4x4 --kernel 2x2 --target cortex-m4 --ops grad_bias"), 0);
	snprintf(args, sizeof args, "verify --file %s/conv.c --no-memory --exec qemu-system-arm", dir);
	setenv("CFLAGS", "-O2 -mthumb", 1);
	run_convgen(r, NULL, "arm-none-eabi-gcc", args);
	cr_expect_eq(r->status, 2, "exit %d: %s", r->status, r->err);
	cr_expect(strstr(r->err, "needs the core: add -mcpu=cortex-m4 -mthumb -mfpu=fpv4-sp-d16 -mfloat-abi=hard") != NULL,
	          "%s", r->err);
	unsetenv("CFLAGS");
	free(r);
	remove_dir(dir);
}
