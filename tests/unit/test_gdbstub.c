/* Unit tests for the gdb stub: hex, escapes, checksums and thread ids; the register
 * layout against target.xml; then whole sessions over a socketpair against the fake
 * target: acks and no-ack mode, every request gdb makes, stops (breakpoints, watchpoints,
 * steps, ^C, exit), bad input, the session's ends, and the listening sockets; and the
 * client half (gdbclient.c) against the stub. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "gdb/internal.h"
#include "tests/gdbstub_fake.h"

#define BP 0xffffffff80100400ull

/* ---- a client on one end of a socketpair, gdbstub_serve on the other in a thread */

struct session {
	int fd, sfd;
	bool noack;
	pthread_t thread;
	struct fake fake;
	const struct gdbstub_ops *ops;
	const char *token; /* a locked session (gdbstub_serve_locked) */
	int end;
	struct err e;
	char reply[GDBSTUB_PACKET_SIZE + 1];
};

static void *serve_thread(void *arg)
{
	struct session *s = arg;
	s->end = s->token ? gdbstub_serve_locked(s->sfd, s->ops, &s->fake, s->token, &s->e)
			  : gdbstub_serve(s->sfd, s->ops, &s->fake, &s->e);
	close(s->sfd);
	return NULL;
}

static struct session *session_open_as(const struct gdbstub_ops *ops, const char *token)
{
	struct session *s = calloc(1, sizeof(*s));
	int sv[2];
	assert_non_null(s);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(fake_init(&s->fake, 20 * 1000000L), 0);
	s->fd = sv[0];
	s->sfd = sv[1];
	s->ops = ops;
	s->token = token;
	assert_int_equal(pthread_create(&s->thread, NULL, serve_thread, s), 0);
	return s;
}

static struct session *session_open(const struct gdbstub_ops *ops)
{
	return session_open_as(ops, NULL);
}

/* Closes the client's end (unless done) and returns how the session ended. */
static int session_close(struct session *s)
{
	int end;
	if (s->fd >= 0)
		close(s->fd);
	pthread_join(s->thread, NULL);
	end = s->end;
	fake_destroy(&s->fake);
	free(s);
	return end;
}

/* For the tests of one session that the client ends by closing its socket. */
static int session_setup(void **state)
{
	*state = session_open(&fake_ops);
	return 0;
}

static int session_teardown(void **state)
{
	return session_close(*state) == GDBSTUB_END_EOF ? 0 : -1;
}

static int recv_byte(struct session *s)
{
	struct pollfd p = { .fd = s->fd, .events = POLLIN };
	unsigned char c;
	if (poll(&p, 1, 5000) != 1 || read(s->fd, &c, 1) != 1)
		return -1;
	return c;
}

static void send_raw(struct session *s, const void *p, size_t n)
{
	assert_int_equal(write(s->fd, p, n), (ssize_t)n);
}

static void send_pkt_n(struct session *s, const char *body, size_t n)
{
	char tail[4];
	send_raw(s, "$", 1);
	send_raw(s, body, n);
	snprintf(tail, sizeof(tail), "#%02x", pkt_checksum(body, n));
	send_raw(s, tail, 3);
	if (!s->noack)
		assert_int_equal(recv_byte(s), '+');
}

/* The next packet from the stub (checked, acked in ack mode), NUL-terminated. */
static const char *recv_pkt(struct session *s)
{
	size_t n = 0;
	int c, hi, lo;
	while ((c = recv_byte(s)) != '$')
		if (c < 0)
			fail_msg("no reply");
	while ((c = recv_byte(s)) != '#') {
		assert_true(c >= 0 && n < GDBSTUB_PACKET_SIZE);
		s->reply[n++] = (char)c;
	}
	s->reply[n] = 0;
	hi = hex_digit(recv_byte(s));
	lo = hex_digit(recv_byte(s));
	assert_int_equal(hi << 4 | lo, pkt_checksum(s->reply, n));
	if (!s->noack)
		send_raw(s, "+", 1);
	return s->reply;
}

static const char *xchg(struct session *s, const char *body)
{
	send_pkt_n(s, body, strlen(body));
	return recv_pkt(s);
}

/* Requests and the replies they must get, in order. */
struct rq {
	const char *req, *reply;
};

static void expect_replies(struct session *s, const struct rq *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *r = xchg(s, t[i].req);
		if (strcmp(r, t[i].reply))
			fail_msg("%s: got \"%s\", want \"%s\"", t[i].req, r, t[i].reply);
	}
}

#define EXPECT(s, ...)                                                       \
	do {                                                                 \
		static const struct rq t_[] = { __VA_ARGS__ };                \
		expect_replies(s, t_, sizeof(t_) / sizeof(t_[0]));           \
	} while (0)

static const char *hexstr(const void *p, size_t n)
{
	static char buf[2 * 64 + 1];
	assert_true(n <= 64);
	gdb_hex_encode(p, n, buf);
	buf[2 * n] = 0;
	return buf;
}

