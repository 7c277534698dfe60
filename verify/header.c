/* header.c: recover the layer a generated NAME.c was made for, from the
** 'convgen generate' command in its header comment, through the same parser
** the command line uses; and refuse a file that does not end with its
** trailer, since a truncated file must not pass for a proven one.  Lines are
** read through a fixed buffer, so a binary or huge file cannot hurt. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "vf.h"

#define HEADER_LINES 50        /* the command sits in the first comment, near the top */
#define LINE_MAX_LEN 4096      /* longer lines are cut: no header line comes close */
#define MAX_ARGS 128
#define PREFIX "**   convgen generate "

/* Read one line into 'buf' (cut at len-1 bytes, newline dropped).  Returns
** 0 at end of file, 1 otherwise. */
static int read_line(FILE *f, char *buf, size_t len)
{
	size_t k = 0;
	int ch, any = 0;

	while ((ch = getc(f)) != EOF) {
		any = 1;
		if (ch == '\n')
			break;
		if (k + 1 < len)
			buf[k++] = (char)(ch == '\0' ? ' ' : ch);
	}
	while (k > 0 && (buf[k - 1] == '\r' || buf[k - 1] == ' ' || buf[k - 1] == '\t'))
		k--;
	buf[k] = '\0';
	return any;
}

/* The layer options of the command, for the report's first line: everything
** but --dtype, --ops, --name and -o, which the report shows otherwise. */
static void layer_options(int argc, char **argv, char *out, size_t len)
{
	size_t used = 0;
	int i;

	out[0] = '\0';
	for (i = 0; i < argc; i++) {
		if ((!strcmp(argv[i], "--dtype") || !strcmp(argv[i], "--ops") ||
		     !strcmp(argv[i], "--name") || !strcmp(argv[i], "-o")) && i + 1 < argc) {
			i++;
			continue;
		}
		if (used + strlen(argv[i]) + 2 > len)
			break;
		used += (size_t)snprintf(out + used, len - used, "%s%s", used ? " " : "", argv[i]);
	}
}

int vf_read_header(const char *path, struct cg_layer *l, char *layer_opts, size_t opts_len,
                   char *command_out, size_t command_len, char *msg, size_t msg_len)
{
	char line[LINE_MAX_LEN], command[LINE_MAX_LEN], last[LINE_MAX_LEN];
	char *argv[MAX_ARGS], pmsg[512], trailer[CG_NAME_MAX + 32], *tok;
	struct cg_extra extra;
	int argc = 0, n_lines = 0, in_comment = 0, err;
	FILE *f = fopen(path, "rb");

	if (!f) {
		snprintf(msg, msg_len, "%s: %s", path, strerror(errno));
		return CG_EXIT_FAIL;
	}
	command[0] = last[0] = '\0';
	while (read_line(f, line, sizeof line)) {
		n_lines++;
		if (n_lines == 1 && !strncmp(line, "/*", 2))
			in_comment = 1;
		if (in_comment && n_lines <= HEADER_LINES && !command[0] && !strncmp(line, PREFIX, strlen(PREFIX)))
			strcpy(command, line + strlen(PREFIX));
		if (in_comment && strstr(line, "*/"))
			in_comment = 0;
		if (line[0])
			strcpy(last, line);
	}
	err = ferror(f) ? errno : 0;
	fclose(f);
	if (err) {
		snprintf(msg, msg_len, "%s: %s", path, strerror(err));
		return CG_EXIT_FAIL;
	}
	if (n_lines == 0) {
		snprintf(msg, msg_len, "%s: empty file", path);
		return CG_EXIT_FAIL;
	}
	if (!command[0]) {
		snprintf(msg, msg_len, "%s: no 'convgen generate' line in its header comment", path);
		return CG_EXIT_FAIL;
	}
	snprintf(command_out, command_len, "convgen generate %s", command);   /* before strtok cuts it */
	for (tok = strtok(command, " "); tok; tok = strtok(NULL, " ")) {
		if (argc == MAX_ARGS) {
			snprintf(msg, msg_len, "%s: the 'convgen generate' line has too many words", path);
			return CG_EXIT_FAIL;
		}
		argv[argc++] = tok;
	}
	memset(&extra, 0, sizeof extra);
	pmsg[0] = '\0';
	if (cg_layer_parse(argc, argv, CG_ALLOW_OUT | CG_ALLOW_SCHEDULE, l, &extra, pmsg, sizeof pmsg) != CG_EXIT_OK) {
		snprintf(msg, msg_len, "%s: header command: %s", path, pmsg);
		return CG_EXIT_USAGE;
	}
	snprintf(trailer, sizeof trailer, "/* end of %s.c */", l->name);
	if (strcmp(last, trailer) != 0) {
		size_t len = strlen(last);
		if (strncmp(last, "/* end of ", 10) == 0 && len > 15 && strcmp(last + len - 5, ".c */") == 0)
			snprintf(msg, msg_len, "%s: its header says --name %s but it ends with '%.80s': "
			         "edited by hand?", path, l->name, last);
		else
			snprintf(msg, msg_len, "%s: truncated: its last line is not '%s'", path, trailer);
		return CG_EXIT_FAIL;
	}
	layer_options(argc, argv, layer_opts, opts_len);
	return CG_EXIT_OK;
}

int vf_read_workspace(const char *path, const char *name, size_t *bytes, size_t *align,
                      char *msg, size_t msg_len)
{
	char h_path[4200], line[LINE_MAX_LEN], key_bytes[CG_NAME_MAX + 40], key_align[CG_NAME_MAX + 40];
	const char *slash = strrchr(path, '/');
	int have_bytes = 0, have_align = 0;
	FILE *f;

	snprintf(h_path, sizeof h_path, "%.*s%s.h", slash ? (int)(slash - path + 1) : 0, path, name);
	snprintf(key_bytes, sizeof key_bytes, "#define %s_WORKSPACE_BYTES ", name);
	snprintf(key_align, sizeof key_align, "#define %s_WORKSPACE_ALIGN ", name);
	if (!(f = fopen(h_path, "rb"))) {
		snprintf(msg, msg_len, "%s: %s (the header says --workspace: its size is there)", h_path, strerror(errno));
		return CG_EXIT_FAIL;
	}
	while (read_line(f, line, sizeof line)) {
		char *end;
		if (!strncmp(line, key_bytes, strlen(key_bytes))) {
			*bytes = (size_t)strtoull(line + strlen(key_bytes), &end, 10);
			have_bytes = *end == '\0';
		} else if (!strncmp(line, key_align, strlen(key_align))) {
			*align = (size_t)strtoull(line + strlen(key_align), &end, 10);
			have_align = *end == '\0' && *align > 0 && (*align & (*align - 1)) == 0;
		}
	}
	fclose(f);
	if (!have_bytes || !have_align || *bytes % *align != 0) {
		snprintf(msg, msg_len, "%s: no valid %s_WORKSPACE_BYTES and %s_WORKSPACE_ALIGN (a power of two dividing the bytes)",
		         h_path, name, name);
		return CG_EXIT_FAIL;
	}
	return CG_EXIT_OK;
}
