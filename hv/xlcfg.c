/* xlcfg: xl.cfg files: `key = value` lines, '#' comments, "strings" or 'strings',
 * integers, and [ lists ] (accepted and ignored for keys such as disk and vif). Strict:
 * every error names the file and line. */
#include "xlcfg.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_LINE 4096

static const char *const actions[] = { "destroy", "restart", "preserve", "rename-restart", "coredump-destroy",
				       "coredump-restart" };

static bool valid_action(const char *s)
{
	for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
		if (!strcmp(s, actions[i]))
			return true;
	return false;
}

struct val {
	enum { V_STR, V_INT, V_LIST } kind;
	char str[MAX_LINE];
	long long num;
};

/* Parses the value at *p; returns -1 with a message on error. */
static int parse_val(const char **pp, const char *end, struct val *v, const char **why)
{
	const char *p = *pp;
	if (p < end && (*p == '"' || *p == '\'')) {
		char q = *p++;
		size_t n = 0;
		while (p < end && *p != q) {
			if (*p == '\\' && p + 1 < end)
				p++;
			if (n + 1 >= sizeof(v->str)) {
				*why = "string too long";
				return -1;
			}
			v->str[n++] = *p++;
		}
		if (p >= end) {
			*why = "unterminated string";
			return -1;
		}
		v->str[n] = 0;
		v->kind = V_STR;
		*pp = p + 1;
		return 0;
	}
	if (p < end && *p == '[') {
		int depth = 0;
		char q = 0;
		for (; p < end; p++) {
			if (q) {
				if (*p == q)
					q = 0;
				continue;
			}
			if (*p == '"' || *p == '\'')
				q = *p;
			else if (*p == '[')
				depth++;
			else if (*p == ']' && --depth == 0)
				break;
		}
		if (p >= end) {
			*why = "unterminated list";
			return -1;
		}
		v->kind = V_LIST;
		*pp = p + 1;
		return 0;
	}
	if (p < end && (isdigit((unsigned char)*p) || *p == '-')) {
		char num[32];
		size_t n = 0;
		char *e;
		while (p < end && (isalnum((unsigned char)*p) || *p == '-') && n < sizeof(num) - 1)
			num[n++] = *p++;
		num[n] = 0;
		errno = 0;
		v->num = strtoll(num, &e, 0);
		if (*e || errno) {
			*why = "not a number";
			return -1;
		}
		v->kind = V_INT;
		*pp = p;
		return 0;
	}
	*why = p < end ? "not a number, string or list" : "missing value";
	return -1;
}

static int set_str(char *dst, size_t cap, const struct val *v, const char *key, const char *file, int line,
		   struct err *e)
{
	if (v->kind != V_STR)
		return err_set(e, "%s:%d: %s: expected a string", file, line, key);
	if (strlen(v->str) >= cap)
		return err_set(e, "%s:%d: %s: too long (at most %zu characters)", file, line, key, cap - 1);
	strcpy(dst, v->str);
	return 0;
}

static int set_int(long long *dst, const struct val *v, long long lo, long long hi, const char *key, const char *file,
		   int line, struct err *e)
{
	if (v->kind != V_INT)
		return err_set(e, "%s:%d: %s: not a number", file, line, key);
	if (v->num < lo || v->num > hi)
		return err_set(e, "%s:%d: %s: %lld is out of range (%lld to %lld)", file, line, key, v->num, lo, hi);
	*dst = v->num;
	return 0;
}

