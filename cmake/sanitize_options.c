/* sanitize_options.c: linked into convgen when CONVGEN_SANITIZE is ON.  The
** tests run convgen as a child and check its exit status, which they expect
** to be 0, 1 or 2; a sanitizer report (ASan, UBSan without recovery, a leak)
** would otherwise exit 1 and pass for an expected failure.  Exit 86 instead,
** which no test expects. */
const char *__asan_default_options(void);
const char *__ubsan_default_options(void);

const char *__asan_default_options(void)
{
	return "exitcode=86";
}

const char *__ubsan_default_options(void)
{
	return "exitcode=86:print_stacktrace=1";
}
