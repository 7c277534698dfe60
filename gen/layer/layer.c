/* layer.c: parse LAYER options (docs/cli.md) into a 'struct cg_layer' and
** validate it once; every later stage trusts what this file accepted. */
#include "layer.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const cg_op_names[CG_N_OPS] = {
	"forward", "grad_weight", "grad_input", "grad_bias", "sgd_update"
};

/* Sizes beyond this are refused before any arithmetic, so products of two
** of them fit in 64 bits and checked products below stay simple. */
#define MAX_DIM 1000000000L

/* Unrolled code grows with taps times border cases; beyond these the
** generated file would be megabytes of straight-line code. */
#define MAX_TAPS 1024L
#define MAX_UNROLLED (1L << 20)

static int fail(char *msg, size_t msg_len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, msg_len, fmt, ap);
	va_end(ap);
	return CG_EXIT_USAGE;
}

#define TARGET_NAME(id, name) name,
const char *const cg_target_names[CG_N_TARGETS] = { CG_TARGETS(TARGET_NAME) };

int cg_target_list(char *buf, size_t len, const char *last_sep)
{
	size_t used = 0;
	int t, n;
	buf[0] = '\0';
	for (t = 0; t < CG_N_TARGETS; t++) {
		n = snprintf(buf + used, len - used, "%s%s", t == 0 ? "" : t == CG_N_TARGETS - 1 ? last_sep : ", ",
		             cg_target_names[t]);
		if (n < 0 || (size_t)n >= len - used)
			return -1;
		used += (size_t)n;
	}
	return (int)used;
}

/* x86-64 levels as the psABI defines them, tested on the CPU that runs
** convgen; other machines by what convgen was built for. */
enum cg_target cg_target_host(void)
{
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
	    __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512dq") &&
	    __builtin_cpu_supports("avx512vl"))
		return CG_X86_64_V4;
	if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
	    __builtin_cpu_supports("bmi2"))
		return CG_X86_64_V3;
	return CG_GENERIC;
#elif defined(__aarch64__)
	return CG_AARCH64;
#else
	return CG_GENERIC;
#endif
}

static int parse_target(const char *s, enum cg_target *t, char *msg, size_t msg_len)
{
	char known[256];
	int i;
	if (strcmp(s, "host") == 0) {
		*t = cg_target_host();
		return CG_EXIT_OK;
	}
	for (i = 0; i < CG_N_TARGETS; i++) {
		if (strcmp(s, cg_target_names[i]) == 0) {
			*t = (enum cg_target)i;
			return CG_EXIT_OK;
		}
	}
	cg_target_list(known, sizeof known, ", ");
	return fail(msg, msg_len, "--target '%s': unknown target (known: host, %s)", s, known);
}

size_t cg_input_size(const struct cg_layer *l)
{
	return (size_t)l->n * l->c * l->h * l->w;
}

size_t cg_weight_size(const struct cg_layer *l)
{
	return (size_t)l->k * (l->c / l->g) * l->k1 * l->k2;
}

size_t cg_output_size(const struct cg_layer *l)
{
	return (size_t)l->n * l->k * l->oh * l->ow;
}

size_t cg_bias_size(const struct cg_layer *l)
{
	return (size_t)l->k;
}

/* Parse a decimal count at 's' (digits only: no sign, no spaces, no '0x'),
** storing it in '*v' and the end in '*end'.  Returns 0 on success. */
static int parse_count(const char *s, long *v, const char **end)
{
	long x = 0;
	const char *p = s;
	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		x = x * 10 + (*p - '0');
		if (x > MAX_DIM)
			return -2;
	}
	*v = x;
	*end = p;
	return 0;
}

/* Parse "N" (meaning NxN) or "AxB" for option 'opt'.
** 'min' is the smallest value allowed (1, or 0 for padding). */
static int parse_pair(const char *opt, const char *s, long min,
                      int *a, int *b, char *msg, size_t msg_len)
{
	long x, y;
	const char *end;
	const char *form = "N or AxB";
	int r = parse_count(s, &x, &end);
	if (r == -2)
		return fail(msg, msg_len, "%s %s: too large (at most %ld)", opt, s, MAX_DIM);
	if (r != 0)
		return fail(msg, msg_len, "%s '%s': expected %s with decimal numbers", opt, s, form);
	if (*end == '\0') {
		y = x;
	} else {
		if (*end != 'x')
			return fail(msg, msg_len, "%s '%s': expected %s with decimal numbers", opt, s, form);
		r = parse_count(end + 1, &y, &end);
		if (r == -2)
			return fail(msg, msg_len, "%s %s: too large (at most %ld)", opt, s, MAX_DIM);
		if (r != 0 || *end != '\0')
			return fail(msg, msg_len, "%s '%s': expected %s with decimal numbers", opt, s, form);
	}
	if (x < min || y < min)
		return fail(msg, msg_len, "%s %s: must be at least %ld", opt, s, min);
	*a = (int)x;
	*b = (int)y;
	return CG_EXIT_OK;
}

