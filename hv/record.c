/* record: one object's fields (dominfo's domain, vcpuinfo's vCPU) kept once and printed
 * either as "Label:  value" lines or as one JSON object, so the text and --json cannot
 * say different things. */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"

void rec_add(struct rec *r, const char *label, const char *key, const char *json, const char *fmt, ...)
{
	struct rec_field *f;
	va_list ap;
	if (r->n == REC_MAX)
		return;
	f = &r->f[r->n++];
	f->label = label;
	f->key = key;
	f->text[0] = 0;
	f->has_text = label && fmt;
	if (f->has_text) {
		va_start(ap, fmt);
		vsnprintf(f->text, sizeof(f->text), fmt, ap);
		va_end(ap);
	}
	if (json)
		snprintf(f->json, sizeof(f->json), "%s", json);
	else if (f->has_text)
		json_quote(f->json, sizeof(f->json), f->text);
	else
		snprintf(f->json, sizeof(f->json), "null");
}

void rec_add_str(struct rec *r, const char *label, const char *key, const char *s)
{
	char q[sizeof(r->f[0].json)];
	if (!s || !*s) {
		rec_add(r, label, key, "null", NULL);
		return;
	}
	json_quote(q, sizeof(q), s);
	rec_add(r, label, key, q, "%s", s);
}

void rec_reply(struct reply *out, const struct rec *r, bool json, const char *after)
{
	if (!json) {
		for (unsigned i = 0; i < r->n; i++) {
			char label[80];
			if (!r->f[i].has_text)
				continue;
			snprintf(label, sizeof(label), "%s:", r->f[i].label);
			reply_line(out, "%-15s %s", label, r->f[i].text);
		}
		return;
	}
	{
		size_t len = 16;
		char *line, *p;
		for (unsigned i = 0; i < r->n; i++)
			len += strlen(r->f[i].key) + strlen(r->f[i].json) + 8;
		line = xcalloc(1, len + strlen(after));
		p = line;
		*p++ = '{';
		for (unsigned i = 0; i < r->n; i++)
			p += sprintf(p, "%s\"%s\": %s", i ? ", " : "", r->f[i].key, r->f[i].json);
		sprintf(p, "}%s", after);
		reply_line(out, "%s", line);
		free(line);
	}
}
