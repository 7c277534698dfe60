/* kernel.c: compile the file under test into a shared object with the
** user's $CC.  The command goes through /bin/sh so that CC may hold several
** words ("ccache gcc") and $CFLAGS the user's own flags ("-O3 -march=native":
** the flags the kernel will ship with are the flags it is proven with), but
** the file names are passed as separate arguments, never pasted into the
** shell text. */
#define _DEFAULT_SOURCE
#include <errno.h>
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

/* Copy what the compiler printed, in 'f', to stderr, and put the first line
** that warns of undefined behaviour in 'line'; returns whether there was one. */
static int relay_chatter(FILE *f, char *line, size_t line_len)
{
	char buf[1024];
	int found = 0;
	size_t i;
	rewind(f);
	while (fgets(buf, sizeof buf, f)) {
		fputs(buf, stderr);
		for (i = 0; !found && i < sizeof ub_warnings / sizeof ub_warnings[0]; i++)
			if (strstr(buf, "warning") && strstr(buf, ub_warnings[i])) {
				buf[strcspn(buf, "\n")] = '\0';
				snprintf(line, line_len, "%s", buf);
				found = 1;
			}
	}
	return found;
}

int vf_compile(const char *cc, const char *src, const char *so, char *msg, size_t msg_len)
{
	char warning[1024];
	FILE *chatter = tmpfile();
	pid_t pid;
	int st;

	if (!cc || !*cc)
		cc = "cc";
	if (!chatter) {
		snprintf(msg, msg_len, "%s: cannot create a temporary file: %s", src, strerror(errno));
		return CG_EXIT_FAIL;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		snprintf(msg, msg_len, "%s: fork: %s", src, strerror(errno));
		fclose(chatter);
		return CG_EXIT_FAIL;
	}
	if (pid == 0) {
		/* The compiler's chatter goes to stderr with its errors (relayed by the
		** parent, which reads it for warnings): stdout carries the report. */
		dup2(fileno(chatter), STDOUT_FILENO);
		dup2(fileno(chatter), STDERR_FILENO);
		if (setenv("CVG_CC", cc, 1) != 0)
			_exit(127);
		execl("/bin/sh", "sh", "-c", "exec $CVG_CC -std=c99 -O2 $CFLAGS \"$@\"", "sh",
		      "-fPIC", "-shared", "-o", so, src, (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR) {
			snprintf(msg, msg_len, "%s: waitpid: %s", src, strerror(errno));
			fclose(chatter);
			return CG_EXIT_FAIL;
		}
	if (relay_chatter(chatter, warning, sizeof warning) && WIFEXITED(st) && WEXITSTATUS(st) == 0) {
		fclose(chatter);
		snprintf(msg, msg_len, "%s: the C compiler warns of undefined behaviour, so it is not proven: %s",
		         src, warning);
		return CG_EXIT_FAIL;
	}
	fclose(chatter);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return CG_EXIT_OK;
	if (WIFEXITED(st))
		snprintf(msg, msg_len, "%s: the C compiler '%s' failed with exit status %d", src, cc,
		         WEXITSTATUS(st));
	else
		snprintf(msg, msg_len, "%s: the C compiler '%s' was killed by signal %d", src, cc,
		         WTERMSIG(st));
	return CG_EXIT_FAIL;
}