static int parse_one(const char *opt, const char *s, int *v, char *msg, size_t msg_len)
{
	long x;
	const char *end;
	int r = parse_count(s, &x, &end);
	if (r == -2)
		return fail(msg, msg_len, "%s %s: too large (at most %ld)", opt, s, MAX_DIM);
	if (r != 0 || *end != '\0')
		return fail(msg, msg_len, "%s '%s': expected a decimal number", opt, s);
	if (x < 1)
		return fail(msg, msg_len, "%s %s: must be at least 1", opt, s);
	*v = (int)x;
	return CG_EXIT_OK;
}

static int parse_ops(const char *s, unsigned *ops, char *msg, size_t msg_len)
{
	const char *p = s;
	*ops = 0;
	if (*s == '\0')
		return fail(msg, msg_len, "--ops '': expected a comma list of forward,grad_weight,grad_input,grad_bias,sgd_update");
	for (;;) {
		size_t len = strcspn(p, ",");
		int op, found = -1;
		for (op = 0; op < CG_N_OPS; op++)
			if (strlen(cg_op_names[op]) == len && strncmp(p, cg_op_names[op], len) == 0)
				found = op;
		if (found < 0)
			return fail(msg, msg_len, "--ops '%s': unknown op '%.*s' (known: forward, grad_weight, grad_input, grad_bias, sgd_update)",
			            s, (int)len, p);
		if (*ops & CG_OP_BIT(found))
			return fail(msg, msg_len, "--ops '%s': '%s' listed twice", s, cg_op_names[found]);
		*ops |= CG_OP_BIT(found);
		if (p[len] == '\0')
			return CG_EXIT_OK;
		p += len + 1;
	}
}

static int parse_name(const char *s, char *name, char *msg, size_t msg_len)
{
	size_t i, len = strlen(s);
	int ok = len > 0 && len < CG_NAME_MAX && !(s[0] >= '0' && s[0] <= '9');
	for (i = 0; ok && i < len; i++) {
		char ch = s[i];
		ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		     (ch >= '0' && ch <= '9') || ch == '_';
	}
	if (!ok)
		return fail(msg, msg_len, "--name '%s': not a C identifier of at most %d characters", s, CG_NAME_MAX - 1);
	memcpy(name, s, len + 1);
	return CG_EXIT_OK;
}

/* Parse --schedule's "OP.KEY=V,OP.KEY=V,..." into l->choice. */
int cg_schedule_parse(const char *s, struct cg_layer *l, char *msg, size_t msg_len)
{
	static const char *const keys[] = { "lanes", "acc", "roll" };
	const char *p = s;
	if (*s == '\0')
		return fail(msg, msg_len, "--schedule '': expected OP.KEY=VALUE,... (keys: lanes, acc, roll)");
	for (;;) {
		size_t len = strcspn(p, ","), oplen = strcspn(p, ".");
		const char *key, *eq, *end;
		long v;
		int op, k, found = -1, *slot;
		for (op = 0; op < CG_N_OPS && oplen < len; op++)
			if (strlen(cg_op_names[op]) == oplen && strncmp(p, cg_op_names[op], oplen) == 0)
				found = op;
		if (found < 0)
			return fail(msg, msg_len, "--schedule '%s': '%.*s' is not OP.KEY=VALUE with a known op", s, (int)len, p);
		if (found == CG_SGD_UPDATE)
			return fail(msg, msg_len, "--schedule '%s': sgd_update takes grad_weight's schedule; give grad_weight.KEY instead", s);
		key = p + oplen + 1;
		eq = memchr(key, '=', (size_t)(p + len - key));
		for (k = 0; eq && k < 3; k++)
			if (strlen(keys[k]) == (size_t)(eq - key) && strncmp(key, keys[k], (size_t)(eq - key)) == 0)
				break;
		if (!eq)
			return fail(msg, msg_len, "--schedule '%s': '%.*s' is not OP.KEY=VALUE", s, (int)len, p);
		if (k == 3)
			return fail(msg, msg_len, "--schedule '%s': '%.*s': unknown key (known: lanes, acc, roll)", s, (int)len, p);
		if (parse_count(eq + 1, &v, &end) != 0 || end != p + len)
			return fail(msg, msg_len, "--schedule '%s': '%.*s': expected a decimal value", s, (int)len, p);
		slot = k == 0 ? &l->choice[found].lanes : k == 1 ? &l->choice[found].acc : &l->choice[found].roll;
		if (*slot != (k == 2 ? -1 : 0))
			return fail(msg, msg_len, "--schedule '%s': %s.%s given twice", s, cg_op_names[found], keys[k]);
		if ((k == 0 && (v < 1 || v > 64 || (v & (v - 1)) != 0)) || (k == 1 && (v < 1 || v > 64)) ||
		    (k == 2 && v > 2))
			return fail(msg, msg_len, "--schedule '%s': %s.%s=%ld out of range (lanes: a power of two up to 64; acc: 1 to 64; roll: 0, 1 or 2)",
			            s, cg_op_names[found], keys[k], v);
		*slot = (int)v;
		if (p[len] == '\0')
			return CG_EXIT_OK;
		p += len + 1;
	}
}

