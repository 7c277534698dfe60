/* program.c: the file under test built into verify/target/driver.c's
** program, and one call run through it.  Two checks use it: 'verify --exec'
** builds it with the user's $CC and $CFLAGS and runs it under the emulator,
** so that the proof is of the code the target runs; the memory check builds
** it for this machine under AddressSanitizer.  The program and verify talk
** through two files in its working directory (driver.c describes them), so
** any emulator that passes host files through (qemu-user; qemu-system with
** semihosting) will do. */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "../cmake/embedded.h"
#include "target/protocol.h"
#include "vf.h"

#define START_LIMIT 20    /* seconds for the program to start writing call.out */


static const char *const listed_macro[CG_N_OPS] = {
	"CVG_LISTED_FORWARD", "CVG_LISTED_GRAD_WEIGHT", "CVG_LISTED_GRAD_INPUT", "CVG_LISTED_GRAD_BIAS",
	"CVG_LISTED_SGD_UPDATE",
};
static const char *const fn_macro[CG_N_OPS] = {
	"CVG_FORWARD", "CVG_GRAD_WEIGHT", "CVG_GRAD_INPUT", "CVG_GRAD_BIAS", "CVG_SGD_UPDATE",
};

static const struct cg_embedded *embedded(const char *name)
{
	size_t i;
	for (i = 0; i < cg_n_embedded; i++)
		if (strcmp(cg_embedded_files[i].name, name) == 0)
			return &cg_embedded_files[i];
	return NULL;
}

/* Write the embedded file 'name' into p->dir. */
static int put_embedded(const struct vf_prog *p, const char *name)
{
	const struct cg_embedded *e = embedded(name);
	char path[4400];
	FILE *f;
	int ok;

	snprintf(path, sizeof path, "%s/%s", p->dir, name);
	if (!e || !(f = fopen(path, "w")))
		return -1;
	ok = fwrite(e->data, 1, e->len, f) == e->len;
	return fclose(f) == 0 && ok ? 0 : -1;
}

/* cvg_layer.h: what driver.c needs to know of the layer. */
static int write_layer_header(const struct vf_ctx *x, const struct vf_prog *p)
{
	const char *n = x->l.name;
	char path[4400];
	FILE *f;
	int op;

	snprintf(path, sizeof path, "%s/cvg_layer.h", p->dir);
	if (!(f = fopen(path, "w")))
		return -1;
	fprintf(f, "#include \"%s.h\"\n#define CVG_T %s\n", n, x->l.dtype == CG_FLOAT ? "float" : "double");
	fprintf(f, "#define CVG_INPUT_SIZE %s_INPUT_SIZE\n#define CVG_WEIGHT_SIZE %s_WEIGHT_SIZE\n", n, n);
	fprintf(f, "#define CVG_BIAS_SIZE %s_BIAS_SIZE\n#define CVG_OUTPUT_SIZE %s_OUTPUT_SIZE\n", n, n);
	fprintf(f, "#define CVG_WORKSPACE_ARG %d\n", x->l.workspace);
	fprintf(f, "#define CVG_RELU %d\n#define CVG_MOMENTUM %d\n", x->l.relu, x->l.momentum);
	if (x->l.workspace)
		fprintf(f, "#define CVG_WORKSPACE_BYTES %s_WORKSPACE_BYTES\n#define CVG_WORKSPACE_ALIGN %s_WORKSPACE_ALIGN\n", n, n);
	for (op = 0; op < CG_N_OPS; op++)
		fprintf(f, "#define %s %s_%s\n#define %s %d\n", fn_macro[op], n, cg_op_names[op],
		        listed_macro[op], (x->l.ops & CG_OP_BIT(op)) != 0);
	return fclose(f) == 0 ? 0 : -1;
}

static void complaint(const char *log, char *buf, size_t len);

