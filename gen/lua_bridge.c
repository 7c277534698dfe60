/* lua_bridge.c: the only file that sees lua.h.  All Lua work runs inside one
** protected call, as lua.c runs its pmain, so no Lua error can abort convgen. */
#include "lua_bridge.h"

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../cmake/embedded.h"

struct call {
	const struct cg_layer *layer;
	struct cg_text *h, *c;         /* generate: the two files */
	struct cg_choice *choices;     /* candidates: at most max_choices */
	int max_choices, n_choices;
	char refused[512];             /* generate: why the layer cannot be had, or "" */
	const char *checker;           /* check: the Lua chunk run on the plans, or NULL */
	size_t checker_len;
	struct cg_text *report;        /* check: what the chunk returned */
};

/* Read field 'key' of the table on top as a choice value; 'unset' when absent. */
static int choice_field(lua_State *L, const char *key, int unset)
{
	int v = unset;
	if (lua_getfield(L, -1, key) != LUA_TNIL)
		v = (int)luaL_checkinteger(L, -1);
	lua_pop(L, 1);
	return v;
}

static const char *const dtype_names[] = { "float", "double" };

/* Copy the string at 'idx' into a fresh malloc'ed text. */
static void take_text(lua_State *L, int idx, struct cg_text *t)
{
	size_t len;
	const char *s = luaL_checklstring(L, idx, &len);
	t->data = malloc(len + 1);
	if (t->data == NULL)
		luaL_error(L, "out of memory");
	memcpy(t->data, s, len + 1);
	t->len = len;
}

/* Push the layer as a table with docs/math.md's lowercase letters. */
static void push_layer(lua_State *L, const struct cg_layer *l)
{
	static const char *const keys[] = { "n", "c", "k", "g", "h", "w", "k1", "k2",
	                                    "sh", "sw", "ph", "pw", "eh", "ew", "dh", "dw", "oh", "ow",
	                                    "stack_limit" };
	const int values[] = { l->n, l->c, l->k, l->g, l->h, l->w, l->k1, l->k2,
	                       l->sh, l->sw, l->ph, l->pw, l->eh, l->ew, l->dh, l->dw, l->oh, l->ow,
	                       l->stack_limit };
	char options[1024];
	size_t i;
	int op, n_ops = 0;
	lua_createtable(L, 0, 24);                        /* layer */
	for (i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		lua_pushinteger(L, values[i]);                /* layer, value */
		lua_setfield(L, -2, keys[i]);                 /* layer */
	}
	lua_pushstring(L, dtype_names[l->dtype]);
	lua_setfield(L, -2, "dtype");
	lua_pushstring(L, l->name);
	lua_setfield(L, -2, "name");
	lua_pushstring(L, cg_target_names[l->target]);
	lua_setfield(L, -2, "target");
	lua_pushstring(L, CG_VERSION);
	lua_setfield(L, -2, "version");
	lua_pushstring(L, l->nhwc ? "nhwc" : "nchw");
	lua_setfield(L, -2, "layout");
	lua_pushstring(L, l->optimize_size ? "size" : "speed");
	lua_setfield(L, -2, "optimize");
	lua_pushboolean(L, l->workspace);
	lua_setfield(L, -2, "workspace");
	lua_pushboolean(L, l->relu);
	lua_setfield(L, -2, "relu");
	lua_pushboolean(L, l->momentum);
	lua_setfield(L, -2, "momentum");
	lua_newtable(L);                                  /* layer, ops */
	for (op = 0; op < CG_N_OPS; op++) {
		if (l->ops & CG_OP_BIT(op)) {
			lua_pushstring(L, cg_op_names[op]);       /* layer, ops, name */
			lua_rawseti(L, -2, ++n_ops);              /* layer, ops */
		}
	}
	lua_setfield(L, -2, "ops");                       /* layer */
	lua_newtable(L);                                  /* layer, schedule */
	for (op = 0; op < CG_N_OPS; op++) {
		const struct cg_choice *ch = &l->choice[op];
		if (ch->lanes == 0 && ch->acc == 0 && ch->roll < 0)
			continue;
		lua_newtable(L);                              /* layer, schedule, choice */
		if (ch->lanes) { lua_pushinteger(L, ch->lanes); lua_setfield(L, -2, "lanes"); }
		if (ch->acc) { lua_pushinteger(L, ch->acc); lua_setfield(L, -2, "acc"); }
		if (ch->roll >= 0) { lua_pushinteger(L, ch->roll); lua_setfield(L, -2, "roll"); }
		lua_setfield(L, -2, cg_op_names[op]);         /* layer, schedule */
	}
	lua_setfield(L, -2, "schedule");                  /* layer */
	if (cg_layer_options(l, options, sizeof options) < 0)
		luaL_error(L, "layer options longer than %d bytes", (int)sizeof options);
	lua_pushstring(L, options);
	lua_setfield(L, -2, "options");                   /* layer */
}