/* ---- encodings */

static void test_hex_and_checksum(void **state)
{
	uint8_t b[4];
	char h[9] = "";
	(void)state;
	assert_int_equal(pkt_checksum("OK", 2), 0x9a);
	assert_int_equal(pkt_checksum("", 0), 0);
	assert_int_equal(gdb_hex_decode("0aFf", 4, b), 2);
	assert_int_equal(b[0], 0x0a);
	assert_int_equal(b[1], 0xff);
	assert_int_equal(gdb_hex_decode("0a1", 3, b), -1);
	assert_int_equal(gdb_hex_decode("zz", 2, b), -1);
	assert_int_equal(gdb_hex_decode("1 ", 2, b), -1);
	gdb_hex_encode("\x01\xab\xff\x00", 4, h);
	assert_string_equal(h, "01abff00");
	assert_int_equal(hex_digit('g'), -1);
	assert_int_equal(hex_digit('F'), 15);
}

static void test_hex_numbers_and_threads(void **state)
{
	static const struct {
		const char *in;
		bool ok;
		uint64_t v;
		size_t used;
	} nums[] = {
		{ "ffffffffffffffff", true, UINT64_MAX, 16 }, { "0000000000000000001", true, 1, 19 },
		{ "10000000000000000", false, 0, 0 },         { "", false, 0, 0 },
		{ "g1", false, 0, 0 },                        { "1f,2", true, 0x1f, 2 },
	};
	static const struct {
		const char *in;
		bool ok;
		int64_t tid;
	} tids[] = {
		{ "-1", true, -1 }, { "0", true, 0 },     { "2", true, 2 },        { "1f", true, 31 },
		{ "p1.2", true, 2 }, { "p-1.-1", true, -1 }, { "p1", true, -1 },     { "x", false, 0 },
		{ "100000000", false, 0 }, { "p", false, 0 }, { "-", false, 0 },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
		const char *p = nums[i].in;
		uint64_t v = 0;
		assert_int_equal(hex_u64(&p, nums[i].in + strlen(nums[i].in), &v), nums[i].ok);
		if (nums[i].ok) {
			assert_true(v == nums[i].v);
			assert_int_equal(p - nums[i].in, nums[i].used);
		}
	}
	for (size_t i = 0; i < sizeof(tids) / sizeof(tids[0]); i++) {
		const char *p = tids[i].in;
		int64_t t = 99;
		assert_int_equal(parse_thread(&p, tids[i].in + strlen(tids[i].in), &t), tids[i].ok);
		if (tids[i].ok)
			assert_int_equal(t, tids[i].tid);
	}
}

static void test_binary_escapes(void **state)
{
	char in[] = "a}\x03" "b}]}\x0a", lone[] = "ab}";
	uint8_t raw[] = { '#', '$', '}', '*', 'a' };
	char out[16];
	size_t used;
	(void)state;
	assert_int_equal(bin_unescape(in, strlen(in)), 5);
	assert_memory_equal(in, "a#b}*", 5);
	assert_int_equal(bin_unescape(lone, 3), -1);
	assert_int_equal(bin_escape(raw, 5, out, sizeof(out), &used), 9);
	assert_int_equal(used, 5);
	assert_memory_equal(out, "}\x03}\x04}]}\x0a" "a", 9);
	/* an escape never splits: 3 chars of room hold one escaped byte and no more */
	assert_int_equal(bin_escape(raw, 5, out, 3, &used), 2);
	assert_int_equal(used, 1);
}

static void test_register_layout(void **state)
{
	struct x86_regs r, back;
	uint8_t g[512];
	size_t len, n = 0;
	const char *xml = regs_target_xml(&len), *p;
	(void)state;
	assert_int_equal(regs_count(), 48);
	assert_int_equal(regs_g_size(), 16 * 8 + 8 + 4 + 6 * 4 + 8 * 10 + 8 * 4 + 2 * 8 + 6 * 8);
	for (p = xml; (p = strstr(p, "<reg ")); p++)
		n++;
	assert_int_equal(n, regs_count()); /* one XML register per 'g' slot, in order */
	assert_int_equal(strlen(xml), len);
	assert_non_null(strstr(xml, "<architecture>i386:x86-64</architecture>"));
	assert_true(strstr(xml, "name=\"rip\"") < strstr(xml, "name=\"eflags\""));
	assert_true(strstr(xml, "name=\"fop\"") < strstr(xml, "name=\"fs_base\""));
	assert_non_null(strstr(xml, "<feature name=\"org.gnu.gdb.i386.sys\">"));
	assert_non_null(strstr(xml, "<reg name=\"cr3\" bitsize=\"64\" type=\"int64\" group=\"system\"/>"));
	assert_non_null(strstr(xml, "<field name=\"ZF\" start=\"6\" end=\"6\"/>"));
	assert_non_null(strstr(xml, "<field name=\"\" start=\"1\" end=\"1\"/>"));
	memset(&r, 0x5a, sizeof(r));
	r.rflags = 0x1234500000246ull; /* gdb's eflags holds the low 32 bits */
	regs_to_g(&r, g);
	memset(&back, 0x5a, sizeof(back));
	back.rflags = 0;
	regs_from_g(&back, g);
	assert_int_equal(back.rflags, 0x246);
	back.rflags = r.rflags;
	assert_memory_equal(&r, &back, sizeof(r));
	assert_int_equal(regs_size(16), 8);
	assert_int_equal(regs_size(24), 10);
	assert_int_equal(regs_size(48), 0);
}

