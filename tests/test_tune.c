/* test_tune.c: 'convgen tune' times the candidates and writes a record that
** 'generate --tuning' applies; the canonical command then carries the choice,
** so regenerating from it needs no record.  Timings differ run to run: the
** tests check what the record says and does, not which candidate won. */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
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
