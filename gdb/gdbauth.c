/* gdbauth: a session that starts locked (a stub on TCP, which anyone on the host can
 * reach): the target is not touched until gdb gives the one-time token (`monitor auth
 * TOKEN`, a qRcmd) and then attaches (`attach 1`, vAttach), which stock gdb does over
 * `target extended-remote HOST:PORT`. Until then '?' says "no process" and every request
 * that would reach the target is refused. */
#include "internal.h"

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

#define AUTH_SECONDS 60 /* a client that has not given the token by then is dropped */

static const char howto[] = "monitor auth TOKEN, then attach 1";

static void console_line(struct gdbstub *s, const char *text)
{
	reply_reset(s);
	reply_str(s, "O");
	reply_hex(s, text, strlen(text));
	pkt_send(s);
	reply_reset(s);
}

static void set_timeout(struct gdbstub *s, int seconds)
{
	struct timeval tv = { .tv_sec = seconds };
	setsockopt(s->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)); /* not a socket: no limit */
}

/* qRcmd,HEX: `monitor auth TOKEN`. A wrong token ends the connection. */
static void monitor(struct gdbstub *s, int *end)
{
	char text[160] = "";
	const char *hex = s->pkt + 6;
	size_t n = s->pktlen - 6;
	if (n % 2 || n / 2 >= sizeof(text) || gdb_hex_decode(hex, n, (uint8_t *)text) < 0 || strlen(text) != n / 2) {
		reply_str(s, "E.bad monitor command");
		return;
	}
	text[n / 2] = 0;
	while (n / 2 && text[n / 2 - 1] == ' ') /* a pasted token's trailing blanks */
		text[(n -= 2) / 2] = 0;
	if (strncmp(text, "auth ", 5)) {
		console_line(s, "not authenticated: monitor auth TOKEN (the token hvctl gdbserver --port printed)\n");
		reply_str(s, "E.not authenticated");
		return;
	}
	if (s->lock == GDBSTUB_LOCK_ATTACH) {
		console_line(s, "already authenticated: attach 1\n");
		reply_str(s, "OK");
		return;
	}
	if (!access_token_equal(text + 5, s->token)) {
		console_line(s, "wrong token: the connection is closed\n");
		reply_str(s, "E.wrong token");
		*end = GDBSTUB_END_EOF;
		return;
	}
	s->lock = GDBSTUB_LOCK_ATTACH;
	set_timeout(s, 0);
	console_line(s, "authenticated: now attach 1\n");
	reply_str(s, "OK");
}

/* vAttach;PID once the token was given: the target is attached (stopped) and the normal
 * dispatch answers with the stop. */
static bool attach(struct gdbstub *s)
{
	struct err e = { "" };
	if (s->lock != GDBSTUB_LOCK_ATTACH) {
		reply_fmt(s, "E.not authenticated: %s", howto);
		return true;
	}
	if (s->ops->attach(s->o, &e) < 0) {
		reply_str(s, "E.");
		for (const char *c = e.msg; *c && reply_room(s) > 1; c++) /* keep the frame clean */
			reply_mem(s, strchr("$#*}", *c) || (unsigned char)*c < 0x20 ? "?" : c, 1);
		return true;
	}
	s->lock = GDBSTUB_LOCK_NONE;
	return false;
}

bool auth_request(struct gdbstub *s, int *end)
{
	char c = s->pktlen ? s->pkt[0] : 0;
	reply_reset(s);
	/* what gdb asks on connecting, answered without the target: the features, no-ack
	 * mode, the register layout (the same for every target) */
	if (!strncmp(s->pkt, "qSupported", 10) || !strcmp(s->pkt, "QStartNoAckMode") ||
	    !strncmp(s->pkt, "qXfer:features:read:", 20))
		return false;
	if (!strncmp(s->pkt, "qRcmd,", 6)) {
		monitor(s, end);
	} else if (!strncmp(s->pkt, "vAttach;", 8)) {
		return attach(s);
	} else if (c == '?') {
		reply_str(s, "W00"); /* no process yet: extended-remote gdb stays connected */
	} else if (c == 'D' || c == 'k' || !strncmp(s->pkt, "vKill", 5)) {
		reply_str(s, "OK");
		pkt_send(s);
		s->replied = true;
		*end = GDBSTUB_END_EOF; /* nothing was attached: nothing to resume or kill */
	} else if (c != 'q' && c != 'Q' && c != 'v' && c != 'H' && c != '!') {
		reply_fmt(s, "E.not authenticated: %s", howto);
	} /* other queries: the empty reply, "not supported" */
	return true;
}

void auth_begin(struct gdbstub *s, const char *token)
{
	snprintf(s->token, sizeof(s->token), "%s", token);
	s->lock = GDBSTUB_LOCK_TOKEN;
	set_timeout(s, AUTH_SECONDS);
}