/* Output extent of one axis (docs/math.md), with 'pad' zeros before and
** 'end' after, or 0 when the dilated kernel does not fit the padded input. */
static long out_extent(long in, long pad, long end, long dil, long ker, long stride)
{
	long span = dil * (ker - 1) + 1;
	long padded = in + pad + end;
	return padded < span ? 0 : (padded - span) / stride + 1;
}

/* TensorFlow's SAME padding of one axis (docs/cli.md): the output keeps
** ceil(in / stride) positions; the zeros it needs go half before, the odd
** one after. */
static void same_padding(long in, long dil, long ker, long stride, int *pad, int *end)
{
	long out = (in + stride - 1) / stride;
	long total = (out - 1) * stride + dil * (ker - 1) + 1 - in;
	if (total < 0)
		total = 0;
	*pad = (int)(total / 2);
	*end = (int)(total - total / 2);
}

/* a*b, or -1 when it exceeds INT_MAX (the generated code indexes with int). */
static long mul_int(long a, long b)
{
	return (b != 0 && a > INT_MAX / b) ? -1 : a * b;
}

static long mul_int4(long a, long b, long c, long d)
{
	long x = mul_int(a, b);
	if (x >= 0) x = mul_int(x, c);
	if (x >= 0) x = mul_int(x, d);
	return x;
}

static long min_long(long a, long b) { return a < b ? a : b; }
static long max_long(long a, long b) { return a > b ? a : b; }

static int check(struct cg_layer *l, char *msg, size_t msg_len)
{
	long oh, ow, runs;
	if (l->c % l->g != 0)
		return fail(msg, msg_len, "--groups %d: does not divide --in-channels %d", l->g, l->c);
	if (l->k % l->g != 0)
		return fail(msg, msg_len, "--groups %d: does not divide --out-channels %d", l->g, l->k);
	oh = out_extent(l->h, l->ph, l->eh, l->dh, l->k1, l->sh);
	ow = out_extent(l->w, l->pw, l->ew, l->dw, l->k2, l->sw);
	if (oh == 0 || ow == 0)
		return fail(msg, msg_len, "--kernel %dx%d: larger than the padded input %ldx%ld (padding %dx%d, end %dx%d, dilation %dx%d)",
		            l->k1, l->k2, (long)l->h + l->ph + l->eh, (long)l->w + l->pw + l->ew,
		            l->ph, l->pw, l->eh, l->ew, l->dh, l->dw);
	if ((long)l->k1 * l->k2 > MAX_TAPS)
		return fail(msg, msg_len, "--kernel %dx%d: more than %ld taps; the unrolled window would be too large",
		            l->k1, l->k2, MAX_TAPS);
	/* Each axis splits into at most 2k+1 runs of outputs with the same taps. */
	runs = min_long(oh, 2L * l->k1 + 1) * min_long(ow, 2L * l->k2 + 1);
	if (runs * l->k1 * l->k2 > MAX_UNROLLED)
		return fail(msg, msg_len, "--kernel %dx%d with --padding %dx%d: too many border cases to unroll",
		            l->k1, l->k2, l->ph, l->pw);
	l->oh = (int)oh;
	l->ow = (int)ow;
	/* Every array count, and every padded-plane offset the generated code
	** forms (row * stride * width), must fit int. */
	if (mul_int4(l->n, l->c, (long)l->h + 2L * max_long(l->ph, l->eh),
	             (long)l->w + 2L * max_long(l->pw, l->ew)) < 0 ||
	    mul_int4(l->n, l->k, oh, ow) < 0 ||
	    mul_int4(l->k, l->c / l->g, l->k1, l->k2) < 0 ||
	    mul_int4(oh, l->sh, (long)l->w + 2L * max_long(l->pw, l->ew), 1) < 0 ||
	    mul_int4(l->n, l->c, l->h, l->w) < 0)
		return fail(msg, msg_len, "layer too large: an array has more than %d elements", INT_MAX);
	return CG_EXIT_OK;
}

