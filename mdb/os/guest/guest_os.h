/* guest_os: the OS module of our own guest kernel (guest/) as a program registers it:
 * mdb_os_register(&mdb_os_guest, &e), after the modules of other kernels (it takes any
 * kernel they did not claim). */
#ifndef HVKIT_MDB_OS_GUEST_H
#define HVKIT_MDB_OS_GUEST_H

#include "mdb/mdb.h"

extern const struct mdb_os mdb_os_guest;

#endif
