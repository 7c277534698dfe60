/* verify.c: vf_verify_file, the one path through the checker: read the layer
** from the file's header, compile the file, run every check on every op it
** contains, print the report.  'verify LAYER' ends up here too. */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>
#include "vf.h"

#define MAX_RESULTS (CG_N_OPS * VF_N_CHECKS)

/* Which checks an op gets: forward has no gradient to difference, only the
** ops that mask dY with a ReLU's output get relu-at-zero, and --no-memory
** leaves the memory check out. */
static int has_check(const struct vf_ctx *x, enum cg_op op, enum vf_check c)
{
	if (c == VF_MEMORY)
		return x->memory;
	if (c == VF_RELU_ZERO)
		return x->l.relu && op != CG_FORWARD;
	return !(op == CG_FORWARD && c == VF_FDIFF);
}

static int (*const checks[VF_N_CHECKS])(const struct vf_ctx *, enum cg_op, struct vf_result *) = {
	vf_check_reference, vf_check_fdiff, vf_check_rounding, vf_check_memory, vf_check_relu_zero
};

static void setup(struct vf_ctx *x, const struct cg_layer *l, const struct vf_options *o,
                  const char *so)
{
	memset(x, 0, sizeof *x);
	x->mem_ahead_fd = x->mem_ahead_pid = -1;
	x->l = *l;
	x->so_path = so;
	x->exhaustive = o ? o->exhaustive : 0;
	x->seed = o ? o->seed : 1;
	x->sanitize = o ? o->sanitize : 0;
	x->memory = !(o && o->no_memory);
	x->cc = o && o->cc && *o->cc ? o->cc : "cc";
	x->cflags = getenv("CFLAGS") ? getenv("CFLAGS") : "";
	x->exec = o && o->exec && *o->exec ? o->exec : NULL;
	x->target.exec = x->exec;
	x->size[VF_I] = cg_input_size(l);
	x->size[VF_W] = cg_weight_size(l);
	x->size[VF_B] = cg_bias_size(l);
	x->size[VF_Y] = cg_output_size(l);
	x->p = l->dtype == CG_FLOAT ? 24 : 53;
	x->elem = l->dtype == CG_FLOAT ? sizeof(float) : sizeof(double);
}

/* Run every check; returns CG_EXIT_OK or CG_EXIT_FAIL, msg set only for an
** internal error (the report describes failed checks).  The text report
** prints as it goes; the JSON report once all is known, so an internal error
** leaves stdout empty. */
static int run_checks(const struct vf_ctx *x, const struct vf_options *o, FILE *out,
                      const char *path, const char *command, char *msg, size_t msg_len)
{
	struct vf_result res[MAX_RESULTS];
	int n = 0, n_ops = 0, n_checks = 0, op, c, hung, json = o && o->json;

	for (op = 0; op < CG_N_OPS; op++)
		for (c = 0; c < VF_N_CHECKS; c++)
			n_checks += (x->l.ops & CG_OP_BIT(op)) && has_check(x, (enum cg_op)op, (enum vf_check)c);
	for (op = 0; op < CG_N_OPS; op++) {
		if (!(x->l.ops & CG_OP_BIT(op)))
			continue;
		n_ops++;
		hung = -1;
		for (c = 0; c < VF_N_CHECKS; c++) {
			struct vf_result *r = &res[n];
			if (!has_check(x, (enum cg_op)op, (enum vf_check)c))
				continue;
			memset(r, 0, sizeof *r);
			r->op = (enum cg_op)op;
			r->check = (enum vf_check)c;
			r->applicable = 1;
			r->magnitude_exp = -1;
			r->seed = x->seed;
			vf_progress_check(n + 1, n_checks, (enum cg_op)op, (enum vf_check)c);
			if (hung >= 0) {   /* one wait for a hung op is enough */
				r->not_run = 1;
				snprintf(r->detail, sizeof r->detail, "not run: %s did not return in the %s check",
				         cg_op_names[op], vf_check_names[hung]);
			} else if (checks[c](x, (enum cg_op)op, r) != 0) {
				vf_progress_clear();
				snprintf(msg, msg_len, "%s: internal error in the %s check of %s (out of memory "
				         "or a bound exceeded)", path, vf_check_names[c], cg_op_names[op]);
				return CG_EXIT_FAIL;
			}
			if (r->timed_out)
				hung = c;
			vf_progress_clear();
			if (!json)
				vf_report_result(out, r);
			n++;
		}
	}
	vf_progress_clear();
	if (!json)
		vf_report_summary(out, res, n, n_ops, x->seed, !x->memory);
	else if (vf_report_json(out, x, o->private_file ? NULL : path, command, res, n, n_ops) != 0) {
		snprintf(msg, msg_len, "%s: cannot build the JSON report: out of memory", path);
		return CG_EXIT_FAIL;
	}
	for (c = 0; c < n; c++)
		if (!res[c].passed)
			return CG_EXIT_FAIL;
	return CG_EXIT_OK;
}

