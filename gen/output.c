/* output.c: atomic writes: mkstemp in the target directory,
** write, fsync, rename, fsync the directory; on any error unlink the temps.
** A build therefore sees the old files or the new ones, never a mix of a
** kernel's lines. */
#define _POSIX_C_SOURCE 200809L
#include "output.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layer/layer.h"
#include "lua_bridge.h"

#define PATH_LEN 4096

static int fail(char *msg, size_t msg_len, const char *path, const char *what)
{
	snprintf(msg, msg_len, "%s: %s: %s", path, what, strerror(errno));
	return CG_EXIT_FAIL;
}

/* mkdir -p: create 'dir' and any missing parents. */
static int make_dirs(const char *dir, char *msg, size_t msg_len)
{
	char path[PATH_LEN];
	size_t i, len = strlen(dir);
	struct stat st;
	if (len >= sizeof path) {
		errno = ENAMETOOLONG;
		return fail(msg, msg_len, dir, "cannot create directory");
	}
	memcpy(path, dir, len + 1);
	for (i = 1; i <= len; i++) {
		if (path[i] != '/' && path[i] != '\0')
			continue;
		path[i] = '\0';
		if (mkdir(path, 0777) != 0 && errno != EEXIST)
			return fail(msg, msg_len, path, "cannot create directory");
		path[i] = i < len ? '/' : '\0';
	}
	if (stat(dir, &st) != 0)
		return fail(msg, msg_len, dir, "cannot use directory");
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return fail(msg, msg_len, dir, "cannot use directory");
	}
	return CG_EXIT_OK;
}

static int write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Write one file's bytes into a new temporary file; its name goes to 'tmp'. */
static int write_temp(const char *dir, const struct cg_file *f, char *tmp, size_t tmp_len,
                      char *msg, size_t msg_len)
{
	char path[PATH_LEN];
	mode_t mask;
	int fd;
	snprintf(path, sizeof path, "%s/%s", dir, f->name);
	if ((size_t)snprintf(tmp, tmp_len, "%s.tmpXXXXXX", path) >= tmp_len) {
		errno = ENAMETOOLONG;
		tmp[0] = '\0';
		return fail(msg, msg_len, path, "cannot create temporary file");
	}
	fd = mkstemp(tmp);
	if (fd < 0) {
		tmp[0] = '\0';
		return fail(msg, msg_len, path, "cannot create temporary file");
	}
	/* mkstemp made 'tmp' 0600, too strict for a header users include: use the umask. */
	mask = umask(0);
	umask(mask);
	if (fchmod(fd, 0666 & ~mask) != 0 || write_all(fd, f->data, f->len) != 0 || fsync(fd) != 0) {
		int saved = errno;
		close(fd);
		errno = saved;
		return fail(msg, msg_len, path, "cannot write");
	}
	if (close(fd) != 0)
		return fail(msg, msg_len, path, "cannot write");
	return CG_EXIT_OK;
}

int cg_write_files(const char *dir, const struct cg_file *files, int n_files,
                   char *msg, size_t msg_len)
{
	char tmp[8][PATH_LEN];
	char path[PATH_LEN];
	int i, status, fd;
	if (n_files > 8)
		n_files = 8;
	for (i = 0; i < n_files; i++)
		tmp[i][0] = '\0';
	status = make_dirs(dir, msg, msg_len);
	for (i = 0; i < n_files && status == CG_EXIT_OK; i++)
		status = write_temp(dir, &files[i], tmp[i], sizeof tmp[i], msg, msg_len);
	for (i = 0; i < n_files && status == CG_EXIT_OK; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, files[i].name);
		if (rename(tmp[i], path) != 0)
			status = fail(msg, msg_len, path, "cannot rename the temporary file");
		else
			tmp[i][0] = '\0';
	}
	for (i = 0; i < n_files; i++)
		if (tmp[i][0] != '\0')
			unlink(tmp[i]);
	if (status != CG_EXIT_OK)
		return status;
	/* Make the renames themselves durable. */
	fd = open(dir, O_RDONLY);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	return CG_EXIT_OK;
}

int cg_generate(const struct cg_layer *l, const char *dir, char *msg, size_t msg_len)
{
	struct cg_text h, c;
	struct cg_file files[2];
	char h_name[CG_NAME_MAX + 2], c_name[CG_NAME_MAX + 2];
	int status = cg_lua_generate(l, &h, &c, msg, msg_len);
	if (status != CG_EXIT_OK)
		return status;
	snprintf(h_name, sizeof h_name, "%s.h", l->name);
	snprintf(c_name, sizeof c_name, "%s.c", l->name);
	files[0].name = h_name;
	files[0].data = h.data;
	files[0].len = h.len;
	files[1].name = c_name;
	files[1].data = c.data;
	files[1].len = c.len;
	status = cg_write_files(dir, files, 2, msg, msg_len);
	free(h.data);
	free(c.data);
	return status;
}

void cg_remove_generated(const char *dir, const char *name)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/%s.h", dir, name);
	unlink(path);
	snprintf(path, sizeof path, "%s/%s.c", dir, name);
	unlink(path);
	rmdir(dir);
}
