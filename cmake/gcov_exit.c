/* gcov_exit.c: linked into every executable of the coverage build
** (scripts/coverage, with -Wl,--wrap=_exit,--wrap=execl,--wrap=execv).  gcov
** writes its counters at exit(), but the verifier's children leave by _exit()
** or replace themselves with execl() or execv(), so the lines they run would
** count as never run.  Dump the counters first. */
#include <stdarg.h>
#include <unistd.h>

#define MAX_ARGS 64

void __gcov_dump(void);
void __real__exit(int status) __attribute__((noreturn));
void __wrap__exit(int status) __attribute__((noreturn));
int __wrap_execl(const char *path, const char *arg, ...);
int __real_execv(const char *path, char *const argv[]);
int __wrap_execv(const char *path, char *const argv[]);

int __wrap_execv(const char *path, char *const argv[])
{
	__gcov_dump();
	return __real_execv(path, argv);
}

void __wrap__exit(int status)
{
	__gcov_dump();
	__real__exit(status);
}

/* execl() as execv(), after the dump: the variadic list cannot be passed on. */
int __wrap_execl(const char *path, const char *arg, ...)
{
	char *argv[MAX_ARGS];
	va_list ap;
	int i = 0;
	argv[i++] = (char *)arg;
	va_start(ap, arg);
	while (arg != NULL && i < MAX_ARGS - 1 && (argv[i] = va_arg(ap, char *)) != NULL)
		i++;
	va_end(ap);
	argv[i] = NULL;
	__gcov_dump();
	return __real_execv(path, argv);
}
