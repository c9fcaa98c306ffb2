/* linux_os: the Linux OS module (mdb/os/linux/) as a program registers it:
 * mdb_os_register(&mdb_os_linux, &e). */
#ifndef HVKIT_MDB_OS_LINUX_H
#define HVKIT_MDB_OS_LINUX_H

#include "mdb/mdb.h"

extern const struct mdb_os mdb_os_linux;

#endif
