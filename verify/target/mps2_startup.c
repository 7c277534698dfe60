/* mps2_startup.c: what makes a hosted-style C program (main, stdio on host
** files, malloc, exit) run as a firmware image on QEMU's mps2-an385/an386
** boards, with mps2.ld and newlib's semihosting (--specs=rdimon.specs
** -nostartfiles).  The board boots from the vector table at address 0: the
** initial stack pointer, then the reset handler.  A fault prints what it was
** and stops the board with a non-zero status, so that a kernel that crashes
** on the target is a failed check, not an emulator that hangs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern unsigned long __data_load[], __data_start[], __data_end[], __bss_start__[], __bss_end__[];
extern char __stack_top[];
extern void initialise_monitor_handles(void);
extern void __libc_init_array(void);
int main(void);

void cvg_reset(void);
void cvg_fault(void);
void _init(void);
void _fini(void);

/* Initial SP, then reset, NMI, HardFault, MemManage, BusFault, UsageFault,
** four reserved, SVCall, DebugMon, reserved, PendSV, SysTick.  A struct, so
** that neither pointer is converted to the other's kind (ISO C forbids it). */
static const struct {
	char *sp;
	void (*handler[15])(void);
} vectors __attribute__((section(".vectors"), used)) = {
	__stack_top,
	{ cvg_reset, cvg_fault, cvg_fault, cvg_fault, cvg_fault, cvg_fault, 0, 0, 0, 0, cvg_fault,
	  cvg_fault, 0, cvg_fault, cvg_fault },
};

void cvg_reset(void)
{
#ifdef __ARM_FP
	/* Full access to CP10 and CP11 (CPACR) before the first float instruction. */
	*(volatile unsigned long *)0xE000ED88 |= 0xFul << 20;
	__asm__ volatile("dsb\n\tisb");
#endif
	memcpy(__data_start, __data_load, (size_t)((char *)__data_end - (char *)__data_start));
	memset(__bss_start__, 0, (size_t)((char *)__bss_end__ - (char *)__bss_start__));
	initialise_monitor_handles();
	__libc_init_array();
	exit(main());
}

/* The exception number (IPSR) and the Configurable Fault Status Register say what went wrong. */
void cvg_fault(void)
{
	unsigned long ipsr, cfsr = *(volatile unsigned long *)0xE000ED28;
	__asm__ volatile("mrs %0, ipsr" : "=r"(ipsr));
	fprintf(stderr, "convgen driver: fault, exception %lu (CFSR=0x%08lx)\n", ipsr & 0x1ff, cfsr);
	_Exit(86);
}

/* __libc_init_array calls them; there is nothing to do. */
void _init(void) {}
void _fini(void) {}
