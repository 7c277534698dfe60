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

/* The warnings embedded builds turn on; every row compiles clean under them at
** both optimization levels below. */
#define STRICT "-std=c99 -Wall -Wextra -Wpedantic -Werror -Wshadow -Wconversion " \
	"-Wdouble-promotion -Wcast-qual -Wstrict-prototypes -Wmissing-prototypes -Wvla -Wundef"

/* No function of NAME.c takes 64 KiB of stack.  The
** header comment counts each function's local arrays from the emitted code. */
static void expect_small_stack(const char *dir, const char *layer)
{
	char path[512], op[32];
	char *text, *line;
	int bytes, n_ops = 0, used;
	snprintf(path, sizeof path, "%s/conv.c", dir);
	text = read_file(path, NULL);
	cr_assert(text, "no %s", path);
	line = strstr(text, "** Bytes of stack taken by local arrays");
	cr_assert(line, "no stack line in the header of %s", path);
	line = strchr(line, '\n') + 1;
	cr_assert(strncmp(line, "**   ", 5) == 0);
	line += 5;
	while (sscanf(line, "%31[a-z_] %d%n", op, &bytes, &used) == 2) {
		cr_expect_lt(bytes, 65536, "%s takes %d bytes of stack (layer: %s)", op, bytes, layer);
		n_ops++;
		line += used;
		if (strncmp(line, ", ", 2) != 0)
			break;
		line += 2;
	}
	cr_expect_eq(n_ops, 4, "stack line lists %d ops (layer: %s)", n_ops, layer);
	free(text);
}

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
	expect_small_stack(dir, all);

	/* compile: C99 under both compilers at both levels, the header as C++ */
	for (i = 0; i < 2; i++)
		for (o = 0; o < 2; o++) {
			snprintf(cmd, sizeof cmd, "%s " STRICT " %s -c %s/conv.c -o %s/conv_%s.o",
			         cc[i], opt[o], dir, dir, cc[i]);
			cr_expect_eq(run_shell(cmd), 0, "%s (layer: %s)", cmd, all);
		}
	snprintf(cmd, sizeof cmd,
	         "printf '#include \"conv.h\"\\nint main() { return conv_INPUT_SIZE > 0 ? 0 : 1; }\\n' > %s/use.cpp && "
	         "g++ -std=c++11 -Wall -Wextra -Wpedantic -Werror -fsyntax-only -I%s %s/use.cpp", dir, dir, dir);
	cr_expect_eq(run_shell(cmd), 0, "header does not compile as C++ (layer: %s)", all);

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

/* Each target's schedule of the same layer, in both dtypes: generated, built
** strictly by gcc, and proven by 'convgen verify --file' (the code is plain C99
** for any machine; the target only shapes it). */
static void check_target(const char *opts, const char *target)
{
	static const char *const dtypes[] = { "float", "double" };
	char dir[256], all[512], cmd[2048];
	struct run *r = malloc(sizeof *r);
	size_t d;
	cr_assert(scratch_dir(dir, sizeof dir));
	setenv("CFLAGS", "-O2 -march=native", 1);
	for (d = 0; d < 2; d++) {
		snprintf(all, sizeof all, "%s --dtype %s --target %s", opts, dtypes[d], target);
		cr_assert_eq(generate(dir, "conv", all), 0, "convgen generate %s failed", all);
		snprintf(cmd, sizeof cmd, "gcc " STRICT " -O2 -c %s/conv.c -o %s/conv.o", dir, dir);
		cr_expect_eq(run_shell(cmd), 0, "%s (layer: %s)", cmd, all);
		snprintf(cmd, sizeof cmd, "verify --file %s/conv.c", dir);
		run_convgen(r, NULL, NULL, cmd);
		cr_expect_eq(r->status, 0, "convgen verify %s: exit %d\n%s%s", all, r->status, r->out, r->err);
	}
	free(r);
	remove_dir(dir);
}

#define LAYER(id, opts) \
	Test(layer_float, id) { check_layer(opts, "float"); } \
	Test(layer_double, id) { check_layer(opts, "double"); } \
	Test(target_x86_64_v3, id, .timeout = 600) { check_target(opts, "x86-64-v3"); } \
	Test(target_x86_64_v4, id, .timeout = 600) { check_target(opts, "x86-64-v4"); } \
	Test(target_aarch64, id, .timeout = 600) { check_target(opts, "aarch64"); } \
	Test(target_cortex_m4, id, .timeout = 600) { check_target(opts, "cortex-m4"); } \
	Test(target_cortex_m7, id, .timeout = 600) { check_target(opts, "cortex-m7"); } \
	Test(target_generic, id, .timeout = 600) { check_target(opts, "generic"); }
#include "layers.inc"
