/* kernel.c: compile the file under test with the user's $CC.  The command
** goes through /bin/sh so that CC may hold several words ("ccache gcc") and
** $CFLAGS the user's own flags ("-O3 -march=native": the flags the kernel
** will ship with are the flags it is proven with), but file names are passed
** as separate arguments, never pasted into the shell text.  A compile may run
** in the background (the memory check's build runs beside the checks). */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "vf.h"

/* Warnings by which a compiler says that the code has undefined behaviour
** (an access past an array, a loop that runs past one); gcc gives the first
** two by default.  Any of them fails the proof, quoted. */
static const char *const ub_warnings[] = {
	"[-Waggressive-loop-optimizations]", "[-Wstringop-overflow", "[-Wstringop-overread",
	"[-Warray-bounds", "[-Wuninitialized]",
};

/* Copy what the compiler printed, in 'log', to stderr, and put the first line
** that warns of undefined behaviour in 'line'; returns whether there was one. */
static int relay_chatter(const char *log, char *line, size_t line_len)
{
	char buf[1024];
	int found = 0;
	size_t i;
	FILE *f = fopen(log, "r");

	if (!f)
		return 0;
	while (fgets(buf, sizeof buf, f)) {
		fputs(buf, stderr);
		for (i = 0; !found && i < sizeof ub_warnings / sizeof ub_warnings[0]; i++)
			if (strstr(buf, "warning") && strstr(buf, ub_warnings[i])) {
				buf[strcspn(buf, "\n")] = '\0';
				snprintf(line, line_len, "%s", buf);
				found = 1;
			}
	}
	fclose(f);
	return found;
}

int vf_cc_start(struct vf_cc_job *j, const char *cc, const char *cflags, const char *shell_text,
                char *const args[], const char *log)
{
	char *argv[48];
	int n = 0, fd;

	j->pid = -1;
	j->cc = cc && *cc ? cc : "cc";
	snprintf(j->log, sizeof j->log, "%s", log);
	argv[n++] = "/bin/sh";
	argv[n++] = "-c";
	argv[n++] = (char *)shell_text;
	argv[n++] = "sh";
	while (*args && n < 47)
		argv[n++] = *args++;
	argv[n] = NULL;
	fflush(NULL);
	j->pid = fork();
	if (j->pid < 0)
		return -1;
	if (j->pid == 0) {
		/* The compiler's chatter goes to the log, relayed to stderr by the
		** parent, which reads it for warnings: stdout carries the report. */
		fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
		}
		if (setenv("CVG_CC", j->cc, 1) != 0 || setenv("CVG_CFLAGS", cflags ? cflags : "", 1) != 0)
			_exit(127);
		execv(argv[0], argv);
		_exit(127);
	}
	return 0;
}

int vf_cc_finish(struct vf_cc_job *j, const char *src, int relay, char *msg, size_t msg_len)
{
	char warning[1024];
	int st;

	if (j->pid < 0) {
		snprintf(msg, msg_len, "%s: fork: %s", src, strerror(errno));
		return CG_EXIT_FAIL;
	}
	while (waitpid(j->pid, &st, 0) < 0)
		if (errno != EINTR) {
			snprintf(msg, msg_len, "%s: waitpid: %s", src, strerror(errno));
			return CG_EXIT_FAIL;
		}
	j->pid = -1;
	if (relay && relay_chatter(j->log, warning, sizeof warning) && WIFEXITED(st) &&
	    WEXITSTATUS(st) == 0) {
		snprintf(msg, msg_len, "%s: the C compiler warns of undefined behaviour, so it is not proven: %s",
		         src, warning);
		return CG_EXIT_FAIL;
	}
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return CG_EXIT_OK;
	if (WIFEXITED(st))
		snprintf(msg, msg_len, "%s: the C compiler '%s' failed with exit status %d", src, j->cc,
		         WEXITSTATUS(st));
	else
		snprintf(msg, msg_len, "%s: the C compiler '%s' was killed by signal %d", src, j->cc,
		         WTERMSIG(st));
	return CG_EXIT_FAIL;
}

int vf_compile_start(struct vf_cc_job *j, const char *cc, const char *src, const char *so)
{
	char log[4200];
	char *args[] = { "-fPIC", "-shared", "-o", (char *)so, (char *)src, NULL };

	snprintf(log, sizeof log, "%s.log", so);
	return vf_cc_start(j, cc, getenv("CFLAGS"), "exec $CVG_CC -std=c99 -O2 $CVG_CFLAGS \"$@\"", args, log);
}

int vf_compile_finish(struct vf_cc_job *j, const char *src, char *msg, size_t msg_len)
{
	int rc = vf_cc_finish(j, src, 1, msg, msg_len);
	unlink(j->log);
	return rc;
}

int vf_compile(const char *cc, const char *src, const char *so, char *msg, size_t msg_len)
{
	struct vf_cc_job j;

	vf_compile_start(&j, cc, src, so);
	return vf_compile_finish(&j, src, msg, msg_len);
}

/* The first line of what 'sh -c text' printed on stdout, or "" (CC set). */
static void first_line(const char *cc, const char *text, char *buf, size_t len)
{
	FILE *p;

	buf[0] = '\0';
	if (setenv("CVG_CC", cc, 1) != 0)
		return;
	fflush(NULL);
	p = popen(text, "r");
	if (!p)
		return;
	if (fgets(buf, (int)len, p))
		buf[strcspn(buf, "\r\n")] = '\0';
	else
		buf[0] = '\0';
	while (fgetc(p) != EOF)
		;
	pclose(p);
}

void vf_cc_describe(const char *cc, char *version, size_t version_len, char *machine, size_t machine_len)
{
	first_line(cc && *cc ? cc : "cc", "$CVG_CC --version 2>/dev/null", version, version_len);
	first_line(cc && *cc ? cc : "cc", "$CVG_CC -dumpmachine 2>/dev/null", machine, machine_len);
}
