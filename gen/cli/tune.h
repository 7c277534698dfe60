/* tune.h: 'convgen tune', the measured schedule.  The target model guesses a
** schedule from a machine's registers and vector width; a guess that fits one
** microarchitecture and compiler fails on the next.  Tuning times the model's
** candidates on the machine and compiler at hand and keeps each op's fastest as
** a --schedule text, written to a record that 'generate --tuning FILE' reads
** (the canonical command then carries the --schedule itself, so the build stays
** reproducible without the record). */
#ifndef CG_TUNE_H
#define CG_TUNE_H

#include <stddef.h>
#include <stdio.h>

#include "../layer/layer.h"

/* Time every candidate schedule of 'l' compiled with 'cc' (and $CFLAGS, as
** verify compiles), print a table to 'out', and put the chosen --schedule text
** ("" when the model's own wins for every op) in 'schedule'.  With 'record'
** set, also write it, atomically, as a tuning record.  Returns CG_EXIT_OK, or
** CG_EXIT_FAIL with a message. */
int cg_tune(const struct cg_layer *l, const char *cc, const char *record, FILE *out,
            char *schedule, size_t schedule_len, char *msg, size_t msg_len);

/* Read the tuning record 'path' into l->choice.  The record must name the
** layer 'l' is (its options but the schedule): CG_EXIT_USAGE otherwise, or
** when it cannot be read or parsed, with a message naming the file. */
int cg_tuning_read(const char *path, struct cg_layer *l, char *msg, size_t msg_len);

#endif
