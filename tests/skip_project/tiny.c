/* tiny.c: see CMakeLists.txt next to it. */
#include <criterion/criterion.h>

Test(tiny, passes) { cr_assert(1); }
Test(tiny, skips) { cr_skip_test("no frobnicator here"); }
Test(tiny, fails) { cr_assert(0, "fails on purpose"); }
/* Fails, quoting the summary of a run that skipped: only the last line counts. */
Test(tiny, fails_quoting_a_skip)
{
	cr_assert_fail("[====] Synthesis: Tested: 0 | Passing: 0 | Failing: 0 | Crashing: 0 ");
}
Test(tiny, fails_then_skips) { cr_expect(0, "fails on purpose"); cr_skip_test("too late to skip"); }
