/* test_matrix.c: the main tier's layer proofs, a covering array.  Every row of
** layers.inc runs once on every target (37 rows x 6 targets), and the code
** options, the dtype and the build of each of those cells are chosen so that
** every pair of values of any two factors below is proven in at least one
** cell (matrix/covers_every_pair checks it).  The choice is a fixed greedy
** construction, the same on every machine: a failure names its cell, and
** 'build/tests/test_matrix --filter matrix_TARGET/ROW --verbose' prints the
** command that reruns it.
**
** Each cell is generated, built once by the target's own compiler with the
** warnings embedded builds turn on and -fstack-usage (the strict build and the
** frame check in one), its header compiled as C++, and proven by 'convgen
** verify --file': under QEMU for aarch64 (built by its gcc, or by armhf's
** under qemu-arm: the same schedule under a 32-bit ABI) and for a Cortex-M4
** in float (its gcc, the mps2-an386 board), the emulator running each op; on
** this machine for the rest, with the cell's compiler and flags.  The full tier (docs/testing.md)
** runs every row under every code option instead. */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checks.h"
#include "support.h"

/* ---- the factors and their values ---- */

enum { F_TARGET, F_DTYPE, F_LAYOUT, F_OPTIMIZE, F_WORKSPACE, F_ACTIVATION, F_SGD, F_MOMENTUM, F_STACK, F_CC, F_OPT,
       N_FACTORS };
enum { T_V3, T_V4, T_AARCH64, T_M4, T_M7, T_GENERIC, N_TARGETS };

static const char *const factor_names[N_FACTORS] = {
	"target", "dtype", "layout", "optimize", "workspace", "activation", "sgd_update", "momentum",
	"stack limit", "compiler", "flags",
};
static const int levels[N_FACTORS] = { N_TARGETS, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2 };
static const char *const value_names[N_FACTORS][N_TARGETS] = {
	{ "x86-64-v3", "x86-64-v4", "aarch64", "cortex-m4", "cortex-m7", "generic" },
	{ "float", "double" }, { "nchw", "nhwc" }, { "speed", "size" }, { "no", "yes" }, { "none", "relu" },
	{ "no", "yes" }, { "no", "yes" }, { "default", "tight" }, { "gcc", "clang/armhf" }, { "-O2", "-O3" },
};

/* Per target: its gcc with the flags of its frames (docs/cli.md's promise is
** about gcc's -fstack-usage for the target), its default and tight stack
** limits (the tight one below the default, and met by every row), and
** whether its proof runs on an emulator (then its gcc builds it, clang never). */
struct target {
	const char *cc, *cflags, *exec;
	int limit, tight;
};
#define M4_FLAGS "-mcpu=cortex-m4 -mthumb -mfpu=fpv4-sp-d16 -mfloat-abi=hard"
static const struct target targets[N_TARGETS] = {
	{ "gcc", "-march=x86-64-v3", NULL, 61440, 2048 },
	{ "gcc", "-march=x86-64-v4", NULL, 61440, 2048 },
	{ "aarch64-linux-gnu-gcc", "", "qemu-aarch64 -L /usr/aarch64-linux-gnu", 61440, 2048 },
	{ "arm-none-eabi-gcc", M4_FLAGS, "qemu-system-arm -M mps2-an386 -cpu cortex-m4 -nographic -semihosting -kernel",
	  1024, 768 },
	{ "arm-none-eabi-gcc", "-mcpu=cortex-m7 -mthumb -mfpu=fpv5-d16 -mfloat-abi=hard", NULL, 1024, 768 },
	{ "gcc", "", NULL, 61440, 2048 },
};

/* A Cortex-M4 has no double-precision FPU: double there is software floating
** point, proven on this machine like the targets without an emulator. */
static int emulated(const int *c)
{
	return targets[c[F_TARGET]].exec && !(c[F_TARGET] == T_M4 && c[F_DTYPE] == 1);
}

/* The second compiler of an emulated target: aarch64's schedule also runs
** under a 32-bit ABI, built by armhf's gcc under qemu-arm. */
#define ARMHF_CC "arm-linux-gnueabihf-gcc"
#define ARMHF_EXEC "qemu-arm -L /usr/arm-linux-gnueabihf"

/* The constraints: momentum keeps a velocity for sgd_update; the Cortex-M4's
** emulator runs what its one gcc builds. */
static int valid(const int *c)
{
	if (c[F_MOMENTUM] && !c[F_SGD])
		return 0;
	if (c[F_CC] == 1 && emulated(c) && c[F_TARGET] == T_M4)
		return 0;
	return 1;
}

/* ---- the covering array ---- */

#define N_ROWS 64
#define N_CONFIGS (N_TARGETS << (N_FACTORS - 1))
#define N_VALUES (N_FACTORS * N_TARGETS)

#define LAYER(id, opts) #id,
static const char *const row_ids[] = {
#include "layers.inc"
};
#undef LAYER
static const int n_rows = (int)(sizeof row_ids / sizeof row_ids[0]);

