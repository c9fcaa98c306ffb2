/* gdb: the gdb remote serial protocol, target-independent: the stub (gdbstub_serve) reaches
 * the debugged machine through an ops vector; listening sockets for it; the client half
 * (gdbclient_*, hvmdb -d). Registers travel in the layout of x86/'s register table. */
#ifndef HVKIT_GDB_H
#define HVKIT_GDB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/util.h"
#include "x86/x86.h"

/* A vCPU's registers are x86/'s struct x86_regs; the stub shows them to gdb as target
 * description i386:x86-64 (the org.gnu.gdb.i386.core feature, org.gnu.gdb.i386.segments
 * for fs_base/gs_base, and org.gnu.gdb.i386.sys for cr0, cr2, cr3, cr4, cr8 and efer), in
 * the layout of x86/'s register table. The x87 registers of the core feature read as zero
 * and writes to them are ignored. */

/* Breakpoint kinds, in the order of gdb's Z0..Z4 packets. */
enum gdbstub_bp { GDBSTUB_BP_SW, GDBSTUB_BP_HW, GDBSTUB_WP_WRITE, GDBSTUB_WP_READ, GDBSTUB_WP_ACCESS };

/* Why the target stopped after a resume. */
struct gdbstub_stop {
	unsigned cpu;         /* the vCPU that stopped (0-based; gdb's thread is cpu + 1) */
	int signal;           /* 5 SIGTRAP, 2 SIGINT; 0: the stub picks 2 after an interrupt, else 5 */
	bool bp;              /* a breakpoint or watchpoint of kind `kind` was hit */
	enum gdbstub_bp kind;
	uint64_t addr;        /* watchpoints: the data address that triggered */
	bool exited;          /* the target is gone: gdb is told "W00" and the session ends */
};

/* The debugged machine. A vCPU is a gdb thread (thread id = vCPU index + 1). Every
 * member is called from the thread running gdbstub_serve, only while the target is
 * stopped, except interrupt (while it runs) and stop_fd/wait_stop (after resume).
 * Members marked optional may be NULL: the matching requests then get the empty reply
 * ("not supported") or an error. */
struct gdbstub_ops {
	unsigned (*nr_threads)(void *o);
	int (*get_regs)(void *o, unsigned cpu, struct x86_regs *r);       /* 0 or -1 */
	int (*set_regs)(void *o, unsigned cpu, const struct x86_regs *r); /* optional */
	/* Guest-virtual access through that vCPU's page tables; returns the bytes done
	 * (short at an unmapped page). Requests are at most GDBSTUB_MAX_MEM bytes. */
	size_t (*read_mem)(void *o, unsigned cpu, uint64_t va, void *buf, size_t len);
	size_t (*write_mem)(void *o, unsigned cpu, uint64_t va, const void *buf, size_t len); /* optional */
	/* Guest-physical reads, for QEMU's Qqemu.PhyMemMode:1 (crash, drgn and hvmdb walk page
	 * tables with them); optional: without it the mode is not offered. Physical writes are
	 * refused. */
	size_t (*read_phys)(void *o, uint64_t pa, void *buf, size_t len);
	/* Inserts or removes a breakpoint (len: gdb's kind, the instruction or watched
	 * length). 0, or -1 with a message (sent to gdb as "E.message"). Optional: without
	 * it gdb falls back to writing int3 itself. A software breakpoint's stop must report
	 * rip at the breakpoint address (gdb is told swbreak, so it does not adjust). */
	int (*set_bp)(void *o, enum gdbstub_bp kind, uint64_t addr, uint64_t len, bool insert, struct err *e);
	/* Starts the target: step_cpu -1 continues every vCPU; otherwise single-steps that
	 * vCPU (the others may stay stopped). Returns 0, or -1 (the target stays stopped). */
	int (*resume)(void *o, int step_cpu);
	int (*interrupt)(void *o);  /* asks the running target to stop all vCPUs (Ctrl-C) */
	/* An fd that polls readable once the target has stopped after resume. Then
	 * wait_stop is called: 0 with *s filled (the target is stopped), 1 when the target
	 * is in fact still running (a spurious wake-up), -1 on error (the session ends). */
	int (*stop_fd)(void *o);
	int (*wait_stop)(void *o, struct gdbstub_stop *s);
	const char *(*thread_name)(void *o, unsigned cpu); /* optional; default "vCPU N" */
	/* Only for gdbstub_serve_locked: attaches (stops) the target once the client gave
	 * the token and asked to attach; until then no other member is called. 0, or -1
	 * with a message (sent to gdb). */
	int (*attach)(void *o, struct err *e);
};

#define GDBSTUB_PACKET_SIZE 16384 /* the largest packet body accepted (qSupported PacketSize) */
#define GDBSTUB_MAX_MEM 8192      /* the largest memory read or write in one request */

/* How a session ended. After GDBSTUB_END_DETACH the target runs; after every other end
 * it is stopped (if the client vanished while the target ran, the stub interrupted it
 * and waited for the stop), and the caller decides what to do with it (kill: gdb's
 * "kill" command; destroy the domain, or resume it). */
