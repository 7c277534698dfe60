/* memcheck.c: the 'memory' check, part of every run unless --no-memory.
** The guard pages of run.c catch accesses past the end of the caller's
** arrays, but not an out-of-bounds access to the kernel's own local arrays,
** nor one before the start of an input that happens to give the right
** numbers.  So the file is built a second time into the driver program
** (program.c) for this machine under AddressSanitizer, whose redzones
** surround every array, the kernel's locals and the driver's exactly-sized
** heap arrays alike, and each op runs once through it; any report fails the
** check.  -O0 keeps every access the C code makes and compiles in a fraction
** of the time of -O1 (a second or more on large files); --sanitize adds UBSan
** at -O1, as the hardening build does.  On a layer whose ops are too much
** work for -O0 the build is -O1 too (O0_WORK).  The build starts at once and
** runs beside the main compile. */
#define _GNU_SOURCE   /* sched_getaffinity */
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "vf.h"

#define ASAN_ONLY "-O0 -fsanitize=address -fno-omit-frame-pointer"
#define ASAN_O1 "-O1 -fsanitize=address -fno-omit-frame-pointer"
#define ASAN_UBSAN "-O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
#define MEM_LIMIT 600   /* seconds: sanitized -O0 code on the largest layers */

/* The multiply-adds of the check's runs (op_work) up to which the build is
** -O0: 2^30 is a few seconds of ASan -O0 code here (4 to 8).  Above it -O1
** runs the same accesses about 3 times faster (a 512x512 layer with 64
** channels in and out, forward, grad_weight and grad_input: 150 s at -O0,
** 45 s at -O1), at the cost docs/verify.md states: -O1 may drop loads whose
** value is unused, reloads of an address it just read, and stores that
** nothing reads. */
#define O0_WORK ((uint64_t)1 << 30)

static const char *sanitizers(const struct vf_ctx *x)
{
	return x->sanitize ? "ASan+UBSan" : "ASan";
}

/* The multiply-adds of one run of op: forward, grad_input and grad_weight
** each make N K OH OW (C/G) k1 k2, sgd_update as many as grad_weight,
** grad_bias one per element of dY. */
static uint64_t op_work(const struct cg_layer *l, enum cg_op op)
{
	uint64_t y = (uint64_t)l->n * (uint64_t)l->k * (uint64_t)l->oh * (uint64_t)l->ow;

	if (op == CG_GRAD_BIAS)
		return y;
	return y * (uint64_t)(l->c / l->g) * (uint64_t)l->k1 * (uint64_t)l->k2;
}

/* -O1 for a layer whose runs under the check (forward and sgd_update run
** twice, with and without bias) are more than O0_WORK multiply-adds. */
int vf_memcheck_optimized(const struct cg_layer *l)
{
	uint64_t work = 0;
	int op;

	for (op = 0; op < CG_N_OPS; op++)
		if (l->ops & CG_OP_BIT(op))
			work += op_work(l, (enum cg_op)op) * (op == CG_FORWARD || op == CG_SGD_UPDATE ? 2 : 1);
	return work > O0_WORK;
}

const char *vf_memcheck_mode(const struct vf_ctx *x)
{
	static char buf[160];
	snprintf(buf, sizeof buf, "%s %s, built by %.60s%s", sanitizers(x),
	         x->sanitize || vf_memcheck_optimized(&x->l) ? "-O1" : "-O0", x->mem_cc, x->exec ? " for this machine" : "");
	return buf;
}

void vf_memcheck_start(struct vf_ctx *x, const char *src, const char *dir)
{
	/* With --exec, $CC builds for the target, where no sanitizer runs: the
	** source is checked on this machine, by its own compiler. */
	const char *text = x->sanitize ? "exec $CVG_CC -std=c99 $CVG_CFLAGS " ASAN_UBSAN " \"$@\""
	                 : vf_memcheck_optimized(&x->l) ? "exec $CVG_CC -std=c99 $CVG_CFLAGS " ASAN_O1 " \"$@\""
	                              : "exec $CVG_CC -std=c99 $CVG_CFLAGS " ASAN_ONLY " \"$@\"";
	x->mem_cc = x->exec ? "cc" : x->cc;
	snprintf(x->mem.dir, sizeof x->mem.dir, "%s/memcheck", dir);
	vf_prog_build_start(&x->mem, x, src, x->mem_cc, x->exec ? "" : x->cflags, text, 0);
}