int vf_prog_build_start(struct vf_prog *p, const struct vf_ctx *x, const char *src,
                        const char *cc, const char *cflags, const char *shell_text, int bare_metal)
{
	char inc_src[4300], inc_dir[4300], drv[4400], startup[4400], ld[4400], log[4400], *slash;
	char *args[24];
	int n = 0;

	snprintf(p->path, sizeof p->path, "%s/driver", p->dir);
	snprintf(p->out, sizeof p->out, "%s/call.out", p->dir);
	snprintf(p->in, sizeof p->in, "%s/call.in", p->dir);
	snprintf(p->log, sizeof p->log, "%s/run.log", p->dir);
	snprintf(log, sizeof log, "%s/build.log", p->dir);
	if (mkdir(p->dir, 0700) != 0 && errno != EEXIST) {
		snprintf(p->why, sizeof p->why, "cannot create %.200s: %s", p->dir, strerror(errno));
		return -1;
	}
	if (write_layer_header(x, p) != 0 || put_embedded(p, "driver.c") != 0 ||
	    put_embedded(p, "protocol.h") != 0 ||
	    (bare_metal && (put_embedded(p, "mps2_startup.c") != 0 || put_embedded(p, "mps2.ld") != 0))) {
		snprintf(p->why, sizeof p->why, "cannot write the driver into %.200s: %s", p->dir, strerror(errno));
		return -1;
	}
	/* NAME.c includes "NAME.h" from its own directory; the driver needs it too. */
	snprintf(inc_src, sizeof inc_src, "-I%s", src);
	slash = strrchr(inc_src, '/');
	if (slash)
		*slash = '\0';
	else
		snprintf(inc_src, sizeof inc_src, "-I.");
	snprintf(inc_dir, sizeof inc_dir, "-I%s", p->dir);
	snprintf(drv, sizeof drv, "%s/driver.c", p->dir);
	args[n++] = inc_dir;
	args[n++] = inc_src;
	args[n++] = "-o";
	args[n++] = p->path;
	args[n++] = drv;
	args[n++] = (char *)src;
	if (bare_metal) {
		snprintf(startup, sizeof startup, "%s/mps2_startup.c", p->dir);
		snprintf(ld, sizeof ld, "-T%s/mps2.ld", p->dir);
		args[n++] = startup;
		args[n++] = ld;
		args[n++] = "-nostartfiles";
		args[n++] = "--specs=rdimon.specs";
	}
	args[n++] = "-lm";
	args[n] = NULL;
	if (vf_cc_start(&p->job, cc, cflags, shell_text, args, log) != 0) {
		snprintf(p->why, sizeof p->why, "fork: %s", strerror(errno));
		return -1;
	}
	p->building = 1;
	return 0;
}

int vf_prog_build_finish(struct vf_prog *p, const char *src, int relay)
{
	if (!p->building)
		return -1;
	p->building = 0;
	if (vf_cc_finish(&p->job, src, relay, p->why, sizeof p->why) != CG_EXIT_OK) {
		char said[300];
		size_t k = strlen(p->why);
		complaint(p->job.log, said, sizeof said);
		if (!relay && said[0])   /* else the compiler's output went to stderr */
			snprintf(p->why + k, sizeof p->why - k, ": %s", said);
		return -1;
	}
	p->built = 1;
	return 0;
}

/* The first line of the program's (or the sanitizer's, or the emulator's)
** complaint in its log: one that names an error if there is one. */
static void complaint(const char *log, char *buf, size_t len)
{
	static const char *const marks[] = { "ERROR: ", "runtime error: ", "error: ", "convgen driver: " };
	FILE *f = fopen(log, "r");
	char line[512], first[512] = "";
	size_t i;

	buf[0] = '\0';
	if (!f)
		return;
	while (fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = '\0';
		if (!first[0] && line[strspn(line, " \t")])
			snprintf(first, sizeof first, "%s", line);
		for (i = 0; i < sizeof marks / sizeof marks[0]; i++) {
			char *s = strstr(line, marks[i]);
			if (s) {
				snprintf(buf, len, "%s", s);
				fclose(f);
				return;
			}
		}
	}
	fclose(f);
	snprintf(buf, len, "%s", first);
}

/* Bytes of a file, or -1. */
static long file_size(const char *path)
{
	struct stat s;
	return stat(path, &s) == 0 ? (long)s.st_size : -1;
}

/* Run the program (through the emulator, if any) and wait for it, within
** START_LIMIT seconds to begin and 'limit' to end.  Returns the wait status,
** VF_TIMED_OUT, or -3 when it never started. */
static int spawn(const struct vf_prog *p, int limit)
{
	struct timespec t0, now, nap = { 0, 1000000 };
	pid_t pid;
	int st, fd;
	double dt;

	unlink(p->out);
	fflush(NULL);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		fd = open(p->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
		}
		if (chdir(p->dir) != 0)
			_exit(127);
		setenv("ASAN_OPTIONS", "detect_leaks=0:exitcode=86:abort_on_error=0", 1);
		setenv("UBSAN_OPTIONS", "halt_on_error=1:exitcode=86:print_stacktrace=1", 1);
		if (p->exec) {
			setenv("CVG_EXEC", p->exec, 1);
			execl("/bin/sh", "sh", "-c", "exec $CVG_EXEC \"$@\"", "sh", p->path, (char *)NULL);
		} else
			execl(p->path, p->path, (char *)NULL);
		_exit(127);
	}
	for (;;) {
		pid_t w = waitpid(pid, &st, WNOHANG);
		if (w == pid)
			return st;
		if (w < 0 && errno != EINTR)
			return -1;
		clock_gettime(CLOCK_MONOTONIC, &now);
		dt = (double)(now.tv_sec - t0.tv_sec) + 1e-9 * (double)(now.tv_nsec - t0.tv_nsec);
		if ((dt > START_LIMIT && file_size(p->out) <= 0) || dt > limit) {
			kill(pid, SIGKILL);   /* the emulator itself: sh exec'ed it */
			while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
				;
			return file_size(p->out) <= 0 ? -3 : VF_TIMED_OUT;
		}
		nanosleep(&nap, NULL);
		if (nap.tv_nsec < 20000000)
			nap.tv_nsec *= 2;
	}
}

