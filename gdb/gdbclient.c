/* gdbclient: the client half of the gdb remote protocol (hvmdb -d's live target): packets
 * framed, checksummed and acked by gdbpkt.c exactly as the stub's, the 'g' and 'P'
 * register packets in the layout of x86/'s register table, 'm' memory reads. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MEM_CHUNK 4096 /* bytes per 'm' request: 8 KiB of hex, well inside a packet */

struct gdbclient {
	struct gdbstub conn; /* the connection half of the stub's state: fd, buffers, noack */
};

struct gdbclient *gdbclient_open(int fd)
{
	struct gdbclient *c = xcalloc(1, sizeof(*c));
	c->conn.fd = fd;
	c->conn.intr_fd = -1;
	return c;
}

void gdbclient_close(struct gdbclient *c)
{
	if (!c)
		return;
	close(c->conn.fd);
	free(c);
}

int gdbclient_send(struct gdbclient *c, const char *body, struct err *e)
{
	size_t n = strlen(body);
	if (n > GDBSTUB_PACKET_SIZE)
		return err_set(e, "request too long");
	reply_reset(&c->conn);
	reply_mem(&c->conn, body, n);
	if (pkt_send(&c->conn) < 0)
		return err_set(e, "the debug session was lost");
	return 0;
}

const char *gdbclient_recv(struct gdbclient *c, int intr_fd, struct err *e)
{
	long n;
	c->conn.intr_fd = intr_fd;
	n = pkt_recv(&c->conn);
	c->conn.intr_fd = -1;
	if (n == PKT_EOF) {
		err_set(e, "the stub ended the debug session");
		return NULL;
	}
	if (n == PKT_TOOLONG) {
		err_set(e, "an oversized reply from the stub");
		return NULL;
	}
	return c->conn.pkt;
}

const char *gdbclient_request(struct gdbclient *c, const char *body, struct err *e)
{
	const char *p;
	if (gdbclient_send(c, body, e) < 0 || !(p = gdbclient_recv(c, -1, e)))
		return NULL;
	if (p[0] == 'E' && (p[1] == '.' || (p[1] && p[2] && !p[3]))) {
		err_set(e, "%s", p[1] == '.' ? p + 2 : "the request failed");
		return NULL;
	}
	return p;
}

int gdbclient_noack(struct gdbclient *c, struct err *e)
{
	const char *p = gdbclient_request(c, "QStartNoAckMode", e);
	if (!p)
		return -1;
	c->conn.noack = !strcmp(p, "OK");
	return c->conn.noack;
}

int gdbclient_read_regs(struct gdbclient *c, struct x86_regs *r, struct err *e)
{
	uint8_t g[1024];
	size_t size = regs_g_size(), off = 0;
	const char *p = gdbclient_request(c, "g", e);
	if (!p)
		return -1;
	/* our stub sends the whole layout; a shorter reply is not ours */
	if (size > sizeof(g) || strlen(p) != 2 * size || gdb_hex_decode(p, 2 * size, g) < 0)
		return err_set(e, "a register reply not in our layout");
	memset(r, 0, sizeof(*r));
	for (unsigned i = 0; i < regs_count(); i++) {
		regs_set_one(r, i, g + off);
		off += regs_size(i);
	}
	return 0;
}

int gdbclient_write_reg(struct gdbclient *c, const struct x86_reg_desc *d, uint64_t v, struct err *e)
{
	uint8_t b[16] = { 0 };
	char req[64];
	const char *p;
	int n;
	if (d->gdb < 0 || d->gdb_size > sizeof(b))
		return err_set(e, "%s: not in the gdb register layout", d->name);
	for (unsigned i = 0; i < 8 && i < d->gdb_size; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	n = snprintf(req, sizeof(req), "P%x=", (unsigned)d->gdb);
	gdb_hex_encode(b, d->gdb_size, req + n);
	req[n + 2 * d->gdb_size] = 0;
	if (!(p = gdbclient_request(c, req, e)))
		return -1;
	return strcmp(p, "OK") ? err_set(e, "the stub refused the register write (%s)", p[0] ? p : "not supported") : 0;
}

size_t gdbclient_read_mem(struct gdbclient *c, uint64_t addr, void *buf, size_t len)
{
	size_t done = 0;
	struct err e;
	while (done < len) {
		char req[64];
		size_t n = len - done > MEM_CHUNK ? MEM_CHUNK : len - done, hex;
		const char *p;
		long got;
		snprintf(req, sizeof(req), "m%llx,%zx", (unsigned long long)(addr + done), n);
		if (!(p = gdbclient_request(c, req, &e)))
			break;
		hex = strlen(p) & ~(size_t)1;
		if (hex > 2 * n)
			hex = 2 * n;
		got = gdb_hex_decode(p, hex, (uint8_t *)buf + done);
		if (got <= 0)
			break;
		done += (size_t)got;
		if ((size_t)got < n)
			break;
	}
	return done;
}
