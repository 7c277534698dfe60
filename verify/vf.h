/* vf.h: what the files of verify/ share (verify.h is the public API): the
** layer under test, guarded buffers, exact values, the PRNG and the results
** that report.c prints.  Nothing here is seen outside verify/. */
#ifndef VF_H
#define VF_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "../gen/layer/layer.h"
#include "invoke.h"
#include "verify.h"

/* 128-bit integers (gcc and clang): exact sums that int64 cannot hold.
** __extension__ keeps -Wpedantic quiet about a type ISO C lacks. */
__extension__ typedef __int128 vf_i128;
__extension__ typedef unsigned __int128 vf_u128;

struct vf_buf;

/* The file under test built into verify/target/driver.c's program, in its
** own directory (program.c). */
struct vf_prog {
	char dir[4200];               /* the working directory: call.in, call.out */
	char path[4300], in[4300], out[4300], log[4300];
	const char *exec;             /* emulator command, or NULL to run it here */
	struct vf_cc_job job;
	int building, built;
	char why[400];                /* why it could not be built */
};

/* The layer under test and how to reach its compiled code. */
struct vf_ctx {
	struct cg_layer l;
	const char *so_path;          /* the compiled NAME.c (no --exec) */
	int exhaustive;               /* --exhaustive */
	unsigned long seed;
	size_t size[VF_N_TENSORS];    /* element counts */
	int p;                        /* significand bits of T: 24 or 53, u = 2^-p */
	size_t elem;                  /* sizeof(T) */
	int memory;                   /* run the memory check (no --no-memory) */
	int sanitize;                 /* --sanitize: the memory check under UBSan too */
	const char *cc;               /* the C compiler command */
	const char *cflags;           /* $CFLAGS, or "" */
	char cc_version[200];         /* the first line of '$CC --version' */
	const char *exec;             /* --exec: the emulator command, or NULL */
	struct vf_prog target;        /* --exec: the program the checks run */
	struct vf_prog mem;           /* the memory check's program, under ASan */
	const char *mem_cc;           /* the compiler it is built with */
	size_t ws_bytes, ws_align;    /* --workspace: NAME_WORKSPACE_BYTES and _ALIGN of NAME.h */
	char file_sha256[65];         /* the SHA-256 of the file proven, in hex */
	int mem_ahead_fd, mem_ahead_pid;   /* the memory checks running ahead (memcheck.c), or -1 */
};
/* ---- results (report.c prints them; a JSON printer will read the same) */
/* VF_RELU_ZERO runs only for the ops that mask dY with [Y > 0] (--activation relu). */
enum vf_check { VF_REFERENCE, VF_FDIFF, VF_ROUNDING, VF_MEMORY, VF_RELU_ZERO, VF_N_CHECKS };
extern const char *const vf_check_names[VF_N_CHECKS];
/* The PRNG stream of a check of an op.  The first four checks keep the
** streams they had before relu-at-zero existed, so that their inputs, and
** the values a failure names, stay the same. */
#define VF_STREAM(op, check) ((unsigned)((check) < 4 ? (op) * 4 + (check) : 1000 + (op)))

