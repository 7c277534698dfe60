/* invoke.c: the arrays of each op's prototype (docs/api.md) and a call
** through it (invoke.h). */
#include <string.h>
#include "invoke.h"

size_t vf_tensor_size(const struct cg_layer *l, enum vf_tensor t)
{
	switch (t) {
	case VF_I: return cg_input_size(l);
	case VF_W: return cg_weight_size(l);
	case VF_B: return cg_bias_size(l);
	default:   return cg_output_size(l);
	}
}

/* The first array an op writes: its output, or for sgd_update the weight. */
enum vf_tensor vf_op_output(enum cg_op op)
{
	static const enum vf_tensor out[CG_N_OPS] = { VF_Y, VF_W, VF_I, VF_B, VF_W };
	return out[op];
}

/* docs/api.md's signatures; dY and the Y that masks it have Y's shape. */
void vf_op_sig(const struct cg_layer *l, enum cg_op op, struct vf_sig *s)
{
	static const enum vf_tensor first[CG_N_OPS] = { VF_I, VF_I, VF_W, VF_N_TENSORS, VF_I };

	memset(s, 0, sizeof *s);
	s->mask = s->dy = s->bias_in = s->bias_out = -1;
	if (op == CG_FORWARD) {
		s->in[0] = VF_I, s->in[1] = VF_W, s->in[2] = VF_B;
		s->n_in = 3;
		s->bias_in = 2;
	} else {
		if (first[op] != VF_N_TENSORS)
			s->in[s->n_in++] = first[op];
		if (l->relu)
			s->mask = s->n_in, s->in[s->n_in++] = VF_Y;
		s->dy = s->n_in, s->in[s->n_in++] = VF_Y;
	}
	if (op != CG_SGD_UPDATE) {
		s->out[s->n_out++] = vf_op_output(op);
		return;
	}
	s->in_out = 1;
	s->out[0] = VF_W, s->out[1] = VF_B;
	s->n_out = 2;
	s->bias_out = 1;
	s->n_scalar = 1;
	if (l->momentum) {
		s->out[2] = VF_W, s->out[3] = VF_B;
		s->n_out = 4;
		s->n_scalar = 2;
	}
}

/* L(a, b) is a, b: lets a parenthesized list pass through a macro as one argument. */
#define L(...) __VA_ARGS__
/* One shape of signature, as the key (const arrays, written arrays, scalars)
** and the prototype of docs/api.md, with and without the workspace last.  memcpy,
** as POSIX lets dlsym's object pointer become a function pointer. */
#define SHAPE(T, key, PARAMS, ARGS) \
	case key: \
		if (ws) { void (*f)(L PARAMS, void *); memcpy(&f, &sym, sizeof f); f(L ARGS, ws); } \
		else { void (*f)(L PARAMS); memcpy(&f, &sym, sizeof f); f(L ARGS); } \
		return 0;
#define C(T, i) (const T *)in[i]
#define M(T, i) (T *)out[i]
#define S(T, i) (T)sc[i]
#define SHAPES(T) \
	switch (key) { \
	SHAPE(T, 110, (const T *, T *), (C(T, 0), M(T, 0))) \
	SHAPE(T, 210, (const T *, const T *, T *), (C(T, 0), C(T, 1), M(T, 0))) \
	SHAPE(T, 310, (const T *, const T *, const T *, T *), (C(T, 0), C(T, 1), C(T, 2), M(T, 0))) \
	SHAPE(T, 221, (const T *, const T *, T *, T *, T), (C(T, 0), C(T, 1), M(T, 0), M(T, 1), S(T, 0))) \
	SHAPE(T, 321, (const T *, const T *, const T *, T *, T *, T), (C(T, 0), C(T, 1), C(T, 2), M(T, 0), M(T, 1), S(T, 0))) \
	SHAPE(T, 242, (const T *, const T *, T *, T *, T *, T *, T, T), \
	      (C(T, 0), C(T, 1), M(T, 0), M(T, 1), M(T, 2), M(T, 3), S(T, 0), S(T, 1))) \
	SHAPE(T, 342, (const T *, const T *, const T *, T *, T *, T *, T *, T, T), \
	      (C(T, 0), C(T, 1), C(T, 2), M(T, 0), M(T, 1), M(T, 2), M(T, 3), S(T, 0), S(T, 1))) \
	default: return -1; \
	}

static int call_float(void *sym, int key, void *const in[], void *const out[], const double sc[], void *ws)
{
	SHAPES(float)
}

static int call_double(void *sym, int key, void *const in[], void *const out[], const double sc[], void *ws)
{
	SHAPES(double)
}

int vf_invoke(void *fn, const struct cg_layer *l, const struct vf_sig *s, void *const in[],
              void *const out[], const double scalar[], void *ws)
{
	int key = s->n_in * 100 + s->n_out * 10 + s->n_scalar;

	if (!l->workspace)
		ws = NULL;
	return l->dtype == CG_FLOAT ? call_float(fn, key, in, out, scalar, ws)
	                            : call_double(fn, key, in, out, scalar, ws);
}

