/* xlcfg: xl.cfg files: `key = value` settings ended by a newline or ';', '#' comments,
 * "strings" or 'strings', integers and [ lists ] (which may span lines). Strict: every
 * error names the file and line; settings hvkit does not use are accepted only if xl knows them. */
#include "xlcfg.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_LINE 4096
#define MAX_FILE (1 << 20)
#define MAX_DEPTH 8 /* nested lists */

/* The last two, back to the domain's latest checkpoint (issue 13), are for on_crash only. */
static const char *const actions[] = { "destroy", "restart", "preserve", "rename-restart", "coredump-destroy",
				       "coredump-restart", "rollback", "coredump-rollback" };
#define NR_ACTIONS_NOT_CRASH 6

/* What a key wants. Aliases share a slot, so setting both is a duplicate. */
enum kind { K_STR, K_INT, K_ACTION, K_IGNORE };
struct key {
	const char *name;
	enum kind kind;
	int slot; /* duplicate detection */
	long long lo, hi;
};

enum {
	S_NAME,
	S_KERNEL,
	S_INITRD,
	S_CMDLINE,
	S_EXTRA,
	S_ROOT,
	S_MEMORY,
	S_MAXMEM,
	S_VCPUS,
	S_MAXVCPUS,
	S_WEIGHT,
	S_CAP,
	S_POWEROFF,
	S_REBOOT,
	S_CRASH,
	S_MEMIMAGE,
	S_FIRST_IGNORED,
};

static const struct key keys[] = {
	{ "name", K_STR, S_NAME, 0, 0 },
	{ "kernel", K_STR, S_KERNEL, 0, 0 },
	{ "initrd", K_STR, S_INITRD, 0, 0 },
	{ "ramdisk", K_STR, S_INITRD, 0, 0 },
	{ "cmdline", K_STR, S_CMDLINE, 0, 0 },
	{ "extra", K_STR, S_EXTRA, 0, 0 },
	{ "root", K_STR, S_ROOT, 0, 0 },
	{ "memory", K_INT, S_MEMORY, 8, 1048576 },
	{ "maxmem", K_INT, S_MAXMEM, 8, 1048576 },
	{ "vcpus", K_INT, S_VCPUS, 1, 255 },
	{ "maxvcpus", K_INT, S_MAXVCPUS, 1, 255 },
	{ "weight", K_INT, S_WEIGHT, 1, 65535 },
	{ "cpu_weight", K_INT, S_WEIGHT, 1, 65535 },
	{ "cap", K_INT, S_CAP, 0, 25500 },
	{ "on_poweroff", K_ACTION, S_POWEROFF, 0, 0 },
	{ "on_reboot", K_ACTION, S_REBOOT, 0, 0 },
	{ "on_crash", K_ACTION, S_CRASH, 0, 0 },
	{ "mem_image", K_STR, S_MEMIMAGE, 0, 0 }, /* hvkit's own, for benchmarks: hv --mem-image for a domU */
};

/* xl.cfg(5) settings hvkit accepts and ignores (any value, lists included). */
static const char *const ignored[] = {
	"acpi", "altp2m", "apic", "bios", "boot", "bootloader", "bootloader_args", "builder", "channel", "cpus",
	"cpus_soft", "cpuid", "device_model_args", "device_model_override", "device_model_version", "disk",
	"dtdev", "e820_host", "gfx_passthru", "hap", "hpet", "iomem", "ioports", "irqs", "keymap", "localtime",
	"max_event_channels", "max_grant_frames", "max_maptrack_frames", "nestedhvm", "nomigrate", "on_soft_reset",
	"on_watchdog", "p9", "pae", "pci", "pool", "pvh", "rdm", "rtc_timeoffset", "sdl", "seclabel", "serial",
	"shadow_memory", "soundhw", "stdvga", "timer_mode", "tsc_mode", "type", "usb", "usbctrl", "usbdev",
	"usbdevice", "uuid", "vfb", "vga", "videoram", "vif", "viridian", "vkb", "vnc", "vncdisplay", "vnclisten",
	"vncpasswd", "vncunused", "vpmu", "vtpm",
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))
#define NIGNORED (sizeof(ignored) / sizeof(ignored[0]))
#define NSLOTS (S_FIRST_IGNORED + NIGNORED)

