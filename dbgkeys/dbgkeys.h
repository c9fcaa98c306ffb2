/* dbgkeys: the debug-key handlers (Xen's keyhandler.c equivalents). Each file registers
 * its keys; dbgkeys_register_all is called once at start-up by the hv program. */
#ifndef HVKIT_DBGKEYS_H
#define HVKIT_DBGKEYS_H

void dbgkeys_register_all(void);

#endif