/* ---- sessions */

static void test_acks_and_retransmits(void **state)
{
	struct session *s = *state;
	const char *r;
	send_raw(s, "+", 1); /* gdb's opening ack */
	r = xchg(s, "qSupported:multiprocess+;swbreak+;hwbreak+;xmlRegisters=i386");
	assert_non_null(strstr(r, "PacketSize=4000;"));
	assert_non_null(strstr(r, "qXfer:features:read+"));
	assert_non_null(strstr(r, "swbreak+;hwbreak+;vContSupported+;QStartNoAckMode+"));
	send_raw(s, "$?#00", 5); /* bad checksum: nak, nothing else */
	assert_int_equal(recv_byte(s), '-');
	send_raw(s, "$?#zz", 5);
	assert_int_equal(recv_byte(s), '-');
	send_raw(s, "$?#3f", 5);
	assert_int_equal(recv_byte(s), '+');
	/* nak the reply: it comes again */
	s->noack = true;
	assert_string_equal(recv_pkt(s), "T05thread:1;");
	send_raw(s, "-", 1);
	assert_string_equal(recv_pkt(s), "T05thread:1;");
	send_raw(s, "+", 1);
	s->noack = false;
	assert_string_equal(xchg(s, "qAttached"), "1");
}

static void test_no_ack_mode(void **state)
{
	struct session *s = *state;
	assert_string_equal(xchg(s, "QStartNoAckMode"), "OK");
	s->noack = true;
	send_pkt_n(s, "?", 1);
	assert_int_equal(recv_byte(s), '$'); /* no '+' first */
	send_raw(s, "$qC#00", 6);            /* a bad checksum is dropped silently */
	assert_string_equal(xchg(s, "qC"), "QC1");
}

static void test_registers(void **state)
{
	struct session *s = *state;
	struct x86_regs *c0 = &s->fake.regs[0];
	char g[1024], rip[17], cmd[1100];
	strcpy(g, xchg(s, "g"));
	assert_int_equal(strlen(g), 2 * regs_g_size());
	strcpy(rip, hexstr(&c0->rip, 8));
	assert_memory_equal(g + 2 * 16 * 8, rip, 16);
	assert_memory_equal(g, hexstr(&c0->rax, 8), 16);
	assert_string_equal(xchg(s, "p10"), rip);
	EXPECT(s,
	       { "p11", "46020000" }, /* eflags, 32 bits */
	       { "p12", "10000000" }, /* cs */
	       { "p18", "00000000000000000000" }); /* st0 */
	assert_string_equal(xchg(s, "p2c"), hexstr(&c0->cr3, 8));
	assert_string_equal(xchg(s, "p2f"), "010d000000000000"); /* efer */
	assert_string_equal(xchg(s, "P10=0100000000000000"), "OK");
	assert_int_equal(c0->rip, 1);
	assert_string_equal(xchg(s, "P18=01020304050607080900"), "OK"); /* x87: ignored */
	assert_string_equal(xchg(s, "Hg2"), "OK");
	assert_string_equal(xchg(s, "p2c"), hexstr(&s->fake.regs[1].cr3, 8));
	/* G: change rax of vCPU 1 */
	memcpy(g, "efbeadde00000000", 16);
	snprintf(cmd, sizeof(cmd), "G%s", g);
	assert_string_equal(xchg(s, cmd), "OK");
	assert_int_equal(s->fake.regs[1].rax, 0xdeadbeef);
	assert_true(s->fake.regs[1].rip == FAKE_MEM_BASE + 0x1000); /* the rest: vCPU 0's g as sent */
	/* errors */
	EXPECT(s,
	       { "p30", "E00" },
	       { "pffffffffffffffffff", "E00" },
	       { "p", "E00" },
	       { "p10x", "E01" },
	       { "P10=12", "E01" },
	       { "P10=zz00000000000000", "E01" },
	       { "P10", "E01" },
	       { "G00", "E01" });
	g[5] = 'x';
	snprintf(cmd, sizeof(cmd), "G%s", g);
	assert_string_equal(xchg(s, cmd), "E01");
	assert_string_equal(xchg(s, "gg"), "E01");
}

