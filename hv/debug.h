/* debug: live debugging sessions (debug.c; kmdb's target). A session stops the domain
 * (every vCPU held), gives its registers and memory, and runs it on under control.
 * Breakpoints and watchpoints share the 4 debug registers. Not thread-safe: one thread
 * drives a session (hv_dbg_interrupt may come from another). Also the gdb servers kmdb/
 * registers behind the gdb and gdbserver verbs, and the console the kmdb prompt uses. */
#ifndef HVKIT_HV_DEBUG_H
#define HVKIT_HV_DEBUG_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hv;
struct err;

struct hv_dbg;
enum hv_dbg_kind { HV_DBG_EXEC, HV_DBG_WRITE, HV_DBG_ACCESS };
struct hv_dbg_bp {
	bool used;
	enum hv_dbg_kind kind;
	uint64_t addr;
	unsigned len;
};
enum hv_dbg_stop_kind { HV_DBG_STOP_STEP, HV_DBG_STOP_BP, HV_DBG_STOP_WATCH, HV_DBG_STOP_INTERRUPT };
struct hv_dbg_stop {
	enum hv_dbg_stop_kind kind;
	unsigned cpu;
	uint64_t pc;
	struct hv_dbg_bp bp; /* the breakpoint or watchpoint hit */
	bool exited;         /* the domain crashed or shut down: why */
	char why[256];
};
struct hv_dbg *hv_dbg_attach(struct hv *hv, int id, struct err *e);
/* --no-pause: the domain keeps running; registers are read by holding the vCPU for the
 * moment of the read, memory read while it runs; no writes, breakpoints or run control. */
struct hv_dbg *hv_dbg_attach_running(struct hv *hv, int id, struct err *e);
/* Ends the session: resume lets the domain run on, else it stays paused. */
void hv_dbg_detach(struct hv_dbg *g, bool resume);
unsigned hv_dbg_nr_vcpus(struct hv_dbg *g);
const char *hv_dbg_domain_name(struct hv_dbg *g);
int hv_dbg_domain_id(struct hv_dbg *g);
bool hv_dbg_online(struct hv_dbg *g, unsigned cpu);
int hv_dbg_get_regs(struct hv_dbg *g, unsigned cpu, struct kvm_regs *r, struct kvm_sregs *s);
int hv_dbg_set_regs(struct hv_dbg *g, unsigned cpu, const struct kvm_regs *r, struct err *e);
size_t hv_dbg_read_virt(struct hv_dbg *g, unsigned cpu, uint64_t va, void *buf, size_t len);
size_t hv_dbg_write_virt(struct hv_dbg *g, unsigned cpu, uint64_t va, const void *buf, size_t len, struct err *e);
size_t hv_dbg_read_phys(struct hv_dbg *g, uint64_t pa, void *buf, size_t len);
void hv_dbg_set_writable(struct hv_dbg *g, bool w);
bool hv_dbg_writable(struct hv_dbg *g);
int hv_dbg_set_bp(struct hv_dbg *g, enum hv_dbg_kind kind, uint64_t addr, unsigned len, bool insert, struct err *e);
int hv_dbg_list_bp(struct hv_dbg *g, struct hv_dbg_bp out[4]);
/* step_cpu -1: every vCPU runs; else only that one, for one instruction. */
int hv_dbg_resume(struct hv_dbg *g, int step_cpu, struct err *e);
int hv_dbg_interrupt(struct hv_dbg *g);
int hv_dbg_stop_fd(struct hv_dbg *g); /* readable when a stop may have come */
/* Waits for the stop after a resume (returns at once when stopped). 0 or -1. */
int hv_dbg_wait_stop(struct hv_dbg *g, struct hv_dbg_stop *s);

/* The domain's kernel as a file hvmdb's engine can open (the built-in guest: a memfd as
 * /proc/self/fd/N); 0 or -1. */
int hv_domain_kernel_path(struct hv *hv, int id, char *path, size_t len);

/* The console, for the debugger prompt: text written as is (newlines made CRLF on a raw
 * terminal); whether the key being handled came from the console; the prompt's input
 * hook (NULL gives the console back to the debug keys). */
void hv_console_write(struct hv *hv, const char *text);
bool hv_key_from_console(struct hv *hv);
void hv_set_prompt_input(struct hv *hv, void (*fn)(struct hv *hv, const uint8_t *buf, size_t n));
/* The console's keyboard to domain domid (the prompt's at :c), with the "*** Serial input
 * -> NAME" line of the three Ctrl-A switch; the hypervisor keeps it when domid is gone.
 * Returns the name it went to ("hv" for the hypervisor). */
const char *hv_console_input_to(struct hv *hv, int domid);

/* The gdb servers behind the gdb and gdbserver control verbs. The live-debugging layer
 * (kmdb/) registers them at start-up, so hv's core calls it without naming it; without
 * them the verbs answer that live debugging is not built in. */
/* A one-shot gdb server on a domain. By default a Unix socket (hv_gdb_default_socket, or
 * unix_path) that only root and hv's uid may connect to, as the control socket; with
 * port >= 0, 127.0.0.1:port (0: any free one), which anyone on the host can reach, so the
 * client must first give a one-time token (gdb: `monitor auth TOKEN` over `target
 * extended-remote`, then `attach 1`). */
struct hv_gdb_server {
	const char *unix_path; /* NULL: the default socket (unless port >= 0) */
	int port;              /* -1: a Unix socket */
	bool writable;         /* memory and registers writable */
	char where[160];       /* out: PATH or 127.0.0.1:PORT */
	char token[33];        /* out: the TCP server's token; "" on a Unix socket */
};
/* gdb-NAME.sock beside the control socket (in its 0700 directory); 0 or -1. */
int hv_gdb_default_socket(struct hv *hv, int domid, char *path, size_t len, struct err *e);
/* How to connect gdb to srv, one line: what hvctl gdbserver and the '%' key print. */
void hv_gdb_server_howto(const struct hv_gdb_server *srv, char *buf, size_t len);

struct hv_gdb_ops {
	/* Serves gdb on the connected fd for domain domid; blocks. */
	int (*session)(struct hv *hv, int domid, int fd, bool writable, bool nopause, struct err *e);
	/* A one-shot server thread (struct hv_gdb_server); 0 or -1 with a message. */
	int (*server_start)(struct hv *hv, int domid, struct hv_gdb_server *srv, struct err *e);
};
/* -1 when ops were registered already (a second registration is an error, not an overwrite). */
int hv_set_gdb_ops(const struct hv_gdb_ops *ops);

#endif
