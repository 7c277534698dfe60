/* guard.c: calls taps() with x ending at a page that cannot be read, so that
** a read one element past x faults.  Prints the sum: 16 (all ones) if no read
** left x. */
#define _DEFAULT_SOURCE
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef T
#define T float
#endif

T taps(const T *restrict w, const T *restrict x, int si);

int main(void)
{
	long page = sysconf(_SC_PAGESIZE);
	char *m = mmap(NULL, (size_t)(2 * page), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	T w[16], *x;
	int i, n = 32;
	if (m == MAP_FAILED || mprotect(m + page, (size_t)page, PROT_NONE) != 0) {
		perror("guard");
		return 2;
	}
	x = (T *)(void *)(m + page) - n;
	for (i = 0; i < n; i++)
		x[i] = 1;
	for (i = 0; i < 16; i++)
		w[i] = 1;
	/* The highest element the source reads is x[si + 3] = x[n - 1]. */
	printf("%g\n", (double)taps(w, x, n - 4));
	return 0;
}
