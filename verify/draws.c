/* draws.c: the reference check's claim over all inputs.  One draw of random
** integer inputs from a set S shows that the code's output equals the exact
** one there; a code computing a different polynomial of degree <= 2 (what
** plain sums of products with fixed indices compute, docs/verify.md) agrees
** with the layer at a uniform point of S^n with probability at most 2/|S|
** (Schwartz-Zippel), and t independent draws at most (2/|S|)^t.  Exactness
** caps |S| (vf_exact_bound), so a large layer's grad_weight gets |S| = 15 in
** float: the check makes as many draws as it takes to bring the product to
** 2^-VF_ALL_INPUTS_LOG2 or below, for every op at any size.
**
** Comparing every output with reference.c's exact values costs the whole
** convolution per draw.  Above FULL_WORK a draw is compared instead through
** a random separable projection r (project.c): r.out == r.exact mod the prime
** P = 2^61 - 1, after checking that every output is an integer below 2^p (so
** a nonzero difference is nonzero mod P).  A nonzero difference makes r.(out -
** exact) a nonzero polynomial of degree 4 in r's factors, which vanishes with
** probability at most 4/P; a draw then misses with probability at most
** 2/|S| + 4/P.  sgd_update, grad_bias (cheap) and forward with a ReLU (no
** projection passes through max) are always compared in full. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "vf.h"

/* Reference work (outputs x terms) below which a draw is compared output by
** output: the first draw up to FIRST_FULL_WORK (its failure names a
** coordinate; ~1 s of 128-bit loops), the others up to FULL_WORK. */
#define FIRST_FULL_WORK ((uint64_t)1 << 28)
#define FULL_WORK ((uint64_t)1 << 22)
#define DRAW_STREAM(op, d) (2000u + (unsigned)(op) * 65536u + (unsigned)(d))
#define MAX_DRAWS 60000   /* streams apart: inputs in [-1, 1] need 110 */

static uint64_t work(const struct vf_ctx *x, enum cg_op op)
{
	return (uint64_t)x->size[vf_op_output(op)] * vf_max_terms(&x->l, op);
}

/* The ops project.c projects: not sgd_update, and not forward with a ReLU,
** whose max(0, .) no projection passes through. */
static int projectable(const struct vf_ctx *x, enum cg_op op)
{
	return op == CG_GRAD_WEIGHT || op == CG_GRAD_INPUT || (op == CG_FORWARD && !x->l.relu);
}

int vf_draw_projected(const struct vf_ctx *x, enum cg_op op, int d)
{
	return projectable(x, op) && work(x, op) > (d == 0 ? FIRST_FULL_WORK : FULL_WORK);
}

/* log2 of the chance that one draw misses a different function: inputs
** uniform over 'set' values, projected or not. */
static double miss_log2(enum cg_op op, double set, int projected)
{
	double deg = op == CG_GRAD_BIAS ? 1 : 2;
	return log2(deg / set + (projected ? 4 / (double)VF_PRIME : 0));
}

/* The set of a later draw: [-m, m], or for forward with a ReLU [1, m]: then
** every Z = conv + b is positive where a tap meets the input, max(0, Z) = Z,
** and a code computing max(0, P') with P' != P differs there (docs/verify.md). */
static int64_t draw_bound(const struct vf_ctx *x, enum cg_op op, double *set)
{
	int64_t m = vf_exact_bound(x, op);

	*set = x->l.relu && op == CG_FORWARD ? (double)m : (double)(2 * m + 1);
	return m;
}

/* r.exact for c's op on c's inputs, from the buffers. */
static int project_exact(const struct vf_ctx *x, const struct vf_call *c, const struct vf_sep *r,
                         uint64_t *sum)
{
	const struct vf_buf *mask = c->sig.mask >= 0 ? &c->in[c->sig.mask] : NULL;

	switch (c->op) {
	case CG_FORWARD:
		return vf_proj_forward(&x->l, &c->in[0], &c->in[1], c->a.in[c->sig.bias_in], r, sum);
	case CG_GRAD_WEIGHT:
		return vf_proj_grad_weight(&x->l, &c->in[0], &c->in[c->sig.dy], mask, r, sum);
	case CG_GRAD_INPUT:
		return vf_proj_grad_input(&x->l, &c->in[0], &c->in[c->sig.dy], mask, r, sum);
	default:
		return vf_proj_grad_bias(&x->l, &c->in[c->sig.dy], mask, r, sum);
	}
}