static void test_memory(void **state)
{
	struct session *s = *state;
	uint8_t want[16];
	char cmd[64];
	static const char xpkt[] = "Xffffffff80100010,4:}\x03}]}\x0a" "A";
	for (int i = 0; i < 16; i++)
		want[i] = fake_mem_byte((size_t)i);
	assert_string_equal(xchg(s, "mffffffff80100000,10"), hexstr(want, 16));
	for (int i = 0; i < 8; i++) /* the last 8 bytes: a short read */
		want[i] = fake_mem_byte(FAKE_MEM_SIZE - 8 + (size_t)i);
	assert_string_equal(xchg(s, "mffffffff8010fff8,10"), hexstr(want, 8));
	EXPECT(s,
	       { "m0,4", "E0e" },
	       { "mffffffff80100000,2001", "E01" }, /* over GDBSTUB_MAX_MEM */
	       { "mffffffffffffffff,2", "E01" }, /* wraps */
	       { "m1ffffffff80100000,1", "E01" }, /* 65 bits */
	       { "mffffffff80100000", "E01" },
	       { "mffffffff80100000,1,", "E01" });
	assert_int_equal(strlen(xchg(s, "mffffffff80100000,2000")), 2 * 8192);
	/* M and X */
	EXPECT(s,
	       { "Mffffffff80100000,4:deadbeef", "OK" },
	       { "mffffffff80100000,4", "deadbeef" },
	       { "Mffffffff80100000,4:deadbe", "E01" },
	       { "Mffffffff80100000,2:zzzz", "E01" },
	       { "Mffffffff80100000,2", "E01" },
	       { "M0,2:0102", "E0e" });
	send_pkt_n(s, xpkt, sizeof(xpkt) - 1);
	assert_string_equal(recv_pkt(s), "OK");
	assert_memory_equal(s->fake.mem + 0x10, "#}*A", 4);
	EXPECT(s,
	       { "Xffffffff80100010,0:", "OK" }, /* gdb's probe */
	       { "Xffffffff80100010,2:a", "E01" },
	       { "Xffffffff80100010,1:a}", "E01" });
	snprintf(cmd, sizeof(cmd), "Xffffffff80100010,%x:", GDBSTUB_MAX_MEM + 1);
	assert_string_equal(xchg(s, cmd), "E01");
	/* QEMU's physical mode: m reads guest-physical memory, writes are refused, and the
	 * mode is per session until turned off */
	for (int i = 0; i < 4; i++)
		want[i] = s->fake.mem[0x20 + i];
	EXPECT(s,
	       { "qqemu.PhyMemMode", "0" },
	       { "Qqemu.PhyMemMode:1", "OK" },
	       { "qqemu.PhyMemMode", "1" },
	       { "Qqemu.PhyMemMode:2", "E01" },
	       { "Qqemu.PhyMemMode:", "" },
	       { "M100020,1:00", "E01" },
	       { "mffffffff80100020,4", "E0e" });
	assert_string_equal(xchg(s, "m100020,4"), hexstr(want, 4));
	EXPECT(s,
	       { "Qqemu.PhyMemMode:0", "OK" },
	       { "m100020,4", "E0e" });
	assert_string_equal(xchg(s, "mffffffff80100020,4"), hexstr(want, 4));
}

static void test_breakpoints(void **state)
{
	struct session *s = *state;
	assert_string_equal(xchg(s, "Z0,ffffffff80100400,1"), "OK");
	assert_int_equal(s->fake.nbps, 1);
	assert_int_equal(s->fake.bps[0].kind, GDBSTUB_BP_SW);
	assert_true(s->fake.bps[0].addr == BP);
	assert_string_equal(xchg(s, "z0,ffffffff80100400,1"), "OK");
	assert_int_equal(s->fake.nbps, 0);
	EXPECT(s,
	       { "z0,ffffffff80100400,1", "E.no breakpoint at 0xffffffff80100400" },
	       { "Z2,ffffffff80100800,8", "OK" },
	       { "Z1,ffffffff80100400,1;X2,0a", "OK" }); /* conditions ignored */
	assert_int_equal(s->fake.nbps, 2);
	assert_int_equal(s->fake.bps[0].kind, GDBSTUB_WP_WRITE);
	assert_int_equal(s->fake.bps[0].len, 8);
	assert_int_equal(s->fake.bps[1].kind, GDBSTUB_BP_HW);
	EXPECT(s,
	       { "Z5,0,1", "E01" },
	       { "Z0,ffffffff80100400", "E01" },
	       { "Z0,,1", "E01" },
	       { "Z0,1,1x", "E01" });
}