/* Every option, in the order --help lists them: its flag, what its value
** looks like (NULL: it takes none), the commands that take it (0: every
** one, else the CG_ALLOW_* bits one of which the command must allow), the
** part of --help it is in, and its help text, which cg_options_help wraps.
** In the help, "%T" stands for the list of targets. */
enum section { LAYER, CODE, OTHER };
#define OPTIONS(X) \
	X(INPUT, "--input", "H|HxW", 0, LAYER, "input height x width (required); 1xL for a 1-D layer") \
	X(KERNEL, "--kernel", "K|K1xK2", 0, LAYER, "kernel height x width (required); 1xK for a 1-D layer") \
	X(BATCH, "--batch", "N", 0, LAYER, "batch size (1)") \
	X(INCH, "--in-channels", "C", 0, LAYER, "input channels (1)") \
	X(OUTCH, "--out-channels", "K", 0, LAYER, "output channels (1)") \
	X(GROUPS, "--groups", "G", 0, LAYER, "groups, dividing C and K (1)") \
	X(STRIDE, "--stride", "S|SHxSW", 0, LAYER, "stride (1)") \
	X(PADDING, "--padding", "P|PHxPW", 0, LAYER, "zero padding before the first row/column " \
	  "and, unless --padding-end is given, after the last (0); or 'same', TensorFlow's SAME: " \
	  "ceil(H/S) outputs, the zeros split half before, the odd one after") \
	X(PADDING_END, "--padding-end", "E|EHxEW", 0, LAYER, "zero padding after the last row/column (--padding's)") \
	X(DILATION, "--dilation", "D|DHxDW", 0, LAYER, "dilation (1)") \
	X(LAYOUT, "--layout", "nchw|nhwc", 0, LAYER, "tensor layout (nchw); nhwc: input NxHxWxC, " \
	  "output NxOHxOWxK and weight K x k1 x k2 x C/G (OHWI, as CMSIS-NN stores it)") \
	X(ACTIVATION, "--activation", "A", 0, LAYER, "none or relu: forward gives max(0, conv + b) " \
	  "and the gradient ops take forward's output to mask dL/dY with [Y > 0] (none)") \
	X(MOMENTUM, "--momentum", NULL, 0, LAYER, "sgd_update keeps a velocity: v = momentum v + dW; W -= lr v") \
	X(TARGET, "--target", "T", 0, CODE, "host, %T (host: the target that fits this machine, " \
	  "resolved now and recorded in the file)") \
	X(SCHEDULE, "--schedule", "S", CG_ALLOW_SCHEDULE, CODE, "schedule choices over the target's, " \
	  "OP.KEY=V,... with keys lanes (1, 2, 4, ... 64), acc (1 to 64), roll (0, 1, 2)") \
	X(STACK_LIMIT, "--stack-limit", "B", 0, CODE, "bytes one function's own stack frame may take, " \
	  "a promise checked against gcc's -fstack-usage (the target's: 1024 on cortex-m*, 61440 elsewhere)") \
	X(WORKSPACE, "--workspace", NULL, 0, CODE, "every function takes a last argument 'void *workspace', " \
	  "the caller's scratch of NAME_WORKSPACE_BYTES bytes aligned to NAME_WORKSPACE_ALIGN, instead of " \
	  "scratch on the stack") \
	X(OPTIMIZE, "--optimize", "speed|size", 0, CODE, "the fastest code (speed) or the smallest code " \
	  "still faster than plain loops (size)") \
	X(TUNING, "--tuning", "FILE", CG_ALLOW_SCHEDULE, CODE, "the choices of a record that " \
	  "'convgen tune -o FILE' wrote") \
	X(DTYPE, "--dtype", "float|double", 0, OTHER, "element type (float)") \
	X(OPS, "--ops", "LIST", 0, OTHER, "comma list of forward,grad_weight,grad_input,grad_bias and " \
	  "sgd_update, one SGD step on W and b with no dL/dW array (the first four)") \
	X(NAME, "--name", "NAME", 0, OTHER, "C identifier prefixing files and functions (conv)") \
	X(OUT, "-o", "DIR", CG_ALLOW_OUT, OTHER, "output directory, created if needed (tune: the record file)") \
	X(FILE, "--file", "F", CG_ALLOW_FILE, OTHER, "verify F, a NAME.c that 'generate' wrote, reading " \
	  "its layer from its header comment") \
	X(EXHAUSTIVE, "--exhaustive", NULL, CG_ALLOW_VERIFY, OTHER, "finite differences on every " \
	  "coordinate, however large") \
	X(SEED, "--seed", "N", CG_ALLOW_VERIFY, OTHER, "seed of verify's random inputs (1)") \
	X(EXEC, "--exec", "CMD", CG_ALLOW_VERIFY, OTHER, "prove the code as the target runs it: build " \
	  "it with $CC $CFLAGS into a driver program and run that as CMD PROGRAM (also $CONVGEN_EXEC), " \
	  "e.g. 'qemu-aarch64 -L /usr/aarch64-linux-gnu'; for arm-none-eabi-gcc a firmware image for " \
	  "QEMU's mps2 boards: 'qemu-system-arm -M mps2-an386 -cpu cortex-m4 -nographic -semihosting -kernel'") \
	X(SANITIZE, "--sanitize", NULL, CG_ALLOW_VERIFY, OTHER, "run the memory check under ASan and " \
	  "UBSan at -O1 (slower to compile) instead of ASan alone at -O0") \
	X(NO_MEMORY, "--no-memory", NULL, CG_ALLOW_VERIFY, OTHER, "a partial run without the memory " \
	  "check (the report says so): out-of-bounds accesses to the kernel's own arrays may go unseen") \
	X(JSON, "--json", NULL, CG_ALLOW_VERIFY, OTHER, "print verify's report as one JSON document " \
	  "instead of text (docs/verify.md describes it)")

