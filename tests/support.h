/* support.h: what the tests share: running convgen, scratch directories,
** compiling generated code, reading files.  Criterion forks each test and runs
** them in parallel, so every scratch name comes from mkdtemp. */
#ifndef TEST_SUPPORT_H
#define TEST_SUPPORT_H

#include <stddef.h>

struct run {
	int status;        /* exit status, or 128 + signal */
	char out[65536];   /* stdout, NUL-terminated, truncated */
	char err[16384];   /* stderr, likewise */
};

/* Run convgen with the words of 'args' (split on spaces), in directory 'cwd'
** (or here when NULL), with CC set to 'cc' when not NULL. */
void run_convgen(struct run *r, const char *cwd, const char *cc, const char *args);

/* Run a shell command; returns its exit status (128 + signal on a signal). */
int run_shell(const char *cmd);

/* A fresh directory under the system's temp dir; the string is static per call site. */
char *scratch_dir(char *buf, size_t len);

/* Remove a directory tree made by scratch_dir(). */
void remove_dir(const char *dir);

/* Read a whole file; returns malloc'ed bytes (NUL-terminated) or NULL. */
char *read_file(const char *path, size_t *len);

int file_exists(const char *path);

/* Write DIR/cc, an executable /bin/sh script with 'body' (a stand-in C
** compiler), and put its path in 'cc'. */
void write_fake_cc(const char *dir, const char *body, char *cc, size_t cc_len);

/* Generate 'opts' with '--name NAME -o DIR'; returns convgen's exit status. */
int generate(const char *dir, const char *name, const char *opts);

#define CONVGEN CONVGEN_EXE
#define SOURCE_DIR CONVGEN_SOURCE_DIR

#endif
