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
**           (u32: 1 = the bias, and velocity_b with it, passed as NULL), the
**           op's scalars as T (sgd_update: lr, then momentum), each input's
**           elements, then, for sgd_update, the elements of each array it
**           updates (weight, bias, velocity_w, velocity_b; NULL ones left out).
** call.out: "CVGS", sizeof(T) (u32), 1.5 as a T, defined-but-unlisted ops
**           (u32 mask), written and flushed first so that verify can tell a
**           program that never started from one that hangs; then "CVGE",
**           faults (u32 mask of DRV_*), the elements of each array written. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cvg_layer.h"   /* written by verify: NAME.h, CVG_T, CVG_*_SIZE, CVG_LISTED_* */
#include "protocol.h"

/* Under AddressSanitizer (the memory check) the arrays are allocated at
** exactly their size, so that its redzones abut them and a read or write one
** element outside any of them is a report; guards of our own there would
** hide it (a read of a guard byte is a valid access). */
#if defined(__SANITIZE_ADDRESS__)
#define GUARD 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GUARD 0
#endif
#endif
#ifndef GUARD
#define GUARD CVG_GUARD
#endif
#define WS_GUARD CVG_GUARD   /* the workspace keeps its guards: its start is aligned inside its allocation */
#define STACK_POISON (64 * 1024)   /* bytes: generated functions take less stack */
#define OUT_GUARD 0xcb

enum { OP_FORWARD, OP_GRAD_WEIGHT, OP_GRAD_INPUT, OP_GRAD_BIAS, OP_SGD_UPDATE, N_OPS };
#define MAX_IN 3
#define MAX_OUT 4

typedef CVG_T T;

/* --activation relu: the gradient ops take forward's output Y before dY. */
#if CVG_RELU
#define Y_PARAM const T *,
#define Y_ARG(a) a,
#else
#define Y_PARAM
#define Y_ARG(a)
#endif

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
void CVG_GRAD_WEIGHT(const T *, Y_PARAM const T *, T * WS_PARAM) __attribute__((weak));
#endif
#if !CVG_LISTED_GRAD_INPUT
void CVG_GRAD_INPUT(const T *, Y_PARAM const T *, T * WS_PARAM) __attribute__((weak));
#endif
#if !CVG_LISTED_GRAD_BIAS
void CVG_GRAD_BIAS(Y_PARAM const T *, T * WS_PARAM) __attribute__((weak));
#endif
#if !CVG_LISTED_SGD_UPDATE && CVG_MOMENTUM
void CVG_SGD_UPDATE(const T *, Y_PARAM const T *, T *, T *, T *, T *, T, T WS_PARAM) __attribute__((weak));
#elif !CVG_LISTED_SGD_UPDATE
void CVG_SGD_UPDATE(const T *, Y_PARAM const T *, T *, T *, T WS_PARAM) __attribute__((weak));
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
#if !CVG_LISTED_SGD_UPDATE
	if (CVG_SGD_UPDATE)
		m |= 1u << OP_SGD_UPDATE;
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