int xlcfg_parse(const char *text, size_t len, const char *file, struct xlcfg *c, struct err *e)
{
	static const char *const known_lists[] = { "disk", "vif", "pci", "channel", "serial", "usbdev", "vfb" };
	char seen[64][32];
	int nseen = 0, line = 0;
	char extra[4096] = "", root[1024] = "";
	bool have_cmdline = false;
	const char *p = text, *end = text + len;
	struct val *v = xcalloc(1, sizeof(*v));

	memset(c, 0, sizeof(*c));
	c->memory_mib = 128;
	c->vcpus = 1;
	c->weight = 256;
	strcpy(c->on_poweroff, "destroy");
	strcpy(c->on_reboot, "restart");
	strcpy(c->on_crash, "destroy");
	if (memchr(text, 0, len)) {
		free(v);
		return err_set(e, "%s: contains a NUL byte: not a config file", file);
	}
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p)), *q, *why = NULL;
		char key[32];
		size_t kl = 0;
		long long num;
		if (!eol)
			eol = end;
		line++;
		if (eol - p > MAX_LINE) {
			free(v);
			return err_set(e, "%s:%d: line too long", file, line);
		}
		q = p;
		while (q < eol && isspace((unsigned char)*q))
			q++;
		if (q == eol || *q == '#') {
			p = eol + 1;
			continue;
		}
		while (q < eol && (isalnum((unsigned char)*q) || *q == '_' || *q == '-') && kl < sizeof(key) - 1)
			key[kl++] = *q++;
		key[kl] = 0;
		while (q < eol && (*q == ' ' || *q == '\t'))
			q++;
		if (!kl || q >= eol || *q != '=') {
			free(v);
			return err_set(e, "%s:%d: expected `key = value`", file, line);
		}
		q++;
		while (q < eol && (*q == ' ' || *q == '\t'))
			q++;
		if (parse_val(&q, eol, v, &why) < 0) {
			free(v);
			return err_set(e, "%s:%d: %s: %s", file, line, key, why);
		}
		while (q < eol && (*q == ' ' || *q == '\t' || *q == '\r'))
			q++;
		if (q < eol && *q != '#') {
			free(v);
			return err_set(e, "%s:%d: %s: unexpected text after the value", file, line, key);
		}
		for (int i = 0; i < nseen; i++) {
			if (!strcmp(seen[i], key)) {
				free(v);
				return err_set(e, "%s:%d: %s is set twice", file, line, key);
			}
		}
		if (nseen < 64)
			strcpy(seen[nseen++], key);

		int r = 0;
		if (!strcmp(key, "name")) {
			r = set_str(c->name, sizeof(c->name), v, key, file, line, e);
			for (const char *s = c->name; !r && *s; s++)
				if (!isalnum((unsigned char)*s) && *s != '_' && *s != '.' && *s != '-')
					r = err_set(e, "%s:%d: name: only letters, digits, '_', '.' and '-'", file, line);
			if (!r && (!c->name[0] || !strcmp(c->name, "Domain-0")))
				r = err_set(e, "%s:%d: name: '%s' cannot be used", file, line, c->name);
		} else if (!strcmp(key, "kernel")) {
			r = set_str(c->kernel, sizeof(c->kernel), v, key, file, line, e);
		} else if (!strcmp(key, "initrd") || !strcmp(key, "ramdisk")) {
			r = set_str(c->initrd, sizeof(c->initrd), v, key, file, line, e);
		} else if (!strcmp(key, "cmdline")) {
			r = set_str(c->cmdline, sizeof(c->cmdline), v, key, file, line, e);
			have_cmdline = true;
		} else if (!strcmp(key, "extra")) {
			r = set_str(extra, sizeof(extra), v, key, file, line, e);
		} else if (!strcmp(key, "root")) {
			r = set_str(root, sizeof(root), v, key, file, line, e);
		} else if (!strcmp(key, "memory") || !strcmp(key, "maxmem")) {
			r = set_int(&num, v, 8, 1048576, key, file, line, e);
			if (!r && !strcmp(key, "memory"))
				c->memory_mib = (uint64_t)num;
		} else if (!strcmp(key, "vcpus") || !strcmp(key, "maxvcpus")) {
			r = set_int(&num, v, 1, 255, key, file, line, e);
			if (!r && !strcmp(key, "vcpus"))
				c->vcpus = (unsigned)num;
		} else if (!strcmp(key, "weight")) {
			r = set_int(&num, v, 1, 65535, key, file, line, e);
			if (!r)
				c->weight = (unsigned)num;
		} else if (!strcmp(key, "cap")) {
			r = set_int(&num, v, 0, 25500, key, file, line, e);
			if (!r)
				c->cap = (unsigned)num;
		} else if (!strcmp(key, "on_poweroff") || !strcmp(key, "on_reboot") || !strcmp(key, "on_crash")) {
			char *dst = key[3] == 'p' ? c->on_poweroff : key[3] == 'r' ? c->on_reboot : c->on_crash;
			r = set_str(dst, 32, v, key, file, line, e);
			if (!r && !valid_action(dst))
				r = err_set(e, "%s:%d: %s: unknown action '%s' (destroy, restart, preserve, rename-restart, coredump-destroy, coredump-restart)",
					    file, line, key, dst);
		} else if (!strcmp(key, "type") || !strcmp(key, "builder") || !strcmp(key, "on_watchdog")) {
			if (v->kind != V_STR)
				r = err_set(e, "%s:%d: %s: expected a string", file, line, key);
		} else {
			bool list_ok = false;
			for (size_t i = 0; i < sizeof(known_lists) / sizeof(known_lists[0]); i++)
				if (!strcmp(key, known_lists[i]))
					list_ok = true;
			if (!list_ok)
				r = err_set(e, "%s:%d: unknown setting '%s'", file, line, key);
		}
		if (r < 0) {
			free(v);
			return -1;
		}
		p = eol + 1;
	}
	free(v);
	if (!c->name[0])
		return err_set(e, "%s: no name = \"...\" setting", file);
	if (!have_cmdline && (root[0] || extra[0])) {
		int n = snprintf(c->cmdline, sizeof(c->cmdline), "%s%s%s%s", root[0] ? "root=" : "", root,
				 root[0] && extra[0] ? " " : "", extra);
		if (n < 0 || (size_t)n >= sizeof(c->cmdline))
			return err_set(e, "%s: command line too long", file);
	}
	return 0;
}

