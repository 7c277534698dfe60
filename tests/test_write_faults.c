/* test_write_faults.c: generate's writes when the disk says no (docs/cli.md:
** never a partial or stale output file).  A write that fails
** midway, because of the file-size limit, a read-only directory or a full
** file system, exits 1 naming the file and leaves the old files
** byte-identical and no temporary file.  A generator killed with SIGKILL
** leaves each file either complete old or complete new; only then may a
** 'NAME.x.tmpXXXXXX' temporary remain, since nothing runs to remove it.
**
** The read-only and full cases need a file system of their own: as root (CI
** runs the tests as root, and chmod does not stop root) the test enters a
** private mount namespace and mounts a small tmpfs there, which vanishes with
** the test's process whatever happens; a user who is not root gets a chmod'ed
** directory for the read-only case; otherwise the test is skipped, saying why. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "support.h"

#define OLD_LAYER "--input 5x5 --kernel 3x3"
/* About 300 kB of conv.c: a write that a small limit or a full disk stops midway. */
#define NEW_LAYER "--input 64x64 --kernel 7x7 --padding 3"

/* The files of 'dir' as one string: names, in order. */
static void listing(const char *dir, char *buf, size_t len)
{
	char cmd[600];
	FILE *p;
	size_t n;
	snprintf(cmd, sizeof cmd, "ls -A '%s' | LC_ALL=C sort | tr '\\n' ' '", dir);
	p = popen(cmd, "r");
	cr_assert(p);
	n = fread(buf, 1, len - 1, p);
	buf[n] = '\0';
	pclose(p);
}

struct old_files {
	char *h, *c;
	size_t h_len, c_len;
};

static void read_pair(const char *dir, struct old_files *o)
{
	char path[512];
	snprintf(path, sizeof path, "%s/conv.h", dir);
	o->h = read_file(path, &o->h_len);
	snprintf(path, sizeof path, "%s/conv.c", dir);
	o->c = read_file(path, &o->c_len);
}

static int same_pair(const struct old_files *a, const struct old_files *b)
{
	return a->h && b->h && a->c && b->c && a->h_len == b->h_len && a->c_len == b->c_len &&
	       memcmp(a->h, b->h, a->h_len) == 0 && memcmp(a->c, b->c, a->c_len) == 0;
}

static void free_pair(struct old_files *o)
{
	free(o->h);
	free(o->c);
}

/* Run 'convgen generate LAYER -o dir' with RLIMIT_FSIZE = 'fsize' bytes
** (0: no limit) and SIGXFSZ ignored, so write() fails with EFBIG as on a
** full disk.  Returns the exit status (128 + signal); stderr goes to 'err'. */
static int generate_limited(const char *dir, const char *layer, long fsize, char *err, size_t err_len)
{
	int fds[2];
	pid_t pid;
	int status;
	size_t n = 0;
	ssize_t got;
	char *argv[64], copy[512], *save = NULL, *w;
	int argc = 0;
	argv[argc++] = CONVGEN;
	argv[argc++] = "generate";
	snprintf(copy, sizeof copy, "%s", layer);
	for (w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save))
		argv[argc++] = w;
	argv[argc++] = "-o";
	argv[argc++] = (char *)dir;
	argv[argc] = NULL;
	cr_assert(pipe(fds) == 0);
	fflush(NULL);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		if (fsize > 0) {
			struct rlimit rl = { (rlim_t)fsize, (rlim_t)fsize };
			signal(SIGXFSZ, SIG_IGN);
			setrlimit(RLIMIT_FSIZE, &rl);
		}
		/* A pipe, not a file: RLIMIT_FSIZE would cut a file's message too. */
		dup2(fds[1], 2);
		close(fds[0]);
		execv(CONVGEN, argv);
		_exit(126);
	}
	close(fds[1]);
	while (n + 1 < err_len && (got = read(fds[0], err + n, err_len - 1 - n)) > 0)
		n += (size_t)got;
	err[n] = '\0';
	close(fds[0]);
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* The promise of every failed write: exit 1, the file named, old files
** byte-identical, nothing else in the directory. */
static void expect_failed_write(const char *what, const char *dir, int status, const char *err,
                                const struct old_files *before)
{
	char files[4096];
	struct old_files after;
	cr_expect_eq(status, 1, "%s: exit %d, expected 1; stderr: %s", what, status, err);
	cr_expect(strncmp(err, "convgen: ", 9) == 0 && strstr(err, "conv.") != NULL,
	          "%s: message does not name the file: %s", what, err);
	read_pair(dir, &after);
	if (before)
		cr_expect(same_pair(before, &after), "%s: the old conv.h, conv.c changed", what);
	free_pair(&after);
	listing(dir, files, sizeof files);
	cr_expect_str_eq(files, before ? "conv.c conv.h " : "", "%s: files left in %s", what, dir);
}

