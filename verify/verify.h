/* verify.h: the verifier's one entry point.  It checks a file that 'convgen
** generate' wrote: compiles it, runs each op in a child process and checks it
** exactly against docs/math.md (reference, finite differences, rounding bound). */
#ifndef VF_VERIFY_H
#define VF_VERIFY_H

#include <stddef.h>
#include <stdio.h>

struct vf_options {
	int exhaustive;          /* force per-coordinate finite differences */
	int sanitize;            /* the memory check under UBSan too (-O1 -g), not ASan alone (-O0) */
	int no_memory;           /* leave the memory check out (the report says so) */
	const char *exec;        /* emulator command: build a driver program with cc and run it through this */
	unsigned long seed;      /* PRNG seed for all random inputs; default chosen by caller (1) */
	const char *cc;          /* C compiler command, e.g. getenv("CC") or "cc"; may contain spaces ("ccache gcc") */
	int json;                /* print a JSON report (verify/json.c) instead of the text report */
	int private_file;        /* 'verify LAYER': 'path' is a private temporary copy; the JSON says "file": null */
};

/* Check the generated file 'path' (DIR/NAME.c written by `convgen generate`): read the layer from its
** header comment, compile it, run each op it contains and check it exactly. Prints the report to 'out'
** (text, or with o->json one JSON document, printed whole at the end) and, when stderr is a terminal and
** the run takes over a second, a progress line on stderr.
** Returns CG_EXIT_OK (all checks hold), CG_EXIT_FAIL (a check failed, file unreadable/foreign/truncated,
** compiler failed, kernel crashed) or CG_EXIT_USAGE (header's layer options rejected by cg_layer_parse),
** with a one-line message in msg (like "build/conv1.c: no 'convgen generate' line in its header comment")
** for anything that is not a check failure (check failures are described in the report itself). */
int vf_verify_file(const char *path, const struct vf_options *o, FILE *out, char *msg, size_t msg_len);

#endif