/* The proof assumes IEEE arithmetic: exact results on exact inputs, the
** rounding bound of each operation, NaN that stays NaN in an output the code
** did not write.  Flags that let the compiler drop it get a warning: what
** passes then holds for the inputs checked, not as a proof. */
static void warn_not_ieee(const char *cflags)
{
	static const char *const flags[] = { "-ffast-math", "-Ofast", "-funsafe-math-optimizations",
	                                     "-ffinite-math-only", "-fassociative-math", "-freciprocal-math" };
	size_t i;
	for (i = 0; i < sizeof flags / sizeof flags[0]; i++) {
		const char *at = strstr(cflags, flags[i]);
		size_t n = strlen(flags[i]);
		if (at && (at == cflags || at[-1] == ' ') && (at[n] == '\0' || at[n] == ' ')) {
			fprintf(stderr, "convgen: warning: CFLAGS has %s, which lets the compiler leave IEEE "
			        "arithmetic; the proof assumes IEEE (docs/verify.md), so a pass holds for the "
			        "inputs checked only\n", flags[i]);
			return;
		}
	}
}

/* This machine's architecture, as the first word of a target triple. */
static void host_arch(char *buf, size_t len)
{
	static struct utsname u;
	if (uname(&u) != 0)
		u.machine[0] = '\0';
	snprintf(buf, len, "%.60s", u.machine);
}

/* An emulator command that runs what a compiler for 'machine' builds. */
static const char *exec_example(const char *machine)
{
	if (strstr(machine, "none"))
		return "qemu-system-arm -M mps2-an386 -cpu cortex-m4 -nographic -semihosting -kernel";
	if (strncmp(machine, "aarch64", 7) == 0)
		return "qemu-aarch64 -L /usr/aarch64-linux-gnu";
	if (strncmp(machine, "arm", 3) == 0)
		return "qemu-arm -L /usr/arm-linux-gnueabihf";
	return "qemu-ARCH -L /usr/TRIPLE";
}