/* The sizes of conv.h and conv.c for 'layer', generated into 'dir'/sizes:
** the limits below follow the templates, whatever they emit today. */
static void pair_sizes(const char *dir, const char *layer, size_t *h_len, size_t *c_len)
{
	char sub[320];
	struct old_files f;
	snprintf(sub, sizeof sub, "%s/sizes", dir);
	cr_assert_eq(generate(sub, "conv", layer), 0);
	read_pair(sub, &f);
	cr_assert(f.h && f.c);
	*h_len = f.h_len;
	*c_len = f.c_len;
	free_pair(&f);
	remove_dir(sub);
}

/* ---- the file-size limit (ulimit -f): stops the first file, the second, or mid-way */

Test(write_faults, file_size_limit_leaves_old_files_and_no_temporary)
{
	char dir[256], err[4096], what[64];
	struct old_files before;
	size_t i, h_len, c_len;
	long limits[6];
	cr_assert(scratch_dir(dir, sizeof dir));
	/* Bytes allowed per file: stop conv.h at its first byte, midway or at its
	** last; then conv.h fits and conv.c stops at its start, midway or last byte. */
	pair_sizes(dir, NEW_LAYER, &h_len, &c_len);
	cr_assert(h_len > 2 && c_len > h_len + 2, "conv.h %zu bytes, conv.c %zu", h_len, c_len);
	limits[0] = 1;
	limits[1] = (long)h_len / 2;
	limits[2] = (long)h_len - 1;
	limits[3] = (long)h_len + 1;
	limits[4] = (long)c_len / 2;
	limits[5] = (long)c_len - 1;
	cr_assert_eq(generate(dir, "conv", OLD_LAYER), 0);
	read_pair(dir, &before);
	for (i = 0; i < sizeof limits / sizeof limits[0]; i++) {
		int status = generate_limited(dir, NEW_LAYER, limits[i], err, sizeof err);
		snprintf(what, sizeof what, "file size limit %ld bytes", limits[i]);
		expect_failed_write(what, dir, status, err, &before);
		cr_expect(strstr(err, "File too large") != NULL, "%s: %s", what, err);
	}
	free_pair(&before);
	remove_dir(dir);
}

Test(write_faults, file_size_limit_in_a_new_directory_creates_no_file)
{
	char dir[256], sub[300], err[4096];
	int status;
	cr_assert(scratch_dir(dir, sizeof dir));
	snprintf(sub, sizeof sub, "%s/new", dir);
	status = generate_limited(sub, NEW_LAYER, 4096, err, sizeof err);
	/* The directory itself may be created (mkdir -p comes first); its content may not. */
	expect_failed_write("file size limit in a new directory", sub, status, err, NULL);
	remove_dir(dir);
}

/* ---- a file system of our own: read-only, or full */

/* Enter a private mount namespace and mount a tmpfs of 'size' bytes on 'dir'.
** Returns 0, or -1 with the reason in 'why' (not root, no CAP_SYS_ADMIN, ...). */
static int private_tmpfs(const char *dir, long size, char *why, size_t why_len)
{
	char opts[64];
	if (unshare(CLONE_NEWNS) != 0) {
		snprintf(why, why_len, "unshare(CLONE_NEWNS): %s", strerror(errno));
		return -1;
	}
	/* Without this, a shared '/' (systemd) would propagate our mount outside. */
	if (mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
		snprintf(why, why_len, "making / private: %s", strerror(errno));
		return -1;
	}
	snprintf(opts, sizeof opts, "size=%ld,mode=0777", size);
	if (mount("tmpfs", dir, "tmpfs", 0, opts) != 0) {
		snprintf(why, why_len, "mount -t tmpfs -o %s: %s", opts, strerror(errno));
		return -1;
	}
	return 0;
}

