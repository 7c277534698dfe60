/* test_json.c: 'verify --json' is for machines, so every promise is checked
** by parsing it with jansson: the document says what the text report says
** (proved or not, each op and check, the failing coordinate), states the
** directional failure bound, keeps stdout empty on errors that are not
** check failures, and the progress line goes to a terminal only. */
#define _DEFAULT_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <pty.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "support.h"

/* A layer whose verify takes seconds (5 s on an AMD EPYC core), nearly all
** of it in the per-coordinate finite differences of grad_weight. */
#define SLOW_LAYER "--input 56x56 --kernel 3x3 --in-channels 8 --out-channels 8 " \
                   "--ops grad_weight --exhaustive"

/* Run convgen with 'args', expect exit 'status', parse stdout as one JSON object. */
static json_t *verify_json(struct run *r, const char *args, int status)
{
	json_error_t e;
	json_t *root;

	run_convgen(r, NULL, NULL, args);
	cr_assert_eq(r->status, status, "convgen %s: exit %d, expected %d\n%s%s", args, r->status,
	             status, r->out, r->err);
	root = json_loads(r->out, 0, &e);
	cr_assert(root, "convgen %s: stdout is not JSON: %s at line %d\n%s", args, e.text, e.line, r->out);
	cr_assert(json_is_object(root), "convgen %s: not a JSON object", args);
	return root;
}

static const char *str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	cr_assert(s, "no string \"%s\"", key);
	return s;
}

static json_int_t num(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	cr_assert(json_is_integer(v), "no integer \"%s\"", key);
	return json_integer_value(v);
}

/* The entry of "checks" for 'op' and 'check', or NULL. */
static json_t *find_check(json_t *root, const char *op, const char *check)
{
	json_t *checks = json_object_get(root, "checks"), *c;
	size_t i;

	cr_assert(json_is_array(checks), "no \"checks\" array");
	json_array_foreach(checks, i, c)
		if (!strcmp(str(c, "op"), op) && !strcmp(str(c, "check"), check))
			return c;
	return NULL;
}

Test(json, proves_a_passing_layer_with_every_op_and_check)
{
	static const char *const want[][2] = {
		{ "forward", "reference" }, { "forward", "rounding" }, { "forward", "memory" },
		{ "grad_weight", "reference" }, { "grad_weight", "finite-diff" }, { "grad_weight", "rounding" },
		{ "grad_weight", "memory" },
		{ "grad_input", "reference" }, { "grad_input", "finite-diff" }, { "grad_input", "rounding" },
		{ "grad_input", "memory" },
		{ "grad_bias", "reference" }, { "grad_bias", "finite-diff" }, { "grad_bias", "rounding" },
		{ "grad_bias", "memory" },
	};
	struct run *r = malloc(sizeof *r);
	json_t *root = verify_json(r, "verify --input 5x5 --kernel 3x3 --target cortex-m7 --name conv1 --json", 0);
	json_t *layer = json_object_get(root, "layer"), *checks = json_object_get(root, "checks"), *c;
	size_t i;

	cr_expect(json_is_true(json_object_get(root, "proved")), "%s", r->out);
	cr_expect_str_eq(str(root, "convgen_version"), "0.1.0");
	cr_expect(json_is_null(json_object_get(root, "file")), "verify LAYER checks a private copy");
	cr_expect_eq(num(root, "seed"), 1);
	cr_expect_eq(num(root, "n_ops"), 4);
	cr_expect_eq(num(root, "n_failed"), 0);
	cr_assert(json_is_object(layer));
	cr_expect_str_eq(str(layer, "name"), "conv1");
	cr_expect_str_eq(str(layer, "dtype"), "float");
	cr_expect_str_eq(str(layer, "target"), "cortex-m7");
	cr_expect_eq(num(layer, "input_h"), 5);
	cr_expect_eq(num(layer, "kernel_w"), 3);
	cr_expect_eq(num(layer, "output_h"), 3);
	cr_expect_eq(json_array_size(json_object_get(layer, "ops")), 4);
	/* The complete proof: nothing left out, and how the code was built. */
	cr_expect_eq(json_array_size(json_object_get(root, "left_out")), 0);
	cr_expect(json_is_null(json_object_get(json_object_get(root, "build"), "exec")));
	cr_expect(strncmp(str(json_object_get(root, "build"), "memory"), "ASan -O0", 8) == 0, "%s", r->out);
	cr_expect(strncmp(str(layer, "command"), "convgen generate --input 5x5 --kernel 3x3 ", 42) == 0,
	          "%s", str(layer, "command"));
	cr_assert_eq(json_array_size(checks), sizeof want / sizeof want[0], "%s", r->out);
	json_array_foreach(checks, i, c) {
		cr_expect_str_eq(str(c, "op"), want[i][0], "check %zu", i);
		cr_expect_str_eq(str(c, "check"), want[i][1], "check %zu", i);
		cr_expect_str_eq(str(c, "result"), "ok", "%s %s", want[i][0], want[i][1]);
		cr_expect(json_is_null(json_object_get(c, "failure")));
		cr_expect_eq(num(json_object_get(c, "inputs"), "seed"), 1);
		cr_expect(num(c, "n_checked") > 0);
	}
	/* So few outputs: rounding compares every one of them, and says so. */
	c = find_check(root, "forward", "rounding");
	cr_expect(json_is_false(json_object_get(c, "sampled")), "%s", r->out);
	cr_expect_eq(num(c, "n_outputs"), num(c, "n_checked"));
	cr_expect_eq(num(c, "n_outputs"), 9);
	/* The seed layer is small: finite differences run on every coordinate. */
	cr_expect_str_eq(str(find_check(root, "grad_input", "finite-diff"), "mode"), "per-coordinate");
	cr_expect_eq(num(find_check(root, "grad_input", "finite-diff"), "n_checked"), 25);
	cr_expect_str_eq(r->err, "", "stderr not empty on success");
	json_decref(root);
	free(r);
}

