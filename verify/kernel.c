/* kernel.c: compile the file under test into a shared object with the
** user's $CC.  The command goes through /bin/sh so that CC may hold several
** words ("ccache gcc") and $CFLAGS the user's own flags ("-O3 -march=native":
** the flags the kernel will ship with are the flags it is proven with), but
** the file names are passed as separate arguments, never pasted into the
** shell text. */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "vf.h"

int vf_compile(const char *cc, const char *src, const char *so, char *msg, size_t msg_len)
{
	pid_t pid;
	int st;

	if (!cc || !*cc)
		cc = "cc";
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		snprintf(msg, msg_len, "%s: fork: %s", src, strerror(errno));
		return CG_EXIT_FAIL;
	}
	if (pid == 0) {
		/* The compiler's chatter goes to stderr with its errors: stdout carries the report. */
		dup2(STDERR_FILENO, STDOUT_FILENO);
		if (setenv("CVG_CC", cc, 1) != 0)
			_exit(127);
		execl("/bin/sh", "sh", "-c", "exec $CVG_CC -std=c99 -O2 $CFLAGS \"$@\"", "sh",
		      "-fPIC", "-shared", "-o", so, src, (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR) {
			snprintf(msg, msg_len, "%s: waitpid: %s", src, strerror(errno));
			return CG_EXIT_FAIL;
		}
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
