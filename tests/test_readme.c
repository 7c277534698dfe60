/* test_readme.c: the README's sample is true.  README.md shows a caller, the
** commands that generate its layer, build and run it and verify the file, and
** what they print, each in the fenced block after its marker comment
** (<!-- sample:main.c -->, <!-- sample:commands -->, <!-- sample:output -->).
** A reader copies them as printed, so they run here as printed: in a scratch
** directory, with this build's convgen and C compiler first on PATH as
** 'convgen' and 'cc', and their output must be the README's, byte for byte.
** The sample has no variable part (no time, no path, no compiler version). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "support.h"

/* Return a copy of the fenced block on the line after 'marker' in 'text',
** without its fences, or NULL when the marker or the block is missing: a
** marker with anything else after it would test a block the reader does not
** see as the sample. */
static char *block_after(const char *text, const char *marker)
{
	const char *p = strstr(text, marker), *body, *close;
	char *copy;
	size_t len;
	if (!p || !(p = strchr(p, '\n')) || strncmp(p + 1, "```", 3) != 0)
		return NULL;
	if (!(body = strchr(p + 1, '\n')))
		return NULL;
	body++;
	/* The closing fence: a line that is "```" alone; the first body line
	** may be one when the block is empty, hence the search from its newline. */
	for (close = body - 1; (close = strstr(close, "\n```")) != NULL; close++)
		if (close[4] == '\n' || close[4] == '\0')
			break;
	if (!close)
		return NULL;
	len = (size_t)(close + 1 - body);
	copy = malloc(len + 1);
	if (copy) {
		memcpy(copy, body, len);
		copy[len] = '\0';
	}
	return copy;
}

static int write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	int ok = f && fputs(text, f) >= 0;
	if (f && fclose(f) != 0)
		ok = 0;
	return ok;
}

/* DIR/bin/NAME, a script that runs 'exe': what the sample calls 'convgen' and
** 'cc' are this build's, whatever else is on PATH. */
static int write_wrapper(const char *dir, const char *name, const char *exe)
{
	char path[4200], text[4200];
	snprintf(path, sizeof path, "%s/bin/%s", dir, name);
	snprintf(text, sizeof text, "#!/bin/sh\nexec '%s' \"$@\"\n", exe);
	return write_text(path, text) && chmod(path, 0755) == 0;
}

Test(readme, sample_prints_what_the_readme_shows, .timeout = 300)
{
	char readme[4096], dir[256], path[4200], cmd[9000];
	char *text, *caller, *commands, *expected, *out, *err;
	snprintf(readme, sizeof readme, "%s/README.md", SOURCE_DIR);
	text = read_file(readme, NULL);
	cr_assert(text, "cannot read %s", readme);
	caller = block_after(text, "<!-- sample:main.c -->");
	commands = block_after(text, "<!-- sample:commands -->");
	expected = block_after(text, "<!-- sample:output -->");
	cr_assert(caller && commands && expected,
	          "README.md: a fenced block must follow each of <!-- sample:main.c -->, "
	          "<!-- sample:commands --> and <!-- sample:output -->");
	cr_assert(scratch_dir(dir, sizeof dir));

	/* The reader's directory: main.c, and convgen and cc on PATH. */
	snprintf(path, sizeof path, "%s/main.c", dir);
	cr_assert(write_text(path, caller));
	snprintf(path, sizeof path, "%s/commands.sh", dir);
	cr_assert(write_text(path, commands));
	snprintf(path, sizeof path, "%s/bin", dir);
	cr_assert(mkdir(path, 0755) == 0);
	cr_assert(write_wrapper(dir, "convgen", CONVGEN) && write_wrapper(dir, "cc", README_CC));

	/* The commands as printed, one shell, stopping at the first that fails.
	** CC and CONVGEN_EXEC would make verify use another compiler or an emulator. */
	snprintf(cmd, sizeof cmd, "cd '%s' && env -u CC -u CONVGEN_EXEC PATH='%s/bin':\"$PATH\" "
	         "sh -e commands.sh >stdout 2>stderr", dir, dir);
	cr_expect_eq(run_shell(cmd), 0, "the README's commands failed in %s", dir);
	snprintf(path, sizeof path, "%s/stdout", dir);
	out = read_file(path, NULL);
	snprintf(path, sizeof path, "%s/stderr", dir);
	err = read_file(path, NULL);
	cr_assert(out && err);
	cr_expect_str_eq(out, expected,
	                 "README.md's sample printed\n%s\nbut the README shows\n%s\n(stderr: %s)",
	                 out, expected, err);
	free(out);
	free(err);
	free(caller);
	free(commands);
	free(expected);
	free(text);
	remove_dir(dir);
}

/* A page moved out of the README must not leave a link behind it: every
** relative link of README.md and docs/*.md names a file or directory. */
Test(readme, relative_links_name_files)
{
	char cmd[4200];
	snprintf(cmd, sizeof cmd,
	         "cd '%s' && bad=0; for f in README.md docs/*.md; do "
	         "for l in $(grep -o '](\\([^)]*\\))' \"$f\" | sed 's/^](//; s/)$//; s/#.*//'); do "
	         "case $l in http*|mailto:*|'') continue;; esac; "
	         "[ -e \"$(dirname \"$f\")/$l\" ] || { echo \"$f: broken link $l\" >&2; bad=1; }; "
	         "done; done; exit $bad", SOURCE_DIR);
	cr_expect_eq(run_shell(cmd), 0, "README.md or docs/*.md links to a file that does not exist (above)");
}