/* forward's bias part of r.Y, r over Y = (n, k, i, j): (sum f0)(sum f2)(sum f3) sum_k f1[k] b[k]. */
static uint64_t bias_part(const struct vf_sep *r, const struct vf_buf *b)
{
	uint64_t part = 0, sum;
	size_t i, k;
	int d;

	for (k = 0; k < r->len[1]; k++)
		part = (part + vf_mod_mul(r->f[1][k], vf_mod_int((int64_t)vf_buf_get(b, k)))) % VF_PRIME;
	for (d = 0; d < 4; d += d == 0 ? 2 : 1) {
		for (sum = 0, i = 0; i < r->len[d]; i++)
			sum = (sum + r->f[d][i]) % VF_PRIME;
		part = vf_mod_mul(part, sum);
	}
	return part;
}

/* Run c ('note' names the run) and compare its output with 'want', the
** exact one projected on r.  0 compared (r->n_wrong set on a mismatch), 1
** the call failed. */
static int run_projected(const struct vf_ctx *x, struct vf_call *c, const struct vf_sep *s, uint64_t want,
                         const char *note, struct vf_result *r)
{
	uint64_t got;
	size_t bad;
	char where[96], cv[48];
	int rc;

	if (vf_call_try(x, c, note, r) != 0)
		return 1;
	rc = vf_proj_buf(&c->out[0], s, x->p, &got, &bad);
	if (rc == 1) {   /* not an integer below 2^p: the exact value is one */
		vf_coord(&x->l, c->sig.out[0], bad, where, sizeof where);
		vf_fmt_value(vf_buf_get(&c->out[0], bad), cv, sizeof cv);
		r->n_wrong = 1;
		snprintf(r->detail, sizeof r->detail, "%s[%s]%s: computed %s, not an integer of magnitude "
		         "below 2^%d as every exact output is", cg_op_names[c->op], where, note, cv, x->p);
		snprintf(r->where, sizeof r->where, "%s", where);
		snprintf(r->computed, sizeof r->computed, "%s", cv);
	} else if (rc == 0 && got != want) {
		r->n_wrong = 1;
		snprintf(r->detail, sizeof r->detail, "%s%s: the outputs differ from the exact ones: a "
		         "random projection gives %llu, exactly %llu (mod 2^61-1)", cg_op_names[c->op], note,
		         (unsigned long long)got, (unsigned long long)want);
		snprintf(r->expected, sizeof r->expected, "%llu", (unsigned long long)want);
		snprintf(r->computed, sizeof r->computed, "%llu", (unsigned long long)got);
	}
	return rc < 0 ? -1 : 0;
}

/* The arrays of a draw, opened once for all the draws of an op: a projected
** draw keeps no numerators (the projections read the buffers) and no exact
** outputs. */
struct draw {
	struct vf_call c;
	struct vf_exact *e[VF_MAX_OUT];
	int projected;
};

static int draw_open(const struct vf_ctx *x, enum cg_op op, int projected, struct draw *w)
{
	memset(w, 0, sizeof *w);
	w->projected = projected;
	if ((projected ? vf_call_open_lean(x, op, &w->c) : vf_call_open(x, op, &w->c)) != 0)
		return -1;
	if (!projected && vf_exact_alloc(&w->c, w->e) != 0) {
		vf_exact_free(w->e);
		vf_call_close(&w->c);
		return -1;
	}
	return 0;
}

static void draw_close(struct draw *w)
{
	if (!w->projected)
		vf_exact_free(w->e);
	vf_call_close(&w->c);
}