/* Open only what the scripts need and make 'require' see the embedded
** scripts alone: nothing is ever loaded from disk. */
static void open_sandbox(lua_State *L)
{
	luaL_requiref(L, LUA_GNAME, luaopen_base, 1);
	luaL_requiref(L, LUA_LOADLIBNAME, luaopen_package, 1);
	luaL_requiref(L, LUA_STRLIBNAME, luaopen_string, 1);
	luaL_requiref(L, LUA_TABLIBNAME, luaopen_table, 1);
	luaL_requiref(L, LUA_MATHLIBNAME, luaopen_math, 1);
	lua_pop(L, 5);
	lua_getglobal(L, LUA_LOADLIBNAME);                /* package */
	lua_pushliteral(L, "");
	lua_setfield(L, -2, "path");
	lua_pushliteral(L, "");
	lua_setfield(L, -2, "cpath");
	lua_pushnil(L);
	lua_setfield(L, -2, "loadlib");
	lua_getfield(L, -1, "searchers");                 /* package, searchers */
	lua_createtable(L, 1, 0);                         /* package, searchers, new */
	lua_rawgeti(L, -2, 1);                            /* package, searchers, new, preload searcher */
	lua_rawseti(L, -2, 1);                            /* package, searchers, new */
	lua_setfield(L, -3, "searchers");                 /* package, searchers */
	lua_pop(L, 2);
}

/* Register each embedded .lua as package.preload[module] and leave a table
** of template texts, keyed by file name, on the stack. */
static void load_embedded(lua_State *L)
{
	size_t i;
	lua_getglobal(L, LUA_LOADLIBNAME);                /* package */
	lua_getfield(L, -1, "preload");                   /* package, preload */
	lua_newtable(L);                                  /* package, preload, texts */
	for (i = 0; i < cg_n_embedded; i++) {
		const struct cg_embedded *f = &cg_embedded_files[i];
		size_t len = strlen(f->name);
		if (len > 4 && strcmp(f->name + len - 4, ".lua") == 0) {
			char chunk[96], module[96];
			snprintf(chunk, sizeof chunk, "@%s", f->name);
			snprintf(module, sizeof module, "%.*s", (int)(len - 4), f->name);
			if (luaL_loadbuffer(L, (const char *)f->data, f->len, chunk) != LUA_OK)
				lua_error(L);                         /* package, preload, texts, message */
			lua_setfield(L, -3, module);              /* package, preload, texts */
		} else {
			lua_pushlstring(L, (const char *)f->data, f->len);
			lua_setfield(L, -2, f->name);             /* package, preload, texts */
		}
	}
	lua_remove(L, -2);                                /* package, texts */
	lua_remove(L, -2);                                /* texts */
}

