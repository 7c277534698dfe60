/* driver.c: one call of one op of the file under test, as a program of its
** own.  'convgen verify --exec' builds it with the user's $CC and $CFLAGS and
** runs it under the emulator; the memory check builds it for this machine
** under AddressSanitizer.  It reads the call from call.in and writes what came
** of it to call.out, both in the working directory (host files, through
** semihosting on bare metal), so it needs only C's stdio.
**
** The op's arrays are surrounded by guard bytes, because there is no page
** protection here to catch a stray access: the guards of inputs hold all-ones
** bytes, a NaN as float and as double, so a read outside an input shows in
** the output; those of the output hold a pattern that a write outside it
** changes.  The inputs and their guards are hashed before and after the call:
** the ABI makes them const.
**
** call.in:  "CVGI", op (u32, ~0 to only report which functions exist), flags
**           (u32: 1 = forward without bias), then each input's elements.
** call.out: "CVGS", sizeof(T) (u32), 1.5 as a T, defined-but-unlisted ops
**           (u32 mask), written and flushed first so that verify can tell a
**           program that never started from one that hangs; then "CVGE",
**           faults (u32 mask of DRV_*), the output's elements. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cvg_layer.h"   /* written by verify: NAME.h, CVG_T, CVG_*_SIZE, CVG_LISTED_* */
#include "protocol.h"

#define GUARD CVG_GUARD
#define STACK_POISON (64 * 1024)   /* bytes: generated functions take less stack */
#define OUT_GUARD 0xcb

enum { OP_FORWARD, OP_GRAD_WEIGHT, OP_GRAD_INPUT, OP_GRAD_BIAS, N_OPS };

typedef CVG_T T;

/* --workspace: every function takes the caller's scratch last.  The driver's
** is NAME_WORKSPACE_BYTES at NAME_WORKSPACE_ALIGN, between output-style
** guards, and holds all-ones bytes (NaN) so scratch read before it is written
** shows in the output. */
#if CVG_WORKSPACE_ARG
#define WS_PARAM , void *
#define WS , ws
static unsigned char *ws;
#else
#define WS_PARAM
#define WS
#endif

/* An op that the header does not list must not be in the file: a weak
** reference says whether it is, without failing the link when it is not. */
#if !CVG_LISTED_FORWARD
void CVG_FORWARD(const T *, const T *, const T *, T * WS_PARAM) __attribute__((weak));
#endif
#if !CVG_LISTED_GRAD_WEIGHT
void CVG_GRAD_WEIGHT(const T *, const T *, T * WS_PARAM) __attribute__((weak));
#endif
#if !CVG_LISTED_GRAD_INPUT
void CVG_GRAD_INPUT(const T *, const T *, T * WS_PARAM) __attribute__((weak));
#endif
#if !CVG_LISTED_GRAD_BIAS
void CVG_GRAD_BIAS(const T *, T * WS_PARAM) __attribute__((weak));
#endif

static unsigned long unlisted_defined(void)
{
	unsigned long m = 0;
#if !CVG_LISTED_FORWARD
	if (CVG_FORWARD)
		m |= 1u << OP_FORWARD;
#endif
#if !CVG_LISTED_GRAD_WEIGHT
	if (CVG_GRAD_WEIGHT)
		m |= 1u << OP_GRAD_WEIGHT;
#endif
#if !CVG_LISTED_GRAD_INPUT
	if (CVG_GRAD_INPUT)
		m |= 1u << OP_GRAD_INPUT;
#endif
#if !CVG_LISTED_GRAD_BIAS
	if (CVG_GRAD_BIAS)
		m |= 1u << OP_GRAD_BIAS;
#endif
	return m;
}

struct region {
	unsigned char *base;   /* guard, data, guard */
	size_t bytes;          /* of data */
};

static T *data(const struct region *r)
{
	return (T *)(void *)(r->base + GUARD);
}

static int region_alloc(struct region *r, size_t n, int guard_byte)
{
	r->bytes = n * sizeof(T);
	r->base = malloc(r->bytes + 2 * GUARD);
	if (!r->base)
		return -1;
	memset(r->base, guard_byte, r->bytes + 2 * GUARD);
	return 0;
}

static unsigned long hash(const struct region *r, unsigned long h)
{
	size_t i;
	for (i = 0; i < r->bytes + 2 * GUARD; i++)
		h = (h ^ r->base[i]) * 16777619ul;
	return h;
}

static int guard_intact(const unsigned char *g)
{
	size_t i;
	for (i = 0; i < GUARD; i++)
		if (g[i] != OUT_GUARD)
			return 0;
	return 1;
}

/* All-ones bytes over the stack the op is about to use, so that a local it
** reads before writing gives NaN rather than what an earlier call left. */
static __attribute__((noinline)) void poison_stack(void)
{
	unsigned char pad[STACK_POISON];
	volatile unsigned char *p = pad;
	size_t i;
	for (i = 0; i < sizeof pad; i++)
		p[i] = 0xff;
}

static int put_u32(FILE *f, unsigned long v)
{
	unsigned char b[4];
	b[0] = (unsigned char)(v & 0xff);
	b[1] = (unsigned char)(v >> 8 & 0xff);
	b[2] = (unsigned char)(v >> 16 & 0xff);
	b[3] = (unsigned char)(v >> 24 & 0xff);
	return fwrite(b, 1, 4, f) == 4 ? 0 : -1;
}

static int get_u32(FILE *f, unsigned long *v)
{
	unsigned char b[4];
	if (fread(b, 1, 4, f) != 4)
		return -1;
	*v = (unsigned long)b[0] | (unsigned long)b[1] << 8 | (unsigned long)b[2] << 16 |
	     (unsigned long)b[3] << 24;
	return 0;
}

