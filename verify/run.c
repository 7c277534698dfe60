/* run.c: call one op of the code under test so that nothing it does can hurt
** the verifier.  The call happens in a forked child (a crash or a hang is a
** failed check, not a dead convgen); arrays live in MAP_SHARED mappings the
** parent reads afterwards; each array ends right at a PROT_NONE page, so
** reading or writing past its end faults, and starts after a canary region
** that the parent checks, so a write before its start is caught too. */
#define _DEFAULT_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include "vf.h"

#define VF_TIMEOUT 60          /* seconds a call may take: generous for naive loops on 2^31 outputs */
#define VF_EXEC_TIMEOUT 600    /* under an emulator, code runs 10 to 100 times slower */
#define VF_STACK_POISON (256 * 1024)   /* generated functions use < 64 KiB of stack */
#define CANARY 0xcb            /* a byte pattern no float or double output is likely to end in */

enum { CHILD_OK = 0, CHILD_LOAD = 3, CHILD_SYMBOL = 4, CHILD_SETUP = 5 };

static size_t page_size(void)
{
	long p = sysconf(_SC_PAGESIZE);
	return p > 0 ? (size_t)p : 4096;
}

/* Layout: [guard page][canary: at least one page][data][guard page]. */
int vf_buf_alloc(struct vf_buf *b, size_t n, size_t elem)
{
	size_t pg = page_size(), bytes = n * elem;
	size_t data_pages = (bytes + pg - 1) / pg;
	unsigned char *end;

	memset(b, 0, sizeof *b);
	b->map_len = (data_pages + 3) * pg;
	b->map = mmap(NULL, b->map_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (b->map == MAP_FAILED) {
		b->map = NULL;
		return -1;
	}
	end = b->map + b->map_len - pg;
	if (mprotect(b->map, pg, PROT_NONE) != 0 || mprotect(end, pg, PROT_NONE) != 0) {
		vf_buf_free(b);
		return -1;
	}
	b->data = end - bytes;     /* page-aligned minus a multiple of elem: aligned for T */
	b->canary = b->map + pg;
	b->canary_len = (size_t)((unsigned char *)b->data - b->canary);
	/* All ones is a NaN as float and as double: a kernel that reads before
	** the start of an input gets NaN, and its output shows it. */
	memset(b->canary, 0xff, b->canary_len);
	b->n = n;
	b->elem = elem;
	return 0;
}

void vf_buf_free(struct vf_buf *b)
{
	if (b->map)
		munmap(b->map, b->map_len);
	memset(b, 0, sizeof *b);
}

void vf_buf_channels_last(struct vf_buf *b, const struct cg_layer *l, enum vf_tensor t)
{
	switch (t) {
	case VF_I: b->cl_c = (size_t)l->c; b->cl_p = (size_t)l->h * (size_t)l->w; break;
	case VF_W: b->cl_c = (size_t)(l->c / l->g); b->cl_p = (size_t)l->k1 * (size_t)l->k2; break;
	case VF_Y: b->cl_c = (size_t)l->k; b->cl_p = (size_t)l->oh * (size_t)l->ow; break;
	default:   b->cl_c = 0; break;
	}
}

/* Where element i of docs/math.md's layout lives in 'b'. */
static size_t place(const struct vf_buf *b, size_t i)
{
	size_t p, c;
	if (!b->cl_c)
		return i;
	p = i % b->cl_p;
	i /= b->cl_p;
	c = i % b->cl_c;
	return (i / b->cl_c * b->cl_p + p) * b->cl_c + c;
}

void vf_buf_set(struct vf_buf *b, size_t i, double v)
{
	i = place(b, i);
	if (b->elem == sizeof(float))
		((float *)b->data)[i] = (float)v;
	else
		((double *)b->data)[i] = v;
}

double vf_buf_get(const struct vf_buf *b, size_t i)
{
	i = place(b, i);
	if (b->elem == sizeof(float))
		return ((const float *)b->data)[i];
	return ((const double *)b->data)[i];
}

/* NaN, so an output element the op forgets to write, or accumulates into,
** shows.  Every element is NaN, so the layout need not be mapped. */
void vf_buf_fill_nan(struct vf_buf *b)
{
	size_t i;

	for (i = 0; i < b->n; i++)
		if (b->elem == sizeof(float))
			((float *)b->data)[i] = NAN;
		else
			((double *)b->data)[i] = NAN;
}

static int canary_intact(const struct vf_buf *b)
{
	size_t i;

	for (i = 0; i < b->canary_len; i++)
		if (b->canary[i] != CANARY)
			return 0;
	return 1;
}

/* Runs in the child, never returns.  Loading happens here too, so even a
** constructor in the file under test runs outside the verifier. */
/* Fill the stack the kernel is about to use with all-ones bytes, a NaN as
** float and as double, so a local it reads before writing (a partial sum
** left unset) gives NaN instead of whatever an earlier call left there:
** mutation testing found such kernels passing on a stack that held zeros.
** noinline: the frame must be the one the kernel's frame will reuse;
** no_sanitize: under ASan (scripts/sanitize) 'pad' would otherwise live on
** its fake stack, not where the kernel's frame will be. */
static __attribute__((noinline, no_sanitize("address"))) void poison_stack(void)
{
	unsigned char pad[VF_STACK_POISON];
	volatile unsigned char *p = pad;   /* volatile: the stores must happen */
	size_t i;

	for (i = 0; i < sizeof pad; i++)
		p[i] = 0xff;
}

static void child(const struct vf_ctx *x, int op, const struct vf_args *args, void *ws, char *note,
                  size_t note_len)
{
	struct rlimit no_core = { 0, 0 };
	struct vf_sig s;
	void *h, *sym = NULL, *a[VF_MAX_IN] = { NULL, NULL, NULL }, *o_data[VF_MAX_OUT] = { NULL, NULL, NULL, NULL };
	char name[CG_NAME_MAX + 32];
	int i, o;

	signal(SIGALRM, SIG_DFL);
	signal(SIGSEGV, SIG_DFL);
	setrlimit(RLIMIT_CORE, &no_core);     /* a crash is expected here, a core file is not */
	alarm(VF_TIMEOUT);
	h = dlopen(x->so_path, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		snprintf(note, note_len, "cannot load the compiled file: %s", dlerror());
		_exit(CHILD_LOAD);
	}
	for (o = op < 0 ? 0 : op; o < (op < 0 ? CG_N_OPS : op + 1); o++) {
		snprintf(name, sizeof name, "%s_%s", x->l.name, cg_op_names[o]);
		sym = dlsym(h, name);
		if (!(x->l.ops & CG_OP_BIT(o))) {
			/* A header whose --ops was narrowed by hand would leave code unproven. */
			if (sym) {
				snprintf(note, note_len, "the file defines %s, which its header's --ops does not list", name);
				_exit(CHILD_SYMBOL);
			}
			continue;
		}
		if (!sym) {
			snprintf(note, note_len, "the compiled file has no function %s", name);
			_exit(CHILD_SYMBOL);
		}
	}
	if (op < 0 || !sym)
		_exit(op < 0 ? CHILD_OK : CHILD_SETUP);
	/* Inputs are const in the ABI: make writing them (and their canaries) fault. */
	vf_op_sig(&x->l, (enum cg_op)op, &s);
	for (i = 0; i < s.n_in; i++) {
		const struct vf_buf *b = args->in[i];
		if (!b)
			continue;
		a[i] = b->data;
		if (mprotect(b->canary, b->map_len - 2 * page_size(), PROT_READ) != 0) {
			snprintf(note, note_len, "mprotect: %s", strerror(errno));
			_exit(CHILD_SETUP);
		}
	}
	for (i = 0; i < s.n_out; i++)
		o_data[i] = args->out[i] ? args->out[i]->data : NULL;
	poison_stack();
	if (vf_invoke(sym, &x->l, &s, a, o_data, args->scalar, ws) != 0) {
		snprintf(note, note_len, "the verifier cannot call %s: no prototype for its signature", name);
		_exit(CHILD_SETUP);
	}
	_exit(CHILD_OK);
}

/* Fork, run, wait, and say why it went wrong if it did.  op < 0: only load
** and look up every op's symbol. */
static int run_child(const struct vf_ctx *x, int op, const struct vf_args *a, void *ws, char *why,
                     size_t why_len)
{
	size_t pg = page_size();
	char *note = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pid_t pid;
	int st, rc = -1;

	if (note == MAP_FAILED) {
		snprintf(why, why_len, "mmap: %s", strerror(errno));
		return -1;
	}
	note[0] = '\0';
	fflush(NULL);   /* the child leaves by _exit; nothing buffered should be written twice anyway */
	pid = fork();
	if (pid < 0) {
		snprintf(why, why_len, "fork: %s", strerror(errno));
		munmap(note, pg);
		return -1;
	}
	if (pid == 0)
		child(x, op, a, ws, note, pg);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR) {
			snprintf(why, why_len, "waitpid: %s", strerror(errno));
			munmap(note, pg);
			return -1;
		}
	if (WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM) {
		snprintf(why, why_len, "did not return within %d s", VF_TIMEOUT);
		rc = VF_TIMED_OUT;
	} else if (WIFSIGNALED(st))
		snprintf(why, why_len, "crashed with signal %d (%s)", WTERMSIG(st), strsignal(WTERMSIG(st)));
	else if (WEXITSTATUS(st) != CHILD_OK && note[0])
		snprintf(why, why_len, "%s", note);
	else if (WEXITSTATUS(st) != CHILD_OK)
		snprintf(why, why_len, "exited with status %d", WEXITSTATUS(st));
	else
		rc = 0;
	munmap(note, pg);
	return rc;
}