struct parser {
	const char *p, *end, *file;
	int line;
	struct err *e;
	char str[MAX_LINE]; /* the last string value */
	long long num;      /* the last number */
};

struct value {
	enum { V_STR, V_INT, V_LIST, V_WORD } kind; /* V_WORD: a bare word, which xl does not allow */
	int line;
};

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

static bool is_ident(char c, bool first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (!first && c >= '0' && c <= '9');
}

/* Skips blanks and a comment, not the newline. */
static void skip_blanks(struct parser *ps)
{
	while (ps->p < ps->end && is_blank(*ps->p))
		ps->p++;
	if (ps->p < ps->end && *ps->p == '#')
		while (ps->p < ps->end && *ps->p != '\n')
			ps->p++;
}

/* Skips blanks, comments and newlines (inside a list). */
static void skip_space(struct parser *ps)
{
	for (;;) {
		skip_blanks(ps);
		if (ps->p < ps->end && *ps->p == '\n') {
			ps->p++;
			ps->line++;
			continue;
		}
		return;
	}
}

static int parse_string(struct parser *ps, const char *key)
{
	char q = *ps->p++;
	size_t n = 0;
	while (ps->p < ps->end && *ps->p != q && *ps->p != '\n') {
		unsigned char c = (unsigned char)*ps->p++;
		if (c == '\\') {
			if (ps->p >= ps->end || *ps->p == '\n')
				break;
			c = (unsigned char)*ps->p++;
			if (c != '\\' && c != '"' && c != '\'')
				return err_set(ps->e, "%s:%d: %s: unknown escape '\\%c' in a string (only \\\\, \\\" and \\')",
					       ps->file, ps->line, key, c >= 0x20 && c < 0x7f ? c : '?');
		} else if ((c < 0x20 && c != '\t') || c == 0x7f) {
			return err_set(ps->e, "%s:%d: %s: control character 0x%02x in a string", ps->file, ps->line, key,
				       c);
		}
		if (n + 1 >= sizeof(ps->str))
			return err_set(ps->e, "%s:%d: %s: string too long", ps->file, ps->line, key);
		ps->str[n++] = (char)c;
	}
	if (ps->p >= ps->end || *ps->p != q)
		return err_set(ps->e, "%s:%d: %s: unterminated string", ps->file, ps->line, key);
	ps->p++;
	ps->str[n] = 0;
	return 0;
}

static int parse_number(struct parser *ps, const char *key)
{
	char tok[32];
	size_t n = 0;
	char *endp;
	const char *start = ps->p;
	/* a number token: what xl's lexer takes for one, so "1.5" or "12abc" fail as a whole */
	while (ps->p < ps->end && (is_ident(*ps->p, false) || *ps->p == '.' || *ps->p == '+' || *ps->p == '-'))
		ps->p++;
	n = (size_t)(ps->p - start);
	if (n == 0 || n >= sizeof(tok))
		return err_set(ps->e, "%s:%d: %s: not a number", ps->file, ps->line, key);
	memcpy(tok, start, n);
	tok[n] = 0;
	errno = 0;
	ps->num = strtoll(tok, &endp, 0); /* like xl: 0x.. hex, 0.. octal */
	if (*endp || errno || !(tok[0] == '-' || (tok[0] >= '0' && tok[0] <= '9')))
		return err_set(ps->e, "%s:%d: %s: not a number", ps->file, ps->line, key);
	return 0;
}

