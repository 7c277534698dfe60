/* test_mutate.c: the CI-sized mutation run of the verifier:
** 'scripts/mutate --quick' on this build's convgen.  It fails if any mutant
** that computes observably different results passes 'convgen verify --file'
** (the script names it and keeps its diff), or if no mutant was different. */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

Test(mutate, verifier_rejects_every_observably_different_mutant, .timeout = 600)
{
	char dir[256], cmd[2048], path[300];
	char *log;
	int status;
	cr_assert(scratch_dir(dir, sizeof dir));
	snprintf(cmd, sizeof cmd, "'%s/scripts/mutate' --quick --convgen '%s' --out '%s/work' > '%s/log' 2>&1",
	         SOURCE_DIR, CONVGEN, dir, dir);
	status = run_shell(cmd);
	snprintf(path, sizeof path, "%s/log", dir);
	log = read_file(path, NULL);
	cr_log_info("%s", log ? log : "(no log)");
	cr_expect_eq(status, 0, "scripts/mutate --quick: exit %d\n%s", status, log ? log : "(no log)");
	cr_expect(log && strstr(log, "mutate: score ") != NULL, "no score line\n%s", log ? log : "");
	/* The score on stderr, so that scripts/test shows it. */
	if (log && strstr(log, "mutate: score "))
		fprintf(stderr, "%.*s\n", (int)strcspn(strstr(log, "mutate: score "), "\n"), strstr(log, "mutate: score "));
	free(log);
	/* Survivors stay for a look: only a clean run is removed. */
	if (status == 0)
		remove_dir(dir);
}
