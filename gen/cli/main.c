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

/* In two parts: C99 promises string literals of 4095 characters only. */
static const char help_usage[] =
"convgen " CG_VERSION ": generate a 2-D convolution layer's C kernels and prove them exactly\n"
"\n"
"Usage:\n"
"  convgen generate LAYER [CODE] [--dtype float|double] [--ops LIST] [--name NAME] -o DIR\n"
"  convgen verify   LAYER [CODE] [--dtype float|double] [--ops LIST] [--exec CMD]\n"
"                   [--exhaustive] [--seed N] [--json] [--sanitize | --no-memory]\n"
"  convgen verify   --file DIR/NAME.c [--exec CMD] [--exhaustive] [--seed N] [--json]\n"
"                   [--sanitize | --no-memory]\n"
"  convgen tune     LAYER [--target T] [--dtype float|double] [--ops LIST] [-o FILE]\n"
"  convgen --help | --version\n"
"\n"
"LAYER options (defaults give the seed layer):\n"
"  --input HxW          input height x width (required)\n"
"  --kernel K1xK2       kernel height x width (required)\n"
"  --batch N            batch size (1)\n"
"  --in-channels C      input channels (1)\n"
"  --out-channels K     output channels (1)\n"
"  --groups G           groups, dividing C and K (1)\n"
"  --stride S|SHxSW     stride (1)\n"
"  --padding P|PHxPW    zero padding before the first row/column and, unless\n"
"                       --padding-end is given, after the last (0); or 'same',\n"
"                       TensorFlow's SAME: ceil(H/S) outputs, the zeros split\n"
"                       half before, the odd one after\n"
"  --padding-end E|EHxEW zero padding after the last row/column (--padding's)\n"
"  --dilation D|DHxDW   dilation (1)\n"
"  --layout nchw|nhwc   tensor layout (nchw); nhwc: input NxHxWxC, output NxOHxOWxK\n"
"                       and weight K x k1 x k2 x C/G (OHWI, as CMSIS-NN stores it)\n"
"  --activation A       none or relu: forward gives max(0, conv + b) and the\n"
"                       gradient ops take forward's output to mask dL/dY with\n"
"                       [Y > 0] (none)\n"
"  --momentum           sgd_update keeps a velocity: v = momentum v + dW; W -= lr v\n"
"\n"
"CODE options shape the code, never its results:\n"
"  --target T           host, x86-64-v3, x86-64-v4, aarch64, cortex-m4, cortex-m7 or\n"
"                       generic (host: the target that fits this machine, resolved\n"
"                       now and recorded in the file)\n"
"  --schedule S         schedule choices over the target's, OP.KEY=V,... with keys\n"
"                       lanes (1, 2, 4, ... 64), acc (1 to 64), roll (0, 1, 2)\n"
"  --stack-limit B      bytes one function's own stack frame may take, a promise\n"
"                       checked against gcc's -fstack-usage (the target's: 1024 on\n"
"                       cortex-m*, 61440 elsewhere)\n"
"  --workspace          every function takes a last argument 'void *workspace', the\n"
"                       caller's scratch of NAME_WORKSPACE_BYTES bytes aligned to\n"
"                       NAME_WORKSPACE_ALIGN, instead of scratch on the stack\n"
"  --optimize speed|size the fastest code (speed) or the smallest code still\n"
"                       faster than plain loops (size)\n"
"  --tuning FILE        the choices of a record that 'convgen tune -o FILE' wrote\n"
"\n";
static const char help_other[] =
"Other options:\n"
"  --dtype float|double element type (float)\n"
"  --ops LIST           comma list of forward,grad_weight,grad_input,grad_bias and\n"
"                       sgd_update, one SGD step on W and b with no dL/dW array\n"
"                       (the first four)\n"
"  --name NAME          C identifier prefixing files and functions (conv)\n"
"  -o DIR               output directory, created if needed (tune: the record file)\n"
"  --file F             verify F, a NAME.c that 'generate' wrote, reading its layer\n"
"                       from its header comment\n"
"  --exhaustive         finite differences on every coordinate, however large\n"
"  --seed N             seed of verify's random inputs (1)\n"
"  --exec CMD           prove the code as the target runs it: build it with $CC\n"
"                       $CFLAGS into a driver program and run that as CMD PROGRAM\n"
"                       (also $CONVGEN_EXEC), e.g. 'qemu-aarch64 -L /usr/aarch64-\n"
"                       linux-gnu'; for arm-none-eabi-gcc a firmware image for\n"
"                       QEMU's mps2 boards: 'qemu-system-arm -M mps2-an386 -cpu\n"
"                       cortex-m4 -nographic -semihosting -kernel'\n"
"  --sanitize           run the memory check under ASan and UBSan at -O1 (slower\n"
"                       to compile) instead of ASan alone at -O0\n"
"  --no-memory          a partial run without the memory check (the report says\n"
"                       so): out-of-bounds accesses to the kernel's own arrays may\n"
"                       go unseen\n"
"  --json               print verify's report as one JSON document instead of\n"
"                       text (docs/verify.md describes it)\n"
"\n"
"tune times the target's candidate schedules of the layer, compiled as verify\n"
"compiles, on this machine and keeps each op's fastest: it prints a table and\n"
"the --schedule text, and with -o FILE writes them as a record for --tuning.\n"
"\n"
"generate writes DIR/NAME.h and DIR/NAME.c. verify compiles the code with\n"
"'$CC -std=c99 -O2 $CFLAGS' (CC defaults to cc; set CFLAGS to the flags you ship\n"
"with, e.g. '-O3 -march=native'), runs it and checks every op exactly; it also\n"
"builds it under AddressSanitizer, for the memory check of every array the code\n"
"touches, its own local arrays included. It prints one line per op and check\n"
"and exits 0 only if all hold. A verify that runs over a second shows its\n"
"progress on stderr when stderr is a terminal.\n"
"\n"
"Exit status: 0 success, 1 failure (I/O, compiler, a failed check), 2 bad usage\n"
"or a layer that makes no sense.\n";

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

