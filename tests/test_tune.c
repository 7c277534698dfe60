/* test_tune.c: 'convgen tune' times the candidates and writes a record that
** 'generate --tuning' applies; the canonical command then carries the choice,
** so regenerating from it needs no record.  Timings differ run to run: the
** tests check what the record says and does, not which candidate won. */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

#define LAYER "--input 20x18 --kernel 3x3 --padding 1 --in-channels 2 --out-channels 4 --target x86-64-v3"

/* The value of the record's line starting with 'key ' (malloc'ed), or NULL. */
static char *record_line(const char *text, const char *key)
{
	const char *p = text;
	size_t klen = strlen(key);
	while (p && *p) {
		const char *end = strchr(p, '\n');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len >= klen && strncmp(p, key, klen) == 0 && (len == klen || p[klen] == ' ')) {
			size_t off = len > klen ? klen + 1 : klen;
			char *v = malloc(len - off + 1);
			memcpy(v, p + off, len - off);
			v[len - off] = '\0';
			return v;
		}
		p = end ? end + 1 : NULL;
	}
	return NULL;
}

Test(tune, record_is_applied_by_generate_and_proven, .timeout = 120)
{
	char dir[256], args[1024], path[512], expect[2048];
	char *rec, *layer, *schedule, *c;
	struct run *r = malloc(sizeof *r);
	cr_assert(scratch_dir(dir, sizeof dir));
	snprintf(args, sizeof args, "tune " LAYER " -o %s/rec/l.tune", dir);
	run_convgen(r, NULL, NULL, args);
	cr_assert_eq(r->status, 0, "convgen %s: exit %d\n%s%s", args, r->status, r->out, r->err);
	snprintf(path, sizeof path, "%s/rec/l.tune", dir);
	rec = read_file(path, NULL);
	cr_assert(rec, "no record %s", path);
	cr_expect_str_eq(r->out, rec, "the table printed is the record written");
	cr_expect(strstr(rec, "the model's own") != NULL, "the record lists the model's own schedule:\n%s", rec);
	cr_expect(strstr(rec, "lanes=16,acc=16,roll=0") != NULL, "the record lists every candidate:\n%s", rec);
	layer = record_line(rec, "layer");
	schedule = record_line(rec, "schedule");
	cr_assert(layer && schedule, "record without layer or schedule line:\n%s", rec);
	cr_expect_str_eq(layer, "--input 20x18 --kernel 3x3 --batch 1 --in-channels 2 --out-channels 4 "
	                 "--groups 1 --stride 1x1 --padding 1x1 --dilation 1x1 --target x86-64-v3 --dtype float");

	/* generate --tuning: the command in the header carries the record's schedule */
	snprintf(args, sizeof args, "generate " LAYER " --tuning %s/rec/l.tune -o %s/a", dir, dir);
	run_convgen(r, NULL, NULL, args);
	cr_assert_eq(r->status, 0, "convgen %s: exit %d\n%s", args, r->status, r->err);
	snprintf(path, sizeof path, "%s/a/conv.c", dir);
	c = read_file(path, NULL);
	cr_assert(c);
	snprintf(expect, sizeof expect, "--target x86-64-v3%s%s --dtype float", schedule[0] ? " --schedule " : "", schedule);
	cr_expect(strstr(c, expect) != NULL, "header lacks '%s':\n%.600s", expect, c);

	/* the same choice given as --schedule gives the same bytes: no record needed */
	if (schedule[0])
		snprintf(args, sizeof args, "%s --schedule %s", LAYER, schedule);
	else
		snprintf(args, sizeof args, "%s", LAYER);
	snprintf(path, sizeof path, "%s/b", dir);
	cr_assert_eq(generate(path, "conv", args), 0);
	snprintf(args, sizeof args, "cmp %s/a/conv.c %s/b/conv.c && cmp %s/a/conv.h %s/b/conv.h", dir, dir, dir, dir);
	cr_expect_eq(run_shell(args), 0, "--tuning and --schedule with the record's text differ");

	/* and the tuned file is proven */
	snprintf(args, sizeof args, "verify --file %s/a/conv.c", dir);
	run_convgen(r, NULL, NULL, args);
	cr_expect_eq(r->status, 0, "convgen %s: exit %d\n%s%s", args, r->status, r->out, r->err);
	free(rec);
	free(layer);
	free(schedule);
	free(c);
	free(r);
	remove_dir(dir);
}

/* Every candidate of every op is a schedule the layer table's checks hold for:
** a tuned file can be any of them. */
Test(tune, every_candidate_is_proven, .timeout = 240)
{
	static const char *const cands[] = { "lanes=8,acc=8,roll=0", "lanes=16,acc=8,roll=1",
	                                     "lanes=16,acc=16,roll=0", "lanes=1,acc=16,roll=1",
	                                     "lanes=4,acc=1,roll=1", "lanes=64,acc=64,roll=1",
	                                     "lanes=8,acc=8,roll=2", "lanes=16,acc=16,roll=2" };
	static const char *const ops[] = { "forward", "grad_weight", "grad_input", "grad_bias" };
	char args[2048], sched[1024], one[64], *key;
	struct run *r = malloc(sizeof *r);
	size_t i, k;
	for (i = 0; i < sizeof cands / sizeof cands[0]; i++) {
		sched[0] = '\0';
		for (k = 0; k < 4; k++) {
			char copy[64];
			snprintf(copy, sizeof copy, "%s", cands[i]);
			for (key = strtok(copy, ","); key; key = strtok(NULL, ",")) {
				snprintf(one, sizeof one, "%s%s.%s", sched[0] ? "," : "", ops[k], key);
				strncat(sched, one, sizeof sched - strlen(sched) - 1);
			}
		}
		snprintf(args, sizeof args, "verify " LAYER " --dtype double --schedule %s", sched);
		run_convgen(r, NULL, NULL, args);
		cr_expect_eq(r->status, 0, "convgen %s: exit %d\n%s%s", args, r->status, r->out, r->err);
	}
	free(r);
}