static unsigned long u32_at(const unsigned char *b)
{
	return (unsigned long)b[0] | (unsigned long)b[1] << 8 | (unsigned long)b[2] << 16 |
	       (unsigned long)b[3] << 24;
}

/* call.in: the header, the scalars, the inputs, then the arrays the op reads
** and writes (driver.c describes the format). */
static int write_call(const struct vf_prog *p, unsigned long op, unsigned long flags, const struct vf_sig *s,
                      const struct vf_args *a, size_t elem)
{
	unsigned char h[12] = { 'C', 'V', 'G', 'I' };
	FILE *f = fopen(p->in, "wb");
	float sf;
	int i, k, ok;

	if (!f)
		return -1;
	for (k = 0; k < 4; k++) {
		h[4 + k] = (unsigned char)(op >> (8 * k) & 0xff);
		h[8 + k] = (unsigned char)(flags >> (8 * k) & 0xff);
	}
	ok = fwrite(h, 1, sizeof h, f) == sizeof h;
	for (i = 0; ok && i < s->n_scalar; i++) {
		sf = (float)a->scalar[i];
		ok = fwrite(elem == sizeof sf ? (const void *)&sf : (const void *)&a->scalar[i], elem, 1, f) == 1;
	}
	for (i = 0; ok && i < s->n_in; i++)
		if (a->in[i])
			ok = fwrite(a->in[i]->data, a->in[i]->elem, a->in[i]->n, f) == a->in[i]->n;
	for (i = 0; ok && s->in_out && i < s->n_out; i++)
		if (a->out[i])
			ok = fwrite(a->out[i]->data, a->out[i]->elem, a->out[i]->n, f) == a->out[i]->n;
	return fclose(f) == 0 && ok ? 0 : -1;
}

/* Why a run that left no complete call.out went wrong, from what it left. */
static void explain(const struct vf_prog *p, int st, char *why, size_t why_len)
{
	char said[400];
	const char *how = p->exec ? p->exec : "this machine";

	complaint(p->log, said, sizeof said);
	if (st == -3)
		snprintf(why, why_len, "the program did not start within %d s under '%s'%s%s", START_LIMIT,
		         how, said[0] ? ": " : " (no output; does $CFLAGS match the board?)", said);
	else if (p->exec && WIFEXITED(st) && (WEXITSTATUS(st) == 127 || WEXITSTATUS(st) == 126) &&
	         file_size(p->out) <= 0)
		snprintf(why, why_len, "the emulator command '%s' cannot be run (exit status %d)%s%s", p->exec,
		         WEXITSTATUS(st), said[0] ? ": " : "", said);
	else if (file_size(p->out) <= 0)
		snprintf(why, why_len, "the program did not start under '%s' (%s %d)%s%s", how,
		         WIFSIGNALED(st) ? "signal" : "exit status", WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st),
		         said[0] ? ": " : "", said);
	else if (WIFSIGNALED(st))
		snprintf(why, why_len, "crashed with signal %d (%s)%s%s", WTERMSIG(st), strsignal(WTERMSIG(st)),
		         said[0] ? ": " : "", said);
	else if (WIFEXITED(st) && WEXITSTATUS(st) == 86)
		snprintf(why, why_len, "%s", said[0] ? said : "the sanitizer reported an error");
	else
		snprintf(why, why_len, "stopped before it finished (exit status %d)%s%s",
		         WIFEXITED(st) ? WEXITSTATUS(st) : -1, said[0] ? ": " : "", said);
}

/* Which written array the driver found a guard broken around (DRV_OUT_SHIFT). */
static int first_out(unsigned long faults)
{
	int i;
	for (i = 0; i < VF_MAX_OUT; i++)
		if (faults >> DRV_OUT_SHIFT & (1ul << i))
			return i;
	return 0;
}