/* Compile the file: into a shared object for this machine, or with --exec
** into the driver program for the target. */
static int build(struct vf_ctx *x, const char *path, const char *dir, const char *machine,
                 char *msg, size_t msg_len)
{
	char arch[64];
	size_t k = strcspn(machine, "-");

	if (!x->exec) {
		host_arch(arch, sizeof arch);
		if (machine[0] && (strlen(arch) != k || strncmp(machine, arch, k) != 0)) {
			snprintf(msg, msg_len, "%s: '%s' builds for %s, not for this machine (%s): give --exec "
			         "with an emulator for it, e.g. --exec '%s'", path, x->cc, machine, arch,
			         exec_example(machine));
			return CG_EXIT_FAIL;
		}
		return vf_compile(x->cc, path, x->so_path, msg, msg_len);
	}
	/* Without a core, arm-none-eabi-gcc builds for an ARM7 the boards cannot
	** run, and says so in an assembler error about the start-up file. */
	if (strstr(machine, "none") && !strstr(x->cflags, "-mcpu=")) {
		snprintf(msg, msg_len, "CFLAGS '%s': '%s' builds for %s and needs the core: add %s",
		         x->cflags, x->cc, machine, x->l.target == CG_CORTEX_M7
		         ? "-mcpu=cortex-m7 -mthumb -mfpu=fpv5-d16 -mfloat-abi=hard"
		         : "-mcpu=cortex-m4 -mthumb -mfpu=fpv4-sp-d16 -mfloat-abi=hard");
		return CG_EXIT_USAGE;
	}
	snprintf(x->target.dir, sizeof x->target.dir, "%s/target", dir);
	if (vf_prog_build_start(&x->target, x, path, x->cc, x->cflags,
	                        "exec $CVG_CC -std=c99 -O2 $CVG_CFLAGS \"$@\"", strstr(machine, "none") != NULL) != 0 ||
	    vf_prog_build_finish(&x->target, path, 1) != 0) {
		snprintf(msg, msg_len, "%s", x->target.why);
		return CG_EXIT_FAIL;
	}
	return CG_EXIT_OK;
}

int vf_verify_file(const char *path, const struct vf_options *o, FILE *out, char *msg, size_t msg_len)
{
	struct cg_layer l;
	struct vf_ctx x;
	char opts[1024], command[4200], dir[4096], so[4200], why[700], machine[128];
	const char *tmp = getenv("TMPDIR");
	size_t ws_bytes = 0, ws_align = 0;
	int rc;

	msg[0] = '\0';
	if (strlen(path) > 2 && strcmp(path + strlen(path) - 2, ".h") == 0) {
		snprintf(msg, msg_len, "--file %s: a header; verify the source beside it: --file %.*s.c",
		         path, (int)(strlen(path) - 2), path);
		return CG_EXIT_USAGE;
	}
	vf_progress_begin();
	rc = vf_read_header(path, &l, opts, sizeof opts, command, sizeof command, msg, msg_len);
	if (rc != CG_EXIT_OK)
		return rc;
	if (l.workspace && (rc = vf_read_workspace(path, l.name, &ws_bytes, &ws_align, msg, msg_len)) != CG_EXIT_OK)
		return rc;
	snprintf(dir, sizeof dir, "%s/convgen-verify-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		snprintf(msg, msg_len, "%s: cannot create a temporary directory: %s", path, strerror(errno));
		return CG_EXIT_FAIL;
	}
	snprintf(so, sizeof so, "%s/kernel.so", dir);
	setup(&x, &l, o, so);
	x.ws_bytes = ws_bytes;
	x.ws_align = ws_align;
	rc = vf_file_sha256(path, x.file_sha256, msg, msg_len);
	vf_cc_describe(x.cc, x.cc_version, sizeof x.cc_version, machine, sizeof machine);
	warn_not_ieee(x.cflags);
	if (x.memory && rc == CG_EXIT_OK)
		vf_memcheck_start(&x, path, dir);
	if (rc == CG_EXIT_OK)
		rc = build(&x, path, dir, machine, msg, msg_len);
	if (rc == CG_EXIT_OK && vf_probe(&x, why, sizeof why) != 0) {
		snprintf(msg, msg_len, "%s: %s", path, why);
		rc = CG_EXIT_FAIL;
	}
	if (x.memory && x.mem.building)
		vf_prog_build_finish(&x.mem, path, 0);   /* a failure is reported by the memory check */
	if (rc == CG_EXIT_OK)
		vf_memcheck_ahead(&x);
	if (rc == CG_EXIT_OK) {
		vf_estimate_announce(&x);
		if (!(o && o->json))
			vf_report_header(out, &x, opts);
		rc = run_checks(&x, o, out, path, command, msg, msg_len);
	}
	vf_memcheck_end(&x);
	vf_prog_clean(&x.mem);
	vf_prog_clean(&x.target);
	unlink(so);
	rmdir(dir);
	return rc;
}