static int guard_intact(const unsigned char *g, size_t len)
{
	size_t i;
	for (i = 0; i < len; i++)
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

/* The inputs of each op in ABI order, by element count, and the arrays it
** writes; returns the number of inputs, or -1.  *n_scalar and *in_out:
** sgd_update's lr (and momentum), and its arrays that are read first. */
static int shapes(unsigned long op, size_t in[MAX_IN], size_t out[MAX_OUT], int *n_out, int *n_scalar,
                  int *in_out)
{
	int n = 0;

	*n_out = 1;
	*n_scalar = 0;
	*in_out = 0;
	switch (op) {
	case OP_FORWARD:
		in[0] = CVG_INPUT_SIZE; in[1] = CVG_WEIGHT_SIZE; in[2] = CVG_BIAS_SIZE;
		out[0] = CVG_OUTPUT_SIZE;
		return 3;
	case OP_GRAD_WEIGHT: in[n++] = CVG_INPUT_SIZE; out[0] = CVG_WEIGHT_SIZE; break;
	case OP_GRAD_INPUT:  in[n++] = CVG_WEIGHT_SIZE; out[0] = CVG_INPUT_SIZE; break;
	case OP_GRAD_BIAS:   out[0] = CVG_BIAS_SIZE; break;
	case OP_SGD_UPDATE:
		in[n++] = CVG_INPUT_SIZE;
		out[0] = CVG_WEIGHT_SIZE; out[1] = CVG_BIAS_SIZE;
		out[2] = CVG_WEIGHT_SIZE; out[3] = CVG_BIAS_SIZE;
		*n_out = CVG_MOMENTUM ? 4 : 2;
		*n_scalar = CVG_MOMENTUM ? 2 : 1;
		*in_out = 1;
		break;
	default:
		return -1;
	}
	if (CVG_RELU)
		in[n++] = CVG_OUTPUT_SIZE;   /* forward's Y, which masks dY */
	in[n++] = CVG_OUTPUT_SIZE;
	return n;
}

/* Call the op if the header lists it; 0 if it does not. */
static int call(unsigned long op, T *const a[MAX_IN], T *const o[MAX_OUT], const T s[2])
{
	(void)s;
	switch (op) {
#if CVG_LISTED_FORWARD
	case OP_FORWARD: CVG_FORWARD(a[0], a[1], a[2], o[0] WS); return 1;
#endif
#if CVG_LISTED_GRAD_WEIGHT
	case OP_GRAD_WEIGHT: CVG_GRAD_WEIGHT(a[0], Y_ARG(a[1]) a[CVG_RELU + 1], o[0] WS); return 1;
#endif
#if CVG_LISTED_GRAD_INPUT
	case OP_GRAD_INPUT: CVG_GRAD_INPUT(a[0], Y_ARG(a[1]) a[CVG_RELU + 1], o[0] WS); return 1;
#endif
#if CVG_LISTED_GRAD_BIAS
	case OP_GRAD_BIAS: CVG_GRAD_BIAS(Y_ARG(a[0]) a[CVG_RELU], o[0] WS); return 1;
#endif
#if CVG_LISTED_SGD_UPDATE && CVG_MOMENTUM
	case OP_SGD_UPDATE: CVG_SGD_UPDATE(a[0], Y_ARG(a[1]) a[CVG_RELU + 1], o[0], o[1], o[2], o[3], s[0], s[1] WS);
		return 1;
#elif CVG_LISTED_SGD_UPDATE
	case OP_SGD_UPDATE: CVG_SGD_UPDATE(a[0], Y_ARG(a[1]) a[CVG_RELU + 1], o[0], o[1], s[0] WS); return 1;
#endif
	default: return 0;
	}
}

static int finish(FILE *out, unsigned long faults, const struct region *y, int n_out)
{
	int i;

	if (fwrite("CVGE", 1, 4, out) != 4 || put_u32(out, faults) != 0)
		return 1;
	for (i = 0; y && i < n_out; i++)
		if (y[i].base && fwrite(data(&y[i]), 1, y[i].bytes, out) != y[i].bytes)
			return 1;
	return fclose(out) != 0;
}

int main(void)
{
	FILE *in, *out;
	T one = (T)1.5, *a[MAX_IN] = { NULL, NULL, NULL }, *o[MAX_OUT] = { NULL, NULL, NULL, NULL }, s[2];
	struct region r[MAX_IN], y[MAX_OUT];
	unsigned long magic, op, flags, before = 2166136261ul, after = 2166136261ul, faults = 0;
	size_t n_in[MAX_IN], n_out[MAX_OUT];
	int i, n, n_o, n_s, in_out;

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
		return finish(out, DRV_BAD_CALL, NULL, 0);
	if (op == 0xfffffffful)
		return finish(out, 0, NULL, 0);
	n = shapes(op, n_in, n_out, &n_o, &n_s, &in_out);
	if (n < 0 || fread(s, sizeof(T), (size_t)n_s, in) != (size_t)n_s)
		return finish(out, DRV_BAD_CALL, NULL, 0);
	memset(r, 0, sizeof r);
	memset(y, 0, sizeof y);
	for (i = 0; i < n; i++) {
		if (op == OP_FORWARD && (flags & 1) && i == 2)
			continue;   /* no bias: a[2] stays NULL */
		if (region_alloc(&r[i], n_in[i], 0xff) != 0)
			return finish(out, DRV_NO_MEMORY, NULL, 0);
		if (fread(data(&r[i]), 1, r[i].bytes, in) != r[i].bytes)
			return finish(out, DRV_BAD_CALL, NULL, 0);
		a[i] = data(&r[i]);
		before = hash(&r[i], before);
	}
	for (i = 0; i < n_o; i++) {
		if (op == OP_SGD_UPDATE && (flags & 1) && (i == 1 || i == 3))
			continue;   /* no bias: no velocity_b either */
		if (region_alloc(&y[i], n_out[i], OUT_GUARD) != 0)
			return finish(out, DRV_NO_MEMORY, NULL, 0);
		if (!in_out)
			memset(data(&y[i]), 0xff, y[i].bytes);
		else if (fread(data(&y[i]), 1, y[i].bytes, in) != y[i].bytes)
			return finish(out, DRV_BAD_CALL, NULL, 0);
		o[i] = data(&y[i]);
	}
	fclose(in);
#if CVG_WORKSPACE_ARG
	{
		unsigned char *wbase = malloc(CVG_WORKSPACE_BYTES + 2 * WS_GUARD + CVG_WORKSPACE_ALIGN);
		if (!wbase)
			return finish(out, DRV_NO_MEMORY, NULL, 0);
		ws = wbase + WS_GUARD;
		ws += (CVG_WORKSPACE_ALIGN - (uintptr_t)ws % CVG_WORKSPACE_ALIGN) % CVG_WORKSPACE_ALIGN;
		memset(ws - WS_GUARD, OUT_GUARD, CVG_WORKSPACE_BYTES + 2 * WS_GUARD);
		memset(ws, 0xff, CVG_WORKSPACE_BYTES);
	}
#endif
	poison_stack();
	if (!call(op, a, o, s))
		return finish(out, DRV_BAD_CALL, NULL, 0);
	for (i = 0; i < n; i++)
		if (r[i].base)
			after = hash(&r[i], after);
	if (after != before)
		faults |= DRV_INPUT_WRITTEN;
	for (i = 0; i < n_o; i++) {
		if (!y[i].base)
			continue;
		if (!guard_intact(y[i].base, GUARD))
			faults |= DRV_BELOW_OUTPUT | 1ul << (DRV_OUT_SHIFT + i);
		if (!guard_intact(y[i].base + GUARD + y[i].bytes, GUARD))
			faults |= DRV_ABOVE_OUTPUT | 1ul << (DRV_OUT_SHIFT + i);
	}
#if CVG_WORKSPACE_ARG
	if (!guard_intact(ws - WS_GUARD, WS_GUARD))
		faults |= DRV_BELOW_WORKSPACE;
	if (!guard_intact(ws + CVG_WORKSPACE_BYTES, WS_GUARD))
		faults |= DRV_ABOVE_WORKSPACE;
#endif
	return finish(out, faults, y, n_o);
}
