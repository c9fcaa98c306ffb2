/* util/clock.h: monotonic time and progress lines. */
#ifndef HVKIT_UTIL_CLOCK_H
#define HVKIT_UTIL_CLOCK_H

#include <stdint.h>
#include <stdio.h>

/* Monotonic time in nanoseconds. */
uint64_t time_ns(void);
/* A progress line on a terminal f, redrawn in place ("\r 42%  430 MiB of 1.0 GiB
 * 310 MiB/s  ETA 2 s", the rest of the line erased; the rate and ETA once 0.2 s has
 * passed), ended with a newline when done == total; elapsed_ns since the start. */
void progress_print(FILE *f, uint64_t done, uint64_t total, uint64_t elapsed_ns);

#endif
