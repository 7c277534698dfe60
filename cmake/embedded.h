/* embedded.h: the Lua scripts and templates compiled into the binary by
** cmake/embed.cmake, so an installed convgen never reads them from disk. */
#ifndef CG_EMBEDDED_H
#define CG_EMBEDDED_H

#include <stddef.h>

struct cg_embedded {
	const char *name;            /* file name: "plan.lua", "gather_op.c.in" */
	const unsigned char *data;   /* its bytes, followed by a NUL */
	size_t len;                  /* without the NUL */
};

extern const struct cg_embedded cg_embedded_files[];
extern const size_t cg_n_embedded;

#endif