static void test_threads(void **state)
{
	struct session *s = *state;
	EXPECT(s,
	       { "qfThreadInfo", "m1,2" },
	       { "qsThreadInfo", "l" },
	       { "qC", "QC1" },
	       { "T1", "OK" },
	       { "T2", "OK" },
	       { "T3", "E01" },
	       { "T0", "E01" },
	       { "T-1", "E01" },
	       { "Hg2", "OK" },
	       { "qC", "QC2" },
	       { "Hg0", "OK" }, /* any: stays */
	       { "qC", "QC2" },
	       { "Hgp1.1", "OK" },
	       { "qC", "QC1" },
	       { "Hg3", "E01" },
	       { "Hx1", "E01" },
	       { "Hc-1", "OK" },
	       { "Hc2", "OK" });
	assert_string_equal(xchg(s, "qThreadExtraInfo,2"), hexstr("fake vCPU 1", 11));
	EXPECT(s,
	       { "qThreadExtraInfo,3", "E01" },
	       { "qAttached:1", "1" },
	       { "vCont?", "vCont;c;C;s;S" });
}

static void test_stops(void **state)
{
	struct session *s = *state;
	char want[64];
	EXPECT(s,
	       { "?", "T05thread:1;" },
	       { "Z0,ffffffff80100400,1", "OK" },
	       { "vCont;c", "T05thread:2;swbreak:;" },
	       { "qC", "QC2" }, /* the stopped thread is current */
	       { "p10", "00041080ffffffff" },
	       { "?", "T05thread:2;swbreak:;" },
	       { "vCont;s:2;c", "T05thread:2;" },
	       { "p10", "01041080ffffffff" },
	       { "vCont;s:1", "T05thread:1;" });
	assert_int_equal(s->fake.regs[0].rip, FAKE_MEM_BASE + 0x1001);
	EXPECT(s,
	       { "s", "T05thread:1;" }, /* legacy s: the current thread */
	       { "Hc2", "OK" },
	       { "sffffffff80100100", "T05thread:2;" }); /* s ADDR */
	assert_true(s->fake.regs[1].rip == FAKE_MEM_BASE + 0x101);
	EXPECT(s,
	       { "S05", "T05thread:2;" },
	       { "z0,ffffffff80100400,1", "OK" },
	       { "Z1,ffffffff80100200,1", "OK" },
	       { "c", "T05thread:2;hwbreak:;" },
	       { "z1,ffffffff80100200,1", "OK" });
	for (int k = 2; k <= 4; k++) {
		static const char *const names[] = { "", "", "watch", "rwatch", "awatch" };
		char z[40];
		snprintf(z, sizeof(z), "Z%d,ffffffff80100800,8", k);
		assert_string_equal(xchg(s, z), "OK");
		snprintf(want, sizeof(want), "T05thread:2;%s:ffffffff80100800;", names[k]);
		assert_string_equal(xchg(s, k == 3 ? "C05" : "vCont;C05"), want);
		z[0] = 'z';
		assert_string_equal(xchg(s, z), "OK");
	}
	assert_int_equal(s->fake.steps, 5);
	/* malformed vCont: an error, the target stays stopped */
	EXPECT(s,
	       { "vCont;x", "E01" },
	       { "vCont;s:9", "E01" },
	       { "vCont;", "E01" },
	       { "vCont;c:zz", "E01" },
	       { "vContx", "" },
	       { "cxyz", "E01" });
	assert_false(s->fake.running);
}

static void test_ctrl_c(void **state)
{
	struct session *s = *state;
	assert_string_equal(xchg(s, "QStartNoAckMode"), "OK");
	s->noack = true;
	send_pkt_n(s, "vCont;c", 7); /* no breakpoint: runs until interrupted */
	usleep(50000);
	assert_true(s->fake.running);
	send_raw(s, "+junk\x03\x03", 7);
	assert_string_equal(recv_pkt(s), "T02thread:1;");
	assert_int_equal(s->fake.interrupts, 1);
	assert_string_equal(xchg(s, "?"), "T02thread:1;");
}

static void test_bad_input(void **state)
{
	struct session *s = *state;
	char *big = malloc(GDBSTUB_PACKET_SIZE + 100);
	memset(big, 'g', GDBSTUB_PACKET_SIZE + 100);
	send_pkt_n(s, big, GDBSTUB_PACKET_SIZE + 100); /* overlong: acked, refused */
	assert_string_equal(recv_pkt(s), "E01");
	memset(big, 'q', GDBSTUB_PACKET_SIZE);
	send_pkt_n(s, big, GDBSTUB_PACKET_SIZE); /* the largest: fine, unknown */
	assert_string_equal(recv_pkt(s), "");
	free(big);
	send_raw(s, "noise\x03--++$half a packet", 24); /* then a packet restarts it */
	assert_string_equal(xchg(s, "qC"), "QC1");
	send_raw(s, "$qC#q!", 6);
	assert_int_equal(recv_byte(s), '-');
	EXPECT(s,
	       { "qC", "QC1" },
	       { "", "" },
	       { "qFoo", "" },
	       { "vMustReplyEmpty", "" },
	       { "!", "" },
	       { "qCx", "" },
	       { "qXfer:threads:read::0,fff", "" });
	send_pkt_n(s, "m\0,1", 4); /* a NUL inside */
	assert_string_equal(recv_pkt(s), "E01");
}

