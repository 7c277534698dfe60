/* json.c: the report of 'verify --json', one JSON document built with
** jansson from the same 'struct vf_result's that report.c prints, so the two
** reports cannot disagree.  Keys keep the order they are added in
** (JSON_PRESERVE_ORDER) and nothing depends on time, host or temporary
** names: the same file and seed give the same bytes.  docs/verify.md
** describes every key. */
#define _POSIX_C_SOURCE 200809L   /* strdup */
#include <jansson.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include "vf.h"

/* Every json_object_set_new below goes through put(): it steals 'v' even on
** failure and accepts o == NULL or v == NULL, so an out-of-memory anywhere
** only sets '*bad', and the document is thrown away whole. */
static void put(json_t *o, const char *key, json_t *v, int *bad)
{
	if (json_object_set_new(o, key, v) != 0)
		*bad = 1;
}

/* json_string() refuses what is not UTF-8 (a file name may be anything):
** then each byte above 0x7f becomes '?'. */
static json_t *text(const char *s)
{
	json_t *v = json_string(s);
	char *copy, *p;

	if (v || !(copy = strdup(s)))
		return v;
	for (p = copy; *p; p++)
		if ((unsigned char)*p > 0x7f)
			*p = '?';
	v = json_string(copy);
	free(copy);
	return v;
}

/* A seed is an unsigned long; jansson's integers are signed 64-bit. */
static json_t *seed_value(unsigned long seed)
{
	char buf[32];

	if (seed <= (unsigned long)LLONG_MAX)
		return json_integer((json_int_t)seed);
	snprintf(buf, sizeof buf, "%lu", seed);
	return json_string(buf);
}

static json_t *layer_object(const struct cg_layer *l, const char *command, int *bad)
{
	json_t *o = json_object(), *ops = json_array();
	int op;

	for (op = 0; op < CG_N_OPS; op++)
		if ((l->ops & CG_OP_BIT(op)) && json_array_append_new(ops, json_string(cg_op_names[op])) != 0)
			*bad = 1;
	put(o, "name", json_string(l->name), bad);
	put(o, "dtype", json_string(l->dtype == CG_FLOAT ? "float" : "double"), bad);
	put(o, "target", json_string(cg_target_names[l->target]), bad);
	put(o, "ops", ops, bad);
	put(o, "batch", json_integer(l->n), bad);
	put(o, "in_channels", json_integer(l->c), bad);
	put(o, "out_channels", json_integer(l->k), bad);
	put(o, "groups", json_integer(l->g), bad);
	put(o, "input_h", json_integer(l->h), bad);
	put(o, "input_w", json_integer(l->w), bad);
	put(o, "kernel_h", json_integer(l->k1), bad);
	put(o, "kernel_w", json_integer(l->k2), bad);
	put(o, "stride_h", json_integer(l->sh), bad);
	put(o, "stride_w", json_integer(l->sw), bad);
	put(o, "padding_h", json_integer(l->ph), bad);
	put(o, "padding_w", json_integer(l->pw), bad);
	put(o, "padding_end_h", json_integer(l->eh), bad);
	put(o, "padding_end_w", json_integer(l->ew), bad);
	put(o, "dilation_h", json_integer(l->dh), bad);
	put(o, "dilation_w", json_integer(l->dw), bad);
	put(o, "output_h", json_integer(l->oh), bad);
	put(o, "output_w", json_integer(l->ow), bad);
	put(o, "activation", json_string(l->relu ? "relu" : "none"), bad);
	put(o, "momentum", json_boolean(l->momentum), bad);
	put(o, "layout", json_string(l->nhwc ? "nhwc" : "nchw"), bad);
	put(o, "workspace", json_boolean(l->workspace), bad);
	put(o, "stack_limit", l->stack_limit ? json_integer(l->stack_limit) : json_null(), bad);
	put(o, "optimize", json_string(l->optimize_size ? "size" : "speed"), bad);
	put(o, "command", text(command), bad);
	return o;
}

