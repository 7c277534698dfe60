/* test_kernels_asan.c: generated kernels under AddressSanitizer and UBSan
** For each row of layers.inc, generate the layer (float on even
** rows, double on odd ones), compile NAME.c with a small driver using
** -fsanitize=address,undefined -fno-sanitize-recover=all, give every op heap
** buffers of exactly the sizes NAME.h documents (NAME_INPUT_SIZE, ...), and
** call all four ops, forward with and without a bias.  One element read or
** written past any array, or any undefined behaviour, ends the driver with a
** report: the test fails and shows it.  Skipped, with a message, when the C
** compiler has no sanitizer runtime. */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

/* -O0: with -g, -O1 spends 10 s on the larger rows in var-tracking; ASan checks every access at -O0. */
#define SAN_FLAGS "-std=c99 -O0 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"

/* The driver: malloc'ed arrays of exactly the documented sizes, every op. */
static const char driver[] =
	"#include <stdio.h>\n"
	"#include <stdlib.h>\n"
	"#include \"k.h\"\n"
	"static T *array(size_t n, unsigned seed)\n"
	"{\n"
	"\tT *p = malloc(n * sizeof *p);\n"
	"\tsize_t i;\n"
	"\tif (!p) { perror(\"malloc\"); exit(3); }\n"
	"\tfor (i = 0; i < n; i++)\n"
	"\t\tp[i] = (T)((int)((i * 7 + seed) % 13) - 6) / 4;\n"
	"\treturn p;\n"
	"}\n"
	"static double sum(const T *p, size_t n)\n"
	"{\n"
	"\tdouble s = 0;\n"
	"\tsize_t i;\n"
	"\tfor (i = 0; i < n; i++) s += p[i];\n"
	"\treturn s;\n"
	"}\n"
	"int main(void)\n"
	"{\n"
	"\tT *in = array(k_INPUT_SIZE, 1), *w = array(k_WEIGHT_SIZE, 2), *b = array(k_BIAS_SIZE, 3);\n"
	"\tT *y = array(k_OUTPUT_SIZE, 4), *dy = array(k_OUTPUT_SIZE, 5);\n"
	"\tT *dw = array(k_WEIGHT_SIZE, 6), *di = array(k_INPUT_SIZE, 7), *db = array(k_BIAS_SIZE, 8);\n"
	"\tk_forward(in, w, b, y);\n"
	"\tprintf(\"forward %g\\n\", sum(y, k_OUTPUT_SIZE));\n"
	"\tk_forward(in, w, NULL, y);\n"
	"\tprintf(\"forward, no bias %g\\n\", sum(y, k_OUTPUT_SIZE));\n"
	"\tk_grad_weight(in, dy, dw);\n"
	"\tprintf(\"grad_weight %g\\n\", sum(dw, k_WEIGHT_SIZE));\n"
	"\tk_grad_input(w, dy, di);\n"
	"\tprintf(\"grad_input %g\\n\", sum(di, k_INPUT_SIZE));\n"
	"\tk_grad_bias(dy, db);\n"
	"\tprintf(\"grad_bias %g\\n\", sum(db, k_BIAS_SIZE));\n"
	"\tfree(in); free(w); free(b); free(y); free(dy); free(dw); free(di); free(db);\n"
	"\treturn 0;\n"
	"}\n";

static const char *compiler(void)
{
	const char *cc = getenv("CC");
	return cc && *cc ? cc : "cc";
}

/* Can the compiler build and run a sanitized program here? */
static int sanitizers_work(const char *dir)
{
	char cmd[2048];
	snprintf(cmd, sizeof cmd,
	         "cd '%s' && printf 'int main(void) { return 0; }\\n' > probe.c && "
	         "%s " SAN_FLAGS " probe.c -o probe >/dev/null 2>&1 && ./probe", dir, compiler());
	return run_shell(cmd) == 0;
}

static void check_under_asan(const char *id, int row, const char *opts)
{
	const char *dtype = row % 2 ? "double" : "float";
	char dir[256], layer[1024], cmd[4096], path[400];
	char *log;
	FILE *f;
	int status;
	cr_assert(scratch_dir(dir, sizeof dir));
	if (!sanitizers_work(dir)) {
		remove_dir(dir);
		cr_skip_test("%s: '%s -fsanitize=address,undefined' cannot build and run a program here "
		             "(no sanitizer runtime?)", id, compiler());
	}
	snprintf(layer, sizeof layer, "%s --dtype %s", opts, dtype);
	cr_assert_eq(generate(dir, "k", layer), 0, "convgen generate %s failed", layer);
	snprintf(path, sizeof path, "%s/driver.c", dir);
	f = fopen(path, "w");
	cr_assert(f);
	fputs(driver, f);
	fclose(f);
	/* reference: none needed; the sanitizers are the oracle. call: */
	snprintf(cmd, sizeof cmd,
	         "cd '%s' && %s " SAN_FLAGS " -DT=%s driver.c k.c -o driver > log 2>&1 && "
	         "ASAN_OPTIONS=detect_leaks=1 ./driver >> log 2>&1", dir, compiler(), dtype);
	status = run_shell(cmd);
	snprintf(path, sizeof path, "%s/log", dir);
	log = read_file(path, NULL);
	/* compare */
	cr_expect_eq(status, 0, "%s (%s): exit %d\nconvgen generate %s\n%s", id, dtype, status, layer,
	             log ? log : "(no log)");
	cr_expect(log && strstr(log, "Sanitizer") == NULL && strstr(log, "runtime error") == NULL,
	          "%s (%s): sanitizer report\n%s", id, dtype, log ? log : "(no log)");
	cr_expect(log && strstr(log, "grad_bias ") != NULL, "%s (%s): the driver did not finish\n%s",
	          id, dtype, log ? log : "(no log)");
	free(log);
	remove_dir(dir);
}

#define LAYER(id, opts) \
	Test(full_kernels_asan, id) { check_under_asan(#id, __LINE__, opts); }
#include "layers.inc"
