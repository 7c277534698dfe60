/* support.c: helpers for the Criterion tests (see support.h). */
#define _POSIX_C_SOURCE 200809L
#include "support.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void slurp(int fd, char *buf, size_t len)
{
	size_t used = 0;
	ssize_t n;
	lseek(fd, 0, SEEK_SET);
	while (used + 1 < len && (n = read(fd, buf + used, len - 1 - used)) > 0)
		used += (size_t)n;
	buf[used] = '\0';
}

void run_convgen(struct run *r, const char *cwd, const char *cc, const char *args)
{
	char *copy = strdup(args), *argv[128], *save = NULL, *word;
	int argc = 0, status;
	FILE *out = tmpfile(), *err = tmpfile();
	pid_t pid;
	argv[argc++] = CONVGEN;
	for (word = strtok_r(copy, " ", &save); word && argc < 127; word = strtok_r(NULL, " ", &save))
		argv[argc++] = strcmp(word, "''") == 0 ? "" : word;
	argv[argc] = NULL;
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		if (cwd && chdir(cwd) != 0)
			_exit(125);
		if (cc)
			setenv("CC", cc, 1);
		dup2(fileno(out), 1);
		dup2(fileno(err), 2);
		execv(CONVGEN, argv);
		_exit(126);
	}
	waitpid(pid, &status, 0);
	r->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	slurp(fileno(out), r->out, sizeof r->out);
	slurp(fileno(err), r->err, sizeof r->err);
	fclose(out);
	fclose(err);
	free(copy);
}

int run_shell(const char *cmd)
{
	int status = system(cmd);
	if (status == -1)
		return 127;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

char *scratch_dir(char *buf, size_t len)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(buf, len, "%s/convgen-test-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	return mkdtemp(buf);
}

void remove_dir(const char *dir)
{
	char cmd[4200];
	snprintf(cmd, sizeof cmd, "chmod -R u+w '%s' 2>/dev/null; rm -rf '%s'", dir, dir);
	run_shell(cmd);
}

char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	if (buf) {
		buf[n] = '\0';
		if (len)
			*len = (size_t)n;
	}
	return buf;
}

int file_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

void write_fake_cc(const char *dir, const char *body, char *cc, size_t cc_len)
{
	FILE *f;
	snprintf(cc, cc_len, "%s/cc", dir);
	f = fopen(cc, "w");
	if (f) {
		fprintf(f, "#!/bin/sh\n%s\n", body);
		fclose(f);
	}
	chmod(cc, 0755);
}

int generate(const char *dir, const char *name, const char *opts)
{
	struct run *r = malloc(sizeof *r);
	char args[2048];
	int status;
	snprintf(args, sizeof args, "generate %s --name %s -o %s", opts, name, dir);
	run_convgen(r, NULL, NULL, args);
	status = r->status;
	if (status != 0)
		fprintf(stderr, "convgen %s: exit %d: %s", args, status, r->err);
	free(r);
	return status;
}
