/* protocol.h: what verify (program.c) and its driver program (driver.c)
** agree on, in one place: the faults the driver reports in call.out and the
** size of the guards it puts around each array.  driver.c describes the
** files themselves. */
#ifndef CVG_PROTOCOL_H
#define CVG_PROTOCOL_H

#define CVG_GUARD 1024   /* bytes before and after each array: more than any vector a kernel reads past an end */

enum { DRV_INPUT_WRITTEN = 1, DRV_BELOW_OUTPUT = 2, DRV_ABOVE_OUTPUT = 4, DRV_BAD_CALL = 8,
       DRV_NO_MEMORY = 16, DRV_BELOW_WORKSPACE = 32, DRV_ABOVE_WORKSPACE = 64 };
/* With DRV_BELOW_OUTPUT or DRV_ABOVE_OUTPUT, bit DRV_OUT_SHIFT + i says that
** written array i (sgd_update writes four) was the one. */
#define DRV_OUT_SHIFT 8

#endif
