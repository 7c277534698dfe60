/* report.c: the text report, one aligned line per op and check, then a
** summary.  It only prints what the checks stored in 'struct vf_result', so a
** JSON printer can sit beside it and say the same. */
#include "vf.h"

const char *const vf_check_names[VF_N_CHECKS] = { "reference", "finite-diff", "rounding", "memory",
                                                  "relu-at-zero" };

void vf_report_header(FILE *out, const struct vf_ctx *x, const char *layer_opts)
{
	fprintf(out, "verify %s.c: %s (%s)\n", x->l.name, layer_opts,
	        x->l.dtype == CG_FLOAT ? "float" : "double");
	fprintf(out, "built by '%s' (%s) with CFLAGS '%s', run %s%s%s\n", x->cc,
	        x->cc_version[0] ? x->cc_version : "version not known", x->cflags,
	        x->exec ? "under '" : "on this machine", x->exec ? x->exec : "", x->exec ? "'" : "");
	if (!x->memory)
		fprintf(out, "partial run (--no-memory): the memory check is left out, so an access outside "
		        "the kernel's own arrays may go unseen\n");
}

static const char *plural(long long n)
{
	return n == 1 ? "" : "s";
}

/* What a check that held established, in one phrase. */
static void claim(const struct vf_result *r, FILE *out)
{
	long long n = r->n_items;

	switch (r->check) {
	case VF_REFERENCE:
		fprintf(out, "%lld output%s == exact%s (integer inputs, |x| <= 2^%d)%s", n, plural(n),
		        r->first_projected ? " in a random projection" : "", r->magnitude_exp,
		        r->op == CG_FORWARD || r->op == CG_SGD_UPDATE ? ", with bias and with bias NULL" : "");
		if (r->op == CG_SGD_UPDATE)
			fprintf(out, "; lr 2^-%d", VF_LR_LOG);
		if (r->op == CG_SGD_UPDATE && r->momentum)
			fprintf(out, ", momentum 2^-%d", VF_MU_LOG);
		if (r->draws > 1)
			fprintf(out, "; %d draws in all (then x in [%lld, %lld]%s)", r->draws,
			        r->draw_positive ? 1LL : -(long long)r->draw_bound, (long long)r->draw_bound,
			        r->projected ? ", compared in random projections" : "");
		fprintf(out, ": over all inputs P(another function passes) <= 2^-%d", r->bound_all_exp);
		break;
	case VF_RELU_ZERO:
		fprintf(out, "%lld output%s == exact with %lld element%s of Y exactly 0 and dY != 0 there: "
		        "derivative 0 at 0 (|x| <= 2^%d)", n, plural(n), r->n_zero, plural(r->n_zero),
		        r->magnitude_exp);
		break;
	case VF_FDIFF:
		if (r->op == CG_SGD_UPDATE)
			fprintf(out, "dW = (W - W')/lr%s and db likewise: ", r->momentum ? " - momentum v" : "");
		if (r->directional && r->separable)
			fprintf(out, "%lld separable direction%s over F_p, p = 2^61-1: P(wrong gradient passes) "
			        "<= 2^-%d", n, plural(n), r->bound_exp);
		else if (r->directional)
			fprintf(out, "%lld direction%s in {0..2^%d-1}^%lld: P(wrong gradient passes) <= 2^-%d",
			        n, plural(n), r->dir_bits, r->dir_len, r->bound_exp);
		else
			fprintf(out, "%lld coordinate%s, exact central differences (integer inputs, |x| <= 2^%d)",
			        n, plural(n), r->magnitude_exp);
		break;
	case VF_MEMORY:
		fprintf(out, "no access outside any array, the kernel's locals included (heap arrays of "
		        "exactly NAME_*_SIZE elements; %s)", r->detail);
		break;
	default:
		if (r->sampled)
			fprintf(out, "%lld of %lld outputs (a uniform sample)", n, r->n_outputs);
		else
			fprintf(out, "%lld output%s", n, plural(n));
		fprintf(out, " within gamma_n*sum|a*b| (a tolerance: Higham, ch. 3; inputs A/2^%d)",
		        r->frac_bits);
		break;
	}
}

void vf_report_result(FILE *out, const struct vf_result *r)
{
	fprintf(out, "%-12s %-13s %-4s ", cg_op_names[r->op], vf_check_names[r->check],
	        r->passed ? "ok" : "FAILED");
	if (r->passed)
		claim(r, out);
	else
		fputs(r->detail, out);
	fputc('\n', out);
	fflush(out);   /* a long run shows its progress */
}

/* The finite-difference checks' claim at the inputs they drew: certain
** where every coordinate was compared, else the weakest bound of their
** random directions.  Nothing without a gradient op. */
static void at_drawn(FILE *out, const struct vf_result *r, int n_results)
{
	int i, any = 0, weakest = 0;

	for (i = 0; i < n_results; i++)
		if (r[i].check == VF_FDIFF) {
			any = 1;
			if (r[i].directional && (weakest == 0 || r[i].bound_exp < weakest))
				weakest = r[i].bound_exp;
		}
	if (weakest)
		fprintf(out, "; at the inputs drawn, P(a wrong gradient passes) <= 2^-%d", weakest);
	else if (any)
		fprintf(out, "; at the inputs drawn, every gradient coordinate compared exactly");
}

void vf_report_summary(FILE *out, const struct vf_result *r, int n_results, int n_ops,
                       unsigned long seed, int partial)
{
	int i, n_failed = 0;

	for (i = 0; i < n_results; i++)
		n_failed += !r[i].passed;
	if (n_failed == 0) {
		fprintf(out, "proved: %d ops, %d checks hold (seed %lu)%s\n"
		        "over all inputs: P(a code computing another function passes) <= 2^-%d for each op",
		        n_ops, n_results, seed, partial ? "; partial: no memory check (--no-memory)" : "",
		        vf_bound_all_inputs(r, n_results));
		at_drawn(out, r, n_results);
		fputc('\n', out);
	}
	else
		fprintf(out, "FAILED: %d of %d checks (seed %lu)\n", n_failed, n_results, seed);
	fflush(out);
}

/* The weakest op's bound over all inputs, as 2^-result (its reference check). */
int vf_bound_all_inputs(const struct vf_result *r, int n_results)
{
	int i, weakest = 0;

	for (i = 0; i < n_results; i++)
		if (r[i].check == VF_REFERENCE && (weakest == 0 || r[i].bound_all_exp < weakest))
			weakest = r[i].bound_all_exp;
	return weakest;
}