static void test_target_xml(void **state)
{
	struct session *s = *state;
	size_t len, got = 0;
	const char *xml = regs_target_xml(&len);
	char *all = calloc(1, len + 1), cmd[80];
	for (;;) { /* the chunks gdb would read */
		const char *r;
		snprintf(cmd, sizeof(cmd), "qXfer:features:read:target.xml:%zx,100", got);
		r = xchg(s, cmd);
		assert_true(r[0] == 'm' || r[0] == 'l');
		assert_true(strlen(r + 1) <= 0x100 && got + strlen(r + 1) <= len);
		memcpy(all + got, r + 1, strlen(r + 1));
		got += strlen(r + 1);
		if (r[0] == 'l')
			break;
	}
	assert_int_equal(got, len);
	assert_string_equal(all, xml);
	free(all);
	EXPECT(s,
	       { "qXfer:features:read:target.xml:ffffff,10", "l" },
	       { "qXfer:features:read:other.xml:0,10", "E00" },
	       { "qXfer:features:read:target.xml:0", "E01" },
	       { "qXfer:features:read:target.xml:0,ffffffffffffffff", "E01" });
	assert_int_equal(strlen(xchg(s, "qXfer:features:read:target.xml:0,fffff")), len + 1);
}

static void test_session_ends(void **state)
{
	struct session *s;
	(void)state;
	s = session_open(&fake_ops); /* detach: OK, the target runs */
	assert_string_equal(xchg(s, "D"), "OK");
	assert_int_equal(recv_byte(s), -1);
	assert_int_equal(s->fake.resumes, 1);
	assert_true(s->fake.running);
	assert_int_equal(session_close(s), GDBSTUB_END_DETACH);

	s = session_open(&fake_ops); /* kill: no reply, the target as it was */
	send_pkt_n(s, "k", 1);
	assert_int_equal(recv_byte(s), -1);
	assert_int_equal(session_close(s), GDBSTUB_END_KILL);

	s = session_open(&fake_ops);
	assert_string_equal(xchg(s, "vKill;1"), "OK");
	assert_int_equal(session_close(s), GDBSTUB_END_KILL);

	s = session_open(&fake_ops); /* the client leaves while the target runs */
	send_pkt_n(s, "c", 1);
	usleep(20000);
	shutdown(s->fd, SHUT_WR);
	assert_int_equal(recv_byte(s), -1);
	assert_int_equal(s->fake.interrupts, 1);
	assert_false(s->fake.running);
	assert_int_equal(session_close(s), GDBSTUB_END_EOF);

	s = session_open(&fake_ops); /* the target exits */
	s->fake.exit_on_stop = true;
	assert_string_equal(xchg(s, "c"), "W00");
	assert_int_equal(recv_byte(s), -1);
	assert_int_equal(session_close(s), GDBSTUB_END_EXITED);
	assert_string_equal(gdbstub_end_name(GDBSTUB_END_EXITED), "exited");
	assert_string_equal(gdbstub_end_name(-1), "error");
}

static int failing_get_regs(void *o, unsigned cpu, struct x86_regs *r)
{
	(void)o, (void)cpu, (void)r;
	return -1;
}

static void test_limited_targets(void **state)
{
	struct gdbstub_ops ops = fake_ops;
	struct session *s;
	struct err e;
	(void)state;
	ops.resume = NULL;
	ops.set_bp = NULL;
	ops.set_regs = NULL;
	ops.write_mem = NULL;
	ops.thread_name = NULL;
	ops.get_regs = failing_get_regs;
	s = session_open(&ops);
	EXPECT(s,
	       { "c", "E.the target cannot run" },
	       { "Z0,ffffffff80100400,1", "" }, /* gdb writes int3 itself */
	       { "g", "E01" },
	       { "p10", "E01" },
	       { "P10=0000000000000000", "" },
	       { "Mffffffff80100000,1:00", "E01" });
	assert_string_equal(xchg(s, "qThreadExtraInfo,2"), hexstr("vCPU 1", 6));
	assert_string_equal(xchg(s, "D"), "OK");
	assert_int_equal(session_close(s), GDBSTUB_END_DETACH);
	ops.read_mem = NULL;
	assert_int_equal(gdbstub_serve(-1, &ops, NULL, &e), -1);
	assert_non_null(strstr(e.msg, "read_mem"));
}

/* ---- listening sockets */

