/* output.h: write generated files all at once or not at all. */
#ifndef CG_OUTPUT_H
#define CG_OUTPUT_H

#include <stddef.h>

struct cg_file {
	const char *name;     /* file name inside the directory: "conv1.h" */
	const char *data;
	size_t len;
};

/* Create 'dir' (and its parents) if needed, then write every file through a
** temporary file in 'dir' and rename them only once all are complete.
** Returns CG_EXIT_OK, or CG_EXIT_FAIL with "PATH: reason" in 'msg' and no
** temporary file left behind. */
int cg_write_files(const char *dir, const struct cg_file *files, int n_files,
                   char *msg, size_t msg_len);

/* Render the two files of layer 'l' (gen/lua_bridge.c) and write them as
** DIR/NAME.h and DIR/NAME.c with cg_write_files.  Returns as cg_write_files. */
struct cg_layer;
int cg_generate(const struct cg_layer *l, const char *dir, char *msg, size_t msg_len);

/* Remove DIR/NAME.h, DIR/NAME.c and then DIR itself if empty: a private
** directory that cg_generate filled.  Errors are ignored (best effort). */
void cg_remove_generated(const char *dir, const char *name);

#endif
