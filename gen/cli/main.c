/* main.c: the convgen command line (docs/cli.md).  Parses the subcommand, hands
** the options to cg_layer_parse(), then generates or verifies; only this
** file turns a status into an exit code. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../layer/layer.h"
#include "../lua_bridge.h"
#include "../output.h"
#include "tune.h"
#include "../../verify/verify.h"

#define MSG_LEN 1024

/* The commands: how each is called, which options it takes (the CG_ALLOW_*
** bits of gen/layer/layer.h; tune's help leaves out what it refuses), and
** what its help says after the options. */
static const struct command {
	const char *name, *usage;
	unsigned allow, help_allow;
	const char *about;
} commands[] = {
	{ "generate",
	  "  convgen generate LAYER [CODE] [--dtype float|double] [--ops LIST] [--name NAME] -o DIR\n",
	  CG_ALLOW_OUT | CG_ALLOW_SCHEDULE, CG_ALLOW_OUT | CG_ALLOW_SCHEDULE,
	  "generate writes DIR/NAME.h and DIR/NAME.c.\n" },
	{ "verify",
	  "  convgen verify   LAYER [CODE] [--dtype float|double] [--ops LIST] [--exec CMD]\n"
	  "                   [--exhaustive] [--seed N] [--json] [--sanitize | --no-memory]\n"
	  "  convgen verify   --file DIR/NAME.c [--exec CMD] [--exhaustive] [--seed N] [--json]\n"
	  "                   [--sanitize | --no-memory]\n",
	  CG_ALLOW_FILE | CG_ALLOW_VERIFY | CG_ALLOW_SCHEDULE, CG_ALLOW_FILE | CG_ALLOW_VERIFY | CG_ALLOW_SCHEDULE,
	  "verify compiles the code with '$CC -std=c99 -O2 $CFLAGS' (CC defaults to cc;\n"
	  "set CFLAGS to the flags you ship with, e.g. '-O3 -march=native'), runs it and\n"
	  "checks every op exactly; it also builds it under AddressSanitizer, for the\n"
	  "memory check of every array the code touches, its own local arrays included.\n"
	  "It prints one line per op and check and exits 0 only if all hold. Its\n"
	  "progress goes to stderr: on a terminal one line redrawn once the run is a\n"
	  "second old; elsewhere a line every 5 s ($CONVGEN_PROGRESS_SECONDS).\n" },
	{ "tune",
	  "  convgen tune     LAYER [--target T] [--dtype float|double] [--ops LIST] [-o FILE]\n",
	  CG_ALLOW_OUT | CG_ALLOW_SCHEDULE, CG_ALLOW_OUT,
	  "tune times the target's candidate schedules of the layer, compiled as verify\n"
	  "compiles, on this machine and keeps each op's fastest: it prints a table and\n"
	  "the --schedule text, and with -o FILE writes them as a record for --tuning.\n" },
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static const char exit_status[] =
"Exit status: 0 success, 1 failure (I/O, compiler, a failed check), 2 bad usage\n"
"or a layer that makes no sense.\n";

/* 'convgen --help' (c NULL): every command; 'convgen COMMAND --help': that one. */
static void help(const struct command *c)
{
	size_t i;
	printf("convgen " CG_VERSION ": generate a 2-D convolution layer's C kernels and prove them exactly\n\nUsage:\n");
	for (i = 0; i < N_COMMANDS; i++)
		if (!c || c == &commands[i])
			fputs(commands[i].usage, stdout);
	if (!c)
		fputs("  convgen COMMAND --help | convgen --help | --version\n", stdout);
	fputc('\n', stdout);
	cg_options_help(stdout, c ? c->help_allow : CG_ALLOW_ALL);
	for (i = 0; i < N_COMMANDS; i++)
		if (!c || c == &commands[i])
			printf("%s\n", commands[i].about);
	fputs(exit_status, stdout);
}

/* verify LAYER: generate into a private directory, then check exactly what
** 'verify --file' checks, so the file proven is the file a user would ship. */
static int verify_layer(const struct cg_layer *l, const struct vf_options *o, char *msg, size_t msg_len)
{
	char dir[4096], file[4200];
	const char *tmp = getenv("TMPDIR");
	int status;
	snprintf(dir, sizeof dir, "%s/convgen-verify-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL) {
		snprintf(msg, msg_len, "%.900s: cannot create temporary directory: %s", dir, strerror(errno));
		return CG_EXIT_FAIL;
	}
	status = cg_generate(l, dir, msg, msg_len);
	if (status == CG_EXIT_OK) {
		snprintf(file, sizeof file, "%s/%s.c", dir, l->name);
		status = vf_verify_file(file, o, stdout, msg, msg_len);
	}
	cg_remove_generated(dir, l->name);
	return status;
}

/* Whether tune's timings on this machine say anything about code shaped for
** 'target': its own target, a lesser x86-64 level, or plain C. */
static int timeable_here(enum cg_target target)
{
	enum cg_target host = cg_target_host();
	return target == host || target == CG_GENERIC || (host == CG_X86_64_V4 && target == CG_X86_64_V3);
}

static int run(int argc, char **argv, char *msg, size_t msg_len)
{
	struct cg_layer layer;
	struct cg_extra extra;
	struct vf_options vo;
	const struct command *c = NULL;
	const char *cmd;
	int status, i;
	if (argc < 2) {
		snprintf(msg, msg_len, "missing command (generate, verify, tune, --help or --version)");
		return CG_EXIT_USAGE;
	}
	cmd = argv[1];
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
		help(NULL);
		return CG_EXIT_OK;
	}
	if (strcmp(cmd, "--version") == 0) {
		printf("convgen %s\n", CG_VERSION);
		return CG_EXIT_OK;
	}
	for (i = 0; i < (int)N_COMMANDS; i++)
		if (strcmp(cmd, commands[i].name) == 0)
			c = &commands[i];
	if (!c) {
		snprintf(msg, msg_len, "%s: unknown command (generate, verify, tune, --help or --version)", cmd);
		return CG_EXIT_USAGE;
	}
	/* --help anywhere among a command's options: a value never starts with '-'
	** where --help could be meant, and help is what was asked for. */
	for (i = 2; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			help(c);
			return CG_EXIT_OK;
		}
	status = cg_layer_parse(argc - 2, argv + 2, c->allow, &layer, &extra, msg, msg_len);
	if (status == CG_EXIT_OK && extra.tuning && strcmp(cmd, "tune") != 0)
		status = cg_tuning_read(extra.tuning, &layer, msg, msg_len);
	if (status != CG_EXIT_OK)
		return status;
	if (strcmp(cmd, "generate") == 0) {
		if (extra.out_dir == NULL) {
			snprintf(msg, msg_len, "-o: required (the output directory)");
			return CG_EXIT_USAGE;
		}
		return cg_generate(&layer, extra.out_dir, msg, msg_len);
	}
	if (strcmp(cmd, "verify") == 0) {
		const char *cc = getenv("CC");
		memset(&vo, 0, sizeof vo);
		vo.exhaustive = extra.exhaustive;
		vo.sanitize = extra.sanitize;
		vo.no_memory = extra.no_memory;
		if (extra.sanitize && extra.no_memory) {
			snprintf(msg, msg_len, "--sanitize: strengthens the memory check that --no-memory leaves out; give one");
			return CG_EXIT_USAGE;
		}
		vo.exec = extra.exec;
		if (!vo.exec) {
			const char *e = getenv("CONVGEN_EXEC");
			vo.exec = e && e[strspn(e, " \t")] ? e : NULL;
		}
		vo.seed = extra.seed;
		vo.cc = cc && *cc ? cc : "cc";
		vo.json = extra.json;
		vo.private_file = extra.file == NULL;   /* verify LAYER: a temporary name, "file": null */
		if (extra.file)
			return vf_verify_file(extra.file, &vo, stdout, msg, msg_len);
		return verify_layer(&layer, &vo, msg, msg_len);
	}
	{
		const char *cc = getenv("CC");
		char schedule[512];
		if (extra.tuning || extra.n_schedule) {
			snprintf(msg, msg_len, "%s: tune measures the schedule itself; drop it",
			         extra.tuning ? "--tuning" : "--schedule");
			return CG_EXIT_USAGE;
		}
		if (!timeable_here(layer.target)) {
			snprintf(msg, msg_len, "--target %s: tune times the candidates on this machine (%s), "
			         "which does not run code shaped for %s; tune on that machine, or generate "
			         "with the target model's schedule", cg_target_names[layer.target],
			         cg_target_names[cg_target_host()], cg_target_names[layer.target]);
			return CG_EXIT_USAGE;
		}
		return cg_tune(&layer, cc && *cc ? cc : "cc", extra.out_dir, stdout, schedule,
		               sizeof schedule, msg, msg_len);
	}
}

int main(int argc, char **argv)
{
	char msg[MSG_LEN] = "";
	int status = run(argc, argv, msg, sizeof msg);
	fflush(stdout);
	if (status != CG_EXIT_OK && msg[0] != '\0')
		fprintf(stderr, "convgen: %s\n", msg);
	return status;
}