#define OPTION_ENUM(id, flag, value, allow, section, help) O_##id,
enum { OPTIONS(OPTION_ENUM) O_N };
#define OPTION_ROW(id, flag, value, allow, section, help) { flag, value, allow, section, help },
static const struct option {
	const char *flag, *value;
	unsigned allow;
	enum section section;
	const char *help;
} options[O_N] = { OPTIONS(OPTION_ROW) };

static int allowed(const struct option *o, unsigned allow)
{
	return o->allow == 0 || (o->allow & allow) != 0;
}

/* Print 'text' from column 'col' on, its words wrapped before column WIDTH
** (the usage lines' width) and each new line indented by INDENT, the column
** where help texts start; "%T" becomes the list of targets. */
#define WIDTH 87
#define INDENT 23
static void wrap(FILE *out, const char *text, int col)
{
	char buf[1024], targets[256];
	const char *t = strstr(text, "%T"), *p = buf;
	int first = 1;
	cg_target_list(targets, sizeof targets, " or ");
	if (t)
		snprintf(buf, sizeof buf, "%.*s%s%s", (int)(t - text), text, targets, t + 2);
	else
		snprintf(buf, sizeof buf, "%s", text);
	while (*p) {
		int len = (int)strcspn(p, " ");
		if (!first && col + 1 + len >= WIDTH) {
			fprintf(out, "\n%*s", INDENT, "");
			col = INDENT;
		} else if (!first) {
			fputc(' ', out);
			col++;
		}
		fprintf(out, "%.*s", len, p);
		col += len;
		first = 0;
		p += len;
		p += strspn(p, " ");
	}
	fputc('\n', out);
}

void cg_options_help(FILE *out, unsigned allow)
{
	static const char *const heading[] = {
		"LAYER options (defaults give the seed layer):",
		"CODE options shape the code, never its results:",
		"Other options:"
	};
	int s, o;
	for (s = LAYER; s <= OTHER; s++) {
		fprintf(out, "%s\n", heading[s]);
		for (o = 0; o < O_N; o++) {
			char name[64];
			if (options[o].section != (enum section)s || !allowed(&options[o], allow))
				continue;
			snprintf(name, sizeof name, "%s%s%s", options[o].flag, options[o].value ? " " : "",
			         options[o].value ? options[o].value : "");
			fprintf(out, "  %-20s ", name);
			wrap(out, options[o].help, 2 + (int)(strlen(name) > 20 ? strlen(name) : 20) + 1);
		}
		fputc('\n', out);
	}
}