/* How the code under test was built and where it ran: these keys (and only
** these) depend on the machine. */
static json_t *build_object(const struct vf_ctx *x, int *bad)
{
	json_t *o = json_object();

	put(o, "cc", text(x->cc), bad);
	put(o, "compiler", x->cc_version[0] ? text(x->cc_version) : json_null(), bad);
	put(o, "cflags", text(x->cflags), bad);
	put(o, "exec", x->exec ? text(x->exec) : json_null(), bad);
	put(o, "memory", x->memory ? text(vf_memcheck_mode(x)) : json_null(), bad);
	return o;
}

/* "n=0,c=2,y=4,x=1" (vf_coord's form) as {"n": 0, "c": 2, "y": 4, "x": 1}. */
static json_t *coordinate(const char *where, int *bad)
{
	json_t *o = json_object();
	char key[8];
	long long v;
	int used;

	while (sscanf(where, "%7[a-z]=%lld%n", key, &v, &used) == 2) {
		put(o, key, json_integer(v), bad);
		where += used;
		if (*where != ',')
			break;
		where++;
	}
	return o;
}

static const char *verdict(const struct vf_result *r)
{
	if (r->passed)
		return "ok";
	if (r->not_run)
		return "not run";
	if (!r->applicable)
		return "not applicable";
	return "failed";
}

static json_t *failure(const struct vf_result *r, int *bad)
{
	json_t *o = json_object();

	put(o, "n_wrong", json_integer(r->n_wrong), bad);
	if (r->bad_direction)
		put(o, "direction", json_integer(r->bad_direction), bad);
	else
		put(o, "coordinate", r->where[0] ? coordinate(r->where, bad) : json_null(), bad);
	put(o, "expected", r->expected[0] ? json_string(r->expected) : json_null(), bad);
	put(o, "computed", r->computed[0] ? json_string(r->computed) : json_null(), bad);
	put(o, "timed_out", json_boolean(r->timed_out), bad);
	put(o, "detail", text(r->detail), bad);
	return o;
}