static int run(int argc, char **argv, char *msg, size_t msg_len)
{
	struct cg_layer layer;
	struct cg_extra extra;
	struct vf_options vo;
	const char *cmd;
	int status;
	if (argc < 2) {
		snprintf(msg, msg_len, "missing command (generate, verify, tune, --help or --version)");
		return CG_EXIT_USAGE;
	}
	cmd = argv[1];
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
		fputs(help_usage, stdout);
		fputs(help_other, stdout);
		return CG_EXIT_OK;
	}
	if (strcmp(cmd, "--version") == 0) {
		printf("convgen %s\n", CG_VERSION);
		return CG_EXIT_OK;
	}
	if (strcmp(cmd, "generate") == 0) {
		status = cg_layer_parse(argc - 2, argv + 2, CG_ALLOW_OUT, &layer, &extra, msg, msg_len);
		if (status == CG_EXIT_OK && extra.tuning)
			status = cg_tuning_read(extra.tuning, &layer, msg, msg_len);
		if (status != CG_EXIT_OK)
			return status;
		if (extra.out_dir == NULL) {
			snprintf(msg, msg_len, "-o: required (the output directory)");
			return CG_EXIT_USAGE;
		}
		return cg_generate(&layer, extra.out_dir, msg, msg_len);
	}
	if (strcmp(cmd, "verify") == 0) {
		const char *cc = getenv("CC");
		status = cg_layer_parse(argc - 2, argv + 2, CG_ALLOW_FILE | CG_ALLOW_VERIFY,
		                        &layer, &extra, msg, msg_len);
		if (status == CG_EXIT_OK && extra.tuning)
			status = cg_tuning_read(extra.tuning, &layer, msg, msg_len);
		if (status != CG_EXIT_OK)
			return status;
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
	if (strcmp(cmd, "tune") == 0) {
		const char *cc = getenv("CC");
		char schedule[512];
		status = cg_layer_parse(argc - 2, argv + 2, CG_ALLOW_OUT, &layer, &extra, msg, msg_len);
		if (status != CG_EXIT_OK)
			return status;
		if (extra.tuning || extra.n_schedule) {
			snprintf(msg, msg_len, "%s: tune measures the schedule itself; drop it",
			         extra.tuning ? "--tuning" : "--schedule");
			return CG_EXIT_USAGE;
		}
		return cg_tune(&layer, cc && *cc ? cc : "cc", extra.out_dir, stdout, schedule,
		               sizeof schedule, msg, msg_len);
	}
	snprintf(msg, msg_len, "%s: unknown command (generate, verify, tune, --help or --version)", cmd);
	return CG_EXIT_USAGE;
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