static int parse_value(struct parser *ps, const char *key, struct value *v, int depth)
{
	v->line = ps->line;
	if (ps->p >= ps->end || *ps->p == '\n' || *ps->p == ';' || *ps->p == '#')
		return err_set(ps->e, "%s:%d: %s: missing value", ps->file, ps->line, key);
	if (*ps->p == '"' || *ps->p == '\'') {
		v->kind = V_STR;
		return parse_string(ps, key);
	}
	if (*ps->p == '[') {
		int start = ps->line;
		bool need_comma = false;
		struct value elem;
		if (depth >= MAX_DEPTH)
			return err_set(ps->e, "%s:%d: %s: lists nested too deeply", ps->file, ps->line, key);
		ps->p++;
		v->kind = V_LIST;
		for (;;) {
			skip_space(ps);
			if (ps->p >= ps->end)
				return err_set(ps->e, "%s:%d: %s: unterminated list", ps->file, start, key);
			if (*ps->p == ']') {
				ps->p++;
				return 0;
			}
			if (need_comma) {
				if (*ps->p != ',')
					return err_set(ps->e, "%s:%d: %s: expected ',' or ']' in the list", ps->file,
						       ps->line, key);
				ps->p++;
				need_comma = false;
				continue;
			}
			if (*ps->p == ',')
				return err_set(ps->e, "%s:%d: %s: empty list element", ps->file, ps->line, key);
			if (parse_value(ps, key, &elem, depth + 1) < 0)
				return -1;
			need_comma = true;
		}
	}
	if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9')) {
		v->kind = V_INT;
		return parse_number(ps, key);
	}
	if (is_ident(*ps->p, true) && depth == 0) {
		/* a bare word: xl has none; apply() says what the key wanted */
		while (ps->p < ps->end && is_ident(*ps->p, false))
			ps->p++;
		v->kind = V_WORD;
		return 0;
	}
	if (is_ident(*ps->p, true))
		return err_set(ps->e, "%s:%d: %s: list elements are numbers or quoted strings", ps->file, ps->line,
			       key);
	return err_set(ps->e, "%s:%d: %s: unexpected '%c' (a value is a number, \"string\" or [ list ])", ps->file,
		       ps->line, key, *ps->p >= 0x20 && *ps->p < 0x7f ? *ps->p : '?');
}

static int set_str(struct parser *ps, const struct value *v, char *dst, size_t cap, const char *key)
{
	size_t n;
	if (v->kind != V_STR)
		return err_set(ps->e, "%s:%d: %s: expected a quoted string", ps->file, v->line, key);
	n = strlen(ps->str);
	if (n >= cap)
		return err_set(ps->e, "%s:%d: %s: too long (at most %zu characters)", ps->file, v->line, key, cap - 1);
	memcpy(dst, ps->str, n + 1);
	return 0;
}

static int check_name(struct parser *ps, int line, const char *name)
{
	if (!name[0] || strlen(name) > 63)
		return err_set(ps->e, "%s:%d: name: must be 1 to 63 characters", ps->file, line);
	for (const char *s = name; *s; s++)
		if (!is_ident(*s, false) && *s != '.' && *s != '-')
			return err_set(ps->e, "%s:%d: name: only letters, digits, '_', '.' and '-' are allowed",
				       ps->file, line);
	if (!strcmp(name, "Domain-0"))
		return err_set(ps->e, "%s:%d: name: 'Domain-0' cannot be used (it is dom0's)", ps->file, line);
	if (strspn(name, "0123456789") == strlen(name))
		return err_set(ps->e, "%s:%d: name: '%s' is all digits, which commands would take for a domain id",
			       ps->file, line, name);
	return 0;
}