/* An option with two values: *flag = 0 for 'off', 1 for 'on'. */
static int parse_either(const char *opt, const char *v, const char *off, const char *on, int *flag,
                        char *msg, size_t msg_len)
{
	if (strcmp(v, off) != 0 && strcmp(v, on) != 0)
		return fail(msg, msg_len, "%s '%s': expected %s or %s", opt, v, off, on);
	*flag = strcmp(v, on) == 0;
	return CG_EXIT_OK;
}

static int set_option(int o, const char *v, struct cg_layer *l, struct cg_extra *x,
                      char *msg, size_t msg_len)
{
	switch (o) {
	case O_INPUT:    return parse_pair("--input", v, 1, &l->h, &l->w, msg, msg_len);
	case O_KERNEL:   return parse_pair("--kernel", v, 1, &l->k1, &l->k2, msg, msg_len);
	case O_BATCH:    return parse_one("--batch", v, &l->n, msg, msg_len);
	case O_INCH:     return parse_one("--in-channels", v, &l->c, msg, msg_len);
	case O_OUTCH:    return parse_one("--out-channels", v, &l->k, msg, msg_len);
	case O_GROUPS:   return parse_one("--groups", v, &l->g, msg, msg_len);
	case O_STRIDE:   return parse_pair("--stride", v, 1, &l->sh, &l->sw, msg, msg_len);
	case O_PADDING:
		if (strcmp(v, "same") == 0) {
			x->padding_same = 1;
			return CG_EXIT_OK;
		}
		return parse_pair("--padding", v, 0, &l->ph, &l->pw, msg, msg_len);
	case O_PADDING_END: return parse_pair("--padding-end", v, 0, &l->eh, &l->ew, msg, msg_len);
	case O_DILATION: return parse_pair("--dilation", v, 1, &l->dh, &l->dw, msg, msg_len);
	case O_LAYOUT:     return parse_either("--layout", v, "nchw", "nhwc", &l->nhwc, msg, msg_len);
	case O_ACTIVATION: return parse_either("--activation", v, "none", "relu", &l->relu, msg, msg_len);
	case O_MOMENTUM:    l->momentum = 1; return CG_EXIT_OK;
	case O_STACK_LIMIT: return parse_one("--stack-limit", v, &l->stack_limit, msg, msg_len);
	case O_WORKSPACE:   l->workspace = 1; return CG_EXIT_OK;
	case O_OPTIMIZE:   return parse_either("--optimize", v, "speed", "size", &l->optimize_size, msg, msg_len);
	case O_DTYPE: {
		int is_double = 0, r = parse_either("--dtype", v, "float", "double", &is_double, msg, msg_len);
		l->dtype = is_double ? CG_DOUBLE : CG_FLOAT;
		return r;
	}
	case O_OPS:      return parse_ops(v, &l->ops, msg, msg_len);
	case O_NAME:     return parse_name(v, l->name, msg, msg_len);
	case O_TARGET:   return parse_target(v, &l->target, msg, msg_len);
	case O_SCHEDULE: return cg_schedule_parse(v, l, msg, msg_len);
	case O_TUNING:
		if (*v == '\0')
			return fail(msg, msg_len, "--tuning '': expected a tuning record file");
		x->tuning = v;
		return CG_EXIT_OK;
	case O_OUT:
		if (*v == '\0')
			return fail(msg, msg_len, "-o '': expected a directory");
		x->out_dir = v;
		return CG_EXIT_OK;
	case O_FILE:
		if (*v == '\0')
			return fail(msg, msg_len, "--file '': expected a file name");
		x->file = v;
		return CG_EXIT_OK;
	case O_EXHAUSTIVE: x->exhaustive = 1; return CG_EXIT_OK;
	case O_JSON:       x->json = 1; return CG_EXIT_OK;
	case O_SANITIZE:   x->sanitize = 1; return CG_EXIT_OK;
	case O_NO_MEMORY:  x->no_memory = 1; return CG_EXIT_OK;
	case O_EXEC:
		if (v[strspn(v, " \t")] == '\0')
			return fail(msg, msg_len, "--exec '%s': expected an emulator command", v);
		x->exec = v;
		return CG_EXIT_OK;
	case O_SEED: {
		char *end;
		unsigned long s;
		errno = 0;
		s = strtoul(v, &end, 10);
		if (*v < '0' || *v > '9' || *end != '\0' || errno == ERANGE)
			return fail(msg, msg_len, "--seed '%s': expected a decimal number", v);
		x->seed = s;
		x->has_seed = 1;
		return CG_EXIT_OK;
	}
	}
	return fail(msg, msg_len, "internal error: option %d", o);
}