struct array {
	int cell[N_ROWS][N_TARGETS][N_FACTORS];
	unsigned char possible[N_VALUES][N_VALUES], covered[N_VALUES][N_VALUES];
};

static void decode(int i, int *c)
{
	int f;
	c[F_TARGET] = i % N_TARGETS;
	i /= N_TARGETS;
	for (f = 1; f < N_FACTORS; f++) {
		c[f] = i & 1;
		i >>= 1;
	}
}

#define V(f, v) ((f) * N_TARGETS + (v))

static int new_pairs(const int *c, const unsigned char (*m)[N_VALUES])
{
	int f, g, n = 0;
	for (f = 0; f < N_FACTORS; f++)
		for (g = f + 1; g < N_FACTORS; g++)
			n += !m[V(f, c[f])][V(g, c[g])];
	return n;
}

static void mark(unsigned char (*m)[N_VALUES], const int *c)
{
	int f, g;
	for (f = 0; f < N_FACTORS; f++)
		for (g = f + 1; g < N_FACTORS; g++)
			m[V(f, c[f])][V(g, c[g])] = 1;
}

/* Greedy, in the order of the table: each cell (row, target) takes the valid
** configuration of its target that proves the most pairs not yet proven; ties
** go to a hash of the cell, so that options stay varied once all pairs are in. */
static void build_array(struct array *a)
{
	int r, t, i, c[N_FACTORS];
	memset(a, 0, sizeof *a);
	cr_assert_leq(n_rows, N_ROWS, "layers.inc has more than %d rows", N_ROWS);
	for (i = 0; i < N_CONFIGS; i++) {
		decode(i, c);
		if (valid(c))
			mark(a->possible, c);
	}
	for (r = 0; r < n_rows; r++)
		for (t = 0; t < N_TARGETS; t++) {
			int best = -1, best_gain = -1;
			unsigned best_tie = 0;
			for (i = 0; i < N_CONFIGS; i++) {
				unsigned tie;
				int gain;
				decode(i, c);
				if (c[F_TARGET] != t || !valid(c))
					continue;
				gain = new_pairs(c, (const unsigned char (*)[N_VALUES])a->covered);
				tie = ((unsigned)i * 2654435761u) ^ ((unsigned)(r * N_TARGETS + t) * 40503u);
				tie ^= tie >> 13;
				tie *= 2246822519u;
				tie ^= tie >> 16;
				if (gain > best_gain || (gain == best_gain && tie > best_tie)) {
					best = i;
					best_gain = gain;
					best_tie = tie;
				}
			}
			decode(best, a->cell[r][t]);
			mark(a->covered, a->cell[r][t]);
		}
}

/* The command-line options of cell 'c'. */
static void cell_options(const int *c, char *buf, size_t len)
{
	const struct target *t = &targets[c[F_TARGET]];
	snprintf(buf, len, " --target %s --dtype %s%s%s%s%s%s%s --stack-limit %d", value_names[F_TARGET][c[F_TARGET]],
	         value_names[F_DTYPE][c[F_DTYPE]], c[F_LAYOUT] ? " --layout nhwc" : "",
	         c[F_OPTIMIZE] ? " --optimize size" : "", c[F_WORKSPACE] ? " --workspace" : "",
	         c[F_ACTIVATION] ? " --activation relu" : "",
	         c[F_SGD] ? " --ops forward,grad_weight,grad_input,grad_bias,sgd_update" : "",
	         c[F_MOMENTUM] ? " --momentum" : "", c[F_STACK] ? t->tight : t->limit);
}

/* ---- one cell ---- */