int vf_prog_run(const struct vf_ctx *x, const struct vf_prog *p, int op, const struct vf_args *a,
                int limit, char *why, size_t why_len)
{
	struct vf_sig s;
	unsigned char head[24];
	unsigned long flags = 0, faults;
	double one = 1.5;
	float onef = 1.5f;
	size_t one_len = x->elem;
	FILE *f;
	int i, st, ok;

	memset(&s, 0, sizeof s);
	s.bias_in = s.bias_out = -1;
	if (op >= 0)
		vf_op_sig(&x->l, (enum cg_op)op, &s);
	if ((s.bias_in >= 0 && !a->in[s.bias_in]) || (s.bias_out >= 0 && !a->out[s.bias_out]))
		flags = 1;
	if (write_call(p, op < 0 ? 0xfffffffful : (unsigned long)op, flags, &s, a, x->elem) != 0) {
		snprintf(why, why_len, "cannot write %s: %s", p->in, strerror(errno));
		return -1;
	}
	st = spawn(p, limit);
	if (st == VF_TIMED_OUT) {
		snprintf(why, why_len, "did not return within %d s", limit);
		return VF_TIMED_OUT;
	}
	f = fopen(p->out, "rb");
	ok = f && fread(head, 1, 12 + one_len, f) == 12 + one_len && memcmp(head, "CVGS", 4) == 0;
	if (ok && (u32_at(head + 4) != x->elem ||
	           memcmp(head + 8, x->elem == sizeof(float) ? (void *)&onef : (void *)&one, one_len) != 0)) {
		snprintf(why, why_len, "the target's %s is not this machine's (%lu bytes; IEEE 754 little-endian "
		         "is needed)", x->l.dtype == CG_FLOAT ? "float" : "double", u32_at(head + 4));
		fclose(f);
		return -1;
	}
	if (ok && (faults = u32_at(head + 8 + one_len)) != 0) {
		for (i = 0; i < CG_N_OPS; i++)
			if (faults & (1ul << i))
				break;
		snprintf(why, why_len, "the compiled file defines %s_%s, which its header's --ops does not list",
		         x->l.name, cg_op_names[i < CG_N_OPS ? i : 0]);
		fclose(f);
		return -1;
	}
	ok = ok && fread(head, 1, 8, f) == 8 && memcmp(head, "CVGE", 4) == 0;
	if (!ok) {
		if (f)
			fclose(f);
		explain(p, st, why, why_len);
		return st == -3 ? VF_NOT_STARTED : -1;
	}
	faults = u32_at(head + 4);
	for (i = 0; ok && i < s.n_out; i++)
		if (a->out[i])
			ok = fread(a->out[i]->data, a->out[i]->elem, a->out[i]->n, f) == a->out[i]->n;
	fclose(f);
	if (faults & DRV_NO_MEMORY)
		snprintf(why, why_len, "the target has not enough memory for the layer's arrays (and %d-byte guards)",
		         CVG_GUARD);
	else if (faults & DRV_BAD_CALL)
		snprintf(why, why_len, "the program could not read its call (a driver that does not fit the layer?)");
	else if (faults & DRV_INPUT_WRITTEN)
		snprintf(why, why_len, "wrote into an input array or next to one (inputs are const)");
	else if (faults & DRV_BELOW_OUTPUT)
		snprintf(why, why_len, "wrote before the start of %s", vf_out_name((enum cg_op)op, first_out(faults)));
	else if (faults & DRV_ABOVE_OUTPUT)
		snprintf(why, why_len, "wrote past the end of %s", vf_out_name((enum cg_op)op, first_out(faults)));
	else if (faults & DRV_BELOW_WORKSPACE)
		snprintf(why, why_len, "wrote before the start of its workspace");
	else if (faults & DRV_ABOVE_WORKSPACE)
		snprintf(why, why_len, "wrote past the end of its workspace");
	else if (!ok)
		snprintf(why, why_len, "the program's output ended early");
	else if (op >= 0 && !(WIFEXITED(st) && WEXITSTATUS(st) == 0))
		explain(p, st, why, why_len);
	else
		return 0;
	return -1;
}

void vf_prog_clean(struct vf_prog *p)
{
	static const char *const files[] = {
		"driver", "driver.c", "protocol.h", "cvg_layer.h", "mps2_startup.c", "mps2.ld", "call.in", "call.out",
		"run.log", "build.log",
	};
	char path[4400];
	size_t i;

	if (!p->dir[0])
		return;
	if (p->building) {   /* a run that ended early: its build is not wanted */
		kill(p->job.pid, SIGKILL);   /* the compiler's own children finish on their own */
		vf_prog_build_finish(p, "", 0);
	}
	for (i = 0; i < sizeof files / sizeof files[0]; i++) {
		snprintf(path, sizeof path, "%s/%s", p->dir, files[i]);
		unlink(path);
	}
	rmdir(p->dir);
}