/* The tests' entry (cg_lua_check_plans): convgen.plans on the layer, then the
** checker chunk, in this state, on the layer, the plans and the two texts. */
static int check_plans(lua_State *L, struct call *call)
{
	int layer;                                        /* call, texts, convgen */
	push_layer(L, call->layer);                       /* ..., convgen, layer */
	layer = lua_gettop(L);
	lua_getfield(L, -2, "plans");                     /* ..., layer, plans */
	lua_pushvalue(L, layer);
	lua_pushvalue(L, 2);                              /* ..., layer, plans, layer, texts */
	lua_call(L, 2, 3);                                /* ..., layer, h_text, c_text, info */
	if (lua_isnil(L, -3)) {
		snprintf(call->refused, sizeof call->refused, "%s", luaL_checkstring(L, -2));
		return 0;
	}
	take_text(L, -3, call->h);
	take_text(L, -2, call->c);
	if (luaL_loadbuffer(L, call->checker, call->checker_len, "@tests/plans/check.lua") != LUA_OK)
		lua_error(L);
	lua_call(L, 0, 1);                                /* ..., info, check */
	lua_pushvalue(L, layer);
	lua_pushvalue(L, layer + 3);
	lua_pushvalue(L, layer + 1);
	lua_pushvalue(L, layer + 2);                      /* ..., info, check, layer, info, h, c */
	lua_call(L, 4, 1);                                /* ..., info, report */
	take_text(L, -1, call->report);
	return 0;
}

/* The targets are listed once, in gen/layer/layer.h (CG_TARGETS); the target
** model must know exactly those, or a name the parser accepts would reach
** no schedule (or one no user can ask for). */
static void check_targets(lua_State *L)
{
	int i, t, n;
	lua_getglobal(L, "require");
	lua_pushliteral(L, "targets");
	lua_call(L, 1, 1);                                /* ..., targets */
	lua_getfield(L, -1, "names");
	lua_call(L, 0, 1);                                /* ..., targets, names */
	n = (int)luaL_len(L, -1);
	for (i = 1; i <= n; i++) {
		const char *name;
		lua_rawgeti(L, -1, i);
		name = luaL_checkstring(L, -1);
		for (t = 0; t < CG_N_TARGETS && strcmp(name, cg_target_names[t]) != 0; t++)
			;
		if (t == CG_N_TARGETS)
			luaL_error(L, "targets.lua describes '%s', which gen/layer/layer.h does not list", name);
		lua_pop(L, 1);
	}
	if (n != CG_N_TARGETS)
		luaL_error(L, "gen/layer/layer.h lists %d targets, targets.lua describes %d", CG_N_TARGETS, n);
	lua_pop(L, 2);
}

static int pmain(lua_State *L)
{
	struct call *call = lua_touserdata(L, 1);
	open_sandbox(L);
	load_embedded(L);                                 /* call, texts */
	check_targets(L);
	lua_getglobal(L, "require");                      /* call, texts, require */
	lua_pushliteral(L, "convgen");
	lua_call(L, 1, 1);                                /* call, texts, convgen */
	if (call->choices) {
		int i, n;
		lua_getfield(L, -1, "candidates");            /* call, texts, convgen, candidates */
		push_layer(L, call->layer);                   /* call, texts, convgen, candidates, layer */
		lua_call(L, 1, 1);                            /* call, texts, convgen, list */
		n = (int)luaL_len(L, -1);
		for (i = 0; i < n && i < call->max_choices; i++) {
			struct cg_choice *ch = &call->choices[i];
			lua_rawgeti(L, -1, i + 1);                /* ..., list, choice */
			ch->lanes = choice_field(L, "lanes", 0);
			ch->acc = choice_field(L, "acc", 0);
			ch->roll = choice_field(L, "roll", -1);
			lua_pop(L, 1);                            /* ..., list */
		}
		call->n_choices = i;
		return 0;
	}
	if (call->checker)
		return check_plans(L, call);
	lua_getfield(L, -1, "generate");                  /* call, texts, convgen, generate */
	push_layer(L, call->layer);                       /* call, texts, convgen, generate, layer */
	lua_pushvalue(L, 2);                              /* ..., generate, layer, texts */
	lua_call(L, 2, 2);                                /* call, texts, convgen, h_text, c_text */
	if (lua_isnil(L, -2)) {                           /* call, texts, convgen, nil, why */
		snprintf(call->refused, sizeof call->refused, "%s", luaL_checkstring(L, -1));
		return 0;
	}
	take_text(L, -2, call->h);
	take_text(L, -1, call->c);
	return 0;
}

