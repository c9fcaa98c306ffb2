/* util: small helpers shared by every hvkit library, one header per contract: err.h
 * (errors with a message, allocation, sizes), symtab.h (ELF symbol tables), file.h
 * (untrusted input files), json.h (JSON strings), clock.h (time, progress lines),
 * access.h (peer checks, secrets, sockets and files others cannot subvert), words.h
 * (edit distance, for "did you mean"); version.c (below). This header
 * includes them all for the files that use several. */
#ifndef HVKIT_UTIL_H
#define HVKIT_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "util/err.h"
#include "util/file.h"
#include "util/json.h"
#include "util/symtab.h"
#include "util/clock.h"
#include "util/access.h"
#include "util/words.h"

/* version.c: hvkit's version ("0.16+g1a2b3c4"), and `PROG hvkit VERSION` on stdout for
 * every program's --version (returns 0, the exit status). */
const char *hvkit_version(void);
int util_print_version(const char *prog);

#endif
