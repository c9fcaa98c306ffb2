/* console: the terminal hv runs on: raw mode (restored on every exit path), guest bytes
 * out, hypervisor lines with the "(hv) " prefix, kept in a ring as well, and input routing:
 * the three-Ctrl-A switch between dom0, hv (its keys or the debugger prompt) and domUs. */
#include "internal.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

static struct termios saved_tio;
static int saved_fd = -1;

static void restore_tty(void)
{
	if (saved_fd >= 0)
		tcsetattr(saved_fd, TCSAFLUSH, &saved_tio);
}

static void fatal_signal(int sig)
{
	restore_tty(); /* tcsetattr is async-signal-safe */
	signal(sig, SIG_DFL);
	raise(sig);
}

void console_init(struct console *c, int in_fd, int out_fd)
{
	memset(c, 0, sizeof(*c));
	c->in_fd = in_fd;
	c->out_fd = out_fd;
	c->is_tty = isatty(in_fd);
	c->at_line_start = true;
	c->ring_size = CONSOLE_RING_MIN;
	c->ring = xcalloc(1, c->ring_size);
	pthread_mutex_init(&c->lock, NULL);
	conout_start(c);
}

void console_ring_resize(struct console *c, size_t size)
{
	char *n;
	size_t keep;
	if (size <= c->ring_size || size > (256u << 20))
		return;
	n = xcalloc(1, size);
	pthread_mutex_lock(&c->lock);
	keep = c->ring_head < c->ring_size ? c->ring_head : c->ring_size;
	for (size_t i = 0; i < keep; i++) /* re-lay the last bytes at their new positions */
		n[(c->ring_head - keep + i) % size] = c->ring[(c->ring_head - keep + i) % c->ring_size];
	free(c->ring);
	c->ring = n;
	c->ring_size = size;
	pthread_mutex_unlock(&c->lock);
}

int console_raw_enter(struct console *c, struct err *e)
{
	struct termios t;
	if (!c->is_tty)
		return 0;
	if (tcgetattr(c->in_fd, &saved_tio) < 0)
		return err_errno(e, "tcgetattr");
	t = saved_tio;
	cfmakeraw(&t);
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	saved_fd = c->in_fd;
	atexit(restore_tty);
	signal(SIGSEGV, fatal_signal);
	signal(SIGBUS, fatal_signal);
	signal(SIGABRT, fatal_signal);
	signal(SIGFPE, fatal_signal);
	if (tcsetattr(c->in_fd, TCSAFLUSH, &t) < 0)
		return err_errno(e, "tcsetattr");
	c->raw = true;
	return 0;
}

void console_raw_leave(struct console *c)
{
	if (c->raw)
		restore_tty();
	c->raw = false;
}

void console_guest_out(struct console *c, const uint8_t *buf, size_t n)
{
	if (!n)
		return;
	pthread_mutex_lock(&c->lock);
	conout_put(c, buf, n);
	c->at_line_start = buf[n - 1] == '\n';
	pthread_mutex_unlock(&c->lock);
}

static void ring_put(struct console *c, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		c->ring[(c->ring_head + i) % c->ring_size] = s[i];
	c->ring_head += n;
}

void console_hv_line(struct console *c, const char *line)
{
	char buf[1400];
	int n = snprintf(buf, sizeof(buf), "(hv) %s", line);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(buf))
		n = sizeof(buf) - 1;
	pthread_mutex_lock(&c->lock);
	ring_put(c, buf, (size_t)n);
	ring_put(c, "\n", 1);
	if (!c->at_line_start)
		conout_put(c, c->raw ? "\r\n" : "\n", c->raw ? 2 : 1);
	conout_put(c, buf, (size_t)n);
	conout_put(c, c->raw ? "\r\n" : "\n", c->raw ? 2 : 1);
	c->at_line_start = true;
	pthread_mutex_unlock(&c->lock);
}

