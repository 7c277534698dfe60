/* digest.c: the SHA-256 of the file proven, so that a report names the exact
** bytes it speaks for (nettle, the GNU crypto library GMP's authors keep). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <nettle/sha2.h>
#include "vf.h"

int vf_file_sha256(const char *path, char hex[65], char *msg, size_t msg_len)
{
	struct sha256_ctx ctx;
	uint8_t buf[65536], digest[SHA256_DIGEST_SIZE];
	size_t n;
	int i;
	FILE *f = fopen(path, "rb");

	if (!f) {
		snprintf(msg, msg_len, "%s: %s", path, strerror(errno));
		return CG_EXIT_FAIL;
	}
	sha256_init(&ctx);
	while ((n = fread(buf, 1, sizeof buf, f)) > 0)
		sha256_update(&ctx, n, buf);
	if (ferror(f)) {
		snprintf(msg, msg_len, "%s: read error", path);
		fclose(f);
		return CG_EXIT_FAIL;
	}
	fclose(f);
	sha256_digest(&ctx, sizeof digest, digest);
	for (i = 0; i < SHA256_DIGEST_SIZE; i++)
		snprintf(hex + 2 * i, 3, "%02x", digest[i]);
	return CG_EXIT_OK;
}
