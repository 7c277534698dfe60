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

/* The header's stack line, "Stack frame per function, at most (bytes): forward
** 96, grad_weight 120, ...": the bound of each op's frame, in op order. */
#define MAX_FRAMES 5
struct frames { char op[MAX_FRAMES][32]; int bytes[MAX_FRAMES]; int n; };

static void read_frame_bounds(const char *dir, const char *layer, struct frames *f)
{
	static const char key[] = "** Stack frame per function, at most (bytes): ";
	char path[512];
	char *text, *line;
	int used;
	snprintf(path, sizeof path, "%s/conv.c", dir);
	text = read_file(path, NULL);
	cr_assert(text, "no %s", path);
	line = strstr(text, key);
	cr_assert(line, "no stack line in the header of %s", path);
	line += sizeof key - 1;
	f->n = 0;
	while (f->n < MAX_FRAMES && sscanf(line, "%31[a-z_] %d%n", f->op[f->n], &f->bytes[f->n], &used) == 2) {
		f->n++;
		line += used;
		if (strncmp(line, ", ", 2) != 0)
			break;
		line += 2;
	}
	cr_expect_eq(f->n, strstr(layer, "sgd_update") ? 5 : 4, "stack line lists %d ops (layer: %s)", f->n, layer);
	free(text);
}

/* The promise of docs/api.md: compiled by 'cc' at 'opt' with -fstack-usage,
** every function's frame is static (no VLA, no alloca) and within the bound
** the header states, which is within 'limit'.  sgd_update calls its two parts,
** sgd_weight and sgd_bias: the three frames together are within its bound. */
static void check_frames(const char *dir, const char *cc, const char *opt, int limit, const char *layer)
{
	char cmd[1024], path[512], line[512];
	struct frames f;
	FILE *su;
	int i, seen = 0, sgd = -1, sgd_total = 0;
	read_frame_bounds(dir, layer, &f);
	snprintf(cmd, sizeof cmd, "cd %s && %s -std=c99 %s -fstack-usage -c conv.c -o conv_su.o", dir, cc, opt);
	cr_assert_eq(run_shell(cmd), 0, "%s (layer: %s)", cmd, layer);
	snprintf(path, sizeof path, "%s/conv_su.su", dir);
	su = fopen(path, "r");
	cr_assert(su, "%s did not write %s", cmd, path);
	while (fgets(line, sizeof line, su)) {
		char *name = strstr(line, ":conv_"), kind[32];
		int bytes, part;
		size_t len = 0;
		cr_assert(name, "unexpected line in %s: %s", path, line);
		name += 6;
		part = strncmp(name, "sgd_weight\t", 11) == 0 || strncmp(name, "sgd_bias\t", 9) == 0;
		for (i = 0; i < f.n; i++) {
			len = strlen(f.op[i]);
			if (part ? strcmp(f.op[i], "sgd_update") == 0
			         : strncmp(name, f.op[i], len) == 0 && name[len] == '\t')
				break;
		}
		cr_assert(i < f.n, "%s: a function the stack line does not list: %s", path, line);
		cr_assert_eq(sscanf(strchr(name, '\t'), "%d %31s", &bytes, kind), 2, "%s: %s", path, line);
		cr_expect_str_eq(kind, "static", "%s: %s's frame is not static (layer: %s)", cc, f.op[i], layer);
		if (strcmp(f.op[i], "sgd_update") == 0) {
			sgd = i;
			sgd_total += bytes;
			seen += !part;
			continue;
		}
		cr_expect_leq(bytes, f.bytes[i], "%s %s: %s's frame is %d bytes, above the header's bound %d (layer: %s)",
		              cc, opt, f.op[i], bytes, f.bytes[i], layer);
		cr_expect_leq(f.bytes[i], limit, "%s's bound %d is above the stack limit %d (layer: %s)",
		              f.op[i], f.bytes[i], limit, layer);
		seen++;
	}
	fclose(su);
	if (sgd >= 0) {
		cr_expect_leq(sgd_total, f.bytes[sgd], "%s %s: sgd_update's frames take %d bytes, above the header's bound %d (layer: %s)",
		              cc, opt, sgd_total, f.bytes[sgd], layer);
		cr_expect_leq(f.bytes[sgd], limit, "sgd_update's bound %d is above the stack limit %d (layer: %s)",
		              f.bytes[sgd], limit, layer);
	}
	cr_expect_eq(seen, f.n, "%s lists %d functions, the header %d (layer: %s)", path, seen, f.n, layer);
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
	check_frames(dir, "gcc -march=native", "-O2", 61440, all);
	check_frames(dir, "gcc -march=native", "-Os", 61440, all);

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
	Test(layer_float, id) { check_layer(opts, "float"); } \
	Test(layer_double, id) { check_layer(opts, "double"); } \
	Test(target_x86_64_v3, id, .timeout = 600) { check_target(opts, "x86-64-v3", "gcc -march=x86-64-v3", DESKTOP); } \
	Test(target_x86_64_v4, id, .timeout = 600) { check_target(opts, "x86-64-v4", "gcc -march=x86-64-v4", DESKTOP); } \
	Test(target_aarch64, id, .timeout = 600) { check_target(opts, "aarch64", "aarch64-linux-gnu-gcc", DESKTOP); } \
	Test(target_cortex_m4, id, .timeout = 600) { check_target(opts, "cortex-m4", CORTEX_M4_CC, 1024); } \
	Test(target_cortex_m7, id, .timeout = 600) { check_target(opts, "cortex-m7", CORTEX_M7_CC, 1024); } \
	Test(target_generic, id, .timeout = 600) { check_target(opts, "generic", "gcc", DESKTOP); } \
	/* Code options, one dtype each to keep the suite short (both dtypes of  */ \
	/* each target are above): channels-last on a vector target (the scalar   */ \
	/* schedule) and on a Cortex-M; the smallest code on a soft-double core; the */ \
	/* vector plans' scratch in the caller's workspace. */ \
	Test(layout_nhwc, id, .timeout = 600) { check_code(opts, "x86-64-v3", " --layout nhwc", "float", "gcc -march=x86-64-v3", DESKTOP); } \
	Test(layout_nhwc_cortex_m7, id, .timeout = 600) { check_code(opts, "cortex-m7", " --layout nhwc", "double", CORTEX_M7_CC, 1024); } \
	Test(optimize_size, id, .timeout = 600) { check_code(opts, "cortex-m4", " --optimize size", "double", CORTEX_M4_CC, 1024); } \
	Test(workspace, id, .timeout = 600) { check_code(opts, "x86-64-v3", " --workspace", "float", "gcc -march=x86-64-v3", DESKTOP); } \
	/* The fused ReLU and sgd_update: the vector schedule with momentum, the */ \
	/* scalar one channels-last on a Cortex-M4, and --optimize size's loops. */ \
	Test(fused, id, .timeout = 600) { check_code(opts, "x86-64-v3", FUSED " --momentum", "float", "gcc -march=x86-64-v3", DESKTOP); } \
	Test(fused_nhwc_cortex_m4, id, .timeout = 600) { check_code(opts, "cortex-m4", FUSED " --layout nhwc", "float", CORTEX_M4_CC, 1024); } \
	Test(fused_size, id, .timeout = 600) { check_code(opts, "generic", FUSED " --momentum --optimize size", "double", "gcc", DESKTOP); }
#include "layers.inc"