Test(json, names_the_failing_op_check_and_coordinate)
{
	struct run *r = malloc(sizeof *r);
	char path[1024], args[1100];
	json_t *root, *c, *f, *at, *ops;

	snprintf(path, sizeof path, "%s/tests/fixtures/no_flip/no_flip.c", SOURCE_DIR);
	snprintf(args, sizeof args, "verify --file %s --json", path);
	/* reference: the fixture's grad_input forgets the flip, so the exact value differs. */
	root = verify_json(r, args, 1);
	cr_expect(json_is_false(json_object_get(root, "proved")), "%s", r->out);
	cr_expect(num(root, "n_failed") >= 1);
	cr_expect_str_eq(str(root, "file"), path, "the file as given");
	cr_expect_str_eq(str(json_object_get(root, "layer"), "name"), "no_flip");
	ops = json_object_get(json_object_get(root, "layer"), "ops");
	cr_expect(json_array_size(ops) == 1 && !strcmp(json_string_value(json_array_get(ops, 0)), "grad_input"),
	          "the fixture has grad_input only");
	/* compare: the failed check names its coordinate, expected and computed. */
	c = find_check(root, "grad_input", "reference");
	cr_assert(c, "no grad_input reference entry:\n%s", r->out);
	cr_expect_str_eq(str(c, "result"), "failed");
	f = json_object_get(c, "failure");
	cr_assert(json_is_object(f), "%s", r->out);
	at = json_object_get(f, "coordinate");
	cr_assert(json_is_object(at), "%s", r->out);
	cr_expect_eq(num(at, "n"), 0);
	cr_expect_eq(num(at, "c"), 0);
	cr_expect_eq(num(at, "y"), 0);
	cr_expect_eq(num(at, "x"), 0);
	cr_expect_str_neq(str(f, "expected"), str(f, "computed"));
	cr_expect(strstr(str(f, "detail"), "grad_input[n=0,c=0,y=0,x=0]: expected ") != NULL);
	cr_expect(num(f, "n_wrong") >= 1);
	/* finite differences, which use no gradient formula, disagree at the same place. */
	c = find_check(root, "grad_input", "finite-diff");
	cr_assert(c);
	cr_expect_str_eq(str(c, "result"), "failed");
	cr_expect_str_eq(str(c, "mode"), "per-coordinate");
	at = json_object_get(json_object_get(c, "failure"), "coordinate");
	cr_expect(json_is_object(at) && json_integer_value(json_object_get(at, "x")) == 0, "%s", r->out);
	cr_expect(find_check(root, "forward", "reference") == NULL, "no forward in the fixture");
	json_decref(root);
	free(r);
}

Test(json, states_a_bound_of_at_most_2_to_the_minus_64_for_directions)
{
	struct run *r = malloc(sizeof *r);
	/* 80x80: |I| times one forward pass is above 2^28, so grad_input goes directional. */
	json_t *root = verify_json(r, "verify --input 80x80 --kernel 3x3 --ops grad_input --json", 0);
	json_t *c = find_check(root, "grad_input", "finite-diff");

	cr_assert(c, "%s", r->out);
	cr_expect_str_eq(str(c, "mode"), "directional");
	cr_expect(num(c, "bound_log2") <= -64, "bound_log2 %lld", (long long)num(c, "bound_log2"));
	cr_expect_eq(num(c, "directions"), num(c, "n_checked"));
	cr_expect_eq(num(c, "direction_length"), 80 * 80);
	cr_expect(num(c, "set_size_log2") * num(c, "directions") >= 64);
	json_decref(root);
	free(r);
}

