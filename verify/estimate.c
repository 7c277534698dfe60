/* estimate.c: how long a verify will take, said on stderr before a long run
** starts, so that nobody waits minutes on a silent command wondering.  A
** model, not a measurement: the calls of the generated code (the reference
** check's draws, with and without bias for forward and sgd_update, and one
** call each for finite-diff, rounding and relu-at-zero), the work around
** each projected draw, and the memory check's run under AddressSanitizer.
** The rates are one core of an AMD EPYC (Zen 3/4) at -O2 without -march;
** docs/verify.md ("Scale") has the measurements behind them. */
#include <stdlib.h>
#include "vf.h"

#define KERNEL_MACS 6.2e9     /* multiply-adds a second of generated code: 512x512 64->64 forward in 1.1-1.4 s */
#define DRAW_NS 10.0         /* per element of a projected draw's arrays: filling, projecting */
#define REF_MACS 2e8         /* reference.c's 128-bit sums, per second (full draws, rounding) */
#define ROUNDING_WORK 3e8    /* the most multiply-adds the rounding check's exact sums make (rounding.c) */
#define ASAN_O0_MACS 2.4e8   /* the memory check's run, per second, at -O0 ... */
#define ASAN_O1_MACS 1.1e9   /* ... and at -O1 */
#define LONG_RUN 30.0        /* seconds: a run longer than this is announced */

/* Multiply-adds of one call of op. */
static double macs(const struct vf_ctx *x, enum cg_op op)
{
	return (double)x->size[vf_op_output(op)] * (double)vf_max_terms(&x->l, op);
}

double vf_estimate_seconds(const struct vf_ctx *x)
{
	double s = 0, mem = 0, first, each;
	int op, a, t, passes, calls;

	for (op = 0; op < CG_N_OPS; op++) {
		double m = macs(x, (enum cg_op)op), arrays = 0;
		struct vf_sig sig;
		int i;

		if (!(x->l.ops & CG_OP_BIT(op)) || (a = vf_exact_magnitude(x, (enum cg_op)op)) < 0)
			continue;
		vf_op_sig(&x->l, (enum cg_op)op, &sig);
		for (i = 0; i < sig.n_in; i++)
			arrays += (double)x->size[sig.in[i]];
		for (i = 0; i < sig.n_out; i++)
			arrays += (double)x->size[sig.out[i]];
		t = vf_draw_count(x, (enum cg_op)op, a, &first, &each);
		passes = op == CG_FORWARD || op == CG_SGD_UPDATE ? 2 : 1;
		calls = t * passes + (op != CG_FORWARD) + 1 + (x->l.relu && op != CG_FORWARD);
		s += calls * m / KERNEL_MACS;
		s += (vf_draw_projected(x, (enum cg_op)op, 0) ? arrays * DRAW_NS * 1e-9 : passes * m / REF_MACS);
		s += (t - 1) * (vf_draw_projected(x, (enum cg_op)op, 1) ? arrays * DRAW_NS * 1e-9 : passes * m / REF_MACS);
		s += (m < ROUNDING_WORK ? m : ROUNDING_WORK) / REF_MACS;
		if (x->memory)
			mem += passes * m / (vf_memcheck_optimized(&x->l) ? ASAN_O1_MACS : ASAN_O0_MACS);
	}
	/* The memory checks run beside the others where there is a second processor. */
	if (vf_processors() >= 2)
		return s > mem ? s : mem;
	return s + mem;
}

/* Say it when the run will be long: how long, and why. */
void vf_estimate_announce(const struct vf_ctx *x)
{
	double s = vf_estimate_seconds(x), worst = 0;
	const char *limit = getenv("CONVGEN_ANNOUNCE_SECONDS");
	int op;

	if (s <= (limit && *limit ? atof(limit) : LONG_RUN))
		return;
	for (op = 0; op < CG_N_OPS; op++)
		if ((x->l.ops & CG_OP_BIT(op)) && macs(x, (enum cg_op)op) > worst)
			worst = macs(x, (enum cg_op)op);
	fprintf(stderr, "convgen: verify: a large layer (%.2g multiply-adds per call): this run takes about "
	        "%.*f %s on this machine if it is like an AMD EPYC (an estimate; progress follows)\n", worst,
	        s < 120 ? 0 : 1, s < 120 ? s : s / 60, s < 120 ? "seconds" : "minutes");
}