int xlcfg_load(const char *path, struct xlcfg *out, struct err *e)
{
	struct stat st;
	char *buf;
	ssize_t n;
	size_t done = 0;
	int r, fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_errno(e, "%s", path);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return err_set(e, "%s: not a regular file", path);
	}
	if (st.st_size > (1 << 20)) {
		close(fd);
		return err_set(e, "%s: too large for a config file", path);
	}
	buf = xcalloc(1, (size_t)st.st_size + 1);
	while (done < (size_t)st.st_size && (n = read(fd, buf + done, (size_t)st.st_size - done)) > 0)
		done += (size_t)n;
	close(fd);
	r = xlcfg_parse(buf, done, path, out, e);
	free(buf);
	return r;
}

static void quote(char *dst, size_t cap, const char *s)
{
	size_t n = 0;
	dst[n++] = '"';
	for (; *s && n + 3 < cap; s++) {
		if (*s == '"' || *s == '\\')
			dst[n++] = '\\';
		dst[n++] = *s;
	}
	dst[n++] = '"';
	dst[n] = 0;
}

int xlcfg_format(const struct xlcfg *c, char *buf, size_t len)
{
	char q1[2100], q2[2100], q3[8200], q4[140];
	int n;
	quote(q4, sizeof(q4), c->name);
	quote(q1, sizeof(q1), c->kernel);
	quote(q2, sizeof(q2), c->initrd);
	quote(q3, sizeof(q3), c->cmdline);
	n = snprintf(buf, len,
		     "# hvkit domain definition\nname = %s\n%s%s%s%s%s%s%s%s%smemory = %llu\nvcpus = %u\nweight = %u\ncap = %u\n"
		     "on_poweroff = \"%s\"\non_reboot = \"%s\"\non_crash = \"%s\"\n",
		     q4, c->kernel[0] ? "kernel = " : "", c->kernel[0] ? q1 : "", c->kernel[0] ? "\n" : "",
		     c->initrd[0] ? "initrd = " : "", c->initrd[0] ? q2 : "", c->initrd[0] ? "\n" : "",
		     c->cmdline[0] ? "cmdline = " : "", c->cmdline[0] ? q3 : "", c->cmdline[0] ? "\n" : "",
		     (unsigned long long)c->memory_mib, c->vcpus, c->weight, c->cap, c->on_poweroff, c->on_reboot,
		     c->on_crash);
	return n < 0 || (size_t)n >= len ? -1 : n;
}
