/* progress.c: progress of a long verify on stderr, such as "[verify] 5/7
** grad_input finite-diff 2/4 directions".  On a terminal: one line redrawn
** in place, once the run is older than a second, at most ten times a second,
** and erased before the report prints a line and at the end.  Elsewhere (a
** CI log, a pipe): the same text as a line of its own, with the seconds
** spent, every LOG_EVERY seconds once the run is that old, so a short run
** leaves a log clean and a long one is never silent for minutes
** ($CONVGEN_PROGRESS_SECONDS sets the interval).  The checks call it from
** their loops; a call costs a clock read. */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "vf.h"

#define QUIET_NS 1000000000LL   /* no line for a run shorter than this */
#define REDRAW_NS 100000000LL   /* at most ten redraws a second */
#define LOG_EVERY 5             /* seconds between lines in a log, by default: "every few seconds" */

static struct {
	int on;                 /* stderr is a terminal */
	long long log_every;    /* ns between lines when it is not */
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
	const char *every = getenv("CONVGEN_PROGRESS_SECONDS");
	long long secs = LOG_EVERY;
	memset(&P, 0, sizeof P);
	P.on = isatty(STDERR_FILENO);
	if (every && *every >= '0' && *every <= '9' && every[strspn(every, "0123456789")] == '\0' &&
	    strlen(every) < 9)
		secs = atoll(every);
	P.log_every = (secs > 0 ? secs : 1) * 1000000000LL;
	P.start = now_ns();
	P.last = P.start;
}

/* The text of the line: "[verify] 5/7 grad_input finite-diff 2/4 directions". */
static int line_text(char *line, size_t len, long long done, long long total, const char *unit)
{
	int n = snprintf(line, len, "[verify] %d/%d %s", P.i_check, P.n_checks, P.what);
	if (total > 0 && n > 0 && n < (int)len)
		n += snprintf(line + n, len - (size_t)n, " %lld/%lld %s", done, total, unit);
	if (n >= (int)len)
		n = (int)len - 1;
	return n;
}

/* Check number i_check of n_checks (from 1) starts: op and check name the line. */
void vf_progress_check(int i_check, int n_checks, enum cg_op op, enum vf_check c)
{
	P.i_check = i_check;
	P.n_checks = n_checks;
	snprintf(P.what, sizeof P.what, "%s %s", cg_op_names[op], vf_check_names[c]);
	vf_progress(0, 0, NULL);
}

/* 'done' of 'total' 'unit' ("directions") of the current check; total 0: no count. */
void vf_progress(long long done, long long total, const char *unit)
{
	char line[160];
	long long t = now_ns();
	int len, pad;

	if (!P.on) {
		if (t - P.last < P.log_every)
			return;
		P.last = t;
		line_text(line, sizeof line, done, total, unit);
		fprintf(stderr, "%s (%lld s)\n", line, (t - P.start) / 1000000000LL);
		fflush(stderr);
		return;
	}
	if (t - P.start < QUIET_NS || t - P.last < REDRAW_NS)
		return;
	P.last = t;
	len = line_text(line, sizeof line, done, total, unit);
	if (len < 0)
		return;
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
