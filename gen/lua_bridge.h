/* lua_bridge.h: the one boundary between C and Lua.  In: a valid layer.
** Out: the texts of NAME.h and NAME.c, or the schedules worth timing. */
#ifndef CG_LUA_BRIDGE_H
#define CG_LUA_BRIDGE_H

#include <stddef.h>

#include "layer/layer.h"

struct cg_text {
	char *data;     /* malloc'ed, NUL-terminated */
	size_t len;
};

/* Render both files in memory.  Returns CG_EXIT_OK; CG_EXIT_USAGE with the
** reason in 'msg' when the code options ask what the target cannot give (a
** stack limit below any schedule's frame); or CG_EXIT_FAIL with "internal
** error: ..." (a valid layer never fails otherwise: it is our bug). */
int cg_lua_generate(const struct cg_layer *l, struct cg_text *h, struct cg_text *c,
                    char *msg, size_t msg_len);

/* The candidate schedule choices of the layer's target for 'convgen tune'
** (gen/lua/targets.lua), at most 'max' of them, the model's own first (all
** fields unset).  Returns CG_EXIT_OK with the count in '*n', or CG_EXIT_FAIL. */
int cg_lua_candidates(const struct cg_layer *l, struct cg_choice *out, int max, int *n,
                      char *msg, size_t msg_len);

/* For the property tests alone: generate as cg_lua_generate does, then run the
** Lua chunk 'checker' (tests/plans/check.lua) in the same state; it returns a
** function, called with the layer, the plans the texts were rendered from
** (convgen.plans) and the two texts, whose string result goes to 'report'.
** Returns what cg_lua_generate returns; a checker error is CG_EXIT_FAIL. */
int cg_lua_check_plans(const struct cg_layer *l, const char *checker, size_t checker_len,
                       struct cg_text *h, struct cg_text *c, struct cg_text *report,
                       char *msg, size_t msg_len);

#endif