struct vf_result {
	enum cg_op op;
	enum vf_check check;
	int passed;
	int applicable;         /* 0: the check could not be made exact (counts as failed) */
	long long n_items;      /* outputs, coordinates or directions checked */
	int magnitude_exp;      /* integer inputs had |x| <= 2^magnitude_exp; -1 if none */
	int directional;        /* finite differences: 1 random directions, 0 unit vectors */
	int dir_bits;           /* directions drawn from {0..2^dir_bits-1}^dir_len */
	long long dir_len;
	int bound_exp;          /* directional: P(a wrong gradient passes) <= 2^-bound_exp */
	int separable;          /* directional: separable directions over F_p, p = 2^61-1 (dir_bits 61) */
	int frac_bits;          /* rounding: inputs are A / 2^frac_bits */
	long long n_outputs;    /* rounding: the outputs the op writes; n_items of them were checked */
	int sampled;            /* rounding: those n_items were a uniform sample */
	long long n_zero;       /* relu-at-zero: elements of Y exactly 0 */
	int momentum;           /* sgd_update: the step kept a velocity */
	int draws;              /* reference: independent draws made, the first included */
	int64_t draw_bound;     /* reference: later draws had inputs in [-draw_bound, draw_bound] */
	int draw_positive;      /* reference: ... or in [1, draw_bound] (forward with a ReLU) */
	int projected;          /* reference: later draws were compared through projections (draws.c) */
	int first_projected;    /* reference: so was the first */
	int bound_all_exp;      /* reference: P(a different function passes) <= 2^-bound_all_exp; 0 unknown */
	long long n_wrong;      /* wrong outputs or coordinates found (0 if passed) */
	int timed_out;          /* the op did not return: its later checks are not run */
	int not_run;            /* this check was skipped because an earlier one timed out */
	unsigned long seed;
	char detail[480];       /* the first wrong coordinate and its values, or why not applicable */
	/* The first failure again, in parts, for the JSON report ("" when not known). */
	char where[96];         /* its coordinate, as vf_coord writes it: "n=0,c=2,y=4,x=1" */
	int bad_direction;      /* directional: the first wrong direction, from 1; 0 if none */
	char expected[64];      /* the exact value (for a direction: <g,v>) */
	char computed[64];      /* the value the code under test returned (<g',v>) */
};

struct vf_ctx;
void vf_report_header(FILE *out, const struct vf_ctx *x, const char *layer_opts);
void vf_report_result(FILE *out, const struct vf_result *r);
void vf_report_summary(FILE *out, const struct vf_result *r, int n_results, int n_ops,
                       unsigned long seed, int partial);
int vf_bound_all_inputs(const struct vf_result *r, int n_results);

/* ---- json.c: the same results as one JSON document ('verify --json').
** 'path' is the file checked as given, or NULL for verify LAYER's private
** copy; 'command' the canonical 'convgen generate' line of its header.
** Returns 0, or -1 when jansson runs out of memory (nothing printed). */
int vf_report_json(FILE *out, const struct vf_ctx *x, const char *path, const char *command,
                   const struct vf_result *r, int n_results, int n_ops);

/* ---- digest.c: the SHA-256 of the file at 'path' in hex; CG_EXIT_FAIL with msg */
int vf_file_sha256(const char *path, char hex[65], char *msg, size_t msg_len);

/* ---- progress.c: a progress line on stderr, only when it is a terminal */
void vf_progress_begin(void);
void vf_progress_check(int i_check, int n_checks, enum cg_op op, enum vf_check c);
void vf_progress(long long done, long long total, const char *unit);
void vf_progress_clear(void);

/* ---- checks: each fills 'r' and returns 0, or -1 on an internal error (msg set) */
int vf_check_reference(const struct vf_ctx *x, enum cg_op op, struct vf_result *r);
int vf_check_fdiff(const struct vf_ctx *x, enum cg_op op, struct vf_result *r);
int vf_check_rounding(const struct vf_ctx *x, enum cg_op op, struct vf_result *r);
int vf_check_memory(const struct vf_ctx *x, enum cg_op op, struct vf_result *r);
int vf_check_relu_zero(const struct vf_ctx *x, enum cg_op op, struct vf_result *r);

/* ---- memcheck.c: the memory check's build of 'src' under ASan, in the
** background from the start of the run (the check waits for it) */
void vf_memcheck_start(struct vf_ctx *x, const char *src, const char *dir);
const char *vf_memcheck_mode(const struct vf_ctx *x);
int vf_memcheck_optimized(const struct cg_layer *l);
/* Start every op's memory check in a process beside the others (a second
** processor), and end it (stopping it if the run ended early). */
void vf_memcheck_ahead(struct vf_ctx *x);
int vf_processors(void);   /* the processors this process may run on */
void vf_memcheck_end(struct vf_ctx *x);   /* built at -O1: the layer is too much work for -O0 */   /* "ASan -O0, cc", for the reports */

/* sgd_update's step in the checks: lr = 2^-VF_LR_LOG, momentum = 2^-VF_MU_LOG,
** so that multiplying by them is exact (docs/math.md, "A fused ReLU and the SGD step"). */
#define VF_LR_LOG 3
#define VF_MU_LOG 1