/* The bound over all inputs: every op's reference check makes enough
** independent draws for 2^-64, the later ones compared through projections
** on a layer this size, and the bound follows from the draws it states. */
Test(json, states_a_bound_over_all_inputs_of_2_to_the_minus_64_per_op)
{
	static const char *const ops[] = { "forward", "grad_weight", "grad_bias" };
	struct run *r = malloc(sizeof *r);
	json_t *root = verify_json(r, "verify --input 64x64 --kernel 3x3 --padding 1 --batch 2 --in-channels 8 "
	                              "--out-channels 8 --ops forward,grad_weight,grad_bias --no-memory --json", 0);
	long long weakest = -1000;
	size_t i;

	for (i = 0; i < sizeof ops / sizeof ops[0]; i++) {
		json_t *c = find_check(root, ops[i], "reference"), *later;
		long long bound, draws, top;
		cr_assert(c, "%s", r->out);
		bound = num(c, "bound_all_inputs_log2");
		draws = num(c, "draws");
		later = json_object_get(c, "later_draws");
		cr_assert(json_is_object(later), "%s: %s", ops[i], r->out);
		top = num(later, "max");
		cr_expect(bound <= -64, "%s: bound 2^%lld", ops[i], bound);
		cr_expect(draws >= 2, "%s: %lld draws", ops[i], draws);
		cr_expect_eq(num(later, "min"), -top);
		/* no draw misses with probability below deg/(2 max + 1) */
		cr_expect(-bound <= draws * log2((2.0 * (double)top + 1) / (i == 2 ? 1 : 2)) + 1,
		          "%s: 2^%lld from %lld draws in [-%lld, %lld]", ops[i], bound, draws, top, top);
		cr_expect_str_eq(str(later, "compared"), i == 2 ? "full" : "projection", "%s", ops[i]);
		if (bound > weakest)
			weakest = bound;
	}
	cr_expect_eq(num(root, "bound_all_inputs_log2"), weakest);
	json_decref(root);
	free(r);
}

/* Too large to check every output exactly: forward's reference work is
** 2^29 multiply-adds (289 terms per output), so rounding compares a sample
** worth 2^28 of them, 2^28 / 289 outputs, and the memory check's two runs
** (2^30 and more) are built at -O1; both say so. */
Test(json, a_large_layer_samples_rounding_and_builds_the_memory_check_at_O1)
{
	struct run *r = malloc(sizeof *r);
	json_t *root = verify_json(r, "verify --input 64x64 --kernel 3x3 --batch 16 --in-channels 32 "
	                              "--out-channels 32 --ops forward --json", 0);
	json_t *c = find_check(root, "forward", "rounding");

	cr_assert(c, "%s", r->out);
	cr_expect_str_eq(str(c, "result"), "ok");
	cr_expect(json_is_true(json_object_get(c, "sampled")), "%s", r->out);
	cr_expect_eq(num(c, "n_outputs"), 16 * 32 * 62 * 62);
	cr_expect_eq(num(c, "n_checked"), (1 << 28) / 289);
	cr_expect(strncmp(str(json_object_get(root, "build"), "memory"), "ASan -O1", 8) == 0, "%s", r->out);
	cr_expect_str_eq(str(find_check(root, "forward", "memory"), "result"), "ok");
	json_decref(root);
	free(r);
}

Test(json, is_the_same_bytes_every_run_and_follows_the_seed)
{
	struct run *a = malloc(sizeof *a), *b = malloc(sizeof *b);
	json_t *root;

	root = verify_json(a, "verify --input 4x5 --kernel 2x2 --dtype double --seed 7 --json", 0);
	run_convgen(b, NULL, NULL, "verify --input 4x5 --kernel 2x2 --dtype double --seed 7 --json");
	cr_expect_str_eq(a->out, b->out, "two runs differ");
	cr_expect_eq(num(root, "seed"), 7);
	cr_expect_eq(num(json_object_get(find_check(root, "forward", "reference"), "inputs"), "seed"), 7);
	cr_expect_eq(num(json_object_get(find_check(root, "forward", "rounding"), "tolerance"), "u_log2"), -53);
	json_decref(root);
	free(a);
	free(b);
}