static int connect_tcp(uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

static void test_listen_and_refuse(void **state)
{
	char dir[] = "/tmp/test_gdbstub.XXXXXX", path[200], buf[128] = "", want[64];
	struct access_sock us, us2;
	struct err e;
	struct stat st;
	uint16_t port = 0;
	int lfd, cfd, sfd, n = 0, r;
	(void)state;
	lfd = gdbstub_listen_tcp(0, &port, &e);
	assert_true(lfd >= 0 && port);
	cfd = connect_tcp(port);
	sfd = gdbstub_accept(lfd, &e);
	assert_true(sfd >= 0);
	assert_int_equal(write(cfd, "+$qSupported#37", 15), 15);
	gdbstub_refuse(sfd, NULL);
	while ((r = (int)read(cfd, buf + n, sizeof(buf) - 1 - (size_t)n)) > 0)
		n += r;
	snprintf(want, sizeof(want), "+$E.a debugger is already attached#%02x",
		 pkt_checksum("E.a debugger is already attached", 32));
	assert_string_equal(buf, want);
	close(cfd);
	assert_int_equal(gdbstub_listen_tcp(port, NULL, &e), -1); /* in use */
	assert_non_null(strstr(e.msg, "127.0.0.1:"));
	close(lfd);

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/file", dir);
	close(open(path, O_CREAT | O_WRONLY, 0600));
	assert_int_equal(gdbstub_listen_unix(&us, path, true, &e), -1); /* never another kind of file */
	assert_non_null(strstr(e.msg, "exists"));
	unlink(path);
	snprintf(path, sizeof(path), "%s/sock", dir);
	lfd = gdbstub_listen_unix(&us, path, false, &e);
	assert_true(lfd >= 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(gdbstub_listen_unix(&us2, path, true, &e), -1); /* a live socket is kept */
	assert_non_null(strstr(e.msg, "is in use"));
	close(lfd); /* a stale socket: refused unless take_stale, then replaced */
	us.fd = -1;
	assert_int_equal(gdbstub_listen_unix(&us2, path, false, &e), -1);
	assert_non_null(strstr(e.msg, "exists"));
	lfd = gdbstub_listen_unix(&us2, path, true, &e);
	assert_true(lfd >= 0);
	access_sock_close(&us); /* not its inode any more: the path stays */
	assert_int_equal(stat(path, &st), 0);
	access_sock_close(&us2);
	assert_int_equal(stat(path, &st), -1);
	rmdir(dir);
	memset(path, 'a', sizeof(path) - 1);
	path[sizeof(path) - 1] = 0;
	assert_int_equal(gdbstub_listen_unix(&us, path, false, &e), -1);
	assert_non_null(strstr(e.msg, "too long"));
}

/* ---- a locked session (TCP): nothing reaches the target before the token and the attach */

static int attaches;

static int count_attach(void *o, struct err *e)
{
	(void)o;
	(void)e;
	attaches++;
	return 0;
}

static void test_locked_session(void **state)
{
	static const char token[] = "0123456789abcdef0123456789abcdef";
	struct gdbstub_ops ops = fake_ops;
	struct session *s;
	char req[160];
	(void)state;
	ops.attach = count_attach;
	attaches = 0;
	s = session_open_as(&ops, token);
	assert_non_null(strstr(xchg(s, "qSupported:swbreak+"), "PacketSize="));
	EXPECT(s, { "m1000,4", "E.not authenticated: monitor auth TOKEN, then attach 1" },
	       { "M1000,1:00", "E.not authenticated: monitor auth TOKEN, then attach 1" },
	       { "g", "E.not authenticated: monitor auth TOKEN, then attach 1" },
	       { "c", "E.not authenticated: monitor auth TOKEN, then attach 1" },
	       { "?", "W00" }, { "qfThreadInfo", "" }, { "Hg0", "" },
	       { "vAttach;1", "E.not authenticated: monitor auth TOKEN, then attach 1" });
	snprintf(req, sizeof(req), "qRcmd,%s", hexstr("auth 0123456789abcdef0123456789abcdef", 37));
	assert_int_equal(xchg(s, req)[0], 'O'); /* "authenticated: now attach 1" */
	assert_string_equal(recv_pkt(s), "OK");
	assert_int_equal(attaches, 0);
	EXPECT(s, { "m1000,4", "E.not authenticated: monitor auth TOKEN, then attach 1" });
	assert_non_null(strstr(xchg(s, "vAttach;1"), "T05thread:1;"));
	assert_int_equal(attaches, 1);
	assert_null(strstr(xchg(s, "m1000,4"), "not authenticated"));
	assert_int_equal(session_close(s), GDBSTUB_END_EOF);

	s = session_open_as(&ops, token); /* a wrong token ends the session */
	snprintf(req, sizeof(req), "qRcmd,%s", hexstr("auth 0123456789abcdef0123456789abcdee", 37));
	assert_int_equal(xchg(s, req)[0], 'O');
	assert_string_equal(recv_pkt(s), "E.wrong token");
	assert_int_equal(recv_byte(s), -1);
	assert_int_equal(session_close(s), GDBSTUB_END_EOF);
	assert_int_equal(attaches, 1);
	ops.attach = NULL; /* a locked session needs attach */
	assert_int_equal(gdbstub_serve_locked(-1, &ops, NULL, token, &(struct err){ "" }), -1);
}

/* ---- the client half (gdbclient.c) against the stub: framing in ack and no-ack mode,
 * 'g' decoded through x86/'s table, 'P', chunked 'm', error replies, ^C while it runs */

static void expect_regs(const struct x86_regs *got, const struct x86_regs *want)
{
	for (size_t i = 0; i < x86_reg_count; i++)
		if (x86_reg_get(got, &x86_reg_table[i]) != x86_reg_get(want, &x86_reg_table[i]))
			fail_msg("%s: got %llx, want %llx", x86_reg_table[i].name,
				 (unsigned long long)x86_reg_get(got, &x86_reg_table[i]),
				 (unsigned long long)x86_reg_get(want, &x86_reg_table[i]));
}

static void test_client_round_trip(void **state)
{
	struct session *s = session_open(&fake_ops);
	struct gdbclient *c = gdbclient_open(s->fd);
	static uint8_t mem[3 * 4096 + 100];
	struct x86_regs r;
	struct err e;
	const char *p;
	int pfd[2];
	(void)state;
	s->fd = -1; /* the client's now */
	/* ack mode first */
	assert_int_equal(gdbclient_read_regs(c, &r, &e), 0);
	expect_regs(&r, &s->fake.regs[0]);
	assert_int_equal(gdbclient_noack(c, &e), 1);
	assert_non_null(gdbclient_request(c, "Hg2", &e));
	assert_int_equal(gdbclient_read_regs(c, &r, &e), 0);
	expect_regs(&r, &s->fake.regs[1]);
	assert_int_equal(r.rip, FAKE_MEM_BASE + 0x2000);
	assert_int_equal(r.ds, 0x21);
	/* P with each register's own width: rip 8 bytes, eflags 4, a selector 4 */
	assert_int_equal(gdbclient_write_reg(c, x86_reg_by_name("rip"), 0xffffffff80101234ull, &e), 0);
	assert_int_equal(gdbclient_write_reg(c, x86_reg_by_name("rflags"), 0x202, &e), 0);
	assert_int_equal(gdbclient_write_reg(c, x86_reg_by_name("ss"), 0x2b, &e), 0);
	assert_int_equal(gdbclient_read_regs(c, &r, &e), 0);
	assert_int_equal(r.rip, 0xffffffff80101234ull);
	assert_int_equal(r.rflags, 0x202);
	assert_int_equal(r.ss, 0x2b);
	assert_int_equal(s->fake.regs[1].rip, 0xffffffff80101234ull);
	/* memory in several 'm' chunks, short at the end of the fake's memory */
	assert_int_equal(gdbclient_read_mem(c, FAKE_MEM_BASE + 16, mem, sizeof(mem)), sizeof(mem));
	for (size_t i = 0; i < sizeof(mem); i++)
		assert_int_equal(mem[i], fake_mem_byte(16 + i));
	assert_int_equal(gdbclient_read_mem(c, FAKE_MEM_BASE + FAKE_MEM_SIZE - 8, mem, 64), 8);
	/* an error reply is an error */
	assert_null(gdbclient_request(c, "p999", &e));
	assert_string_equal(e.msg, "the request failed");
	/* a continue that only ^C ends: the byte on intr_fd becomes 0x03 */
	assert_int_equal(pipe(pfd), 0);
	assert_int_equal(gdbclient_send(c, "vCont;c", &e), 0);
	assert_int_equal(write(pfd[1], "x", 1), 1);
	assert_non_null(p = gdbclient_recv(c, pfd[0], &e));
	assert_true(!strncmp(p, "T02", 3));
	assert_int_equal(s->fake.interrupts, 1);
	close(pfd[0]);
	close(pfd[1]);
	/* detach */
	assert_int_equal(gdbclient_send(c, "D", &e), 0);
	assert_non_null(p = gdbclient_recv(c, -1, &e));
	assert_string_equal(p, "OK");
	gdbclient_close(c);
	assert_int_equal(session_close(s), GDBSTUB_END_DETACH);
}

#define SESSION_TEST(f) cmocka_unit_test_setup_teardown(f, session_setup, session_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hex_and_checksum),     cmocka_unit_test(test_hex_numbers_and_threads),
		cmocka_unit_test(test_binary_escapes),       cmocka_unit_test(test_register_layout),
		SESSION_TEST(test_acks_and_retransmits),     SESSION_TEST(test_no_ack_mode),
		SESSION_TEST(test_registers),                SESSION_TEST(test_memory),
		SESSION_TEST(test_breakpoints),              SESSION_TEST(test_threads),
		SESSION_TEST(test_stops),                    SESSION_TEST(test_ctrl_c),
		SESSION_TEST(test_bad_input),                SESSION_TEST(test_target_xml),
		cmocka_unit_test(test_session_ends),         cmocka_unit_test(test_limited_targets),
		cmocka_unit_test(test_listen_and_refuse),    cmocka_unit_test(test_client_round_trip),
		cmocka_unit_test(test_locked_session),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
