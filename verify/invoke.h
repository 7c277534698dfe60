/* invoke.h: how this process calls the ops of a compiled NAME.c: the arrays
** each op takes, in the order of docs/api.md's prototypes, and one call
** through that prototype.  verify's checks reach the code under test through
** it, and so does 'convgen tune' (gen/cli/tune.c): the one copy of the ABI
** in convgen itself (the driver program that --exec runs on a target,
** verify/target/driver.c, calls through NAME.h's own prototypes).  Compiling
** the file and reading its workspace size are here too, for the same two
** callers. */
#ifndef VF_INVOKE_H
#define VF_INVOKE_H

#include <stddef.h>
#include "../gen/layer/layer.h"

/* The four tensors of docs/math.md; a gradient has its tensor's shape. */
enum vf_tensor { VF_I, VF_W, VF_B, VF_Y, VF_N_TENSORS };

/* Elements of tensor 't' of layer 'l'. */
size_t vf_tensor_size(const struct cg_layer *l, enum vf_tensor t);

/* The arrays of an op's C signature, in ABI order.  'in' are const; 'out'
** are written: the op's output, or sgd_update's weight, bias, velocity_w,
** velocity_b, which it also reads (in_out).  Velocities have the shapes of
** W and b. */
#define VF_MAX_IN 3
#define VF_MAX_OUT 4
struct vf_sig {
	int n_in, n_out, n_scalar;     /* n_scalar: sgd_update's lr, and momentum */
	enum vf_tensor in[VF_MAX_IN], out[VF_MAX_OUT];
	int mask;                      /* index in 'in' of forward's output Y (relu), or -1 */
	int dy;                        /* index in 'in' of dY, or -1 (forward) */
	int in_out;                    /* the written arrays are read first */
	int bias_in, bias_out;         /* where the bias (which may be NULL) is, or -1 */
};
void vf_op_sig(const struct cg_layer *l, enum cg_op op, struct vf_sig *s);
/* The first array an op writes: its output, or for sgd_update the weight. */
enum vf_tensor vf_op_output(enum cg_op op);

/* Call 'fn', the address of NAME_op in the loaded file, whose arrays
** vf_op_sig gave as 's' (a timing loop asks once), with 'in' (const) and
** 'out' (written) in that order, its scalars (lr, momentum) and, when the
** layer has --workspace, 'ws'.  Returns 0, or -1 for a signature this file
** does not know (a verifier bug). */
int vf_invoke(void *fn, const struct cg_layer *l, const struct vf_sig *s, void *const in[],
              void *const out[], const double scalar[], void *ws);

/* A compile running in the background (kernel.c). */
struct vf_cc_job {
	int pid;                      /* -1 when none */
	const char *cc;
	char log[4200];               /* what the compiler printed */
};

/* Compile 'src' into the shared object 'so' as verify does ('$CC -std=c99
** -O2 $CFLAGS -fPIC -shared').  CG_EXIT_OK, or CG_EXIT_FAIL with the
** compiler's complaint in 'msg'.  vf_compile_start only starts it, and
** vf_compile_finish waits for it: several may run at once. */
int vf_compile(const char *cc, const char *src, const char *so, char *msg, size_t msg_len);
int vf_compile_start(struct vf_cc_job *j, const char *cc, const char *src, const char *so);
int vf_compile_finish(struct vf_cc_job *j, const char *src, char *msg, size_t msg_len);

/* NAME_WORKSPACE_BYTES and NAME_WORKSPACE_ALIGN from NAME.h beside NAME.c at
** 'path': what a caller allocates, so what the checks give the code. */
int vf_read_workspace(const char *path, const char *name, size_t *bytes, size_t *align,
                      char *msg, size_t msg_len);

#endif
