/* progress.c: one line of progress on stderr for a long verify, such as
** "[verify] 5/7 grad_input finite-diff 2/4 directions", redrawn in place.
** Only when stderr is a terminal (a log or a pipe gets nothing), only once
** the run is older than a second, at most ten times a second, and erased
** before the report prints a line and at the end.  The checks call it from
** their loops; a call costs a clock read when the line is shown, nothing
** otherwise. */
#define _POSIX_C_SOURCE 200809L
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "vf.h"

#define QUIET_NS 1000000000LL   /* no line for a run shorter than this */
#define REDRAW_NS 100000000LL   /* at most ten redraws a second */

static struct {
	int on;                 /* stderr is a terminal */
	long long start, last;  /* ns: the run's start, the last redraw */
	int shown;              /* columns on screen now, 0 if none */
	int i_check, n_checks;
	char what[64];          /* "grad_input finite-diff" */
} P;

static long long now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* The run starts (compiling counts): the second of quiet starts now. */
void vf_progress_begin(void)
{
	memset(&P, 0, sizeof P);
	P.on = isatty(STDERR_FILENO);
	if (P.on)
		P.start = now_ns();
}

/* Check number i_check of n_checks (from 1) starts: op and check name the line. */
void vf_progress_check(int i_check, int n_checks, enum cg_op op, enum vf_check c)
{
	if (!P.on)
		return;
	P.i_check = i_check;
	P.n_checks = n_checks;
	snprintf(P.what, sizeof P.what, "%s %s", cg_op_names[op], vf_check_names[c]);
	vf_progress(0, 0, NULL);
}

/* 'done' of 'total' 'unit' ("directions") of the current check; total 0: no count. */
void vf_progress(long long done, long long total, const char *unit)
{
	char line[160];
	long long t;
	int len, pad;

	if (!P.on)
		return;
	t = now_ns();
	if (t - P.start < QUIET_NS || t - P.last < REDRAW_NS)
		return;
	P.last = t;
	len = snprintf(line, sizeof line, "[verify] %d/%d %s", P.i_check, P.n_checks, P.what);
	if (total > 0 && len > 0 && len < (int)sizeof line)
		len += snprintf(line + len, sizeof line - (size_t)len, " %lld/%lld %s", done, total, unit);
	if (len < 0)
		return;
	if (len >= (int)sizeof line)
		len = (int)sizeof line - 1;
	pad = P.shown > len ? P.shown - len : 0;   /* blank what a longer line left */
	fprintf(stderr, "\r%s%*s", line, pad, "");
	fflush(stderr);
	P.shown = len;
}

/* Erase the line, if one is shown, so the report or the shell prompt starts clean. */
void vf_progress_clear(void)
{
	if (!P.on || !P.shown)
		return;
	fprintf(stderr, "\r%*s\r", P.shown, "");
	fflush(stderr);
	P.shown = 0;
}