/* One draw: inputs from [lo, hi] (the mask as forward's Y) on the stream
** 'stream', with the bias and, for forward and sgd_update, without;
** compared in full or projected (on one r for both runs: forward's exact
** projections differ by the bias part).  0 (r->n_wrong says how it went),
** 1 the call failed, -1 out of memory. */
static int draw_run(const struct vf_ctx *x, struct draw *w, unsigned stream, int64_t lo, int64_t hi,
                    const char *note, struct vf_result *r)
{
	struct vf_call *c = &w->c;
	int two = c->op == CG_FORWARD || c->op == CG_SGD_UPDATE, pass, rc = 0;
	struct vf_rng rng;
	struct vf_sep s;
	uint64_t want = 0;
	char note2[64];

	vf_rng_seed(&rng, x->seed, stream);
	vf_call_fill_all(c, &rng, lo, hi, 0);
	vf_call_bias(c, 1);
	if (w->projected && vf_sep_draw(&s, &x->l, c->sig.out[0], &rng) != 0)
		return -1;
	if (w->projected && project_exact(x, c, &s, &want) != 0) {
		vf_sep_free(&s);
		return -1;
	}
	for (pass = 0; pass < (two ? 2 : 1) && rc == 0 && r->n_wrong == 0; pass++) {
		vf_call_bias(c, pass == 0);
		snprintf(note2, sizeof note2, "%s%s", note, pass ? " (bias NULL)" : "");
		if (!w->projected)
			rc = vf_run_and_compare(x, c, w->e, note2, r);
		else
			rc = run_projected(x, c, &s, pass == 0 ? want : (want + VF_PRIME -
			                   bias_part(&s, &c->in[c->sig.bias_in])) % VF_PRIME, note2, r);
	}
	if (w->projected)
		vf_sep_free(&s);
	return rc;
}

int vf_draw(const struct vf_ctx *x, enum cg_op op, unsigned stream, int64_t lo, int64_t hi,
            int projected, const char *note, struct vf_result *r)
{
	struct draw w;
	int rc;

	if (draw_open(x, op, projected, &w) != 0)
		return -1;
	rc = draw_run(x, &w, stream, lo, hi, note, r);
	draw_close(&w);
	return rc;
}

/* How many draws op gets in all, and log2 of the chance that the first and
** each later one miss a different function.  'a' is the first draw's
** magnitude (vf_exact_magnitude, >= 0). */
int vf_draw_count(const struct vf_ctx *x, enum cg_op op, int a, double *first, double *each)
{
	double set, t;

	draw_bound(x, op, &set);
	*first = miss_log2(op, ldexp(1, a + 1) + 1, vf_draw_projected(x, op, 0));
	*each = miss_log2(op, set, vf_draw_projected(x, op, 1));
	if (*first <= -VF_ALL_INPUTS_LOG2 || *each >= 0)   /* (a set of one value tells nothing) */
		return 1;
	t = 1 + ceil((-VF_ALL_INPUTS_LOG2 - *first) / *each);
	return t < MAX_DRAWS ? (int)t : MAX_DRAWS;
}

/* After the first draw (inputs in [-2^a, 2^a], projected or not) held:
** the later draws, until the chance that a different function passed them
** all is at most 2^-VF_ALL_INPUTS_LOG2.  Sets r->draws, r->draw_bound and
** r->bound_all_exp; 0, 1 (a call failed) or -1 (out of memory). */
int vf_more_draws(const struct vf_ctx *x, enum cg_op op, int a, struct vf_result *r)
{
	double set, first, each;
	int t = vf_draw_count(x, op, a, &first, &each), d, rc = 0;
	struct draw w;
	char note[32];

	r->draws = t;
	r->draw_bound = draw_bound(x, op, &set);
	r->projected = vf_draw_projected(x, op, 1);
	r->draw_positive = x->l.relu && op == CG_FORWARD;
	if (t > 1 && draw_open(x, op, r->projected, &w) != 0)
		return -1;
	for (d = 1; d < t && rc == 0 && r->n_wrong == 0; d++) {
		vf_progress(d, t, "draws");
		snprintf(note, sizeof note, " (draw %d)", d + 1);
		rc = draw_run(x, &w, DRAW_STREAM(op, d), r->draw_positive ? 1 : -r->draw_bound, r->draw_bound,
		              note, r);
	}
	if (t > 1)
		draw_close(&w);
	if (rc == 0 && r->n_wrong == 0)
		r->bound_all_exp = (int)floor(-(first + (t - 1) * each));
	return rc;
}
