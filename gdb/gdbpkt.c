/* gdbpkt: the gdb remote protocol on the wire: "$body#xx" framing with checksums, +/-
 * acks, hex and binary encodings, and the bounded reply buffer. */
#include "internal.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_RESENDS 8

uint8_t pkt_checksum(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint8_t sum = 0;
	while (n--)
		sum += *b++;
	return sum;
}

int hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

long gdb_hex_decode(const char *s, size_t n, uint8_t *out)
{
	if (n % 2)
		return -1;
	for (size_t i = 0; i < n; i += 2) {
		int hi = hex_digit((unsigned char)s[i]), lo = hex_digit((unsigned char)s[i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i / 2] = (uint8_t)(hi << 4 | lo);
	}
	return (long)(n / 2);
}

void gdb_hex_encode(const void *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	const uint8_t *b = in;
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
}

bool hex_u64(const char **p, const char *end, uint64_t *v)
{
	const char *q = *p;
	uint64_t x = 0;
	int d;
	if (q >= end || hex_digit((unsigned char)*q) < 0)
		return false;
	while (q < end && (d = hex_digit((unsigned char)*q)) >= 0) {
		if (x >> 60)
			return false; /* a 65th bit */
		x = x << 4 | (uint64_t)d;
		q++;
	}
	*v = x;
	*p = q;
	return true;
}

bool parse_thread(const char **p, const char *end, int64_t *tid)
{
	uint64_t v;
	if (*p < end && **p == 'p') { /* multiprocess form: pPID.TID, the PID ignored */
		(*p)++;
		if (*p + 1 < end && (*p)[0] == '-' && (*p)[1] == '1')
			*p += 2;
		else if (!hex_u64(p, end, &v))
			return false;
		if (*p >= end || **p != '.') {
			*tid = -1; /* "pPID" alone: every thread of the process */
			return true;
		}
		(*p)++;
	}
	if (*p + 1 < end && (*p)[0] == '-' && (*p)[1] == '1') {
		*p += 2;
		*tid = -1;
		return true;
	}
	if (!hex_u64(p, end, &v) || v > INT32_MAX)
		return false;
	*tid = (int64_t)v;
	return true;
}

long bin_unescape(char *buf, size_t n)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (buf[i] == '}') {
			if (++i == n)
				return -1;
			buf[o++] = (char)(buf[i] ^ 0x20);
		} else {
			buf[o++] = buf[i];
		}
	}
	return (long)o;
}

size_t bin_escape(const uint8_t *in, size_t n, char *out, size_t cap, size_t *used)
{
	size_t o = 0, i;
	for (i = 0; i < n; i++) {
		bool esc = in[i] == '#' || in[i] == '$' || in[i] == '}' || in[i] == '*';
		if (o + (esc ? 2 : 1) > cap)
			break;
		if (esc) {
			out[o++] = '}';
			out[o++] = (char)(in[i] ^ 0x20);
		} else {
			out[o++] = (char)in[i];
		}
	}
	*used = i;
	return o;
}

bool conn_buffered(const struct gdbstub *s)
{
	return s->rpos < s->rlen;
}

bool conn_fill(struct gdbstub *s)
{
	ssize_t n;
	if (s->eof)
		return false;
	while (s->intr_fd >= 0) { /* the client waiting for a stop: Ctrl-C becomes ^C */
		struct pollfd p[2] = { { .fd = s->fd, .events = POLLIN }, { .fd = s->intr_fd, .events = POLLIN } };
		char c;
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			s->eof = true;
			return false;
		}
		if ((p[1].revents & POLLIN) && read(s->intr_fd, &c, 1) == 1 && conn_write(s, "\x03", 1) < 0)
			return false;
		if (!(p[1].revents & POLLIN) && p[1].revents)
			s->intr_fd = -1; /* closed or bad: wait for the peer alone */
		if (p[0].revents)
			break;
	}
	do
		n = read(s->fd, s->rbuf, sizeof(s->rbuf));
	while (n < 0 && errno == EINTR);
	if (n <= 0) {
		s->eof = true;
		return false;
	}
	s->rpos = 0;
	s->rlen = (size_t)n;
	return true;
}

