/* fuzz_header.c: libFuzzer target for vf_read_header (verify/header.c), the
** parser of the 'convgen generate' line in a generated file's header comment
** that 'convgen verify --file' trusts.  It reads a path, so each input is
** written to one memfd and read back through /proc/self/fd/N: no disk.
** Besides the sanitizers, it traps when an accepted header gives an invalid
** layer or a refusal has no message. */
#define _GNU_SOURCE
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	static char path[64];
	struct cg_layer l;
	char opts[1024], command[8192], msg[1024];
	int status;

	if (fd < 0) {
		fd = memfd_create("header", 0);
		if (fd < 0) {
			perror("memfd_create");
			abort();
		}
		snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	memset(msg, 0x55, sizeof msg);
	msg[0] = '\0';
	status = vf_read_header(path, &l, opts, sizeof opts, command, sizeof command, msg, sizeof msg);
	if (status == CG_EXIT_OK) {
		if (l.n < 1 || l.c < 1 || l.k < 1 || l.g < 1 || l.h < 1 || l.w < 1 || l.k1 < 1 ||
		    l.k2 < 1 || l.oh < 1 || l.ow < 1 || l.c % l.g != 0 || l.k % l.g != 0)
			__builtin_trap();
		if (cg_input_size(&l) > INT_MAX || cg_output_size(&l) > INT_MAX || cg_weight_size(&l) > INT_MAX)
			__builtin_trap();
		if (memchr(opts, '\0', sizeof opts) == NULL || memchr(command, '\0', sizeof command) == NULL)
			__builtin_trap();
	} else {
		if (status != CG_EXIT_FAIL && status != CG_EXIT_USAGE)
			__builtin_trap();
		if (memchr(msg, '\0', sizeof msg) == NULL || msg[0] == '\0')
			__builtin_trap();
	}
	return 0;
}