static int apply(struct parser *ps, const struct key *k, const struct value *v, struct xlcfg *c, char *extra,
		 char *root)
{
	switch (k->slot) {
	case S_NAME:
		return set_str(ps, v, c->name, sizeof(c->name), k->name) < 0 ? -1 : check_name(ps, v->line, c->name);
	case S_KERNEL:
		return set_str(ps, v, c->kernel, sizeof(c->kernel), k->name);
	case S_INITRD:
		return set_str(ps, v, c->initrd, sizeof(c->initrd), k->name);
	case S_MEMIMAGE:
		return set_str(ps, v, c->mem_image, sizeof(c->mem_image), k->name);
	case S_CMDLINE:
		return set_str(ps, v, c->cmdline, sizeof(c->cmdline), k->name);
	case S_EXTRA:
		return set_str(ps, v, extra, sizeof(c->cmdline), k->name);
	case S_ROOT:
		return set_str(ps, v, root, sizeof(c->kernel), k->name);
	case S_POWEROFF:
	case S_REBOOT:
	case S_CRASH: {
		char *dst = k->slot == S_POWEROFF ? c->on_poweroff : k->slot == S_REBOOT ? c->on_reboot : c->on_crash;
		if (v->kind != V_STR)
			return err_set(ps->e, "%s:%d: %s: expected a quoted string", ps->file, v->line, k->name);
		bool crash = dst == c->on_crash;
		size_t n = crash ? sizeof(actions) / sizeof(actions[0]) : NR_ACTIONS_NOT_CRASH;
		for (size_t i = 0; i < n; i++) {
			if (!strcmp(ps->str, actions[i])) {
				snprintf(dst, sizeof(c->on_crash), "%s", actions[i]);
				return 0;
			}
		}
		return err_set(ps->e,
			       "%s:%d: %s: unknown action '%.64s' (destroy, restart, preserve, rename-restart, "
			       "coredump-destroy, coredump-restart%s)",
			       ps->file, v->line, k->name, ps->str, crash ? ", rollback, coredump-rollback" : "");
	}
	default:
		break;
	}
	/* integers */
	if (v->kind != V_INT)
		return err_set(ps->e, "%s:%d: %s: not a number", ps->file, v->line, k->name);
	if (ps->num < k->lo || ps->num > k->hi)
		return err_set(ps->e, "%s:%d: %s: %lld is out of range (%lld to %lld)", ps->file, v->line, k->name,
			       ps->num, k->lo, k->hi);
	switch (k->slot) {
	case S_MEMORY:
		c->memory_mib = (uint64_t)ps->num;
		break;
	case S_VCPUS:
		c->vcpus = (unsigned)ps->num;
		break;
	case S_WEIGHT:
		c->weight = (unsigned)ps->num;
		break;
	case S_CAP:
		c->cap = (unsigned)ps->num;
		break;
	default: /* maxmem, maxvcpus: checked, not used */
		break;
	}
	return 0;
}

/* Every physical line: at most MAX_LINE bytes, no NUL. */
static int check_lines(const char *text, size_t len, const char *file, struct err *e)
{
	const char *p = text, *end = text + len;
	int line = 1;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *stop = eol ? eol : end;
		const char *nul = memchr(p, 0, (size_t)(stop - p));
		if (nul)
			return err_set(e, "%s:%d: contains a NUL byte: not a config file", file, line);
		if (stop - p > MAX_LINE)
			return err_set(e, "%s:%d: line too long (more than %d bytes)", file, line, MAX_LINE);
		if (!eol)
			break;
		p = eol + 1;
		line++;
	}
	return 0;
}