int conn_getc(struct gdbstub *s)
{
	if (!conn_buffered(s) && !conn_fill(s))
		return -1;
	return s->rbuf[s->rpos++];
}

int conn_write(struct gdbstub *s, const void *buf, size_t n)
{
	const char *p = buf;
	while (n && !s->eof) {
		ssize_t w = send(s->fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == ENOTSOCK)
			w = write(s->fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			s->eof = true;
			break;
		}
		p += w;
		n -= (size_t)w;
	}
	return s->eof ? -1 : 0;
}

/* After '$': the body up to '#' and the two checksum digits. Returns the body length
 * (kept up to the buffer's size), -1 at EOF; *bad when the checksum does not match. */
static long pkt_body(struct gdbstub *s, bool *bad)
{
	size_t n = 0, total = 0;
	uint8_t sum = 0;
	int c, hi, lo;
	while ((c = conn_getc(s)) != '#') {
		if (c < 0)
			return -1;
		if (c == '$') { /* a new packet starts: forget the broken one */
			n = total = 0;
			sum = 0;
			continue;
		}
		sum += (uint8_t)c;
		if (n < GDBSTUB_PACKET_SIZE)
			s->pkt[n++] = (char)c;
		total++;
	}
	if ((hi = conn_getc(s)) < 0 || (lo = conn_getc(s)) < 0)
		return -1;
	hi = hex_digit(hi);
	lo = hex_digit(lo);
	*bad = hi < 0 || lo < 0 || (uint8_t)(hi << 4 | lo) != sum;
	s->pkt[n] = 0;
	s->pktlen = n;
	return total > n ? PKT_TOOLONG : (long)n;
}

long pkt_recv(struct gdbstub *s)
{
	for (;;) {
		int c = conn_getc(s);
		bool bad = false;
		long n;
		if (c < 0)
			return PKT_EOF;
		if (c != '$')
			continue; /* acks, a late ^C, noise */
		n = pkt_body(s, &bad);
		if (n == -1)
			return PKT_EOF;
		if (bad) {
			if (!s->noack && conn_write(s, "-", 1) < 0)
				return PKT_EOF;
			continue;
		}
		if (!s->noack && conn_write(s, "+", 1) < 0)
			return PKT_EOF;
		return n;
	}
}

int pkt_send(struct gdbstub *s)
{
	static const char toolong[] = "E.reply too long";
	size_t n;
	if (s->overflow) {
		memcpy(s->out + 1, toolong, sizeof(toolong) - 1);
		s->outlen = sizeof(toolong) - 1;
	}
	n = s->outlen;
	s->out[0] = '$';
	s->out[n + 1] = '#';
	snprintf(s->out + n + 2, 3, "%02x", pkt_checksum(s->out + 1, n));
	for (int tries = 0; tries <= MAX_RESENDS; tries++) {
		if (conn_write(s, s->out, n + 4) < 0)
			return -1;
		if (s->noack)
			return 0;
		for (;;) { /* the ack */
			int c = conn_getc(s);
			if (c < 0)
				return -1;
			if (c == '+')
				return 0;
			if (c == '-')
				break;
			if (c == '$') { /* a new request instead: take it as the ack */
				s->rpos--;
				return 0;
			}
		}
	}
	return -1;
}

void reply_reset(struct gdbstub *s)
{
	s->outlen = 0;
	s->overflow = false;
}

size_t reply_room(const struct gdbstub *s)
{
	return s->overflow ? 0 : GDBSTUB_PACKET_SIZE - s->outlen;
}

void reply_mem(struct gdbstub *s, const void *p, size_t n)
{
	if (n > reply_room(s)) {
		s->overflow = true;
		return;
	}
	memcpy(s->out + 1 + s->outlen, p, n);
	s->outlen += n;
}

void reply_str(struct gdbstub *s, const char *str)
{
	reply_mem(s, str, strlen(str));
}

void reply_fmt(struct gdbstub *s, const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf))
		s->overflow = true;
	else
		reply_mem(s, buf, (size_t)n);
}

void reply_hex(struct gdbstub *s, const void *p, size_t n)
{
	if (n > reply_room(s) / 2) {
		s->overflow = true;
		return;
	}
	gdb_hex_encode(p, n, s->out + 1 + s->outlen);
	s->outlen += 2 * n;
}