static int check_now(const struct vf_ctx *x, enum cg_op op, struct vf_result *r)
{
	int a = vf_exact_magnitude(x, op), pass, rc;
	struct vf_call c;
	char why[400];

	r->n_items = 1;
	if (!x->mem.built) {
		r->applicable = 0;
		snprintf(r->detail, sizeof r->detail, "not applicable: '%.60s' cannot build the file under %s "
		         "(--no-memory leaves the check out): %.300s", x->mem_cc, sanitizers(x), x->mem.why);
		return 0;
	}
	if (a < 0)
		a = 0;
	/* No exact values, so no numerators kept: only the accesses are checked. */
	if (vf_call_prepare_lean(x, op, VF_MEMORY, -((int64_t)1 << a), (int64_t)1 << a, 0, &c) != 0)
		return -1;
	for (pass = 0; pass < (op == CG_FORWARD || op == CG_SGD_UPDATE ? 2 : 1); pass++) {
		vf_call_bias(&c, pass == 0);
		rc = vf_prog_run(x, &x->mem, (int)op, &c.a, MEM_LIMIT, why, sizeof why);
		if (rc == 0)
			continue;
		r->timed_out = rc == VF_TIMED_OUT;
		r->n_wrong = 1;
		snprintf(r->detail, sizeof r->detail, "%s%s under %s: %s", cg_op_names[op],
		         pass ? " (bias NULL)" : "", sanitizers(x), why);
		break;
	}
	r->passed = r->n_wrong == 0;
	if (r->passed)   /* what the claim was checked under */
		snprintf(r->detail, sizeof r->detail, "%s", vf_memcheck_mode(x));
	vf_call_close(&c);
	return 0;
}

/* The processors this process may run on (taskset, cgroups' cpusets), not
** those the machine has. */
int vf_processors(void)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof set, &set) != 0)
		return 1;
	return CPU_COUNT(&set);
}

/* The memory checks of every op, run ahead in a process of their own beside
** the other checks, where there is a second processor: on a large layer
** they are a quarter of the run, and they share nothing with the others
** (their own program, directory and arrays).  The process writes each op's
** result to a pipe, in op order, as a byte (1: the check ran, 0: out of
** memory) and the struct; vf_check_memory reads it when its turn comes. */
void vf_memcheck_ahead(struct vf_ctx *x)
{
	int fd[2], op;
	pid_t pid;

	x->mem_ahead_fd = -1;
	x->mem_ahead_pid = -1;
	if (!x->memory || !x->mem.built || vf_processors() < 2 || pipe(fd) != 0)
		return;   /* each check runs in its turn */
	fflush(NULL);
	if ((pid = fork()) < 0) {
		close(fd[0]);
		close(fd[1]);
		return;
	}
	if (pid == 0) {
		close(fd[0]);
		for (op = 0; op < CG_N_OPS; op++) {
			struct vf_result r;
			char ran;
			if (!(x->l.ops & CG_OP_BIT(op)))
				continue;
			memset(&r, 0, sizeof r);
			r.op = (enum cg_op)op;
			r.check = VF_MEMORY;
			r.applicable = 1;
			r.magnitude_exp = -1;
			r.seed = x->seed;
			ran = check_now(x, (enum cg_op)op, &r) == 0;
			if (write(fd[1], &ran, 1) != 1 || write(fd[1], &r, sizeof r) != (ssize_t)sizeof r)
				_exit(1);
		}
		_exit(0);
	}
	close(fd[1]);
	x->mem_ahead_fd = fd[0];
	x->mem_ahead_pid = pid;
}

/* The next result from the process ahead; 1 if it is op's, 0 if there is
** none (the pipe closed early: the check runs now). */
static int ahead_result(const struct vf_ctx *x, enum cg_op op, struct vf_result *r, int *ran)
{
	struct vf_result got;
	char flag;

	while (read(x->mem_ahead_fd, &flag, 1) == 1 &&
	       read(x->mem_ahead_fd, &got, sizeof got) == (ssize_t)sizeof got)
		if (got.op == op) {   /* an op whose checks stopped early left its result unread */
			*r = got;
			*ran = flag;
			return 1;
		}
	return 0;
}

int vf_check_memory(const struct vf_ctx *x, enum cg_op op, struct vf_result *r)
{
	int ran;

	if (x->mem_ahead_fd >= 0 && ahead_result(x, op, r, &ran))
		return ran ? 0 : -1;
	return check_now(x, op, r);
}

/* The process ahead is done with, or stopped if the run ended early. */
void vf_memcheck_end(struct vf_ctx *x)
{
	if (x->mem_ahead_pid > 0) {
		close(x->mem_ahead_fd);
		kill(x->mem_ahead_pid, SIGTERM);
		waitpid(x->mem_ahead_pid, NULL, 0);
	}
	x->mem_ahead_fd = x->mem_ahead_pid = -1;
}
