/* dbgkeys: the debug-key handlers (Xen's keyhandler.c equivalents), one table in
 * dbgkeys.c; dbgkeys_register_all is called once at start-up by the hv program. */
#ifndef HVKIT_DBGKEYS_H
#define HVKIT_DBGKEYS_H

struct err;

/* Registers every key of the table with hv (keys_register); -1 with the message when a
 * key is taken (a key registered twice is an error, not an overwrite). */
int dbgkeys_register_all(struct err *e);

#endif
