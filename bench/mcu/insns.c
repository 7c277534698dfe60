/* bench/mcu/insns.c: a QEMU TCG plugin that counts the instructions the
** guest executes and, each time the guest enters the function at address
** 'mark=ADDR' (bench_mark of harness.c), prints the count so far:
**
**   qemu-system-arm ... -plugin ./insns.so,mark=0x1234 -d plugin
**
** prints "insns N" per mark on stderr; scripts/bench-mcu takes differences.
** Debian's QEMU accepts plugins but installs no qemu-plugin.h: the few
** functions of plugin API version 1 used here are declared by hand. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef uint64_t qemu_plugin_id_t;
typedef struct qemu_info_t qemu_info_t;
struct qemu_plugin_tb;
enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS };
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };

void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id,
                                           void (*cb)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb));
void qemu_plugin_register_vcpu_tb_exec_cb(struct qemu_plugin_tb *tb, void (*cb)(unsigned int vcpu, void *udata),
                                          enum qemu_plugin_cb_flags flags, void *udata);
void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *tb, enum qemu_plugin_op op, void *ptr,
                                              uint64_t imm);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
uint64_t qemu_plugin_tb_vaddr(const struct qemu_plugin_tb *tb);
void qemu_plugin_outs(const char *string);

__attribute__((visibility("default"))) int qemu_plugin_version = 1;

/* One vCPU (the board's single core): a plain counter is exact. */
static uint64_t executed, mark;

static void on_mark(unsigned int vcpu, void *udata)
{
	char line[64];
	(void)vcpu;
	(void)udata;
	snprintf(line, sizeof line, "insns %" PRIu64 "\n", executed);
	qemu_plugin_outs(line);
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
	(void)id;
	qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &executed,
	                                         qemu_plugin_tb_n_insns(tb));
	if (qemu_plugin_tb_vaddr(tb) == mark)
		qemu_plugin_register_vcpu_tb_exec_cb(tb, on_mark, QEMU_PLUGIN_CB_NO_REGS, NULL);
}

__attribute__((visibility("default"))) int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
                                                               int argc, char **argv)
{
	int i;
	(void)info;
	for (i = 0; i < argc; i++)
		if (strncmp(argv[i], "mark=", 5) == 0)
			mark = strtoull(argv[i] + 5, NULL, 0) & ~(uint64_t)1; /* a Thumb address's low bit */
	if (!mark) {
		fprintf(stderr, "insns: give the mark's address, -plugin insns.so,mark=0x...\n");
		return -1;
	}
	qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
	return 0;
}