int xlcfg_parse(const char *text, size_t len, const char *filename, struct xlcfg *c, struct err *e)
{
	struct parser *ps;
	int seen[NSLOTS] = { 0 }; /* line of the first setting, 0 = not set */
	char *extra, *root;
	int r = -1;
	const char *file = filename ? filename : "(config)";

	if (!c)
		return err_set(e, "%s: no place for the config", file);
	memset(c, 0, sizeof(*c));
	c->memory_mib = 128;
	c->vcpus = 1;
	c->weight = 256;
	strcpy(c->on_poweroff, "destroy");
	strcpy(c->on_reboot, "restart");
	strcpy(c->on_crash, "destroy");
	if (!text && len)
		return err_set(e, "%s: no text", file);
	if (len > MAX_FILE)
		return err_set(e, "%s: too large for a config file (more than %d bytes)", file, MAX_FILE);
	if (check_lines(text, len, file, e) < 0)
		return -1;

	ps = xcalloc(1, sizeof(*ps));
	extra = xcalloc(2, sizeof(c->cmdline));
	root = extra + sizeof(c->cmdline);
	ps->p = text;
	ps->end = text + len;
	ps->file = file;
	ps->line = 1;
	ps->e = e;
	for (;;) {
		char key[64];
		size_t kl = 0;
		int key_line, slot = -1;
		const struct key *k = NULL;
		struct value v;

		skip_blanks(ps);
		if (ps->p >= ps->end)
			break;
		if (*ps->p == '\n' || *ps->p == ';') {
			if (*ps->p == '\n')
				ps->line++;
			ps->p++;
			continue;
		}
		key_line = ps->line;
		if (!is_ident(*ps->p, true)) {
			err_set(e, "%s:%d: expected `key = value`", file, ps->line);
			goto out;
		}
		while (ps->p < ps->end && is_ident(*ps->p, false)) {
			if (kl + 1 >= sizeof(key)) {
				err_set(e, "%s:%d: setting name too long", file, ps->line);
				goto out;
			}
			key[kl++] = *ps->p++;
		}
		key[kl] = 0;
		while (ps->p < ps->end && is_blank(*ps->p))
			ps->p++;
		if (ps->p >= ps->end || *ps->p != '=') {
			err_set(e, "%s:%d: expected `key = value`", file, ps->line);
			goto out;
		}
		ps->p++;
		while (ps->p < ps->end && is_blank(*ps->p))
			ps->p++;
		if (parse_value(ps, key, &v, 0) < 0)
			goto out;
		/* after the value: blanks, a comment, then the end of the line or ';' */
		skip_blanks(ps);
		if (ps->p < ps->end && *ps->p != '\n' && *ps->p != ';') {
			err_set(e, "%s:%d: %s: unexpected text after the value", file, ps->line, key);
			goto out;
		}

		for (size_t i = 0; i < NKEYS; i++)
			if (!strcmp(key, keys[i].name)) {
				k = &keys[i];
				slot = k->slot;
			}
		for (size_t i = 0; !k && i < NIGNORED; i++)
			if (!strcmp(key, ignored[i]))
				slot = S_FIRST_IGNORED + (int)i;
		if (slot < 0) {
			err_set(e, "%s:%d: unknown setting '%s'", file, key_line, key);
			goto out;
		}
		if (!k && v.kind == V_WORD) {
			err_set(e, "%s:%d: %s: not a number or a quoted string", file, v.line, key);
			goto out;
		}
		if (seen[slot]) {
			err_set(e, "%s:%d: %s is set twice (first on line %d)", file, key_line, key, seen[slot]);
			goto out;
		}
		seen[slot] = key_line;
		if (k && apply(ps, k, &v, c, extra, root) < 0)
			goto out;
	}
	if (!seen[S_NAME]) {
		err_set(e, "%s: no name = \"...\" setting", file);
		goto out;
	}
	if (seen[S_CMDLINE] && (seen[S_EXTRA] || seen[S_ROOT])) {
		int l = seen[S_EXTRA] > seen[S_ROOT] ? seen[S_EXTRA] : seen[S_ROOT];
		if (seen[S_CMDLINE] > l)
			l = seen[S_CMDLINE];
		err_set(e, "%s:%d: cmdline cannot be combined with extra or root", file, l);
		goto out;
	}
	if (!seen[S_CMDLINE] && (root[0] || extra[0])) {
		int n = snprintf(c->cmdline, sizeof(c->cmdline), "%s%s%s%s", root[0] ? "root=" : "", root,
				 root[0] && extra[0] ? " " : "", extra);
		if (n < 0 || (size_t)n >= sizeof(c->cmdline)) {
			err_set(e, "%s: root plus extra make a command line over %zu characters", file,
				sizeof(c->cmdline) - 1);
			goto out;
		}
	}
	r = 0;
out:
	free(extra);
	free(ps);
	return r;
}

