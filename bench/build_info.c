/* bench/build_info.c: linked into each build's kernels-BUILD.so, so that the
** harness can state which compiler and language mode built the kernels it times. */
#define BENCH_STR_(x) #x
#define BENCH_STR(x) BENCH_STR_(x)
#ifdef __clang__
#define BENCH_CC "clang " BENCH_STR(__clang_major__) "." BENCH_STR(__clang_minor__) "." BENCH_STR(__clang_patchlevel__)
#elif defined(__GNUC__)
#define BENCH_CC "gcc " __VERSION__
#else
#define BENCH_CC "unknown compiler"
#endif
#ifdef __STRICT_ANSI__
#define BENCH_MODE "ISO"
#else
#define BENCH_MODE "GNU"
#endif

const char bench_build_info[] = BENCH_CC ", " BENCH_MODE " mode";
const long bench_build_stdc = __STDC_VERSION__;
