/* layer.h: the one description of a convolution layer (docs/math.md) that
** gen/ and verify/ share, its parser and its validator.  A 'struct cg_layer'
** that cg_layer_parse() accepted is valid: no code downstream re-checks it. */
#ifndef CG_LAYER_H
#define CG_LAYER_H

#include <stddef.h>
#include <stdio.h>

#define CG_VERSION "0.1.0"

/* Exit statuses of docs/cli.md; only main() turns a status into an exit code. */
enum cg_status { CG_EXIT_OK = 0, CG_EXIT_FAIL = 1, CG_EXIT_USAGE = 2 };

enum cg_dtype { CG_FLOAT, CG_DOUBLE };

/* sgd_update is grad_weight and grad_bias with the SGD step in place of their
** stores: it takes grad_weight's schedule and has none of its own. */
enum cg_op { CG_FORWARD, CG_GRAD_WEIGHT, CG_GRAD_INPUT, CG_GRAD_BIAS, CG_SGD_UPDATE, CG_N_OPS };
#define CG_OP_BIT(op) (1u << (op))
#define CG_DEFAULT_OPS 0xfu   /* the four of the seed notes */
#define CG_ALL_OPS 0x1fu

extern const char *const cg_op_names[CG_N_OPS];  /* "forward", ... */

#define CG_NAME_MAX 64

/* The targets of --target, listed here once: the enum, the names, the help
** and the messages are made from this list, and gen/lua_bridge.c checks that
** gen/lua/targets.lua, which says what each one is, knows exactly these.
** 'host' is not among them: the parser resolves it to one of these. */
#define CG_TARGETS(X) \
	X(X86_64_V3, "x86-64-v3") X(X86_64_V4, "x86-64-v4") X(AARCH64, "aarch64") \
	X(CORTEX_M4, "cortex-m4") X(CORTEX_M7, "cortex-m7") X(GENERIC, "generic")
#define CG_TARGET_ENUM(id, name) CG_##id,
enum cg_target { CG_TARGETS(CG_TARGET_ENUM) CG_N_TARGETS };
extern const char *const cg_target_names[CG_N_TARGETS];  /* "x86-64-v3", ... */
/* The names as one list, "a, b, c<last_sep>d"; its length, or -1 if 'len' is too short. */
int cg_target_list(char *buf, size_t len, const char *last_sep);

/* The target that fits the machine convgen runs on. */
enum cg_target cg_target_host(void);

/* A schedule choice of one op (--schedule OP.KEY=V,...), measured by 'convgen
** tune': it shapes the code, never its results.  0 (roll: -1) is the target
** model's own choice (gen/lua/targets.lua). */
struct cg_choice {
	int lanes;             /* length of the lane arrays: 1, 2, 4, ..., 64 */
	int acc;               /* accumulators per row block: 1..64 */
	int roll;              /* 0: no rolling rows, 1: where the registers allow, 2: wherever the window allows */
};

struct cg_layer {
	int n, c, k, g;        /* batch, in-channels, out-channels, groups */
	int h, w;              /* input height, width */
	int k1, k2;            /* kernel height, width */
	int sh, sw;            /* stride */
	int ph, pw;            /* zero padding before the first row, column */
	int eh, ew;            /* zero padding after the last row, column */
	int dh, dw;            /* dilation */
	int oh, ow;            /* output height, width: derived by the parser */
	int nhwc;              /* --layout nhwc: NHWC tensors, OHWI weight */
	int relu;              /* --activation relu: Y = max(0, conv + b); the gradients mask dY */
	int momentum;          /* --momentum: sgd_update keeps a velocity (only with sgd_update) */
	enum cg_dtype dtype;
	enum cg_target target; /* resolved: never 'host' */
	int stack_limit;       /* --stack-limit: bytes of one function's frame; 0: the target's own */
	int workspace;         /* --workspace: functions take the caller's scratch buffer */
	int optimize_size;     /* --optimize size */
	struct cg_choice choice[CG_N_OPS];
	unsigned ops;          /* set of CG_OP_BIT(op) */
	char name[CG_NAME_MAX];
};

/* Element counts of docs/api.md.  The parser refuses layers whose counts exceed
** INT_MAX, so these never overflow and every index in generated code fits int. */
size_t cg_input_size(const struct cg_layer *l);   /* N*C*H*W */
size_t cg_weight_size(const struct cg_layer *l);  /* K*(C/G)*k1*k2 */
size_t cg_output_size(const struct cg_layer *l);  /* N*K*OH*OW */
size_t cg_bias_size(const struct cg_layer *l);    /* K */

/* What a command line asked for besides the layer. */
struct cg_extra {
	const char *out_dir;     /* -o DIR, or NULL */
	const char *file;        /* --file F, or NULL */
	const char *tuning;      /* --tuning FILE (a record of 'convgen tune'), or NULL */
	int exhaustive;          /* --exhaustive */
	int json;                /* --json */
	int sanitize;            /* --sanitize */
	int no_memory;           /* --no-memory */
	const char *exec;        /* --exec CMD, or NULL */
	int has_seed;            /* --seed given */
	unsigned long seed;      /* --seed N */
	int n_layer_options;     /* how many LAYER options were given */
	int n_schedule;          /* --schedule given */
	int padding_same;        /* --padding same (resolved into the layer's padding) */
};

/* Parse the options argv[0..argc-1] (no subcommand) into 'l' and 'x',
** applying the defaults of docs/cli.md, then validate the layer.  Returns CG_EXIT_OK,
** or CG_EXIT_USAGE with a one-line message in 'msg' naming the option.
** 'allow' is a set of CG_ALLOW_* saying which non-layer options the caller
** accepts.  When 'x->file' is set the layer options are not required. */
#define CG_ALLOW_OUT        1u
#define CG_ALLOW_FILE       2u
#define CG_ALLOW_VERIFY     4u   /* --exhaustive, --json, --seed, --exec, ... */
#define CG_ALLOW_SCHEDULE   8u   /* --schedule, --tuning */
#define CG_ALLOW_ALL        15u
int cg_layer_parse(int argc, char **argv, unsigned allow, struct cg_layer *l,
                   struct cg_extra *x, char *msg, size_t msg_len);

/* Print the options a command that allows 'allow' takes, in --help's three
** parts (LAYER, CODE, other), each with its help text wrapped to 86 columns. */
void cg_options_help(FILE *out, unsigned allow);

/* Write the layer's options as one canonical string, every option in one
** order ("--input 28x28 --kernel 3x3 ... --target T [--schedule S] --dtype D"):
** what a tuning record names its layer by, and the heart of the command in
** the header of NAME.c.  Returns the length, or -1 if 'len' is too short. */
int cg_layer_options(const struct cg_layer *l, char *buf, size_t len);

/* Parse --schedule's "OP.KEY=V,..." into l->choice (unset before: a key given
** twice is refused).  Returns CG_EXIT_OK, or CG_EXIT_USAGE with a message. */
int cg_schedule_parse(const char *s, struct cg_layer *l, char *msg, size_t msg_len);

/* The --schedule text of l->choice, ops and keys in canonical order; "" when
** no choice was made.  Returns the length, or -1 if 'len' is too short. */
int cg_schedule_text(const struct cg_layer *l, char *buf, size_t len);

#endif