/* What one call passes: a NULL buffer is an argument passed as NULL (the
** bias, and velocity_b with it). */
struct vf_args {
	struct vf_buf *in[VF_MAX_IN];
	struct vf_buf *out[VF_MAX_OUT];
	double scalar[2];
};

/* ---- program.c: the driver program and one call through it */
#define VF_NOT_STARTED (-3)
int vf_prog_build_start(struct vf_prog *p, const struct vf_ctx *x, const char *src, const char *cc,
                        const char *cflags, const char *shell_text, int bare_metal);
/* Wait for the build; 'relay' copies the compiler's output to stderr and
** fails on a warning of undefined behaviour.  -1 with p->why set. */
int vf_prog_build_finish(struct vf_prog *p, const char *src, int relay);
/* Like vf_run, through the program; op < 0 only starts it and asks which
** functions the file defines.  'limit' is in seconds. */
int vf_prog_run(const struct vf_ctx *x, const struct vf_prog *p, int op, const struct vf_args *a,
                int limit, char *why, size_t why_len);
void vf_prog_clean(struct vf_prog *p);

/* ---- header.c: the layer a generated file was made for, the options that
** describe it in the report, and the whole 'convgen generate ...' command */
int vf_read_header(const char *path, struct cg_layer *l, char *layer_opts, size_t opts_len,
                   char *command, size_t command_len, char *msg, size_t msg_len);

/* ---- kernel.c: compiling the file under test.  vf_cc_start runs
** 'sh -c shell_text sh args...' in the background with CVG_CC and CVG_CFLAGS
** set and its output to 'log'; vf_cc_finish waits ('relay': copy the log to
** stderr and fail on a warning of undefined behaviour). */
int vf_cc_start(struct vf_cc_job *j, const char *cc, const char *cflags, const char *shell_text,
                char *const args[], const char *log);
int vf_cc_finish(struct vf_cc_job *j, const char *src, int relay, char *msg, size_t msg_len);
/* '$CC --version''s first line and '$CC -dumpmachine' ("" when not known). */
void vf_cc_describe(const char *cc, char *version, size_t version_len, char *machine, size_t machine_len);

/* ---- run.c: guarded buffers and running one op in a child process */
struct vf_buf {
	unsigned char *map;     /* the whole mapping: guard, canary, data, guard */
	size_t map_len;
	unsigned char *canary;  /* from the end of the front guard page up to 'data' */
	size_t canary_len;
	void *data;             /* n elements of size elem; data + n*elem is a guard page */
	size_t n, elem;
	/* Channels last (--layout nhwc): vf_buf_set and vf_buf_get take the index
	** of docs/math.md's layout, A x C x P (P = rows x columns), and store at
	** (a*P + p)*C + c; cl_c = 0 keeps the index as it is. */
	size_t cl_c, cl_p;
};
void vf_buf_channels_last(struct vf_buf *b, const struct cg_layer *l, enum vf_tensor t);
int vf_buf_alloc(struct vf_buf *b, size_t n, size_t elem);
void vf_buf_free(struct vf_buf *b);
void vf_buf_set(struct vf_buf *b, size_t i, double v);
double vf_buf_get(const struct vf_buf *b, size_t i);
void vf_buf_fill_nan(struct vf_buf *b);

/* Run 'op' of the compiled file on a's arrays (vf_op_sig's order), writing
** a->out.  Returns 0, or -1 with why the call failed (crash, write outside
** an output, missing symbol) in 'why', or VF_TIMED_OUT when it did not return. */
#define VF_TIMED_OUT (-2)
int vf_run(const struct vf_ctx *x, enum cg_op op, const struct vf_args *a, char *why, size_t why_len);
/* Load the compiled file in a child and look up every op's symbol. */
int vf_probe(const struct vf_ctx *x, char *why, size_t why_len);

/* ---- rng.c: deterministic xoshiro256**, one stream per (seed, op, check) */
struct vf_rng { uint64_t s[4]; };
void vf_rng_seed(struct vf_rng *r, unsigned long seed, unsigned stream);
uint64_t vf_rng_next(struct vf_rng *r);
int64_t vf_rng_range(struct vf_rng *r, int64_t lo, int64_t hi);   /* uniform in [lo, hi] */
/* The same draws, with the range's divisions done once (large fills). */
struct vf_range { uint64_t lo, span, limit, inv; };
void vf_range_init(struct vf_range *g, int64_t lo, int64_t hi);
int64_t vf_range_draw(struct vf_rng *r, const struct vf_range *g);