/* Errors that are not check failures: a message on stderr, nothing on stdout. */
Test(json, leaves_stdout_empty_when_the_file_is_missing)
{
	struct run *r = malloc(sizeof *r);

	run_convgen(r, NULL, NULL, "verify --file /nonexistent/conv.c --json");
	cr_expect_eq(r->status, 1);
	cr_expect_str_eq(r->out, "");
	cr_expect(strncmp(r->err, "convgen: /nonexistent/conv.c: ", strlen("convgen: /nonexistent/conv.c: ")) == 0,
	          "%s", r->err);
	free(r);
}

Test(json, leaves_stdout_empty_when_the_compiler_fails)
{
	struct run *r = malloc(sizeof *r);

	run_convgen(r, NULL, "false", "verify --input 5x5 --kernel 3x3 --json");
	cr_expect_eq(r->status, 1);
	cr_expect_str_eq(r->out, "");
	cr_expect(strstr(r->err, "convgen: ") != NULL && strstr(r->err, "C compiler") != NULL, "%s", r->err);
	free(r);
}

/* A run over a second with stderr in a file: no progress line, stderr empty. */
/* A log (stderr not a terminal) gets nothing from a run shorter than the
** interval, 5 s by default. */
Test(progress, a_log_gets_nothing_from_a_short_run)
{
	struct run *r = malloc(sizeof *r);
	json_t *root = verify_json(r, "verify --input 8x8 --kernel 3x3 --ops grad_weight --exhaustive --json", 0);

	cr_expect_str_eq(r->err, "", "stderr is a file, yet:\n%s", r->err);
	json_decref(root);
	free(r);
}

/* A run the model says is long is announced on stderr before it starts
** ($CONVGEN_ANNOUNCE_SECONDS lowers the 30 s threshold so that a small layer
** shows it), and a short one is not. */
Test(progress, a_long_run_is_announced_with_an_estimate)
{
	struct run *r = malloc(sizeof *r);
	const char *args = "verify --input 16x16 --kernel 3x3 --ops forward --no-memory";

	setenv("CONVGEN_ANNOUNCE_SECONDS", "0.000001", 1);
	run_convgen(r, NULL, NULL, args);
	unsetenv("CONVGEN_ANNOUNCE_SECONDS");
	cr_expect_eq(r->status, 0, "%s%s", r->out, r->err);
	cr_expect(strstr(r->err, "convgen: verify: a large layer (2e+03 multiply-adds per call): this run takes "
	                         "about ") != NULL, "%s", r->err);
	run_convgen(r, NULL, NULL, args);
	cr_expect(strstr(r->err, "this run takes") == NULL, "%s", r->err);
	free(r);
}

/* A longer run than the interval (1 s here, by $CONVGEN_PROGRESS_SECONDS)
** gives a log whole lines, "[verify] 1/N ... (S s)", never a carriage
** return, and stdout still holds the JSON alone. */
Test(progress, a_log_gets_a_line_every_interval)
{
	struct run *r = malloc(sizeof *r);
	json_t *root;
	const char *p;

	setenv("CONVGEN_PROGRESS_SECONDS", "1", 1);
	root = verify_json(r, "verify " SLOW_LAYER " --json", 0);
	unsetenv("CONVGEN_PROGRESS_SECONDS");
	cr_expect(strncmp(r->err, "[verify] ", 9) == 0, "no progress line in the log:\n%s", r->err);
	cr_expect(strchr(r->err, '\r') == NULL, "a carriage return in a log:\n%s", r->err);
	for (p = r->err; *p; p = strchr(p, '\n') + 1) {
		const char *end = strchr(p, '\n');
		cr_assert(end, "a line without its end:\n%s", r->err);
		cr_expect(strncmp(p, "[verify] ", 9) == 0 && strncmp(end - 3, " s)", 3) == 0,
		          "not a progress line: %.*s", (int)(end - p), p);
	}
	json_decref(root);
	free(r);
}

static double seconds(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec / 1e9;
}

