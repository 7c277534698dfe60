/* memcheck.c: the 'memory' check of 'verify --sanitize'.  The guard pages of
** run.c catch accesses past the end of the caller's arrays, but not an
** out-of-bounds access to the kernel's own stack arrays, nor one before the
** start of an input, nor undefined behaviour that happens to give the right
** numbers here.  So the file is built a second time, with a small driver, under
** AddressSanitizer and UBSan, and each op runs on heap arrays of exactly the
** sizes NAME.h documents; any report fails the check. */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "vf.h"

#define SANITIZE "-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"

/* The calls of each op, in the driver's switch; '@' stands for NAME. */
static const char *const calls[CG_N_OPS] = {
	"@_forward(input, weight, bias, output);\n\t\t@_forward(input, weight, NULL, output);",
	"@_grad_weight(input, output, weight);",
	"@_grad_input(weight, output, input);",
	"@_grad_bias(output, bias);",
};

/* Write the driver: 'driver OP' runs op OP once on malloc'ed arrays. */
static int write_driver(const struct vf_ctx *x, const char *path)
{
	const char *t = x->l.dtype == CG_FLOAT ? "float" : "double", *n = x->l.name;
	FILE *f = fopen(path, "w");
	int op;
	const char *p;

	if (!f)
		return -1;
	fprintf(f, "#include <stdlib.h>\n#include \"%s.h\"\n", n);
	fprintf(f, "static %s *array(size_t n)\n{\n\t%s *a = malloc(n * sizeof *a);\n\tsize_t i;\n"
	           "\tif (!a)\n\t\texit(3);\n\tfor (i = 0; i < n; i++)\n"
	           "\t\ta[i] = (%s)((int)(i * 7 %% 13) - 6) / 4;\n\treturn a;\n}\n", t, t, t);
	fprintf(f, "int main(int argc, char **argv)\n{\n");
	fprintf(f, "\t%s *input = array(%s_INPUT_SIZE), *weight = array(%s_WEIGHT_SIZE);\n", t, n, n);
	fprintf(f, "\t%s *bias = array(%s_BIAS_SIZE), *output = array(%s_OUTPUT_SIZE);\n", t, n, n);
	fprintf(f, "\tswitch (argc > 1 ? atoi(argv[1]) : -1) {\n");
	for (op = 0; op < CG_N_OPS; op++) {
		if (!(x->l.ops & CG_OP_BIT(op)))
			continue;
		fprintf(f, "\tcase %d:\n\t\t", op);
		for (p = calls[op]; *p; p++)
			if (*p == '@')
				fputs(n, f);
			else
				fputc(*p, f);
		fprintf(f, "\n\t\tbreak;\n");
	}
	fprintf(f, "\tdefault:\n\t\treturn 2;\n\t}\n");
	fprintf(f, "\tfree(input);\n\tfree(weight);\n\tfree(bias);\n\tfree(output);\n\treturn 0;\n}\n");
	return fclose(f) == 0 ? 0 : -1;
}

/* Run a command with stderr to 'log' (or /dev/null); returns its wait status. */
static int spawn(char *const argv[], const char *log, int timeout)
{
	pid_t pid;
	int st, fd;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		fd = open(log ? log : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
		}
		setenv("ASAN_OPTIONS", "detect_leaks=0:exitcode=86:abort_on_error=0", 1);
		setenv("UBSAN_OPTIONS", "halt_on_error=1:exitcode=86:print_stacktrace=1", 1);
		alarm((unsigned)timeout);   /* survives exec: a hung kernel is killed */
		execv(argv[0], argv);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return st;
}

/* The sanitizer's own summary of what went wrong: its first error line. */
static void first_report_line(const char *log, char *buf, size_t len)
{
	FILE *f = fopen(log, "r");
	char line[512];

	snprintf(buf, len, "exited abnormally");
	if (!f)
		return;
	while (fgets(line, sizeof line, f)) {
		char *s = strstr(line, "ERROR: ");
		if (!s)
			s = strstr(line, "runtime error: ");
		if (!s)
			s = strstr(line, "error: ");
		if (s) {
			s[strcspn(s, "\n")] = '\0';
			snprintf(buf, len, "%s", s);
			break;
		}
	}
	fclose(f);
}

int vf_memcheck_build(struct vf_ctx *x, const char *src, const char *dir)
{
	char driver[4200], inc[4200], *slash;
	int st;

	snprintf(driver, sizeof driver, "%s/memcheck.c", dir);
	snprintf(x->memcheck_exe, sizeof x->memcheck_exe, "%s/memcheck", dir);
	snprintf(x->memcheck_log, sizeof x->memcheck_log, "%s/memcheck.log", dir);
	/* NAME.c includes "NAME.h" from its own directory; the driver needs it too. */
	snprintf(inc, sizeof inc, "-I%s", src);
	slash = strrchr(inc, '/');
	if (slash)
		*slash = '\0';
	else
		snprintf(inc, sizeof inc, "-I.");
	if (write_driver(x, driver) != 0) {
		snprintf(x->memcheck_why, sizeof x->memcheck_why, "cannot write the driver: %s", strerror(errno));
		return -1;
	}
	{
		char *const argv[] = { "/bin/sh", "-c",
			"exec $CVG_CC -std=c99 -O1 -g $CFLAGS " SANITIZE " \"$@\"", "sh",
			inc, "-o", x->memcheck_exe, driver, (char *)src, NULL };
		setenv("CVG_CC", x->cc, 1);
		st = spawn(argv, x->memcheck_log, 600);
	}
	unlink(driver);
	if (st != 0) {
		char why[200];
		first_report_line(x->memcheck_log, why, sizeof why);
		snprintf(x->memcheck_why, sizeof x->memcheck_why,
		         "'%s' cannot build the file with -fsanitize=address,undefined (exit status %d): %s",
		         x->cc, WIFEXITED(st) ? WEXITSTATUS(st) : -1, why);
		return -1;
	}
	x->memcheck_built = 1;
	return 0;
}

int vf_check_memory(const struct vf_ctx *x, enum cg_op op, struct vf_result *r)
{
	char arg[8], why[400];
	int st;

	r->n_items = 1;
	if (!x->memcheck_built) {
		r->applicable = 0;
		snprintf(r->detail, sizeof r->detail, "not applicable: %s", x->memcheck_why);
		return 0;
	}
	snprintf(arg, sizeof arg, "%d", (int)op);
	{
		char *const argv[] = { (char *)x->memcheck_exe, arg, NULL };
		st = spawn(argv, x->memcheck_log, 600);
	}
	if (st == 0) {
		r->passed = 1;
		return 0;
	}
	if (WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM) {
		r->timed_out = 1;
		snprintf(r->detail, sizeof r->detail, "%s did not return within 600 s under the sanitizers",
		         cg_op_names[op]);
		return 0;
	}
	first_report_line(x->memcheck_log, why, sizeof why);
	r->n_wrong = 1;
	snprintf(r->detail, sizeof r->detail, "%s under ASan+UBSan: %s", cg_op_names[op], why);
	return 0;
}

void vf_memcheck_clean(const struct vf_ctx *x)
{
	if (x->memcheck_exe[0])
		unlink(x->memcheck_exe);
	if (x->memcheck_log[0])
		unlink(x->memcheck_log);
}