Test(write_faults, read_only_directory_leaves_old_files)
{
	char dir[256], mnt[300], err[4096], why[256];
	struct old_files before;
	int status, mounted;
	cr_assert(scratch_dir(dir, sizeof dir));
	snprintf(mnt, sizeof mnt, "%s/ro", dir);
	cr_assert(mkdir(mnt, 0777) == 0);
	mounted = private_tmpfs(mnt, 1 << 20, why, sizeof why) == 0;
	if (!mounted && geteuid() == 0) {
		remove_dir(dir);
		cr_skip_test("read-only directory: running as root, so chmod would not stop the "
		             "writes, and no tmpfs can be mounted (%s)", why);
	}
	cr_assert_eq(generate(mnt, "conv", OLD_LAYER), 0);
	read_pair(mnt, &before);
	if (mounted)
		cr_assert(mount("tmpfs", mnt, NULL, MS_REMOUNT | MS_RDONLY, NULL) == 0,
		          "remount read-only: %s", strerror(errno));
	else
		cr_assert(chmod(mnt, 0555) == 0);
	status = generate_limited(mnt, NEW_LAYER, 0, err, sizeof err);
	expect_failed_write(mounted ? "read-only tmpfs" : "chmod 0555 directory", mnt, status, err, &before);
	cr_expect(strstr(err, mounted ? "Read-only file system" : "Permission denied") != NULL, "%s", err);
	free_pair(&before);
	if (mounted)
		umount(mnt);
	remove_dir(dir);
}

Test(write_faults, full_file_system_leaves_old_files_and_no_temporary)
{
	char dir[256], mnt[300], err[4096], why[256], what[64];
	struct old_files before;
	size_t i, old_h, old_c, new_h, new_c;
	long page = sysconf(_SC_PAGESIZE), old_pages, sizes[2];
	int status;
	cr_assert(scratch_dir(dir, sizeof dir));
	/* tmpfs counts whole pages: room for the old files and one or two pages
	** more, far less than the new conv.c, which stops midway. */
	pair_sizes(dir, OLD_LAYER, &old_h, &old_c);
	pair_sizes(dir, NEW_LAYER, &new_h, &new_c);
	old_pages = (long)((old_h + page - 1) / page + (old_c + page - 1) / page);
	sizes[0] = (old_pages + 1) * page;
	sizes[1] = (old_pages + 2) * page;
	cr_assert((long)new_c > 3 * page, "the new conv.c (%zu bytes) would fit", new_c);
	for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		snprintf(mnt, sizeof mnt, "%s/full%zu", dir, i);
		cr_assert(mkdir(mnt, 0777) == 0);
		if (private_tmpfs(mnt, sizes[i], why, sizeof why) != 0) {
			remove_dir(dir);
			cr_skip_test("full file system: cannot mount a small tmpfs (%s)", why);
		}
		cr_assert_eq(generate(mnt, "conv", OLD_LAYER), 0);
		read_pair(mnt, &before);
		status = generate_limited(mnt, NEW_LAYER, 0, err, sizeof err);
		snprintf(what, sizeof what, "full tmpfs of %ld bytes", sizes[i]);
		expect_failed_write(what, mnt, status, err, &before);
		cr_expect(strstr(err, "No space left on device") != NULL, "%s: %s", what, err);
		free_pair(&before);
		umount(mnt);
	}
	remove_dir(dir);
}

/* ---- SIGKILL while writing */

