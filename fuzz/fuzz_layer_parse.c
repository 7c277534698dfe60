/* fuzz_layer_parse.c: libFuzzer target for cg_layer_parse (gen/layer/layer.c), the
** one parser and validator of LAYER options.  The input's first byte picks
** which non-layer options are allowed (generate's or verify's); the rest is
** split into argv words at '\n' and '\0', so a word may hold spaces as a
** real argv word can.  Besides the sanitizers, it traps when a result breaks
** the parser's promises: an accepted layer is valid (every count >= 1, the
** output non-empty and of the size the start and end padding give, every
** array within INT_MAX) and a refusal carries a
** one-line message. */
#define _POSIX_C_SOURCE 200809L
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "layer.h"

#define MAX_WORDS 256

static void check_layer(const struct cg_layer *l)
{
	size_t name_len = strnlen(l->name, CG_NAME_MAX);
	if (l->n < 1 || l->c < 1 || l->k < 1 || l->g < 1 || l->h < 1 || l->w < 1 ||
	    l->k1 < 1 || l->k2 < 1 || l->sh < 1 || l->sw < 1 || l->ph < 0 || l->pw < 0 ||
	    l->eh < 0 || l->ew < 0 || l->dh < 1 || l->dw < 1 || l->oh < 1 || l->ow < 1)
		__builtin_trap();
	if (l->c % l->g != 0 || l->k % l->g != 0)
		__builtin_trap();
	/* docs/math.md: OH = floor((H + PH + EH - DH(K1-1) - 1) / SH) + 1, EH the
	** padding after the last row (PH unless --padding-end or --padding same) */
	if ((long long)l->oh != ((long long)l->h + l->ph + l->eh - (long long)l->dh * (l->k1 - 1) - 1) / l->sh + 1 ||
	    (long long)l->ow != ((long long)l->w + l->pw + l->ew - (long long)l->dw * (l->k2 - 1) - 1) / l->sw + 1)
		__builtin_trap();
	if (cg_input_size(l) > INT_MAX || cg_weight_size(l) > INT_MAX ||
	    cg_output_size(l) > INT_MAX || cg_bias_size(l) > INT_MAX)
		__builtin_trap();
	if (l->ops == 0 || (l->ops & ~CG_ALL_OPS) || l->dtype > CG_DOUBLE)
		__builtin_trap();
	/* --momentum only keeps sgd_update's velocity; both flags are 0 or 1. */
	if ((l->momentum && !(l->ops & CG_OP_BIT(CG_SGD_UPDATE))) || (unsigned)l->momentum > 1 ||
	    (unsigned)l->relu > 1)
		__builtin_trap();
	if (name_len == 0 || name_len >= CG_NAME_MAX)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned allows[4] = {
		CG_ALLOW_OUT | CG_ALLOW_SCHEDULE, CG_ALLOW_FILE | CG_ALLOW_VERIFY | CG_ALLOW_SCHEDULE, 0, CG_ALLOW_ALL
	};
	char *buf, *argv[MAX_WORDS], msg[1024];
	struct cg_layer l;
	struct cg_extra x;
	unsigned allow;
	size_t i, start;
	int argc = 0, status;

	if (size == 0)
		return 0;
	allow = allows[data[0] & 3];
	data++;
	size--;
	/* A private copy, NUL-terminated, each word its own allocation so ASan
	** sees a read past any word's end. */
	buf = malloc(size + 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	for (i = 0, start = 0; i <= size && argc < MAX_WORDS; i++) {
		if (i == size || buf[i] == '\n' || buf[i] == '\0') {
			size_t len = i - start;
			argv[argc] = malloc(len + 1);
			if (!argv[argc])
				break;
			memcpy(argv[argc], buf + start, len);
			argv[argc][len] = '\0';
			argc++;
			start = i + 1;
		}
	}
	free(buf);
	memset(msg, 0x55, sizeof msg);   /* not NUL-terminated unless the parser writes one */
	status = cg_layer_parse(argc, argv, allow, &l, &x, msg, sizeof msg);
	if (status == CG_EXIT_OK) {
		if (!x.file)
			check_layer(&l);
		if (x.out_dir && !(allow & CG_ALLOW_OUT))
			__builtin_trap();
		if (x.file && !(allow & CG_ALLOW_FILE))
			__builtin_trap();
		if ((x.n_schedule || x.tuning) && !(allow & CG_ALLOW_SCHEDULE))
			__builtin_trap();
	} else {
		if (status != CG_EXIT_USAGE)
			__builtin_trap();
		if (memchr(msg, '\0', sizeof msg) == NULL || msg[0] == '\0')
			__builtin_trap();
	}
	for (i = 0; i < (size_t)argc; i++)
		free(argv[i]);
	return 0;
}
