/* guest_priv: what the files of the guest module share (private to mdb/os/guest/). */
#ifndef HVKIT_MDB_OS_GUEST_PRIV_H
#define HVKIT_MDB_OS_GUEST_PRIV_H

#include "mdb/unwind.h"

/* guest_stack.c: our guest kernel's stack from the registers r of CPU cpu (or of a saved
 * context), as text (mdb's $c) or as a JSON array of frames (t->json); CFI where an FDE
 * covers a frame, else across trap frames or by frame pointer. leaf_check: guess a
 * frameless leaf's caller from [rsp] when the top frame has no CFI. */
void guest_stack_print(struct target *t, unsigned cpu, const struct cfi_regs *r, bool leaf_check, FILE *out);

/* guest_sys.c: crash's sys (with t->json: one JSON object). */
int guest_cmd_sys(struct target *t, FILE *out);

#endif
