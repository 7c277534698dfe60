/* tune.c: time the target model's candidate schedules of one layer with the
** user's compiler on this machine, keep each op's fastest (tune.h). */
#define _POSIX_C_SOURCE 200809L
#include "tune.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../lua_bridge.h"
#include "../output.h"
#include "../../verify/invoke.h"

#define MAX_CANDIDATES 16
/* Timed samples per op and candidate (the fastest is kept), each at least
** SAMPLE_NS long, so one sample is not one cold call. */
#define SAMPLES 7
#define SAMPLE_NS 4e6
/* A candidate replaces the model's own only when this much faster: closer
** timings are noise, and the model's own needs no record. */
#define MIN_GAIN 1.03

/* A candidate: its directory, source, compiled object, and the workspace its
** header asks for (0 without --workspace). */
struct candidate {
	char dir[4100], src[4200], so[4300];
	size_t ws_bytes, ws_align;
};

/* The arrays of one call of one op, in invoke.h's order: inputs, then the
** written arrays, each its own. */
struct op_call {
	struct vf_sig sig;
	void *in[VF_MAX_IN], *out[VF_MAX_OUT];
};

static double now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static void *filled(size_t n, int is_float, unsigned *state)
{
	size_t i, elem = is_float ? sizeof(float) : sizeof(double);
	unsigned char *p = malloc(n * elem);
	if (!p)
		return NULL;
	for (i = 0; i < n; i++) {
		/* Values in [-1, 1): timing needs ordinary numbers, not exact ones. */
		double v;
		*state = *state * 1103515245u + 12345u;
		v = (double)(*state >> 8) / (double)(1u << 23) - 1.0;
		if (is_float)
			((float *)(void *)p)[i] = (float)v;
		else
			((double *)(void *)p)[i] = v;
	}
	return p;
}

static void op_call_free(struct op_call *c)
{
	int i;
	for (i = 0; i < VF_MAX_IN; i++)
		free(c->in[i]);
	for (i = 0; i < VF_MAX_OUT; i++)
		free(c->out[i]);
	memset(c, 0, sizeof *c);
}

static int op_call_alloc(const struct cg_layer *l, enum cg_op op, struct op_call *c, unsigned *state)
{
	int i, f = l->dtype == CG_FLOAT, ok = 1;
	memset(c, 0, sizeof *c);
	vf_op_sig(l, op, &c->sig);
	for (i = 0; i < c->sig.n_in; i++)
		ok = ok && (c->in[i] = filled(vf_tensor_size(l, c->sig.in[i]), f, state)) != NULL;
	for (i = 0; i < c->sig.n_out; i++)
		ok = ok && (c->out[i] = filled(vf_tensor_size(l, c->sig.out[i]), f, state)) != NULL;
	if (!ok)
		op_call_free(c);
	return ok ? 0 : -1;
}

/* sgd_update's lr and momentum: with both 0 its weight and velocities keep
** their values call after call, and the step costs what any step costs. */
static const double still[2] = { 0.0, 0.0 };

/* One sample of ns per call of 'fn' on c's arrays: as many calls as take SAMPLE_NS. */
static double sample_op(const struct cg_layer *l, void *fn, const struct op_call *c,
                        void *ws, long *reps)
{
	double t0 = now_ns(), t;
	long r;
	if (*reps == 0) {
		vf_invoke(fn, l, &c->sig, c->in, c->out, still, ws);
		t = now_ns() - t0;
		*reps = t >= SAMPLE_NS ? 1 : (long)(SAMPLE_NS / (t > 1 ? t : 1)) + 1;
		t0 = now_ns();
	}
	for (r = 0; r < *reps; r++)
		vf_invoke(fn, l, &c->sig, c->in, c->out, still, ws);
	return (now_ns() - t0) / (double)*reps;
}

