/* util/clock.h: monotonic time and progress lines. */
#ifndef HVKIT_UTIL_CLOCK_H
#define HVKIT_UTIL_CLOCK_H

#include <stdint.h>
#include <stdio.h>

/* Monotonic time in nanoseconds. */
uint64_t time_ns(void);
/* A progress line on f, redrawn in place ("\r 42%  430/1024 MiB  310 MiB/s  ETA 2 s"),
 * ended with a newline when done == total; elapsed_ns since the start. */
void progress_print(FILE *f, uint64_t done, uint64_t total, uint64_t elapsed_ns);

#endif