/* The inputs of each op in ABI order, by element count, and its output's. */
static int shapes(unsigned long op, size_t in[3], size_t *out)
{
	switch (op) {
	case OP_FORWARD:
		in[0] = CVG_INPUT_SIZE; in[1] = CVG_WEIGHT_SIZE; in[2] = CVG_BIAS_SIZE;
		*out = CVG_OUTPUT_SIZE;
		return 3;
	case OP_GRAD_WEIGHT:
		in[0] = CVG_INPUT_SIZE; in[1] = CVG_OUTPUT_SIZE;
		*out = CVG_WEIGHT_SIZE;
		return 2;
	case OP_GRAD_INPUT:
		in[0] = CVG_WEIGHT_SIZE; in[1] = CVG_OUTPUT_SIZE;
		*out = CVG_INPUT_SIZE;
		return 2;
	case OP_GRAD_BIAS:
		in[0] = CVG_OUTPUT_SIZE;
		*out = CVG_BIAS_SIZE;
		return 1;
	default:
		return -1;
	}
}

/* Call the op if the header lists it; 0 if it does not. */
static int call(unsigned long op, T *const a[3], T *y)
{
	switch (op) {
#if CVG_LISTED_FORWARD
	case OP_FORWARD: CVG_FORWARD(a[0], a[1], a[2], y WS); return 1;
#endif
#if CVG_LISTED_GRAD_WEIGHT
	case OP_GRAD_WEIGHT: CVG_GRAD_WEIGHT(a[0], a[1], y WS); return 1;
#endif
#if CVG_LISTED_GRAD_INPUT
	case OP_GRAD_INPUT: CVG_GRAD_INPUT(a[0], a[1], y WS); return 1;
#endif
#if CVG_LISTED_GRAD_BIAS
	case OP_GRAD_BIAS: CVG_GRAD_BIAS(a[0], y WS); return 1;
#endif
	default: return 0;
	}
}

static int finish(FILE *out, unsigned long faults, const struct region *y)
{
	if (fwrite("CVGE", 1, 4, out) != 4 || put_u32(out, faults) != 0)
		return 1;
	if (y && fwrite(data(y), 1, y->bytes, out) != y->bytes)
		return 1;
	return fclose(out) != 0;
}

int main(void)
{
	FILE *in, *out;
	T one = (T)1.5, *a[3] = { NULL, NULL, NULL };
	struct region r[3], y;
	unsigned long magic, op, flags, before = 2166136261ul, after = 2166136261ul, faults = 0;
	size_t n_in[3], n_out;
	int i, n;

	out = fopen("call.out", "wb");
	if (!out)
		return 3;
	if (fwrite("CVGS", 1, 4, out) != 4 || put_u32(out, sizeof(T)) != 0 ||
	    fwrite(&one, sizeof one, 1, out) != 1 || put_u32(out, unlisted_defined()) != 0 ||
	    fflush(out) != 0)
		return 3;
	in = fopen("call.in", "rb");
	if (!in || get_u32(in, &magic) != 0 || magic != 0x49475643ul || get_u32(in, &op) != 0 ||
	    get_u32(in, &flags) != 0)
		return finish(out, DRV_BAD_CALL, NULL);
	if (op == 0xfffffffful)
		return finish(out, 0, NULL);
	n = shapes(op, n_in, &n_out);
	if (n < 0)
		return finish(out, DRV_BAD_CALL, NULL);
	if (op == OP_FORWARD && (flags & 1))
		n = 2;   /* no bias: a[2] stays NULL */
	for (i = 0; i < n; i++) {
		if (region_alloc(&r[i], n_in[i], 0xff) != 0)
			return finish(out, DRV_NO_MEMORY, NULL);
		if (fread(data(&r[i]), 1, r[i].bytes, in) != r[i].bytes)
			return finish(out, DRV_BAD_CALL, NULL);
		a[i] = data(&r[i]);
		before = hash(&r[i], before);
	}
	fclose(in);
	if (region_alloc(&y, n_out, OUT_GUARD) != 0)
		return finish(out, DRV_NO_MEMORY, NULL);
	memset(data(&y), 0xff, y.bytes);
#if CVG_WORKSPACE_ARG
	{
		unsigned char *wbase = malloc(CVG_WORKSPACE_BYTES + 2 * GUARD + CVG_WORKSPACE_ALIGN);
		if (!wbase)
			return finish(out, DRV_NO_MEMORY, NULL);
		ws = wbase + GUARD;
		ws += (CVG_WORKSPACE_ALIGN - (uintptr_t)ws % CVG_WORKSPACE_ALIGN) % CVG_WORKSPACE_ALIGN;
		memset(ws - GUARD, OUT_GUARD, CVG_WORKSPACE_BYTES + 2 * GUARD);
		memset(ws, 0xff, CVG_WORKSPACE_BYTES);
	}
#endif
	poison_stack();
	if (!call(op, a, data(&y)))
		return finish(out, DRV_BAD_CALL, NULL);
	for (i = 0; i < n; i++)
		after = hash(&r[i], after);
	if (after != before)
		faults |= DRV_INPUT_WRITTEN;
	if (!guard_intact(y.base))
		faults |= DRV_BELOW_OUTPUT;
	if (!guard_intact(y.base + GUARD + y.bytes))
		faults |= DRV_ABOVE_OUTPUT;
#if CVG_WORKSPACE_ARG
	if (!guard_intact(ws - GUARD))
		faults |= DRV_BELOW_WORKSPACE;
	if (!guard_intact(ws + CVG_WORKSPACE_BYTES))
		faults |= DRV_ABOVE_WORKSPACE;
#endif
	return finish(out, faults, &y);
}