/* In a child process (a kernel that crashes must not take convgen along): load
** the n candidates' objects and time each op of 'l', writing n x CG_N_OPS
** doubles (0: op not generated) to 'fd'.  The samples go round the
** candidates, so a slower moment of the machine falls on all of them alike,
** and each keeps its fastest sample: other load only ever adds time. */
static void time_child(const struct cg_layer *l, const struct candidate *cand, int n, int fd)
{
	static double ns[MAX_CANDIDATES][CG_N_OPS];
	static long reps[MAX_CANDIDATES][CG_N_OPS];
	void *fn[MAX_CANDIDATES][CG_N_OPS], *ws[MAX_CANDIDATES];
	struct op_call calls[CG_N_OPS];
	unsigned state = 1;
	int i, op, s;
	memset(calls, 0, sizeof calls);
	for (op = 0; op < CG_N_OPS; op++)
		if ((l->ops & CG_OP_BIT(op)) && op_call_alloc(l, (enum cg_op)op, &calls[op], &state) != 0)
			_exit(3);
	for (i = 0; i < n; i++) {
		void *h = dlopen(cand[i].so, RTLD_NOW | RTLD_LOCAL);
		size_t align = cand[i].ws_align < sizeof(void *) ? sizeof(void *) : cand[i].ws_align;
		if (!h)
			_exit(4);
		/* A workspace holds whatever the last call left: as in a caller's loop. */
		ws[i] = NULL;
		if (l->workspace && posix_memalign(&ws[i], align, cand[i].ws_bytes ? cand[i].ws_bytes : 1) != 0)
			_exit(3);
		for (op = 0; op < CG_N_OPS; op++) {
			char sym[CG_NAME_MAX + 16];
			fn[i][op] = NULL;
			if (!(l->ops & CG_OP_BIT(op)))
				continue;
			snprintf(sym, sizeof sym, "%s_%s", l->name, cg_op_names[op]);
			fn[i][op] = dlsym(h, sym);
			if (!fn[i][op])
				_exit(4);
		}
	}
	for (s = 0; s < SAMPLES; s++)
		for (i = 0; i < n; i++)
			for (op = 0; op < CG_N_OPS; op++) {
				double t;
				if (!fn[i][op])
					continue;
				t = sample_op(l, fn[i][op], &calls[op], ws[i], &reps[i][op]);
				if (s == 0 || t < ns[i][op])
					ns[i][op] = t;
			}
	if (write(fd, ns, sizeof ns) != (ssize_t)sizeof ns)
		_exit(5);
	_exit(0);
}

