/* kmdb: live debugging inside hv: the engine's target over a debug session, the kmdb
 * prompt that the q key opens, and gdb sessions on this hv's domains. */
#ifndef HVKIT_KMDB_H
#define HVKIT_KMDB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "util/util.h"

/* ---- inside hv: the engine's target over a debug session (target_hv.c) and the kmdb
 * prompt on the console that the q key opens (prompt.c). */
struct hv;
struct hv_dbg;
struct target *kmdb_target_hv(struct hv_dbg *g);
void kmdb_prompt_enter(struct hv *hv);

/* ---- the d key's call trace (stack.c): vCPU vcpu of domain id (the caller holds it) from
 * its registers r, by frame pointers through guest memory, as the engine's frame rows
 * (mdb/unwind.h): the top frame, a frameless leaf's guessed caller (UNWIND_GUESS), then up
 * to 16 callers. s->why is UNWIND_STOP_ERROR with s->stop.pc when a return address
 * outside the kernel's text ended it. */
struct unwind_stack;
struct x86_regs;
void kmdb_stack_fp(struct hv *hv, int id, unsigned vcpu, const struct x86_regs *r, struct unwind_stack *s);
/* stack_os.c: for a Linux domain, a target over a snapshot of its n vCPUs with the Linux
 * module attached (NULL for any other kernel, or without symbols); kmdb_stack_os prints
 * vCPU cpu's stack as bt does. The snapshot must outlive the target (target_close). */
struct vcpu_snapshot;
struct target;
struct target *kmdb_stack_os_open(struct hv *hv, int id, const struct vcpu_snapshot *vs, unsigned n);
int kmdb_stack_os(struct target *t, unsigned cpu, FILE *out);
/* The OS modules the live targets use (Linux's, then our guest's), registered once. */
int kmdb_os_register(void);

/* ---- on this hv's domains (hvgdb.c) */
/* Serves gdb on the connected fd for domain domid (attach: the domain stops; gdb's
 * detach or a vanished client lets it run on, kill leaves it paused). Blocks. */
int kmdb_gdb_session(struct hv *hv, int domid, int fd, bool writable, bool nopause, struct err *e);
/* Starts a one-shot server thread as srv asks (hv/debug.h's struct hv_gdb_server): a
 * Unix socket, only root and hv's uid let in; or 127.0.0.1:port with a one-time token
 * (srv->token): up to 4 locked sessions at once, one that gives a wrong token or none
 * leaving the server waiting for the others. The server ends with the first session that
 * reached the domain. */
struct hv_gdb_server;
int kmdb_gdbserver_start(struct hv *hv, int domid, struct hv_gdb_server *srv, struct err *e);

/* Registers the gdb servers above with hv (hv_set_gdb_ops); the hv program calls it once
 * at start-up. 0, or -1 when something registered them already. */
int kmdb_register(void);

#endif
