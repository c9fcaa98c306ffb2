/* gdb internals: the gdb stub's session state, packet framing and encoding
 * helpers (gdbpkt.c) and the register layout (gdbregs.c). Private to gdb/ and its
 * tests. */
#ifndef HVKIT_GDB_INTERNAL_H
#define HVKIT_GDB_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gdb.h"

/* A locked session (gdbauth.c): waiting for the token, then for gdb's attach. */
enum { GDBSTUB_LOCK_NONE, GDBSTUB_LOCK_ATTACH, GDBSTUB_LOCK_TOKEN };

struct gdbstub {
	int fd;
	const struct gdbstub_ops *ops;
	void *o;
	struct err *e;
	bool noack;        /* after QStartNoAckMode */
	bool phys;         /* Qqemu.PhyMemMode:1: m reads guest-physical memory */
	bool eof;          /* the client closed (or its socket failed) */
	unsigned char rbuf[4096];
	size_t rpos, rlen;
	char pkt[GDBSTUB_PACKET_SIZE + 1]; /* the request body (escapes kept), NUL-terminated */
	size_t pktlen;
	char out[GDBSTUB_PACKET_SIZE + 5]; /* "$" reply "#xx" */
	size_t outlen;                     /* the reply body so far, at out + 1 */
	bool overflow;                     /* the reply did not fit: sent as an error */
	bool replied;                      /* the request's reply is already sent */
	unsigned g_cpu;                    /* Hg: registers and memory */
	int c_cpu;                         /* Hc: what s steps; -1 = any */
	unsigned thread_iter;              /* qsThreadInfo's next vCPU */
	struct gdbstub_stop last;          /* for '?' */
	bool interrupted;
	int intr_fd;                       /* the client's: see conn_fill; -1 none */
	int lock;                          /* GDBSTUB_LOCK_*: what the client has yet to do */
	char token[65];
};

/* ---- gdbauth.c: a locked session. begin: the session waits for token (and drops a
 * client that does not give it within a minute). request: answers a request while
 * locked and returns true (*end set when the session ends), or false when the request
 * goes to the normal dispatch (qSupported, QStartNoAckMode, qXfer:features:read, the
 * vAttach that unlocked). */
void auth_begin(struct gdbstub *s, const char *token);
bool auth_request(struct gdbstub *s, int *end);

/* ---- gdbpkt.c: bytes on the wire */
enum { PKT_EOF = -1, PKT_TOOLONG = -2 };
uint8_t pkt_checksum(const void *p, size_t n);
int hex_digit(int c); /* 0..15, or -1 */
/* At least one hex digit at *p (below end), the value below 2^64; advances *p. */
bool hex_u64(const char **p, const char *end, uint64_t *v);
/* A thread id: hex N, "-1" (all, as -1), "0" (any), or "pPID.TID" (TID taken). */
bool parse_thread(const char **p, const char *end, int64_t *tid);
/* Binary data (X packets) in place: "}x" is x ^ 0x20. Returns the decoded length, or -1
 * for a trailing lone '}'. */
long bin_unescape(char *buf, size_t n);
/* Escapes '#', '$', '}' and '*' of in[0..n) into out (at most cap chars); returns the
 * chars written and in *used how many input bytes fit. */
size_t bin_escape(const uint8_t *in, size_t n, char *out, size_t cap, size_t *used);

int conn_getc(struct gdbstub *s); /* the next byte from the client, or -1 at EOF */
bool conn_buffered(const struct gdbstub *s);
/* Reads bytes into the buffer (one read); false at EOF or error (then s->eof). While it
 * waits, a byte readable on s->intr_fd (when >= 0) is consumed and ^C sent to the peer. */
bool conn_fill(struct gdbstub *s);
int conn_write(struct gdbstub *s, const void *buf, size_t n);
/* The next packet into s->pkt, acked in ack mode (a bad checksum is nak'ed there and
 * dropped in no-ack mode). Returns its length, PKT_EOF, or PKT_TOOLONG (drained and
 * acked; answer it with an error). Stray bytes between packets (acks, ^C) are skipped. */
long pkt_recv(struct gdbstub *s);
/* Frames the reply body at s->out + 1 and sends it; in ack mode waits for '+' and
 * resends on '-' (a few times). 0, or -1 (the client is gone or refused it). */
int pkt_send(struct gdbstub *s);

/* Reply building: appends to the reply body; an overlong reply sets s->overflow. */
void reply_reset(struct gdbstub *s);
void reply_mem(struct gdbstub *s, const void *p, size_t n);
void reply_str(struct gdbstub *s, const char *str);
__attribute__((format(printf, 2, 3))) void reply_fmt(struct gdbstub *s, const char *fmt, ...);
void reply_hex(struct gdbstub *s, const void *p, size_t n);
size_t reply_room(const struct gdbstub *s);

/* ---- gdbregs.c: the register layout, the same in 'g', 'p' and target.xml */
size_t regs_count(void);
size_t regs_g_size(void);                /* bytes of a 'g' reply */
size_t regs_size(unsigned n);            /* bytes of register n, 0 if no such register */
void regs_to_g(const struct x86_regs *r, uint8_t *out);
void regs_from_g(struct x86_regs *r, const uint8_t *in);
void regs_get_one(const struct x86_regs *r, unsigned n, uint8_t *out);
void regs_set_one(struct x86_regs *r, unsigned n, const uint8_t *in);
const char *regs_target_xml(size_t *len);

#endif