static void prove_cell(const char *id, const char *opts, int target)
{
	struct array *a = malloc(sizeof *a);
	struct run *r = malloc(sizeof *r);
	char dir[256], all[1024], code[512], cc[256], cflags[512], cmd[1536];
	const int *c;
	const struct target *t = &targets[target];
	const char *exec = NULL;
	int row;

	cr_assert(a && r);
	build_array(a);
	for (row = 0; row < n_rows && strcmp(row_ids[row], id) != 0; row++)
		;
	cr_assert_lt(row, n_rows, "%s: not a row of layers.inc", id);
	c = a->cell[row][target];
	cell_options(c, code, sizeof code);
	snprintf(all, sizeof all, "%s%s", opts, code);
	cr_assert(scratch_dir(dir, sizeof dir));
	cr_assert_eq(generate(dir, "conv", all), 0, "convgen generate %s failed", all);

	/* The strict build and the frames: one compile by the target's gcc. */
	snprintf(cc, sizeof cc, "%s %s", t->cc, t->cflags);
	check_frames(dir, cc, STRICT " -O2", c[F_STACK] ? t->tight : t->limit, all);
	check_cxx_header(dir, all);

	/* The proof. */
	if (emulated(c)) {
		int armhf = c[F_CC] == 1;
		snprintf(cc, sizeof cc, "%s", armhf ? ARMHF_CC : t->cc);
		snprintf(cflags, sizeof cflags, "%s %s", value_names[F_OPT][c[F_OPT]], t->cflags);
		exec = armhf ? ARMHF_EXEC : t->exec;
		setenv("CONVGEN_EXEC", exec, 1);
	} else {
		const char *march = t->cflags;
		snprintf(cc, sizeof cc, "%s", c[F_CC] ? "clang" : "gcc");
		__builtin_cpu_init();
		/* The code of any target is plain C: built for this machine's vector
		** unit where the target's is not here, and said so. */
		if (target == T_V4 && !__builtin_cpu_supports("avx512f")) {
			fprintf(stderr, "note: no AVX-512 on this host: the x86-64-v4 code is proven built with -march=x86-64-v3\n");
			march = "-march=x86-64-v3";
		}
		if (target == T_M4 || target == T_M7)
			march = "";
		snprintf(cflags, sizeof cflags, "%s %s%s", value_names[F_OPT][c[F_OPT]], march,
		         c[F_DTYPE] == 0 && c[F_OPT] == 1 ? " -ffp-contract=fast" : "");
		unsetenv("CONVGEN_EXEC");
	}
	/* -Werror here too: the proof's own build is strict as well. */
	snprintf(cmd, sizeof cmd, "%s -Wall -Wextra -Wpedantic -Werror", cflags);
	setenv("CFLAGS", cmd, 1);
	snprintf(cmd, sizeof cmd, "verify --file %s/conv.c", dir);
	cr_log_info("cell %s/%s: convgen generate %s; CC='%s' CFLAGS='%s'%s%s%s convgen verify --file",
	            value_names[F_TARGET][target], id, all, cc, getenv("CFLAGS"), exec ? " CONVGEN_EXEC='" : "",
	            exec ? exec : "", exec ? "'" : "");
	run_convgen(r, NULL, cc, cmd);
	cr_expect_eq(r->status, 0, "CC='%s' CFLAGS='%s' convgen verify --file, layer: %s: exit %d\n%s%s", cc,
	             getenv("CFLAGS"), all, r->status, r->out, r->err);
	cr_expect(strstr(r->out, "\nproved: ") != NULL, "no proof line for %s:\n%s", all, r->out);
	if (exec)
		cr_expect(strstr(r->out, "run under '") != NULL, "the report does not name the emulator:\n%s", r->out);
	free(r);
	free(a);
	remove_dir(dir);
}

#define LAYER(id, opts) \
	Test(matrix_x86_64_v3, id, .timeout = 600) { prove_cell(#id, opts, T_V3); } \
	Test(matrix_x86_64_v4, id, .timeout = 600) { prove_cell(#id, opts, T_V4); } \
	Test(matrix_aarch64, id, .timeout = 600) { prove_cell(#id, opts, T_AARCH64); } \
	Test(matrix_cortex_m4, id, .timeout = 600) { prove_cell(#id, opts, T_M4); } \
	Test(matrix_cortex_m7, id, .timeout = 600) { prove_cell(#id, opts, T_M7); } \
	Test(matrix_generic, id, .timeout = 600) { prove_cell(#id, opts, T_GENERIC); }
#include "layers.inc"
#undef LAYER

/* ---- the array's own promises ---- */

/* Every pair of values that some valid configuration holds is proven in a
** cell; every row on every target; each value of each factor at least once. */
Test(matrix, covers_every_pair)
{
	struct array *a = malloc(sizeof *a);
	int f, g, v, w, pairs = 0, cells = 0;
	cr_assert(a);
	build_array(a);
	for (f = 0; f < N_FACTORS; f++)
		for (g = f + 1; g < N_FACTORS; g++)
			for (v = 0; v < levels[f]; v++)
				for (w = 0; w < levels[g]; w++) {
					if (!a->possible[V(f, v)][V(g, w)])
						continue;
					pairs++;
					cr_expect(a->covered[V(f, v)][V(g, w)], "no cell proves %s=%s with %s=%s", factor_names[f],
					          value_names[f][v], factor_names[g], value_names[g][w]);
				}
	for (v = 0; v < n_rows; v++)
		for (w = 0; w < N_TARGETS; w++) {
			cr_expect(valid(a->cell[v][w]) && a->cell[v][w][F_TARGET] == w, "cell %s/%s", row_ids[v],
			          value_names[F_TARGET][w]);
			cells++;
		}
	cr_expect_eq(cells, n_rows * N_TARGETS);
	cr_expect_gt(pairs, 200, "only %d pairs: a factor lost its values", pairs);
	/* On stderr, so that scripts/test shows it. */
	fprintf(stderr, "covering array: %d cells (%d rows x %d targets), %d pairs of values proven\n", cells, n_rows,
	        N_TARGETS, pairs);
	free(a);
}

/* The construction is the table, not the machine: the same options for the
** same cell on every run (a cell's options are printed with a failure). */
Test(matrix, is_the_same_on_every_run)
{
	struct array *a = malloc(sizeof *a), *b = malloc(sizeof *b);
	cr_assert(a && b);
	build_array(a);
	build_array(b);
	cr_expect(memcmp(a->cell, b->cell, sizeof a->cell) == 0);
	free(a);
	free(b);
}