static void copy_pair(const char *from, const char *to)
{
	char cmd[1024];
	/* cp then mv, so 'to' itself only ever sees whole files. */
	snprintf(cmd, sizeof cmd, "cp '%s/conv.h' '%s/.h' && cp '%s/conv.c' '%s/.c' && "
	         "mv '%s/.h' '%s/conv.h' && mv '%s/.c' '%s/conv.c'", from, to, from, to, to, to, to, to);
	cr_assert_eq(run_shell(cmd), 0);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void sleep_for(double s)
{
	struct timespec ts;
	if (s <= 0)
		return;
	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
	nanosleep(&ts, NULL);
}

/* Number of temporary files ('*.tmpXXXXXX') in 'dir'. */
static int count_temps(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;
	if (!d)
		return 0;
	while ((e = readdir(d)) != NULL)
		if (strstr(e->d_name, ".tmp") != NULL)
			n++;
	closedir(d);
	return n;
}

static void remove_temps(const char *dir)
{
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -f '%s'/*.tmp*", dir);
	run_shell(cmd);
}

/* Which version a file is: 'o' old, 'n' new, 'x' neither (a mix, or cut). */
static char version(const char *path, const struct old_files *o, const struct old_files *n, int is_c)
{
	size_t len;
	char *s = read_file(path, &len);
	const char *old = is_c ? o->c : o->h, *new = is_c ? n->c : n->h;
	size_t old_len = is_c ? o->c_len : o->h_len, new_len = is_c ? n->c_len : n->h_len;
	char v = 'x';
	if (s && len == old_len && memcmp(s, old, len) == 0)
		v = 'o';
	else if (s && len == new_len && memcmp(s, new, len) == 0)
		v = 'n';
	free(s);
	return v;
}

/* ~7 MB of conv.c (every border case of a 13x13 window unrolled): a write
** and fsync long enough to be interrupted at random. Layers that take the
** zero-padded-copy path give ~100 KB, written in well under a millisecond. */
static char *const big_argv[] = { CONVGEN, "generate", "--input", "64x64", "--kernel", "13x13",
                                  "--padding", "12", "-o", NULL, NULL };

static pid_t start_big(const char *dir)
{
	char *argv[sizeof big_argv / sizeof big_argv[0]];
	pid_t pid;
	memcpy(argv, big_argv, sizeof argv);
	argv[9] = (char *)dir;
	fflush(NULL);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 2);
		execv(CONVGEN, argv);
		_exit(126);
	}
	return pid;
}

/* Start the big generate into 'dir'; return when its first temporary file
** appears (the time since start in '*t_tmp'), or when it exits (-1). */
static int wait_for_temp(pid_t pid, const char *dir, double t0, double *t_tmp, int *status)
{
	for (;;) {
		if (count_temps(dir) > 0) {
			*t_tmp = now() - t0;
			return 0;
		}
		if (waitpid(pid, status, WNOHANG) == pid)
			return -1;
		sleep_for(0.0002);
	}
}