/* The edit distance of a and b (insertions, deletions, substitutions and
** swaps of two neighbours), for names of at most 63 characters. */
static int distance(const char *a, const char *b)
{
	int d[64][64], i, j, la = (int)strlen(a), lb = (int)strlen(b);
	if (la > 63 || lb > 63)
		return 64;
	for (i = 0; i <= la; i++)
		d[i][0] = i;
	for (j = 0; j <= lb; j++)
		d[0][j] = j;
	for (i = 1; i <= la; i++)
		for (j = 1; j <= lb; j++) {
			int cost = a[i - 1] == b[j - 1] ? 0 : 1, v = d[i - 1][j - 1] + cost;
			if (d[i - 1][j] + 1 < v) v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v) v = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	return d[la][lb];
}

/* The option a mistyped 'flag' most likely meant ('_' read as '-'), or NULL
** when none is close: at most 2 edits, or a third of the name. */
static const char *nearest_flag(const char *flag, unsigned allow)
{
	char norm[64];
	const char *best = NULL;
	int o, d, best_d = 64, limit;
	size_t k;
	snprintf(norm, sizeof norm, "%s", flag);
	for (k = 0; norm[k]; k++)
		if (norm[k] == '_')
			norm[k] = '-';
	limit = (int)strlen(norm) / 3 > 2 ? (int)strlen(norm) / 3 : 2;
	for (o = 0; o < O_N; o++) {
		if (!allowed(&options[o], allow))
			continue;
		d = distance(norm, options[o].flag);
		if (d <= limit && d < best_d) {
			best_d = d;
			best = options[o].flag;
		}
	}
	return best;
}

int cg_layer_parse(int argc, char **argv, unsigned allow, struct cg_layer *l,
                   struct cg_extra *x, char *msg, size_t msg_len)
{
	int seen[O_N] = {0};
	int i, o, r;
	memset(l, 0, sizeof *l);
	memset(x, 0, sizeof *x);
	l->n = l->c = l->k = l->g = 1;
	l->sh = l->sw = l->dh = l->dw = 1;
	l->dtype = CG_FLOAT;
	l->ops = CG_DEFAULT_OPS;
	l->target = cg_target_host();
	for (i = 0; i < CG_N_OPS; i++)
		l->choice[i].roll = -1;
	strcpy(l->name, "conv");
	x->seed = 1;
	for (i = 0; i < argc; i++) {
		const char *arg = argv[i], *value = NULL;
		char flag[64];
		/* --option=value is --option value */
		size_t len = arg[0] == '-' ? strcspn(arg, "=") : strlen(arg);
		snprintf(flag, sizeof flag, "%.*s", (int)len, arg);
		for (o = 0; o < O_N; o++)
			if (strlen(options[o].flag) == len && strncmp(arg, options[o].flag, len) == 0)
				break;
		if (o == O_N || !allowed(&options[o], allow)) {
			const char *near = arg[0] == '-' && arg[1] == '-' ? nearest_flag(flag, allow) : NULL;
			if (near)
				return fail(msg, msg_len, "%s: unknown option; did you mean %s? (see convgen --help)", flag, near);
			if (arg[0] == '-')
				return fail(msg, msg_len, "%s: unknown option (see convgen --help)", flag);
			return fail(msg, msg_len, "'%s': unexpected argument (see convgen --help)", arg);
		}
		if (seen[o]++)
			return fail(msg, msg_len, "%s: given twice", flag);
		if (arg[len] == '=') {
			if (!options[o].value)
				return fail(msg, msg_len, "%s: takes no value ('%s')", flag, arg);
			value = arg + len + 1;
		} else if (options[o].value) {
			if (i + 1 >= argc)
				return fail(msg, msg_len, "%s: missing value", arg);
			value = argv[++i];
		}
		r = set_option(o, value, l, x, msg, msg_len);
		if (r != CG_EXIT_OK)
			return r;
		if (options[o].allow == 0 || options[o].allow == CG_ALLOW_SCHEDULE)
			x->n_layer_options++;
	}
	if (x->file) {
		if (x->n_layer_options > 0)
			return fail(msg, msg_len, "--file: the layer comes from the file's header; drop the layer options");
		return CG_EXIT_OK;
	}
	x->n_schedule = seen[O_SCHEDULE];
	if (seen[O_TUNING] && seen[O_SCHEDULE])
		return fail(msg, msg_len, "--tuning: gives the schedule already; drop --schedule");
	if (!seen[O_INPUT])
		return fail(msg, msg_len, "--input: required (HxW)");
	if (!seen[O_KERNEL])
		return fail(msg, msg_len, "--kernel: required (k1xk2)");
	if (l->momentum && !(l->ops & CG_OP_BIT(CG_SGD_UPDATE)))
		return fail(msg, msg_len, "--momentum: only sgd_update keeps a velocity; add sgd_update to --ops");
	if (x->padding_same && seen[O_PADDING_END])
		return fail(msg, msg_len, "--padding-end: --padding same decides the padding at the end; drop one of them");
	if (x->padding_same) {
		same_padding(l->h, l->dh, l->k1, l->sh, &l->ph, &l->eh);
		same_padding(l->w, l->dw, l->k2, l->sw, &l->pw, &l->ew);
	} else if (!seen[O_PADDING_END]) {
		l->eh = l->ph;
		l->ew = l->pw;
	}
	return check(l, msg, msg_len);
}