int xlcfg_load(const char *path, struct xlcfg *out, struct err *e)
{
	struct stat st;
	char *buf;
	size_t done = 0;
	int r, fd;

	if (!path || !*path)
		return err_set(e, "no config file given");
	fd = file_open_regular(path, "", &st, e); /* a FIFO must not hang us */
	if (fd < 0)
		return -1;
	if (st.st_size > MAX_FILE) {
		close(fd);
		return err_set(e, "%s: too large for a config file (more than 1 MiB)", path);
	}
	buf = xcalloc(1, MAX_FILE + 1);
	for (;;) {
		ssize_t n = read(fd, buf + done, MAX_FILE + 1 - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err_errno(e, "%s: read", path);
			free(buf);
			close(fd);
			return -1;
		}
		if (n == 0)
			break;
		done += (size_t)n;
		if (done > MAX_FILE) { /* it grew while we read */
			free(buf);
			close(fd);
			return err_set(e, "%s: too large for a config file (more than 1 MiB)", path);
		}
	}
	close(fd);
	r = xlcfg_parse(buf, done, path, out, e);
	free(buf);
	return r;
}

/* Bounds-checked appending for xlcfg_format. */
struct out {
	char *buf;
	size_t len, n;
	bool overflow;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->overflow || n >= o->len - o->n) {
		o->overflow = true;
		return;
	}
	memcpy(o->buf + o->n, s, n);
	o->n += n;
	o->buf[o->n] = 0;
}

static void put_str(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

/* A string setting; the field is read up to its size. A control character (which the
 * parser refuses) makes the whole output fail rather than write an unreadable file. */
static void put_setting(struct out *o, const char *key, const char *s, size_t max)
{
	size_t n = strnlen(s, max);
	if (n == max) { /* not terminated */
		o->overflow = true;
		return;
	}
	put_str(o, key);
	put_str(o, " = \"");
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
			o->overflow = true;
			return;
		}
		if (ch == '"' || ch == '\\')
			put(o, "\\", 1);
		put(o, s + i, 1);
	}
	put_str(o, "\"\n");
}

static void put_num(struct out *o, const char *key, unsigned long long v)
{
	char line[96];
	int n = snprintf(line, sizeof(line), "%s = %llu\n", key, v);
	put(o, line, (size_t)n);
}

int xlcfg_format(const struct xlcfg *c, char *buf, size_t len)
{
	struct out o = { buf, len, 0, false };
	if (!c || !buf || !len)
		return -1;
	buf[0] = 0;
	put_str(&o, "# hvkit domain definition\n");
	put_setting(&o, "name", c->name, sizeof(c->name));
	if (c->kernel[0])
		put_setting(&o, "kernel", c->kernel, sizeof(c->kernel));
	if (c->initrd[0])
		put_setting(&o, "initrd", c->initrd, sizeof(c->initrd));
	if (c->cmdline[0])
		put_setting(&o, "cmdline", c->cmdline, sizeof(c->cmdline));
	put_num(&o, "memory", c->memory_mib);
	put_num(&o, "vcpus", c->vcpus);
	put_num(&o, "weight", c->weight);
	put_num(&o, "cap", c->cap);
	put_setting(&o, "on_poweroff", c->on_poweroff, sizeof(c->on_poweroff));
	put_setting(&o, "on_reboot", c->on_reboot, sizeof(c->on_reboot));
	put_setting(&o, "on_crash", c->on_crash, sizeof(c->on_crash));
	if (o.overflow) {
		buf[0] = 0;
		return -1;
	}
	return (int)o.n;
}