Test(write_faults, sigkill_while_writing_leaves_old_or_new_never_a_mix, .timeout = 120)
{
	/* Half the rounds kill at a random time of the whole run (mostly while
	** Lua renders), half at a random time after the first temporary file
	** appeared (while writing, fsyncing and renaming). */
	enum { ROUNDS = 16 };
	char dir[256], ref_old[300], ref_new[300], work[300], path[400], files[4096];
	struct old_files o, n, now_files;
	double t0, t_tmp = 0, t_end, t_write;
	int round, status, n_old = 0, n_new = 0, n_pair_mixed = 0, n_with_temps = 0, n_temps = 0, n_exited = 0;
	pid_t pid;
	cr_assert(scratch_dir(dir, sizeof dir));
	snprintf(ref_old, sizeof ref_old, "%s/old", dir);
	snprintf(ref_new, sizeof ref_new, "%s/new", dir);
	snprintf(work, sizeof work, "%s/work", dir);
	cr_assert_eq(generate(ref_old, "conv", OLD_LAYER), 0);
	cr_assert(mkdir(ref_new, 0777) == 0 && mkdir(work, 0777) == 0);
	/* Calibrate: when do the temporaries appear, when does the run end? */
	/* A loaded machine may deschedule the poller for the whole write: retry. */
	for (round = 0; round < 5; round++) {
		t0 = now();
		pid = start_big(ref_new);
		if (wait_for_temp(pid, ref_new, t0, &t_tmp, &status) == 0)
			break;
	}
	cr_assert_lt(round, 5, "no temporary file seen in 5 runs");
	waitpid(pid, &status, 0);
	t_end = now() - t0;
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	t_write = t_end - t_tmp;
	read_pair(ref_old, &o);
	read_pair(ref_new, &n);
	cr_assert(o.c && n.c && o.h && n.h);
	srand((unsigned)getpid());
	for (round = 0; round < ROUNDS; round++) {
		double d;
		char vh, vc;
		int temps;
		copy_pair(ref_old, work);
		t0 = now();
		pid = start_big(work);
		if (round % 2 == 0) {
			d = t_end * 1.2 * rand() / RAND_MAX;
			sleep_for(d);
		} else {
			if (wait_for_temp(pid, work, t0, &d, &status) == 0)
				sleep_for(t_write * 1.2 * rand() / RAND_MAX);
			d = now() - t0;
		}
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		if (!WIFSIGNALED(status))
			n_exited++;
		snprintf(path, sizeof path, "%s/conv.h", work);
		vh = version(path, &o, &n, 0);
		snprintf(path, sizeof path, "%s/conv.c", work);
		vc = version(path, &o, &n, 1);
		cr_expect(vh != 'x' && vc != 'x',
		          "round %d, killed after %.4f s: conv.h is %s, conv.c is %s", round, d,
		          vh == 'x' ? "neither old nor new" : "whole", vc == 'x' ? "neither old nor new" : "whole");
		if (vh == 'o' && vc == 'o')
			n_old++;
		else if (vh == 'n' && vc == 'n')
			n_new++;
		else
			n_pair_mixed++;
		/* Temporaries of a killed run stay: nothing is left to remove them. */
		temps = count_temps(work);
		cr_expect(temps == 0 || WIFSIGNALED(status), "round %d: a run that exited left %d temporaries",
		          round, temps);
		n_with_temps += temps > 0;
		n_temps += temps;
		remove_temps(work);
	}
	cr_log_info("SIGKILL: %d rounds (run %.3f s, writing %.4f s): %d old pairs, %d new pairs, "
	            "%d pairs with conv.h new and conv.c old (killed between the two renames), "
	            "%d runs finished before the kill; %d killed runs left %d temporary files\n",
	            ROUNDS, t_end, t_write, n_old, n_new, n_pair_mixed, n_exited, n_with_temps, n_temps);
	/* A normal run afterwards leaves exactly the two new files. */
	pid = start_big(work);
	waitpid(pid, &status, 0);
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "a normal run after the kills failed");
	read_pair(work, &now_files);
	cr_expect(same_pair(&now_files, &n), "a normal run after the kills did not give the new files");
	listing(work, files, sizeof files);
	cr_expect_str_eq(files, "conv.c conv.h ", "files left in %s", work);
	free_pair(&now_files);
	free_pair(&o);
	free_pair(&n);
	remove_dir(dir);
}

/* A path longer than the system takes: exit 1, and nothing left behind, for
** a directory too long to create and for files whose names no longer fit
** in an existing one. */
static void expect_nothing_written(const char *dir, const char *args)
{
	struct run *r = malloc(sizeof *r);
	char cmd[512];
	run_convgen(r, NULL, NULL, args);
	cr_expect_eq(r->status, 1, "exit %d, want 1\n%.300s", r->status, r->err);
	cr_expect(strncmp(r->err, "convgen: ", 9) == 0, "no error message: %.300s", r->err);
	snprintf(cmd, sizeof cmd, "test -z \"$(find %s -type f)\"", dir);
	cr_expect_eq(run_shell(cmd), 0, "a file was left under %s", dir);
	free(r);
}

Test(write_faults, a_path_too_long_leaves_no_file)
{
	char dir[256], *path = malloc(8192), *args = malloc(9000);
	size_t n, i;
	cr_assert(path && args && scratch_dir(dir, sizeof dir));
	/* A directory of 5000 characters: longer than any path the files can have. */
	n = (size_t)snprintf(path, 8192, "%s/", dir);
	for (i = 0; i < 5000; i++)
		path[n + i] = i % 200 == 199 ? '/' : 'd';
	path[n + 5000] = '\0';
	snprintf(args, 9000, "generate --input 5x5 --kernel 3x3 --name k -o %s", path);
	expect_nothing_written(dir, args);
	/* A directory that exists, 4070 characters long: conv.h and its temporary
	** name no longer fit. */
	for (i = 0; i < 4070 - n; i++)
		path[n + i] = i % 200 == 199 ? '/' : 'p';
	path[4070] = '\0';
	snprintf(args, 9000, "mkdir -p %s", path);
	cr_assert_eq(run_shell(args), 0, "cannot make the deep directory");
	snprintf(args, 9000, "generate --input 5x5 --kernel 3x3 --name conv_with_a_long_name_of_forty_chars -o %s", path);
	expect_nothing_written(dir, args);
	free(path);
	free(args);
	remove_dir(dir);
}
