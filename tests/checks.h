/* checks.h: the checks every generated file gets, shared by the layer table
** (test_layers.c) and the covering array (test_matrix.c): the warnings
** embedded builds turn on, the header's frame bounds against gcc's
** -fstack-usage, the header included from C++. */
#ifndef TEST_CHECKS_H
#define TEST_CHECKS_H

/* The warnings embedded builds turn on; every row compiles clean under them at
** both optimization levels below. */
#define STRICT "-std=c99 -Wall -Wextra -Wpedantic -Werror -Wshadow -Wconversion " \
	"-Wdouble-promotion -Wcast-qual -Wstrict-prototypes -Wmissing-prototypes -Wvla -Wundef"

/* Compile DIR/conv.c with 'cc' and 'opt' and -fstack-usage: the build must
** succeed, every function's frame be static and within the bound the header
** states, and every bound within 'limit'.  With STRICT in 'opt' this one
** build is also the strict build.  'layer' names the layer in messages. */
void check_frames(const char *dir, const char *cc, const char *opt, int limit, const char *layer);

/* DIR/conv.h compiles as C++11 with warnings as errors. */
void check_cxx_header(const char *dir, const char *layer);

#endif