int cg_schedule_text(const struct cg_layer *l, char *buf, size_t len)
{
	size_t used = 0;
	int op, n;
	buf[0] = '\0';
	for (op = 0; op < CG_N_OPS; op++) {
		const struct cg_choice *ch = &l->choice[op];
		const char *name = cg_op_names[op];
		/* sgd_update runs grad_weight's schedule, asked for or not. */
		if (!(l->ops & CG_OP_BIT(op)) &&
		    !(op == CG_GRAD_WEIGHT && (l->ops & CG_OP_BIT(CG_SGD_UPDATE))))
			continue;
		n = 0;
		if (ch->lanes)
			n += snprintf(buf + used + n, len - used - (size_t)n, "%s%s.lanes=%d", used + (size_t)n ? "," : "", name, ch->lanes);
		if ((size_t)n < len - used && ch->acc)
			n += snprintf(buf + used + n, len - used - (size_t)n, "%s%s.acc=%d", used + (size_t)n ? "," : "", name, ch->acc);
		if ((size_t)n < len - used && ch->roll >= 0)
			n += snprintf(buf + used + n, len - used - (size_t)n, "%s%s.roll=%d", used + (size_t)n ? "," : "", name, ch->roll);
		if ((size_t)n >= len - used)
			return -1;
		used += (size_t)n;
	}
	return (int)used;
}

int cg_layer_options(const struct cg_layer *l, char *buf, size_t len)
{
	char sched[512], end[64] = "", limit[48] = "";
	int n;
	if (cg_schedule_text(l, sched, sizeof sched) < 0)
		return -1;
	/* Options at their defaults are left out, so files generated before they
	** existed keep their bytes. */
	if (l->eh != l->ph || l->ew != l->pw)
		snprintf(end, sizeof end, " --padding-end %dx%d", l->eh, l->ew);
	if (l->stack_limit)
		snprintf(limit, sizeof limit, " --stack-limit %d", l->stack_limit);
	n = snprintf(buf, len,
	             "--input %dx%d --kernel %dx%d --batch %d --in-channels %d --out-channels %d"
	             " --groups %d --stride %dx%d --padding %dx%d%s --dilation %dx%d%s%s%s --target %s%s%s%s%s%s"
	             " --dtype %s",
	             l->h, l->w, l->k1, l->k2, l->n, l->c, l->k, l->g, l->sh, l->sw, l->ph, l->pw,
	             end, l->dh, l->dw, l->nhwc ? " --layout nhwc" : "", l->relu ? " --activation relu" : "",
	             l->momentum ? " --momentum" : "", cg_target_names[l->target],
	             limit, l->workspace ? " --workspace" : "", l->optimize_size ? " --optimize size" : "",
	             sched[0] ? " --schedule " : "", sched,
	             l->dtype == CG_FLOAT ? "float" : "double");
	return n < 0 || (size_t)n >= len ? -1 : n;
}
