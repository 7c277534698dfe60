/* verify.c: vf_verify_file, the one path through the checker: read the layer
** from the file's header, compile the file, run every check on every op it
** contains, print the report.  'verify LAYER' ends up here too. */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "vf.h"

#define MAX_RESULTS (CG_N_OPS * VF_N_CHECKS)

/* Which checks an op gets: forward has no gradient to difference, and the
** memory check runs only when asked for (it builds the file a second time). */
static int has_check(const struct vf_ctx *x, enum cg_op op, enum vf_check c)
{
	if (c == VF_MEMORY)
		return x->sanitize;
	return !(op == CG_FORWARD && c == VF_FDIFF);
}

static int (*const checks[VF_N_CHECKS])(const struct vf_ctx *, enum cg_op, struct vf_result *) = {
	vf_check_reference, vf_check_fdiff, vf_check_rounding, vf_check_memory
};

static void setup(struct vf_ctx *x, const struct cg_layer *l, const struct vf_options *o,
                  const char *so)
{
	memset(x, 0, sizeof *x);
	x->l = *l;
	x->so_path = so;
	x->exhaustive = o ? o->exhaustive : 0;
	x->seed = o ? o->seed : 1;
	x->sanitize = o ? o->sanitize : 0;
	x->cc = o && o->cc && *o->cc ? o->cc : "cc";
	x->size[VF_I] = cg_input_size(l);
	x->size[VF_W] = cg_weight_size(l);
	x->size[VF_B] = cg_bias_size(l);
	x->size[VF_Y] = cg_output_size(l);
	x->p = l->dtype == CG_FLOAT ? 24 : 53;
	x->elem = l->dtype == CG_FLOAT ? sizeof(float) : sizeof(double);
}

/* Run every check; returns CG_EXIT_OK or CG_EXIT_FAIL, msg set only for an
** internal error (the report describes failed checks).  The text report
** prints as it goes; the JSON report once all is known, so an internal error
** leaves stdout empty. */
static int run_checks(const struct vf_ctx *x, const struct vf_options *o, FILE *out,
                      const char *path, const char *command, char *msg, size_t msg_len)
{
	struct vf_result res[MAX_RESULTS];
	int n = 0, n_ops = 0, n_checks = 0, op, c, hung, json = o && o->json;

	for (op = 0; op < CG_N_OPS; op++)
		for (c = 0; c < VF_N_CHECKS; c++)
			n_checks += (x->l.ops & CG_OP_BIT(op)) && has_check(x, (enum cg_op)op, (enum vf_check)c);
	for (op = 0; op < CG_N_OPS; op++) {
		if (!(x->l.ops & CG_OP_BIT(op)))
			continue;
		n_ops++;
		hung = -1;
		for (c = 0; c < VF_N_CHECKS; c++) {
			struct vf_result *r = &res[n];
			if (!has_check(x, (enum cg_op)op, (enum vf_check)c))
				continue;
			memset(r, 0, sizeof *r);
			r->op = (enum cg_op)op;
			r->check = (enum vf_check)c;
			r->applicable = 1;
			r->magnitude_exp = -1;
			r->seed = x->seed;
			vf_progress_check(n + 1, n_checks, (enum cg_op)op, (enum vf_check)c);
			if (hung >= 0) {   /* one wait for a hung op is enough */
				r->not_run = 1;
				snprintf(r->detail, sizeof r->detail, "not run: %s did not return in the %s check",
				         cg_op_names[op], vf_check_names[hung]);
			} else if (checks[c](x, (enum cg_op)op, r) != 0) {
				vf_progress_clear();
				snprintf(msg, msg_len, "%s: internal error in the %s check of %s (out of memory "
				         "or a bound exceeded)", path, vf_check_names[c], cg_op_names[op]);
				return CG_EXIT_FAIL;
			}
			if (r->timed_out)
				hung = c;
			vf_progress_clear();
			if (!json)
				vf_report_result(out, r);
			n++;
		}
	}
	vf_progress_clear();
	if (!json)
		vf_report_summary(out, res, n, n_ops, x->seed);
	else if (vf_report_json(out, x, o->private_file ? NULL : path, command, res, n, n_ops) != 0) {
		snprintf(msg, msg_len, "%s: cannot build the JSON report: out of memory", path);
		return CG_EXIT_FAIL;
	}
	for (c = 0; c < n; c++)
		if (!res[c].passed)
			return CG_EXIT_FAIL;
	return CG_EXIT_OK;
}

int vf_verify_file(const char *path, const struct vf_options *o, FILE *out, char *msg, size_t msg_len)
{
	struct cg_layer l;
	struct vf_ctx x;
	char opts[1024], command[4200], dir[4096], so[4200], why[512];
	const char *tmp = getenv("TMPDIR");
	int rc;

	msg[0] = '\0';
	vf_progress_begin();
	rc = vf_read_header(path, &l, opts, sizeof opts, command, sizeof command, msg, msg_len);
	if (rc != CG_EXIT_OK)
		return rc;
	snprintf(dir, sizeof dir, "%s/convgen-verify-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		snprintf(msg, msg_len, "%s: cannot create a temporary directory: %s", path, strerror(errno));
		return CG_EXIT_FAIL;
	}
	snprintf(so, sizeof so, "%s/kernel.so", dir);
	setup(&x, &l, o, so);
	rc = vf_compile(o ? o->cc : NULL, path, so, msg, msg_len);
	if (rc == CG_EXIT_OK && vf_probe(&x, why, sizeof why) != 0) {
		snprintf(msg, msg_len, "%s: %s", path, why);
		rc = CG_EXIT_FAIL;
	}
	if (rc == CG_EXIT_OK && x.sanitize)
		vf_memcheck_build(&x, path, dir);   /* a failure is reported by the memory check */
	if (rc == CG_EXIT_OK) {
		if (!(o && o->json))
			vf_report_header(out, &l, opts);
		rc = run_checks(&x, o, out, path, command, msg, msg_len);
	}
	vf_memcheck_clean(&x);
	unlink(so);
	rmdir(dir);
	return rc;
}