/* ---- project.c: exact random projections modulo the prime P = 2^61 - 1.
** A tensor is checked by one number, r . tensor mod P, with r separable, so
** that the exact side costs about (tensor size) x (kernel width), not the
** convolution (see the file's comment). */
#define VF_PRIME (((uint64_t)1 << 61) - 1)
uint64_t vf_mod_mul(uint64_t a, uint64_t b);          /* a*b mod P, a,b < P */
uint64_t vf_mod_int(int64_t v);                       /* v mod P in [0,P) */
/* A separable vector over tensor t's index (docs/math.md's layout, 4 indices:
** I (N,C,H,W), W (K,C/G,k1,k2), B (K,1,1,1), Y (N,K,OH,OW)):
** r[a,b,c,d] = f[0][a] f[1][b] f[2][c] f[3][d] mod P, each factor uniform in [0,P)
** (drawn by rejection from vf_rng_next's 61 low bits, so exactly uniform). */
struct vf_sep { uint64_t *f[4]; size_t len[4]; };
int vf_sep_draw(struct vf_sep *s, const struct cg_layer *l, enum vf_tensor t, struct vf_rng *rng); /* 0, -1 OOM */
void vf_sep_free(struct vf_sep *s);
/* sum_i r[i] b[i] mod P over every element of b (math layout, so --layout
** nhwc buffers work).  Every value must be an integer with |v| < 2^limit_log2
** (limit_log2 <= 63): returns 0 with *sum set, or 1 with *bad = the least
** offending index (NaN included), or -1 out of memory (or b not r's shape). */
int vf_proj_buf(const struct vf_buf *b, const struct vf_sep *r, int limit_log2, uint64_t *sum, size_t *bad);
/* The exact reference of each op, projected on r (over the op's output),
** from the input buffers (integers, exactly held in T) without forming the
** output.  'mask' is forward's Y or NULL: where Y <= 0, dY counts as 0
** (--activation relu).  'b' may be NULL (no bias).  0, or -1 out of memory
** (or a buffer without its tensor's size and layout: a caller's bug). */
int vf_proj_forward(const struct cg_layer *l, const struct vf_buf *I, const struct vf_buf *W,
                    const struct vf_buf *b, const struct vf_sep *r, uint64_t *out);
int vf_proj_grad_input(const struct cg_layer *l, const struct vf_buf *W, const struct vf_buf *dY,
                       const struct vf_buf *mask, const struct vf_sep *r, uint64_t *out);
int vf_proj_grad_weight(const struct cg_layer *l, const struct vf_buf *I, const struct vf_buf *dY,
                        const struct vf_buf *mask, const struct vf_sep *r, uint64_t *out);
int vf_proj_grad_bias(const struct cg_layer *l, const struct vf_buf *dY, const struct vf_buf *mask,
                      const struct vf_sep *r, uint64_t *out);
/* The finite-difference check's oracles, <d, forward along a direction v>,
** formed forward-shaped (no gradient formula).  0, or -1 as above. */
/* <d, forward(I, v)>: v separable over W's index, bias 0 (grad_weight's direction) */
int vf_fd_weight(const struct cg_layer *l, const struct vf_buf *I, const struct vf_buf *d,
                 const struct vf_sep *v, uint64_t *out);
/* <d, forward(v, W)>: v separable over I's index (grad_input's direction) */
int vf_fd_input(const struct cg_layer *l, const struct vf_buf *W, const struct vf_buf *d,
                const struct vf_sep *v, uint64_t *out);
/* <d, the bias v broadcast over Y> (grad_bias's direction) */
int vf_fd_bias(const struct cg_layer *l, const struct vf_buf *d, const struct vf_sep *v, uint64_t *out);