void hv_console_write(struct hv *hv, const char *text)
{
	struct console *c = &hv->con;
	pthread_mutex_lock(&c->lock);
	for (const char *p = text; *p;) {
		size_t n = strcspn(p, "\n");
		conout_put(c, p, n);
		p += n;
		if (*p == '\n') {
			conout_put(c, c->raw ? "\r\n" : "\n", c->raw ? 2 : 1);
			p++;
		}
	}
	c->at_line_start = !*text || text[strlen(text) - 1] == '\n';
	pthread_mutex_unlock(&c->lock);
}

bool hv_key_from_console(struct hv *hv)
{
	return hv->key_from_console;
}

void hv_set_prompt_input(struct hv *hv, void (*fn)(struct hv *hv, const uint8_t *buf, size_t n))
{
	hv->prompt_input = fn;
	if (fn)
		hv->input_to = -1;
}

/* ---- input routing */

#define SWITCH_CODE 0x01 /* Ctrl-A */

static const char *input_name(struct hv *hv, int target)
{
	struct domain *d = target < 0 ? NULL : hv_domain_by_id(hv, target);
	return d ? d->name : "hv";
}

/* The rotation: dom0 -> hv -> each other domain in id order -> dom0. */
static int input_next(struct hv *hv, int cur)
{
	int best = -1;
	if (cur == 0)
		return -1;
	for (int i = 0; i < HV_MAX_DOMAINS; i++) {
		struct domain *d = hv->domains[i];
		if (d && d->id > (cur < 0 ? 0 : cur) && (best < 0 || d->id < best))
			best = d->id;
	}
	if (best >= 0)
		return best;
	return hv_domain_by_id(hv, 0) ? 0 : -1;
}

static void input_set(struct hv *hv, int to)
{
	hv->input_to = to;
	hv_log(hv, "*** Serial input -> %s (type 'CTRL-a' three times to switch input to %s)",
	       input_name(hv, hv->input_to), input_name(hv, input_next(hv, hv->input_to)));
}

static void input_switch(struct hv *hv)
{
	input_set(hv, input_next(hv, hv->input_to));
}

const char *hv_console_input_to(struct hv *hv, int domid)
{
	input_set(hv, hv_domain_by_id(hv, domid) ? domid : -1);
	return input_name(hv, hv->input_to);
}

static void input_deliver(struct hv *hv, const uint8_t *buf, size_t n)
{
	struct domain *d;
	if (!n)
		return;
	if (hv->input_to < 0) {
		for (size_t i = 0; i < n; i++) {
			if (hv->prompt_input) {
				hv->prompt_input(hv, buf + i, n - i);
				break;
			}
			hv->key_from_console = true;
			keys_handle(hv, buf[i]);
			hv->key_from_console = false;
		}
		return;
	}
	d = hv_domain_by_id(hv, hv->input_to);
	if (d && (d->state == DOMAIN_RUNNING || d->state == DOMAIN_BLOCKED))
		uart_receive(&d->uart, buf, n);
}

/* Like Xen's serial_rx: three Ctrl-A in a row switch; a broken sequence hands the
 * swallowed Ctrl-A bytes on unchanged. */
void console_input(struct hv *hv, const uint8_t *buf, size_t n)
{
	static const uint8_t ctrl_a[2] = { SWITCH_CODE, SWITCH_CODE };
	size_t run = 0;
	if (hv->input_to >= 0 && !hv_domain_by_id(hv, hv->input_to))
		hv->input_to = -1;
	for (size_t i = 0; i < n; i++) {
		if (buf[i] == SWITCH_CODE) {
			input_deliver(hv, buf + i - run, run);
			run = 0;
			if (++hv->con.ctrl_a == 3) {
				hv->con.ctrl_a = 0;
				input_switch(hv);
			}
			continue;
		}
		if (hv->con.ctrl_a) {
			input_deliver(hv, ctrl_a, hv->con.ctrl_a);
			hv->con.ctrl_a = 0;
		}
		run++;
	}
	input_deliver(hv, buf + n - run, run);
}
