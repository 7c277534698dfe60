/* taps.c: the reduced case of a loop convgen once emitted (grad_input's loop
** over rows of taps, the kernel flipped).  Four taps of a row are read as one
** group, rows 8 elements apart.  DOWN walks the rows downward in memory, as
** the old code did; otherwise upward, as convgen emits it now.  Every index
** stays inside x[si - 24 .. si + 3]: a build that reads x[si + 4] or beyond is
** the compiler's doing (gcc 12.2 -O2 -mavx2 on float, -mavx512f on double). */
#ifndef T
#define T float
#endif

T taps(const T *restrict w, const T *restrict x, int si);

T taps(const T *restrict w, const T *restrict x, int si)
{
	T a = 0;
	int mr;
	for (mr = 0; mr < 4; ++mr) {
#ifdef DOWN
		const int wr = mr * 4;
		const int sr = si + mr * -8;
#else
		const int wr = 12 - mr * 4;
		const int sr = si - 24 + mr * 8;
#endif
		a += x[sr + 3] * w[wr + 0];
		a += x[sr + 2] * w[wr + 1];
		a += x[sr + 1] * w[wr + 2];
		a += x[sr + 0] * w[wr + 3];
	}
	return a;
}