/* ---- call.c: the arrays of one call of one op.  Inputs are kept twice:
** as integer numerators for the exact side, and as T = numerator / 2^frac in
** guarded buffers for the code under test. */
struct vf_call {
	enum cg_op op;
	struct vf_sig sig;
	int n_in, n_out;
	enum vf_tensor t[VF_MAX_IN];     /* the inputs' shapes, in ABI order */
	int64_t *num[VF_MAX_IN];         /* the inputs' numerators */
	struct vf_buf in[VF_MAX_IN];
	int64_t *out_num[VF_MAX_OUT];    /* in_out: the written arrays' numerators before the call */
	struct vf_buf out[VF_MAX_OUT];
	int frac;                        /* values are numerators / 2^frac */
	struct vf_args a;                /* what vf_run passes: &in[i], &out[i], or NULL for a bias left out */
	struct vf_rng rng;               /* vf_call_prepare's stream after the fills: a check draws on from it */
};
int vf_call_open(const struct vf_ctx *x, enum cg_op op, struct vf_call *c);
/* ... keeping no numerators (num[i] NULL): the buffers hold the values. */
int vf_call_open_lean(const struct vf_ctx *x, enum cg_op op, struct vf_call *c);
/* Fill input i (i >= n_in: written array i - n_in, which in_out ops read). */
void vf_call_fill(struct vf_call *c, int i, struct vf_rng *r, int64_t lo, int64_t hi, int frac);
/* Every input (and in_out array) by vf_call_fill, then the ReLU mask Y as max(0, Y). */
void vf_call_fill_all(struct vf_call *c, struct vf_rng *r, int64_t lo, int64_t hi, int frac);
/* Set input i's element j (as vf_call_fill: i >= n_in for a written array). */
void vf_call_set(struct vf_call *c, int i, size_t j, int64_t num);
/* Pass the bias (and velocity_b) as NULL, or again as the arrays. */
void vf_call_bias(struct vf_call *c, int with_bias);
void vf_call_close(struct vf_call *c);
struct vf_exact;   /* reference.c, below */
/* vf_call_open, then every input filled from the (seed, op, check) stream
** with numerators in [lo, hi] over 2^frac, and, unless 'e' is NULL, '*e'
** allocated for the exact output; -1 when out of memory (nothing left open). */
int vf_call_prepare(const struct vf_ctx *x, enum cg_op op, enum vf_check check, int64_t lo,
                    int64_t hi, int frac, struct vf_call *c, struct vf_exact **e);
/* The same arrays and values, but no numerators of the inputs: c->num[i]
** are NULL and the values live only in the T buffers, 8 bytes an element
** fewer on a large layer (vf_ref_one reads them back from there).  The
** arrays sgd_update reads and writes keep theirs, weight- and bias-sized:
** vf_call_run starts them from there. */
int vf_call_prepare_lean(const struct vf_ctx *x, enum cg_op op, enum vf_check check, int64_t lo,
                         int64_t hi, int frac, struct vf_call *c);
/* vf_run on c's arrays, with the output reset to NaN first. */
int vf_call_run(const struct vf_ctx *x, struct vf_call *c, char *why, size_t why_len);
/* ... and when it fails, why in r->detail ("op<note> why") and r->timed_out. */
int vf_call_try(const struct vf_ctx *x, struct vf_call *c, const char *note, struct vf_result *r);

/* ---- reference.c: docs/math.md, exactly, on integer numerators */
struct vf_exact {
	vf_i128 v;             /* the exact value, in units of the products */
	vf_u128 s;    /* sum of |a_i * b_i| over its terms */
	int64_t n;              /* number of terms (the bias counts as one) */
};
void vf_ref_forward(const struct cg_layer *l, const int64_t *I, const int64_t *W,
                    const int64_t *b, int64_t b_scale, struct vf_exact *Y);
void vf_ref_grad_weight(const struct cg_layer *l, const int64_t *I, const int64_t *dY,
                        struct vf_exact *dW);
void vf_ref_grad_input(const struct cg_layer *l, const int64_t *W, const int64_t *dY,
                       struct vf_exact *dI);
void vf_ref_grad_bias(const struct cg_layer *l, const int64_t *dY, int64_t scale,
                      struct vf_exact *db);