#ifndef NDEBUG
/* Debug builds: a traceback is for us, the developers. */
static int traceback(lua_State *L)
{
	const char *msg = lua_tostring(L, 1);
	luaL_traceback(L, L, msg ? msg : "(error object is not a string)", 1);
	return 1;
}
#endif

/* Run pmain for 'call' in a fresh Lua state. */
static int run_call(struct call *call, char *msg, size_t msg_len)
{
	int status, base;
	lua_State *L = luaL_newstate();
	if (L == NULL) {
		snprintf(msg, msg_len, "internal error: cannot create the Lua state (out of memory)");
		return CG_EXIT_FAIL;
	}
#ifndef NDEBUG
	lua_pushcfunction(L, traceback);                  /* handler */
#else
	lua_pushnil(L);                                   /* no handler */
#endif
	base = lua_gettop(L);
	lua_pushcfunction(L, pmain);                      /* handler, pmain */
	lua_pushlightuserdata(L, call);                   /* handler, pmain, call */
	status = lua_pcall(L, 1, 0, lua_isnil(L, base) ? 0 : base);
	if (status != LUA_OK) {
		const char *err = lua_tostring(L, -1);
		snprintf(msg, msg_len, "internal error: %s", err ? err : "(no message)");
	}
	lua_close(L);
	return status == LUA_OK ? CG_EXIT_OK : CG_EXIT_FAIL;
}

/* Generate (with 'call' set up), and free both texts unless it succeeded. */
static int run_generate(struct call *call, char *msg, size_t msg_len)
{
	int status = run_call(call, msg, msg_len);
	if (status == CG_EXIT_OK && call->refused[0]) {
		snprintf(msg, msg_len, "%s", call->refused);
		status = CG_EXIT_USAGE;
	}
	if (status != CG_EXIT_OK) {
		free(call->h->data);
		free(call->c->data);
		call->h->data = call->c->data = NULL;
	}
	return status;
}

int cg_lua_generate(const struct cg_layer *l, struct cg_text *h, struct cg_text *c,
                    char *msg, size_t msg_len)
{
	struct call call;
	memset(&call, 0, sizeof call);
	h->data = c->data = NULL;
	call.layer = l;
	call.h = h;
	call.c = c;
	return run_generate(&call, msg, msg_len);
}

int cg_lua_candidates(const struct cg_layer *l, struct cg_choice *out, int max, int *n,
                      char *msg, size_t msg_len)
{
	struct call call;
	int status;
	memset(&call, 0, sizeof call);
	call.layer = l;
	call.choices = out;
	call.max_choices = max;
	status = run_call(&call, msg, msg_len);
	*n = call.n_choices;
	return status;
}

int cg_lua_check_plans(const struct cg_layer *l, const char *checker, size_t checker_len,
                       struct cg_text *h, struct cg_text *c, struct cg_text *report,
                       char *msg, size_t msg_len)
{
	struct call call;
	int status;
	memset(&call, 0, sizeof call);
	report->data = NULL;
	call.checker = checker;
	call.checker_len = checker_len;
	call.report = report;
	call.layer = l;
	call.h = h;
	call.c = c;
	h->data = c->data = NULL;
	status = run_generate(&call, msg, msg_len);
	if (status != CG_EXIT_OK) {
		free(report->data);
		report->data = NULL;
	}
	return status;
}
