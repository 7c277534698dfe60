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

#include "lua_bridge.h"
#include "output.h"
#include "../verify/vf.h"

#define MAX_CANDIDATES 16
/* Timed samples per op and candidate (the fastest is kept), each at least
** SAMPLE_NS long, so one sample is not one cold call. */
#define SAMPLES 7
#define SAMPLE_NS 4e6
/* A candidate replaces the model's own only when this much faster: closer
** timings are noise, and the model's own needs no record. */
#define MIN_GAIN 1.03

typedef void (*fn_f3)(const float *, const float *, const float *, float *);
typedef void (*fn_f2)(const float *, const float *, float *);
typedef void (*fn_f1)(const float *, float *);
typedef void (*fn_d3)(const double *, const double *, const double *, double *);
typedef void (*fn_d2)(const double *, const double *, double *);
typedef void (*fn_d1)(const double *, double *);

/* The arrays of one call of every op, as T (float or double). */
struct arrays {
	void *input, *weight, *bias, *output, *grad_output, *grad_weight, *grad_input, *grad_bias;
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

static void arrays_free(struct arrays *a)
{
	free(a->input); free(a->weight); free(a->bias); free(a->output);
	free(a->grad_output); free(a->grad_weight); free(a->grad_input); free(a->grad_bias);
}

static int arrays_alloc(const struct cg_layer *l, struct arrays *a)
{
	int f = l->dtype == CG_FLOAT;
	unsigned s = 1;
	a->input = filled(cg_input_size(l), f, &s);
	a->weight = filled(cg_weight_size(l), f, &s);
	a->bias = filled(cg_bias_size(l), f, &s);
	a->output = filled(cg_output_size(l), f, &s);
	a->grad_output = filled(cg_output_size(l), f, &s);
	a->grad_weight = filled(cg_weight_size(l), f, &s);
	a->grad_input = filled(cg_input_size(l), f, &s);
	a->grad_bias = filled(cg_bias_size(l), f, &s);
	if (a->input && a->weight && a->bias && a->output && a->grad_output && a->grad_weight &&
	    a->grad_input && a->grad_bias)
		return 0;
	arrays_free(a);
	return -1;
}

/* Call op 'op' of 'fn' once.  The casts from void * go through a union: ISO C
** has no conversion from object to function pointers, dlsym's own type aside. */
static void call_op(enum cg_op op, int is_float, void *sym, const struct arrays *a)
{
	union { void *p; fn_f3 f3; fn_f2 f2; fn_f1 f1; fn_d3 d3; fn_d2 d2; fn_d1 d1; } u;
	u.p = sym;
	switch (op) {
	case CG_FORWARD:
		if (is_float) u.f3(a->input, a->weight, a->bias, a->output);
		else u.d3(a->input, a->weight, a->bias, a->output);
		break;
	case CG_GRAD_WEIGHT:
		if (is_float) u.f2(a->input, a->grad_output, a->grad_weight);
		else u.d2(a->input, a->grad_output, a->grad_weight);
		break;
	case CG_GRAD_INPUT:
		if (is_float) u.f2(a->weight, a->grad_output, a->grad_input);
		else u.d2(a->weight, a->grad_output, a->grad_input);
		break;
	default:
		if (is_float) u.f1(a->grad_output, a->grad_bias);
		else u.d1(a->grad_output, a->grad_bias);
		break;
	}
}

/* One sample of ns per call of 'op': as many calls as take SAMPLE_NS. */
static double sample_op(enum cg_op op, int is_float, void *sym, const struct arrays *a, long *reps)
{
	double t0 = now_ns(), t;
	long r;
	if (*reps == 0) {
		call_op(op, is_float, sym, a);
		t = now_ns() - t0;
		*reps = t >= SAMPLE_NS ? 1 : (long)(SAMPLE_NS / (t > 1 ? t : 1)) + 1;
		t0 = now_ns();
	}
	for (r = 0; r < *reps; r++)
		call_op(op, is_float, sym, a);
	return (now_ns() - t0) / (double)*reps;
}

/* In a child process (a kernel that crashes must not take convgen along): load
** the n candidates' objects so[0..n-1] and time each op of 'l', writing n x
** CG_N_OPS doubles (0: op not generated) to 'fd'.  The samples go round the
** candidates, so a slower moment of the machine falls on all of them alike,
** and each keeps its fastest sample: other load only ever adds time. */
static void time_child(const struct cg_layer *l, char so[][4300], int n, int fd)
{
	static double ns[MAX_CANDIDATES][CG_N_OPS];
	static long reps[MAX_CANDIDATES][CG_N_OPS];
	void *fn[MAX_CANDIDATES][CG_N_OPS];
	struct arrays a;
	int i, op, s;
	if (arrays_alloc(l, &a) != 0)
		_exit(3);
	for (i = 0; i < n; i++) {
		void *h = dlopen(so[i], RTLD_NOW | RTLD_LOCAL);
		if (!h)
			_exit(4);
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
				t = sample_op((enum cg_op)op, l->dtype == CG_FLOAT, fn[i][op], &a, &reps[i][op]);
				if (s == 0 || t < ns[i][op])
					ns[i][op] = t;
			}
	if (write(fd, ns, sizeof ns) != (ssize_t)sizeof ns)
		_exit(5);
	_exit(0);
}

static int time_candidates(const struct cg_layer *l, char so[][4300], int n,
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
		time_child(l, so, n, fds[1]);
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

/* Generate candidate layer 'l' into 'dir' and compile it to DIR/k.so. */
static int build_candidate(const struct cg_layer *l, const char *dir, const char *cc,
                           char *so, size_t so_len, char *msg, size_t msg_len)
{
	char src[4200];
	int status = cg_generate(l, dir, msg, msg_len);
	if (status != CG_EXIT_OK)
		return status;
	snprintf(src, sizeof src, "%s/%s.c", dir, l->name);
	snprintf(so, so_len, "%s/k.so", dir);
	return vf_compile(cc, src, so, msg, msg_len);
}

/* Remove what build_candidate made in 'dir'. */
static void remove_candidate(const char *dir, const char *name)
{
	char path[4300];
	snprintf(path, sizeof path, "%s/k.so", dir);
	unlink(path);
	cg_remove_generated(dir, name);
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
	struct cg_choice cand[MAX_CANDIDATES];
	static double ns[MAX_CANDIDATES][CG_N_OPS];
	int best[CG_N_OPS] = { 0 };
	struct cg_layer chosen = *l, lc;
	static char so[MAX_CANDIDATES][4300];
	char root[4000], dir[4100], text[8192], options[1024], cpu[256], name[64];
	const char *tmp = getenv("TMPDIR"), *cflags = getenv("CFLAGS");
	size_t used = 0;
	int n = 0, built = 0, i, op, status;

	status = cg_lua_candidates(l, cand, MAX_CANDIDATES, &n, msg, msg_len);
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
			lc.choice[op] = cand[i];
		snprintf(dir, sizeof dir, "%s/c%d", root, i);
		status = build_candidate(&lc, dir, cc, so[i], sizeof so[i], msg, msg_len);
		built = i + 1;
	}
	if (status == CG_EXIT_OK)
		status = time_candidates(l, so, n, ns, msg, msg_len);
	for (i = 0; i < built; i++) {
		snprintf(dir, sizeof dir, "%s/c%d", root, i);
		remove_candidate(dir, l->name);
	}
	rmdir(root);
	if (status != CG_EXIT_OK)
		return status;

	for (op = 0; op < CG_N_OPS; op++) {
		for (i = 1; i < n; i++)
			if (ns[i][op] * MIN_GAIN < ns[0][op] && ns[i][op] < ns[best[op]][op])
				best[op] = i;
		chosen.choice[op] = cand[best[op]];
	}
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
		choice_text(&cand[i], name, sizeof name);
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