/* Y = max(0, Y), in place: the ReLU of --activation relu. */
void vf_ref_relu(struct vf_exact *Y, size_t n);
/* out = dY * [Y > 0]: the mask of --activation relu (0 at Y == 0). */
void vf_ref_mask(const int64_t *Y, const int64_t *dY, size_t n, int64_t *out);
/* One SGD step on n parameters P (numerators, times p_scale in the units U
** of the exact gradient g), velocity V (likewise; NULL without momentum):
** without momentum P' 2^lr = P p_scale 2^lr - g, with it V' 2^mu = V
** v_scale + g 2^mu and P' 2^(lr+mu) = P p_scale 2^(lr+mu) - V v_scale - g 2^mu.
** P' (and V') come out in units U 2^-shift, shift returned (V': U 2^-mu);
** each keeps s and n of its terms, so rounding.c's bound applies. */
int vf_ref_sgd(const struct vf_exact *g, const int64_t *P, int64_t p_scale, const int64_t *V,
               int64_t v_scale, size_t n, struct vf_exact *P2, struct vf_exact *V2);
/* The exact results of c's op on c's numerators, as the reference, rounding
** and relu-at-zero checks need them: dY masked first when the layer has a
** ReLU, and for sgd_update the step of docs/math.md (vf_ref_sgd).  e[i]
** is written array i (NULL arrays skipped; e[i] has room for its elements),
** in units 2^-shift[i] of the products'; 'scale' as for vf_ref_grad_bias.
** Returns 0, or -1 out of memory. */
int vf_ref_call(const struct vf_ctx *x, const struct vf_call *c, int64_t scale, struct vf_exact *e[],
                int shift[]);
/* Element k of written array o, as vf_ref_call computes it (the same
** formulas, one output at a time), from c's numerators or, where c keeps
** none (vf_call_prepare_lean), from its T buffers.  Returns its shift. */
int vf_ref_one(const struct vf_ctx *x, const struct vf_call *c, int64_t scale, int o, size_t k,
               struct vf_exact *e);

/* ---- refcheck.c: exact comparison, shared with relu-at-zero */
int vf_exact_alloc(const struct vf_call *c, struct vf_exact *e[VF_MAX_OUT]);
void vf_exact_free(struct vf_exact *e[VF_MAX_OUT]);
void vf_compare_exact(const struct vf_ctx *x, enum cg_op op, int i, enum vf_tensor t, const struct vf_buf *out,
                      const struct vf_exact *e, int shift, const char *note, struct vf_result *r);
int vf_run_and_compare(const struct vf_ctx *x, struct vf_call *c, struct vf_exact *e[VF_MAX_OUT],
                       const char *note, struct vf_result *r);

/* ---- tensor.c: names, coordinates, formatting */
/* How a report names written array i of op ("its output array", "velocity_w"). */
const char *vf_out_name(enum cg_op op, int i);
void vf_coord(const struct cg_layer *l, enum vf_tensor t, size_t i, char *buf, size_t len);
void vf_fmt_value(double v, char *buf, size_t len);
void vf_fmt_i128(vf_i128 v, char *buf, size_t len);
uint64_t vf_max_terms(const struct cg_layer *l, enum cg_op op);
int vf_exact_magnitude(const struct vf_ctx *x, enum cg_op op);
int64_t vf_exact_bound(const struct vf_ctx *x, enum cg_op op);

/* ---- estimate.c: the run's length, modelled, and a line on stderr before
** a long one ($CONVGEN_ANNOUNCE_SECONDS: the threshold, 30 s by default) */
double vf_estimate_seconds(const struct vf_ctx *x);
void vf_estimate_announce(const struct vf_ctx *x);

/* ---- draws.c: the reference check's independent draws, until a function
** other than the layer's passes them all with probability <= 2^-VF_ALL_INPUTS_LOG2 */
#define VF_ALL_INPUTS_LOG2 64
int vf_draw_projected(const struct vf_ctx *x, enum cg_op op, int d);
int vf_draw(const struct vf_ctx *x, enum cg_op op, unsigned stream, int64_t lo, int64_t hi,
            int projected, const char *note, struct vf_result *r);
int vf_draw_count(const struct vf_ctx *x, enum cg_op op, int a, double *first, double *each);
int vf_more_draws(const struct vf_ctx *x, enum cg_op op, int a, struct vf_result *r);

#endif
