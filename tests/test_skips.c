/* test_skips.c: a skipped Criterion test is reported by CTest as skipped, not
** passed, and scripts/skips names it with its reason, failing under CI.  The
** tiny project tests/skip_project/ (one test passes, one skips, three fail) is
** configured, built and run through CTest with the project's own discovery
** (cmake/CriterionDiscover.cmake). */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

static char *read_log(const char *dir, const char *name)
{
	char path[512], *text;
	snprintf(path, sizeof path, "%s/%s", dir, name);
	text = read_file(path, NULL);
	cr_assert(text, "no %s", path);
	return text;
}

/* The result line of test 'name' in a 'ctest' log says 'verdict'. */
static void expect_verdict(const char *log, const char *name, const char *verdict)
{
	char key[128];
	const char *line, *end;
	snprintf(key, sizeof key, ": %s ", name);
	line = strstr(log, key);
	while (line && strncmp(line + strlen(key), "..", 2) != 0)
		line = strstr(line + 1, key);
	cr_assert(line, "no result line for %s in:\n%s", name, log);
	end = strchr(line, '\n');
	cr_expect(strstr(line, verdict) && strstr(line, verdict) < end, "%s: want '%s', got: %.*s", name, verdict,
	          (int)(end - line), line);
}

Test(skips, ctest_and_ci_see_a_skipped_test)
{
	char dir[256], cmd[2048];
	char *log;
	int status;
	/* This test runs in Criterion's sandbox; the tiny project's Criterion
	** binary, run by its build (discovery), by ctest and by scripts/skips,
	** must not think it is one of our workers. */
	unsetenv("BXFI_MAP");
	unsetenv("IS_SANDBOX");
	unsetenv("GMON_OUT_PREFIX");
	cr_assert(scratch_dir(dir, sizeof dir));
	snprintf(cmd, sizeof cmd,
	         "cmake -S '%s/tests/skip_project' -B '%s/build' -DCONVGEN_SOURCE_DIR='%s' >'%s/cmake.log' 2>&1 && "
	         "cmake --build '%s/build' >>'%s/cmake.log' 2>&1",
	         SOURCE_DIR, dir, SOURCE_DIR, dir, dir, dir);
	status = run_shell(cmd);
	if (status != 0) {
		log = read_log(dir, "cmake.log");
		cr_assert_fail("the tiny project does not build (exit %d):\n%s", status, log);
	}

	/* CTest: the skip is not a pass; a test that fails first and then skips,
	** or fails quoting a skipped run's summary, still fails. */
	snprintf(cmd, sizeof cmd, "ctest --test-dir '%s/build' -V >'%s/ctest.log' 2>&1", dir, dir);
	status = run_shell(cmd);
	log = read_log(dir, "ctest.log");
	cr_expect_neq(status, 0, "ctest passed with failing tests:\n%s", log);
	expect_verdict(log, "tiny/passes", "Passed");
	expect_verdict(log, "tiny/skips", "***Skipped");
	expect_verdict(log, "tiny/fails", "***Failed");
	expect_verdict(log, "tiny/fails_then_skips", "***Failed");
	expect_verdict(log, "tiny/fails_quoting_a_skip", "***Failed");
	cr_expect(strstr(log, "tiny/skips (Skipped)") != NULL, "no 'did not run' list:\n%s", log);
	free(log);

	/* scripts/skips: the skipped test and its reason; exit 0, but 1 under CI. */
	snprintf(cmd, sizeof cmd, "env -u CI '%s/scripts/skips' '%s/ctest.log' >'%s/skips.log' 2>&1", SOURCE_DIR, dir,
	         dir);
	status = run_shell(cmd);
	log = read_log(dir, "skips.log");
	cr_expect_eq(status, 0, "scripts/skips without CI: exit %d:\n%s", status, log);
	cr_expect(strstr(log, "skips: 1 test(s) skipped:\n  tiny/skips: no frobnicator here\n") != NULL,
	          "scripts/skips printed:\n%s", log);
	free(log);
	snprintf(cmd, sizeof cmd, "CI=true '%s/scripts/skips' '%s/ctest.log' >'%s/skips.log' 2>&1", SOURCE_DIR, dir,
	         dir);
	status = run_shell(cmd);
	log = read_log(dir, "skips.log");
	cr_expect_eq(status, 1, "scripts/skips with CI=true: exit %d, want 1:\n%s", status, log);
	cr_expect(strstr(log, "tiny/skips: no frobnicator here\n") != NULL, "scripts/skips printed:\n%s", log);
	free(log);
	remove_dir(dir);
}