static int time_candidates(const struct cg_layer *l, const struct candidate *cand, int n,
                           double ns[MAX_CANDIDATES][CG_N_OPS], char *msg, size_t msg_len)
{
	int fds[2], st = 0;
	size_t want = sizeof(double) * MAX_CANDIDATES * CG_N_OPS, have = 0;
	pid_t pid;
	if (pipe(fds) != 0) {
		snprintf(msg, msg_len, "pipe: %s", strerror(errno));
		return CG_EXIT_FAIL;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		snprintf(msg, msg_len, "fork: %s", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return CG_EXIT_FAIL;
	}
	if (pid == 0) {
		close(fds[0]);
		time_child(l, cand, n, fds[1]);
	}
	close(fds[1]);
	while (have < want) {
		ssize_t got = read(fds[0], (char *)ns + have, want - have);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		have += (size_t)got;
	}
	close(fds[0]);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			break;
	if (have != want || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		snprintf(msg, msg_len, "timing the candidate kernels failed (%s %d)",
		         WIFSIGNALED(st) ? "signal" : "exit status",
		         WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
		return CG_EXIT_FAIL;
	}
	return CG_EXIT_OK;
}

/* Generate candidate layer 'l' into c->dir and read the workspace it asks
** for; its source is c->src, its object will be c->so. */
static int generate_candidate(const struct cg_layer *l, struct candidate *c, char *msg, size_t msg_len)
{
	int status = cg_generate(l, c->dir, msg, msg_len);
	snprintf(c->src, sizeof c->src, "%s/%s.c", c->dir, l->name);
	snprintf(c->so, sizeof c->so, "%s/k.so", c->dir);
	c->ws_bytes = c->ws_align = 0;
	if (status == CG_EXIT_OK && l->workspace)
		status = vf_read_workspace(c->src, l->name, &c->ws_bytes, &c->ws_align, msg, msg_len);
	return status;
}

/* Compile the n candidates, as many at once as this machine has processors:
** compiling is most of a tune's time.  After a failure no new compile
** starts; the first failure's message is kept. */
static int compile_candidates(struct candidate *cand, int n, const char *cc, char *msg, size_t msg_len)
{
	static struct vf_cc_job job[MAX_CANDIDATES];
	long jobs = sysconf(_SC_NPROCESSORS_ONLN);
	int started = 0, finished = 0, status = CG_EXIT_OK;
	char other[1024];
	if (jobs < 1)
		jobs = 1;
	while (finished < n) {
		while (status == CG_EXIT_OK && started < n && started - finished < jobs) {
			vf_compile_start(&job[started], cc, cand[started].src, cand[started].so);
			started++;
		}
		if (finished == started)
			break;
		if (vf_compile_finish(&job[finished], cand[finished].src, status == CG_EXIT_OK ? msg : other,
		                      status == CG_EXIT_OK ? msg_len : sizeof other) != CG_EXIT_OK)
			status = CG_EXIT_FAIL;
		finished++;
	}
	return status;
}

/* Remove what generate_candidate and compile_candidates made. */
static void remove_candidate(const struct candidate *c, const char *name)
{
	unlink(c->so);
	cg_remove_generated(c->dir, name);
}

/* The CPU's model name, for the record: the first "model name" of /proc/cpuinfo. */
static void cpu_name(char *buf, size_t len)
{
	char line[512];
	FILE *f = fopen("/proc/cpuinfo", "r");
	snprintf(buf, len, "unknown CPU");
	while (f && fgets(line, sizeof line, f)) {
		char *colon = strchr(line, ':');
		if (strncmp(line, "model name", 10) == 0 && colon) {
			colon += strspn(colon + 1, " \t") + 1;
			colon[strcspn(colon, "\n")] = '\0';
			snprintf(buf, len, "%s", colon);
			break;
		}
	}
	if (f)
		fclose(f);
}

/* Each op's fastest candidate in best[op] (0, the model's own, unless another
** is MIN_GAIN faster).  sgd_update runs grad_weight's schedule: the two are
** chosen together, by the time of both. */
static void choose(const struct cg_layer *l, double ns[][CG_N_OPS], int n, int best[CG_N_OPS])
{
	int i, op;
	for (op = 0; op < CG_N_OPS; op++) {
		double t0 = ns[0][op], bt = t0;
		if (op == CG_SGD_UPDATE)
			continue;
		if (op == CG_GRAD_WEIGHT && (l->ops & CG_OP_BIT(CG_SGD_UPDATE)))
			t0 = bt = ns[0][op] + ns[0][CG_SGD_UPDATE];
		best[op] = 0;
		for (i = 1; i < n; i++) {
			double t = ns[i][op];
			if (op == CG_GRAD_WEIGHT && (l->ops & CG_OP_BIT(CG_SGD_UPDATE)))
				t += ns[i][CG_SGD_UPDATE];
			if (t * MIN_GAIN < t0 && t < bt) {
				best[op] = i;
				bt = t;
			}
		}
	}
	best[CG_SGD_UPDATE] = best[CG_GRAD_WEIGHT];
}

static void choice_text(const struct cg_choice *ch, char *buf, size_t len)
{
	if (ch->lanes == 0 && ch->acc == 0 && ch->roll < 0)
		snprintf(buf, len, "the model's own");
	else
		snprintf(buf, len, "lanes=%d,acc=%d,roll=%d", ch->lanes, ch->acc, ch->roll);
}

static int write_record(const char *path, const char *text, char *msg, size_t msg_len)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');
	struct cg_file f;
	if (slash)
		snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
	else
		snprintf(dir, sizeof dir, ".");
	if (dir[0] == '\0')
		snprintf(dir, sizeof dir, "/");
	f.name = slash ? slash + 1 : path;
	f.data = text;
	f.len = strlen(text);
	if (f.name[0] == '\0') {
		snprintf(msg, msg_len, "-o '%s': expected a file name", path);
		return CG_EXIT_USAGE;
	}
	return cg_write_files(dir, &f, 1, msg, msg_len);
}

int cg_tune(const struct cg_layer *l, const char *cc, const char *record, FILE *out,
            char *schedule, size_t schedule_len, char *msg, size_t msg_len)
{
	struct cg_choice choice[MAX_CANDIDATES];
	static struct candidate cand[MAX_CANDIDATES];
	static double ns[MAX_CANDIDATES][CG_N_OPS];
	int best[CG_N_OPS] = { 0 };
	struct cg_layer chosen = *l, lc;
	char root[4000], text[8192], options[1024], cpu[256], name[64];
	const char *tmp = getenv("TMPDIR"), *cflags = getenv("CFLAGS");
	size_t used = 0;
	int n = 0, built = 0, i, op, status;

	status = cg_lua_candidates(l, choice, MAX_CANDIDATES, &n, msg, msg_len);
	if (status != CG_EXIT_OK)
		return status;
	snprintf(root, sizeof root, "%s/convgen-tune-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(root) == NULL) {
		snprintf(msg, msg_len, "%.900s: cannot create temporary directory: %s", root, strerror(errno));
		return CG_EXIT_FAIL;
	}
	for (i = 0; i < n && status == CG_EXIT_OK; i++) {
		lc = *l;
		for (op = 0; op < CG_N_OPS; op++)
			lc.choice[op] = op == CG_SGD_UPDATE ? l->choice[op] : choice[i];
		snprintf(cand[i].dir, sizeof cand[i].dir, "%s/c%d", root, i);
		status = generate_candidate(&lc, &cand[i], msg, msg_len);
		built = i + 1;
	}
	if (status == CG_EXIT_OK)
		status = compile_candidates(cand, n, cc, msg, msg_len);
	if (status == CG_EXIT_OK)
		status = time_candidates(l, cand, n, ns, msg, msg_len);
	for (i = 0; i < built; i++)
		remove_candidate(&cand[i], l->name);
	rmdir(root);
	if (status != CG_EXIT_OK)
		return status;

	choose(l, ns, n, best);
	for (op = 0; op < CG_N_OPS; op++)
		if (op != CG_SGD_UPDATE)
			chosen.choice[op] = choice[best[op]];
	cg_schedule_text(&chosen, schedule, schedule_len);
	cg_layer_options(l, options, sizeof options);
	cpu_name(cpu, sizeof cpu);

	used += (size_t)snprintf(text + used, sizeof text - used,
	    "# convgen tune record: read by 'convgen generate --tuning FILE'; the layer line\n"
	    "# must match the layer generated, the schedule line is what --schedule gets.\n"
	    "# CPU: %s\n# compiler: %s -std=c99 -O2 %s\n"
	    "# microseconds per call, the fastest of %d samples taken in turns, per candidate:\n#   %-28s",
	    cpu, cc, cflags ? cflags : "", SAMPLES, "candidate");
	for (op = 0; op < CG_N_OPS; op++)
		if (l->ops & CG_OP_BIT(op))
			used += (size_t)snprintf(text + used, sizeof text - used, " %12s", cg_op_names[op]);
	for (i = 0; i < n && used < sizeof text; i++) {
		choice_text(&choice[i], name, sizeof name);
		used += (size_t)snprintf(text + used, sizeof text - used, "\n#   %-28s", name);
		for (op = 0; op < CG_N_OPS && used < sizeof text; op++)
			if (l->ops & CG_OP_BIT(op))
				used += (size_t)snprintf(text + used, sizeof text - used, " %11.2f%s",
				                         ns[i][op] / 1e3, best[op] == i ? "*" : " ");
	}
	if (used < sizeof text)
		used += (size_t)snprintf(text + used, sizeof text - used,
		    "\n# (* the op's choice)\nlayer %s\nschedule %s\n", options, schedule);
	if (used >= sizeof text) {
		snprintf(msg, msg_len, "internal error: tuning record longer than %d bytes", (int)sizeof text);
		return CG_EXIT_FAIL;
	}
	fputs(text, out);
	if (record)
		return write_record(record, text, msg, msg_len);
	return CG_EXIT_OK;
}

int cg_tuning_read(const char *path, struct cg_layer *l, char *msg, size_t msg_len)
{
	char line[2048], options[1024], pmsg[512], *layer_line = NULL;
	struct cg_layer base = *l;
	int op, have_schedule = 0, status = CG_EXIT_OK;
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(msg, msg_len, "--tuning %.900s: %s", path, strerror(errno));
		return CG_EXIT_USAGE;
	}
	for (op = 0; op < CG_N_OPS; op++) {
		base.choice[op].lanes = base.choice[op].acc = 0;
		base.choice[op].roll = -1;
	}
	cg_layer_options(&base, options, sizeof options);
	while (status == CG_EXIT_OK && fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, "layer ", 6) == 0) {
			layer_line = line + 6;
			if (strcmp(layer_line, options) != 0) {
				snprintf(msg, msg_len, "--tuning %.400s: a record of another layer (%.200s); tune this one: "
				         "convgen tune %.300s -o FILE", path, layer_line, options);
				status = CG_EXIT_USAGE;
			}
		} else if (strncmp(line, "schedule", 8) == 0 && (line[8] == ' ' || line[8] == '\0')) {
			if (!layer_line) {
				snprintf(msg, msg_len, "--tuning %.900s: no layer line before the schedule line", path);
				status = CG_EXIT_USAGE;
			} else if (line[8] == ' ' && line[9] != '\0' &&
			           cg_schedule_parse(line + 9, &base, pmsg, sizeof pmsg) != CG_EXIT_OK) {
				snprintf(msg, msg_len, "--tuning %.400s: %.500s", path, pmsg);
				status = CG_EXIT_USAGE;
			}
			have_schedule = 1;
			break;
		} else if (line[0] != '#' && line[0] != '\0') {
			snprintf(msg, msg_len, "--tuning %.600s: not a tuning record (line '%.200s')", path, line);
			status = CG_EXIT_USAGE;
		}
	}
	fclose(f);
	if (status == CG_EXIT_OK && !have_schedule) {
		snprintf(msg, msg_len, "--tuning %.900s: not a tuning record (no schedule line)", path);
		status = CG_EXIT_USAGE;
	}
	if (status == CG_EXIT_OK)
		memcpy(l->choice, base.choice, sizeof l->choice);
	return status;
}