/* One check: the keys every check has, then its own (docs/verify.md). */
static json_t *check_object(const struct vf_ctx *x, const struct vf_result *r, int *bad)
{
	json_t *o = json_object(), *in = json_object();
	const char *unit = r->check == VF_FDIFF ? (r->directional ? "directions" : "coordinates")
	                 : r->check == VF_MEMORY ? "runs" : "outputs";

	put(o, "op", json_string(cg_op_names[r->op]), bad);
	put(o, "check", json_string(vf_check_names[r->check]), bad);
	put(o, "result", json_string(verdict(r)), bad);
	put(o, "n_checked", json_integer(r->n_items), bad);
	put(o, "unit", json_string(unit), bad);
	if (r->check == VF_ROUNDING) {   /* n_checked may be a sample of them */
		put(o, "n_outputs", json_integer(r->n_outputs), bad);
		put(o, "sampled", json_boolean(r->sampled), bad);
	}
	put(in, "seed", seed_value(r->seed), bad);
	if (r->check == VF_ROUNDING) {
		put(in, "kind", json_string("dyadic"), bad);
		put(in, "frac_bits", json_integer(r->frac_bits), bad);
	} else {
		put(in, "kind", json_string("integer"), bad);
		put(in, "magnitude_log2", r->magnitude_exp >= 0 ? json_integer(r->magnitude_exp)
		                                                : json_null(), bad);
	}
	put(o, "inputs", in, bad);
	if (r->check == VF_FDIFF && r->n_items > 0) {
		put(o, "mode", json_string(r->directional ? "directional" : "per-coordinate"), bad);
		if (r->directional) {
			put(o, "directions", json_integer(r->n_items), bad);
			put(o, "direction_length", json_integer(r->dir_len), bad);
			put(o, "set_size_log2", json_integer(r->dir_bits), bad);
			put(o, "bound_log2", json_integer(-(json_int_t)r->bound_exp), bad);
			put(o, "separable", json_boolean(r->separable), bad);
		}
	}
	if (r->check == VF_REFERENCE && r->passed) {
		json_t *later = json_object();
		put(o, "first_draw", json_string(r->first_projected ? "projection" : "full"), bad);
		put(o, "draws", json_integer(r->draws), bad);
		put(later, "min", json_integer(r->draw_positive ? 1 : -(json_int_t)r->draw_bound), bad);
		put(later, "max", json_integer((json_int_t)r->draw_bound), bad);
		put(later, "compared", json_string(r->projected ? "projection" : "full"), bad);
		put(o, "later_draws", r->draws > 1 ? later : (json_decref(later), json_null()), bad);
		put(o, "bound_all_inputs_log2", json_integer(-(json_int_t)r->bound_all_exp), bad);
	}
	if (r->check == VF_RELU_ZERO)
		put(o, "zeros_in_y", json_integer(r->n_zero), bad);
	if (r->op == CG_SGD_UPDATE && r->check == VF_REFERENCE) {
		put(o, "lr_log2", json_integer(-VF_LR_LOG), bad);
		put(o, "momentum_log2", r->momentum ? json_integer(-VF_MU_LOG) : json_null(), bad);
	}
	if (r->check == VF_ROUNDING) {
		json_t *t = json_object();
		put(t, "formula", json_string("gamma_n * sum |a_i*b_i|, gamma_n = n u / (1 - n u)"), bad);
		put(t, "u_log2", json_integer(-x->p), bad);
		put(t, "max_terms", json_integer((json_int_t)vf_max_terms(&x->l, r->op) +
		                                 (r->op == CG_SGD_UPDATE ? 2 : 0)), bad);   /* and W, v */
		put(o, "tolerance", t, bad);
	}
	put(o, "failure", r->passed ? json_null() : failure(r, bad), bad);
	return o;
}

int vf_report_json(FILE *out, const struct vf_ctx *x, const char *path, const char *command,
                   const struct vf_result *r, int n_results, int n_ops)
{
	json_t *root = json_object(), *checks = json_array(), *left_out;
	char *doc;
	int i, n_failed = 0, bad = 0;

	for (i = 0; i < n_results; i++) {
		n_failed += !r[i].passed;
		if (json_array_append_new(checks, check_object(x, &r[i], &bad)) != 0)
			bad = 1;
	}
	put(root, "convgen_version", json_string(CG_VERSION), &bad);
	put(root, "file", path ? text(path) : json_null(), &bad);
	put(root, "file_sha256", json_string(x->file_sha256), &bad);
	put(root, "layer", layer_object(&x->l, command, &bad), &bad);
	put(root, "build", build_object(x, &bad), &bad);
	put(root, "seed", seed_value(x->seed), &bad);
	put(root, "exhaustive", json_boolean(x->exhaustive), &bad);
	put(root, "proved", json_boolean(n_failed == 0), &bad);
	put(root, "bound_all_inputs_log2", n_failed == 0 ? json_integer(-(json_int_t)vf_bound_all_inputs(r, n_results))
	                                                 : json_null(), &bad);
	left_out = json_array();
	if (!x->memory && json_array_append_new(left_out, json_string("memory")) != 0)
		bad = 1;
	put(root, "left_out", left_out, &bad);
	put(root, "n_ops", json_integer(n_ops), &bad);
	put(root, "n_checks", json_integer(n_results), &bad);
	put(root, "n_failed", json_integer(n_failed), &bad);
	put(root, "checks", checks, &bad);
	doc = bad ? NULL : json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(root);
	if (!doc)
		return -1;
	fputs(doc, out);
	fputc('\n', out);
	fflush(out);
	free(doc);
	return 0;
}
