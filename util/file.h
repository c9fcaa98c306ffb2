/* util/file.h: opening untrusted input files. */
#ifndef HVKIT_UTIL_FILE_H
#define HVKIT_UTIL_FILE_H

#include "util/err.h"

/* Opens a regular file for reading (a FIFO or device cannot hang or fool the caller):
 * the fd, its stat in *st, or -1 with "WHAT PATH: ..." in e (what may be ""). */
struct stat;
int file_open_regular(const char *path, const char *what, struct stat *st, struct err *e);

#endif