int vf_probe(const struct vf_ctx *x, char *why, size_t why_len)
{
	struct vf_args none;

	memset(&none, 0, sizeof none);
	if (x->exec)
		return vf_prog_run(x, &x->target, -1, &none, VF_EXEC_TIMEOUT, why, why_len);
	return run_child(x, -1, &none, NULL, why, why_len);
}

int vf_run(const struct vf_ctx *x, enum cg_op op, const struct vf_args *a, char *why, size_t why_len)
{
	struct vf_buf ws;
	struct vf_sig s;
	int rc, i;

	if (x->exec)   /* the driver program guards the arrays on the target */
		return vf_prog_run(x, &x->target, (int)op, a, VF_EXEC_TIMEOUT, why, why_len);
	vf_op_sig(&x->l, op, &s);
	for (i = 0; i < s.n_out; i++)
		if (a->out[i])
			memset(a->out[i]->canary, CANARY, a->out[i]->canary_len);
	/* The workspace ends at a guard page and starts after a canary, like the
	** output; it holds NaN bytes, so a kernel that reads scratch it did not
	** write first gets NaN into its output. */
	memset(&ws, 0, sizeof ws);
	if (x->l.workspace) {
		if (vf_buf_alloc(&ws, x->ws_bytes, 1) != 0) {
			snprintf(why, why_len, "out of memory for a workspace of %zu bytes", x->ws_bytes);
			return -1;
		}
		memset(ws.canary, CANARY, ws.canary_len);
		memset(ws.data, 0xff, x->ws_bytes);
	}
	rc = run_child(x, (int)op, a, x->l.workspace ? ws.data : NULL, why, why_len);
	for (i = 0; rc == 0 && i < s.n_out; i++)
		if (a->out[i] && !canary_intact(a->out[i])) {
			snprintf(why, why_len, "wrote before the start of %s", vf_out_name(op, i));
			rc = -1;
		}
	if (rc == 0 && x->l.workspace && !canary_intact(&ws)) {
		snprintf(why, why_len, "wrote before the start of its workspace");
		rc = -1;
	}
	vf_buf_free(&ws);
	return rc;
}
