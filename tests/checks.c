/* checks.c: see checks.h. */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checks.h"
#include "support.h"

/* The header's stack line, "Stack frame per function, at most (bytes): forward
** 96, grad_weight 120, ...": the bound of each op's frame, in op order. */
#define MAX_FRAMES 5
struct frames { char op[MAX_FRAMES][32]; int bytes[MAX_FRAMES]; int n; };

static void read_frame_bounds(const char *dir, const char *layer, struct frames *f)
{
	static const char key[] = "** Stack frame per function, at most (bytes): ";
	char path[512];
	char *text, *line;
	int used;
	snprintf(path, sizeof path, "%s/conv.c", dir);
	text = read_file(path, NULL);
	cr_assert(text, "no %s", path);
	line = strstr(text, key);
	cr_assert(line, "no stack line in the header of %s", path);
	line += sizeof key - 1;
	f->n = 0;
	while (f->n < MAX_FRAMES && sscanf(line, "%31[a-z_] %d%n", f->op[f->n], &f->bytes[f->n], &used) == 2) {
		f->n++;
		line += used;
		if (strncmp(line, ", ", 2) != 0)
			break;
		line += 2;
	}
	cr_expect_eq(f->n, strstr(layer, "sgd_update") ? 5 : 4, "stack line lists %d ops (layer: %s)", f->n, layer);
	free(text);
}

/* The promise of docs/api.md: compiled by 'cc' at 'opt' with -fstack-usage,
** every function's frame is static (no VLA, no alloca) and within the bound
** the header states, which is within 'limit'.  sgd_update calls its two parts,
** sgd_weight and sgd_bias: the three frames together are within its bound. */
/* Whether the .su entry at 'name' is the function 'fn' or a clone of it. */
static int is_function(const char *name, const char *fn)
{
	size_t len = strlen(fn);
	return strncmp(name, fn, len) == 0 && (name[len] == '\t' || name[len] == '.');
}

void check_frames(const char *dir, const char *cc, const char *opt, int limit, const char *layer)
{
	char cmd[1024], path[512], line[512];
	struct frames f;
	FILE *su;
	int i, seen = 0, sgd = -1, sgd_total = 0;
	read_frame_bounds(dir, layer, &f);
	snprintf(cmd, sizeof cmd, "cd %s && %s -std=c99 %s -fstack-usage -c conv.c -o conv_su.o", dir, cc, opt);
	cr_assert_eq(run_shell(cmd), 0, "%s (layer: %s)", cmd, layer);
	snprintf(path, sizeof path, "%s/conv_su.su", dir);
	su = fopen(path, "r");
	cr_assert(su, "%s did not write %s", cmd, path);
	while (fgets(line, sizeof line, su)) {
		char *name = strstr(line, ":conv_"), kind[32];
		int bytes, part;
		cr_assert(name, "unexpected line in %s: %s", path, line);
		name += 6;
		/* gcc may name a clone of a function NAME.constprop.0, NAME.isra.0 */
		part = is_function(name, "sgd_weight") || is_function(name, "sgd_bias");
		for (i = 0; i < f.n; i++) {
			if (part ? strcmp(f.op[i], "sgd_update") == 0
			         : is_function(name, f.op[i]))
				break;
		}
		cr_assert(i < f.n, "%s: a function the stack line does not list: %s", path, line);
		cr_assert_eq(sscanf(strchr(name, '\t'), "%d %31s", &bytes, kind), 2, "%s: %s", path, line);
		cr_expect_str_eq(kind, "static", "%s: %s's frame is not static (layer: %s)", cc, f.op[i], layer);
		if (strcmp(f.op[i], "sgd_update") == 0) {
			sgd = i;
			sgd_total += bytes;
			seen += !part;
			continue;
		}
		cr_expect_leq(bytes, f.bytes[i], "%s %s: %s's frame is %d bytes, above the header's bound %d (layer: %s)",
		              cc, opt, f.op[i], bytes, f.bytes[i], layer);
		cr_expect_leq(f.bytes[i], limit, "%s's bound %d is above the stack limit %d (layer: %s)",
		              f.op[i], f.bytes[i], limit, layer);
		seen++;
	}
	fclose(su);
	if (sgd >= 0) {
		cr_expect_leq(sgd_total, f.bytes[sgd], "%s %s: sgd_update's frames take %d bytes, above the header's bound %d (layer: %s)",
		              cc, opt, sgd_total, f.bytes[sgd], layer);
		cr_expect_leq(f.bytes[sgd], limit, "sgd_update's bound %d is above the stack limit %d (layer: %s)",
		              f.bytes[sgd], limit, layer);
	}
	cr_expect_eq(seen, f.n, "%s lists %d functions, the header %d (layer: %s)", path, seen, f.n, layer);
}

void check_cxx_header(const char *dir, const char *layer)
{
	char cmd[1024];
	snprintf(cmd, sizeof cmd,
	         "printf '#include \"conv.h\"\\nint main() { return conv_INPUT_SIZE > 0 ? 0 : 1; }\\n' > %s/use.cpp && "
	         "g++ -std=c++11 -Wall -Wextra -Wpedantic -Werror -fsyntax-only -I%s %s/use.cpp", dir, dir, dir);
	cr_expect_eq(run_shell(cmd), 0, "header does not compile as C++ (layer: %s)", layer);
}