/* The same run with stderr on a pseudo-terminal shows '[verify] ...', and
** stdout (a file) still holds the JSON alone. */
Test(progress, shows_on_a_terminal_and_keeps_stdout_clean)
{
	char *argv[] = { CONVGEN, "verify", "--input", "56x56", "--kernel", "3x3", "--in-channels", "8",
	                 "--out-channels", "8", "--ops", "grad_weight", "--exhaustive", "--json", NULL };
	static char tty[65536], out[65536];
	FILE *f = tmpfile();
	size_t used = 0;
	ssize_t n;
	double t0 = seconds(), dt;
	int master, st;
	pid_t pid;
	json_t *root;

	cr_assert(f);
	fflush(NULL);
	pid = forkpty(&master, NULL, NULL, NULL);
	cr_assert(pid >= 0, "forkpty: %s", strerror(errno));
	if (pid == 0) {
		dup2(fileno(f), STDOUT_FILENO);
		execv(CONVGEN, argv);
		_exit(126);
	}
	while (used + 1 < sizeof tty && ((n = read(master, tty + used, sizeof tty - 1 - used)) > 0 ||
	                                   (n < 0 && errno == EINTR)))
		if (n > 0)
			used += (size_t)n;
	tty[used] = '\0';
	waitpid(pid, &st, 0);
	dt = seconds() - t0;
	close(master);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "exit status %d\n%s", st, tty);
	rewind(f);
	out[fread(out, 1, sizeof out - 1, f)] = '\0';
	fclose(f);
	root = json_loads(out, 0, NULL);
	cr_expect(json_is_true(json_object_get(root, "proved")), "stdout:\n%s", out);
	json_decref(root);
	if (dt < 1.3)
		cr_skip_test("the run took %.2f s: too fast to need a progress line", dt);
	cr_expect(strstr(tty, "\r[verify] 2/4 grad_weight finite-diff ") != NULL, "terminal got:\n%s", tty);
	/* The line is erased at the end: the last bytes blank it and return the cursor. */
	cr_expect(used > 0 && tty[used - 1] == '\r', "the progress line is left on the screen");
}

/* JSON strings are UTF-8: a path that is not (a Latin-1 directory name) is
** reported with '?' for each byte outside ASCII, not dropped. */
Test(json, names_a_path_that_is_not_utf8_with_question_marks)
{
	struct run *r = malloc(sizeof *r);
	char dir[256], sub[300], args[400], want[400];
	json_t *root;
	cr_assert(scratch_dir(dir, sizeof dir));
	snprintf(sub, sizeof sub, "%s/caf\xe9", dir);
	cr_assert_eq(generate(sub, "k", "--input 5x5 --kernel 3x3 --ops grad_bias"), 0);
	snprintf(args, sizeof args, "verify --file %s/k.c --json --no-memory", sub);
	root = verify_json(r, args, 0);
	snprintf(want, sizeof want, "%s/caf?/k.c", dir);
	cr_expect_str_eq(str(root, "file"), want);
	json_decref(root);
	free(r);
	remove_dir(dir);
}

/* The report names the bytes it proved (the SHA-256 that sha256sum gives for
** the file) and the whole layer, the code options and the padding at the end
** included, so that a JSON document alone says what was proven. */
Test(json, names_the_file_by_its_sha256_and_the_whole_layer)
{
	char dir[256], args[512], cmd[700], want[80] = "";
	struct run *r = malloc(sizeof *r);
	json_t *root, *layer;
	FILE *p;
	cr_assert(scratch_dir(dir, sizeof dir));
	cr_assert_eq(generate(dir, "conv", "--input 6x5 --kernel 3x3 --padding 1 --padding-end 0x2 --layout nhwc "
	                                   "--workspace --stack-limit 4096 --optimize size --target generic"), 0);
	snprintf(cmd, sizeof cmd, "sha256sum %s/conv.c", dir);
	p = popen(cmd, "r");
	cr_assert(p && fscanf(p, "%64s", want) == 1, "sha256sum failed");
	pclose(p);
	snprintf(args, sizeof args, "verify --file %s/conv.c --json --no-memory", dir);
	root = verify_json(r, args, 0);
	cr_expect_str_eq(str(root, "file_sha256"), want);
	layer = json_object_get(root, "layer");
	cr_assert(json_is_object(layer));
	cr_expect_eq(num(layer, "padding_h"), 1);
	cr_expect_eq(num(layer, "padding_end_h"), 0);
	cr_expect_eq(num(layer, "padding_end_w"), 2);
	cr_expect_str_eq(str(layer, "layout"), "nhwc");
	cr_expect(json_is_true(json_object_get(layer, "workspace")));
	cr_expect_eq(num(layer, "stack_limit"), 4096);
	cr_expect_str_eq(str(layer, "optimize"), "size");
	json_decref(root);
	/* and another file, another hash */
	snprintf(cmd, sizeof cmd, "printf '\\n' >> %s/conv.c", dir);
	cr_assert_eq(run_shell(cmd), 0);
	root = verify_json(r, args, 0);
	cr_expect(strcmp(str(root, "file_sha256"), want) != 0, "a changed file kept its hash");
	json_decref(root);
	free(r);
	remove_dir(dir);
}
