/* kmdb internals: the headers the gdb sessions (hvgdb.c), the q prompt and its target
 * share. */
#ifndef HVKIT_KMDB_INTERNAL_H
#define HVKIT_KMDB_INTERNAL_H

#include "gdb/gdb.h"
#include "kmdb.h"

#endif