/* tune works with every option that changes the code it times: each one
** alone, on a small layer, with the ops it changes most (compiling every
** candidate is most of a tune's time).  The record names the layer as given,
** every op generated has a time for every candidate (none left untimed),
** and the tuned file is proven. */
#define SMALL "--input 12x10 --kernel 3x3 --padding 1 --in-channels 2 --out-channels 4"
static const char *const tune_options[] = {
	"--target x86-64-v3 --workspace --ops grad_weight",
	"--target host --workspace --ops forward,grad_input",
	"--target x86-64-v3 --optimize size --ops forward,grad_bias",
	"--target x86-64-v3 --stack-limit 2048 --ops grad_input",
	"--target x86-64-v3 --layout nhwc --ops grad_weight",
	"--target x86-64-v3 --activation relu --ops grad_input,grad_bias",
	"--target x86-64-v3 --ops sgd_update --momentum",
	"--target x86-64-v3 --ops grad_weight,sgd_update --activation relu --workspace",
	"--target x86-64-v3 --dtype double --ops forward",
	"--target generic --ops grad_weight --activation relu",
	"--target generic",
};

/* Count the table's ops (the header row's words after "candidate") and, over
** the candidates' rows ("#   " and the candidate's name in 28 columns, then
** one time per op: "12.34*" or "12.34"), the times above 0 and the others. */
static void count_table(const char *rec, int *n_ops, int *candidates, int *timed, int *untimed)
{
	const char *line = rec;
	while (line && *line) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		char row[1024], *tok;
		snprintf(row, sizeof row, "%.*s", (int)len, line);
		if (strncmp(row, "#   candidate", 13) == 0) {
			for (tok = strtok(row + 13, " "); tok; tok = strtok(NULL, " "))
				++*n_ops;
		} else if (strncmp(row, "#   ", 4) == 0 && len > 32) {
			++*candidates;
			for (tok = strtok(row + 32, " "); tok; tok = strtok(NULL, " "))
				++*(strtod(tok, NULL) > 0 ? timed : untimed);
		}
		line = end ? end + 1 : NULL;
	}
}

static void tune_one(const char *opts)
{
	char dir[256], args[1024], path[512], *rec, *layer;
	struct run *r = malloc(sizeof *r);
	int candidates = 0, timed = 0, untimed = 0, n_ops = 0;
	cr_assert(scratch_dir(dir, sizeof dir));
	snprintf(args, sizeof args, "tune " SMALL " %s -o %s/l.tune", opts, dir);
	run_convgen(r, NULL, NULL, args);
	cr_assert_eq(r->status, 0, "convgen %s: exit %d\n%s%s", args, r->status, r->out, r->err);
	snprintf(path, sizeof path, "%s/l.tune", dir);
	rec = read_file(path, NULL);
	cr_assert(rec, "no record %s", path);
	layer = record_line(rec, "layer");
	cr_assert(layer, "no layer line:\n%s", rec);
	count_table(rec, &n_ops, &candidates, &timed, &untimed);
	cr_expect_gt(n_ops, 0);
	cr_expect_gt(candidates, 1, "one candidate only:\n%s", r->out);
	cr_expect_eq(timed, candidates * n_ops, "%d of %d x %d times above 0:\n%s", timed, candidates, n_ops, r->out);
	cr_expect_eq(untimed, 0);
	/* the record is of this layer: generate --tuning takes it, and the file is proven */
	snprintf(args, sizeof args, "generate " SMALL " %s --tuning %s/l.tune -o %s/a", opts, dir, dir);
	run_convgen(r, NULL, NULL, args);
	cr_assert_eq(r->status, 0, "convgen %s: exit %d\n%s", args, r->status, r->err);
	snprintf(args, sizeof args, "verify --file %s/a/conv.c --no-memory", dir);
	run_convgen(r, NULL, NULL, args);
	cr_expect_eq(r->status, 0, "convgen %s: exit %d\n%s%s", args, r->status, r->out, r->err);
	free(rec);
	free(layer);
	free(r);
	remove_dir(dir);
}

/* The parameters are indices: Criterion copies them into the test's own
** process, where a pointer of this one would point nowhere. */
static int option_index[sizeof tune_options / sizeof tune_options[0]];

ParameterizedTestParameters(tune, every_code_option)
{
	size_t i;
	for (i = 0; i < sizeof option_index / sizeof option_index[0]; i++)
		option_index[i] = (int)i;
	return cr_make_param_array(int, option_index, sizeof option_index / sizeof option_index[0]);
}

ParameterizedTest(int *i, tune, every_code_option, .timeout = 120)
{
	tune_one(tune_options[*i]);
}
