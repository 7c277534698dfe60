/* test_vectorizer.c: a gcc 12 vectorizer bug that convgen's code must not
** provoke (docs/verify.md, "What the proof caught").  tests/vectorizer/taps.c
** is the reduced case: a loop over rows of taps read as groups, walked
** downward in memory, which gcc 12.2 turns into full-width vector loads that
** read past the array.  tests/vectorizer/guard.c puts the array against a page
** that cannot be read, so such a read faults.  The builds for AVX-512 run only
** on a host that has it, and each test prints which builds it ran. */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

/* Build taps.c with 'cc' and 'flags' (and -DT=type, 'extra'), link it with
** the guard, run it; returns its exit status (128 + signal), its output in 'out'. */
static int run_taps(const char *dir, const char *cc, const char *flags, const char *type, const char *extra,
                    char *out, size_t out_len)
{
	char cmd[2048], path[300];
	char *text;
	int status;
	snprintf(cmd, sizeof cmd,
	         "cd %s && %s -std=c99 %s -DT=%s %s -c %s/tests/vectorizer/taps.c -o taps.o && "
	         "gcc -std=c99 -O2 -Wall -Wextra -Werror -DT=%s %s/tests/vectorizer/guard.c taps.o -o guard",
	         dir, cc, flags, type, extra, SOURCE_DIR, type, SOURCE_DIR);
	cr_assert_eq(run_shell(cmd), 0, "%s", cmd);
	snprintf(cmd, sizeof cmd, "cd %s && ./guard > guard.out 2>&1", dir);
	status = run_shell(cmd);
	snprintf(path, sizeof path, "%s/guard.out", dir);
	text = read_file(path, NULL);
	snprintf(out, out_len, "%s", text ? text : "");
	free(text);
	return status;
}

/* The flag sets this host can run: baseline x86-64 always, AVX2 and AVX-512
** where the CPU has them. */
static size_t host_flags(const char *flags[8])
{
	size_t n = 0;
	flags[n++] = "-O2";
	flags[n++] = "-O3";
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx2")) {
		flags[n++] = "-O2 -march=x86-64-v3";
		flags[n++] = "-O3 -march=x86-64-v3";
	} else
		fprintf(stderr, "note: no AVX2 on this host: the x86-64-v3 builds did not run\n");
	if (__builtin_cpu_supports("avx512f")) {
		flags[n++] = "-O2 -march=x86-64-v4";
		flags[n++] = "-O3 -march=x86-64-v4";
	} else
		fprintf(stderr, "note: no AVX-512 on this host: the x86-64-v4 builds did not run\n");
	return n;
}

/* The loop as convgen emits it, rows walked upward: every build reads inside. */
Test(vectorizer, rows_walked_upward_stay_inside_the_array)
{
	static const char *const ccs[] = { "gcc", "clang" }, *const types[] = { "float", "double" };
	const char *flags[8];
	char dir[256], out[256];
	size_t n = host_flags(flags), c, t, f;
	cr_assert(scratch_dir(dir, sizeof dir));
	for (c = 0; c < 2; c++)
		for (t = 0; t < 2; t++)
			for (f = 0; f < n; f++) {
				int status = run_taps(dir, ccs[c], flags[f], types[t], "", out, sizeof out);
				cr_expect(status == 0 && strcmp(out, "16\n") == 0,
				          "%s %s, %s: exit %d, printed '%s' (want 16)", ccs[c], flags[f], types[t], status, out);
			}
	remove_dir(dir);
}

/* The negative control: the guard sees gcc 12's read past the array in the
** downward walk (float, AVX2), so the test above can fail.  Other gcc
** versions are not known to have the bug: the test says so and skips. */
Test(vectorizer, gcc12_reads_past_the_array_on_rows_walked_downward)
{
	char dir[256], out[256], version[64] = "";
	FILE *p = popen("gcc -dumpversion", "r");
	int status;
	cr_assert(p, "cannot run gcc -dumpversion");
	if (!fgets(version, sizeof version, p))
		version[0] = '\0';
	pclose(p);
	if (atoi(version) != 12)
		cr_skip_test("gcc %s: the reduced case is gcc 12's bug", strtok(version, "\n"));
	__builtin_cpu_init();
	if (!__builtin_cpu_supports("avx2"))
		cr_skip_test("no AVX2 on this host: gcc 12's read past the array needs an AVX2 build");
	cr_assert(scratch_dir(dir, sizeof dir));
	status = run_taps(dir, "gcc", "-O2 -march=x86-64-v3", "float", "-DDOWN", out, sizeof out);
	cr_expect(status > 128, "gcc 12 -O2 -march=x86-64-v3, rows walked downward: exit %d, printed '%s'; "
	          "want a fault on the guard page", status, out);
	remove_dir(dir);
}

/* The layer that met the bug (a 4x4 kernel, SAME padding: grad_input loops
** over rows of taps), on the scalar schedule, proven with the vector builds
** this host runs. */
Test(vectorizer, the_layer_that_met_it_is_proven_with_vector_builds, .timeout = 600)
{
	static const char *const types[] = { "float", "double" };
	const char *flags[8];
	char dir[256], opts[512], cmd[512];
	struct run *r = malloc(sizeof *r);
	size_t n = host_flags(flags), t, f;
	cr_assert(scratch_dir(dir, sizeof dir));
	for (t = 0; t < 2; t++) {
		snprintf(opts, sizeof opts, "--input 9x8 --kernel 4x4 --in-channels 2 --out-channels 3 --padding same "
		         "--target cortex-m4 --ops grad_input --dtype %s", types[t]);
		cr_assert_eq(generate(dir, "se", opts), 0, "convgen generate %s", opts);
		for (f = 2; f < n; f++) {
			setenv("CFLAGS", flags[f], 1);
			snprintf(cmd, sizeof cmd, "verify --no-memory --file %s/se.c", dir);
			run_convgen(r, NULL, "gcc", cmd);
			cr_expect_eq(r->status, 0, "CFLAGS='%s' convgen verify (%s): exit %d\n%s%s", flags[f], opts,
			             r->status, r->out, r->err);
		}
	}
	free(r);
	remove_dir(dir);
}