enum gdbstub_end { GDBSTUB_END_EOF, GDBSTUB_END_DETACH, GDBSTUB_END_KILL, GDBSTUB_END_EXITED };

/* Serves one connected client on fd (a socket; not closed here) until it detaches,
 * kills, disconnects or the target exits. The target must be stopped on entry. Returns
 * an enum gdbstub_end, or -1 with a message (I/O error, wait_stop failed). Everything
 * the peer sends is untrusted: malformed requests get an error reply or are dropped. */
int gdbstub_serve(int fd, const struct gdbstub_ops *ops, void *opaque, struct err *e);
const char *gdbstub_end_name(int end); /* "eof", "detach", "kill", "exited", "error" */
/* The same for a client nobody vouched for (TCP): the target is not attached on entry,
 * and stays untouched until the client gives token (gdb: `monitor auth TOKEN`, a qRcmd;
 * a wrong one ends the session, none within a minute too) and attaches (`attach 1`,
 * vAttach: ops->attach). Before that '?' answers "no process" (so gdb must connect with
 * `target extended-remote`), and memory, registers, breakpoints and resuming are refused
 * with "E.not authenticated: ...". token: 16 to 64 chars. Ends as gdbstub_serve; the
 * caller knows from its attach whether the target was reached. */
int gdbstub_serve_locked(int fd, const struct gdbstub_ops *ops, void *opaque, const char *token, struct err *e);

/* Listening sockets (close-on-exec, backlog 1). TCP binds 127.0.0.1 only; port 0 picks
 * one, returned in *bound when bound is not NULL: anyone on the host can connect, so
 * serve it with gdbstub_serve_locked. A Unix socket is util/access.h's (mode 0600; an
 * existing path refused, or with take_stale only an earlier hv's dead socket replaced;
 * access_sock_close removes it only while it is still the one bound): the fd, in s->fd. */
int gdbstub_listen_tcp(uint16_t port, uint16_t *bound, struct err *e);
int gdbstub_listen_unix(struct access_sock *s, const char *path, bool take_stale, struct err *e);
/* Accepts one client (close-on-exec; TCP_NODELAY on TCP): the fd, or -1 with a message.
 * On a Unix socket only root and this process's uid get in, as on the control socket:
 * another uid is turned away (gdbstub_refuse, "permission denied: uid N ...") and -1. */
int gdbstub_accept(int lfd, struct err *e);
/* Turns away a client and closes fd: waits for its first request and answers
 * "E.WHY" (why NULL: "a debugger is already attached"), which gdb shows as "Remote
 * failure reply: E.WHY"; then waits for gdb's ack. Blocks for at most a second: call it
 * from a thread that may. */
void gdbstub_refuse(int fd, const char *why);

/* ---- gdbclient.c: the client half, on a connected socket to a stub (ours, in hv): the
 * same framing as the stub's (checksums, acks until no-ack mode), replies bounded by
 * GDBSTUB_PACKET_SIZE, the register packets decoded through x86/'s table. */
struct gdbclient;
struct gdbclient *gdbclient_open(int fd); /* takes fd: gdbclient_close closes it */
void gdbclient_close(struct gdbclient *c);
/* Sends one packet (waits for its ack in ack mode, resending on a nak). 0 or -1. */
int gdbclient_send(struct gdbclient *c, const char *body, struct err *e);
/* The next packet's body (acked in ack mode; valid until the next call), or NULL with a
 * message. intr_fd >= 0: while waiting, a byte readable there is read and ^C sent. */
const char *gdbclient_recv(struct gdbclient *c, int intr_fd, struct err *e);
/* send, then recv; an error reply ("E.message" or "Exx") is returned as an error. */
const char *gdbclient_request(struct gdbclient *c, const char *body, struct err *e);
/* QStartNoAckMode: 1 when the stub took it (no more acks either way), 0 when it did not,
 * -1 with a message. */
int gdbclient_noack(struct gdbclient *c, struct err *e);
/* 'g' decoded into r (registers the layout lacks stay zero); 0 or -1. */
int gdbclient_read_regs(struct gdbclient *c, struct x86_regs *r, struct err *e);
/* 'P' for one register of the table (its gdb number and width); 0, or -1 (also when the
 * stub does not answer OK). */
int gdbclient_write_reg(struct gdbclient *c, const struct x86_reg_desc *d, uint64_t v, struct err *e);
/* 'm' in chunks: the bytes read from addr (short at the first error or short reply). */
size_t gdbclient_read_mem(struct gdbclient *c, uint64_t addr, void *buf, size_t len);

/* Hex on the wire: pairs to bytes (n even; the bytes, or -1 on a non-hex digit), and
 * bytes to 2n chars (no NUL). */
long gdb_hex_decode(const char *s, size_t n, uint8_t *out);
void gdb_hex_encode(const void *in, size_t n, char *out);

#endif
