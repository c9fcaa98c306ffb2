/* props: the property store. Every known property has a type, a default and a check;
 * setprop writes a pending value in one SQLite transaction, refresh copies every pending
 * value to the running one in another, so a crash loses nothing committed. */
#include "props.h"

#include <errno.h>
#include <fnmatch.h>
#include <regex.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

struct props {
	sqlite3 *db;
};

struct prop_def {
	const char *name;
	enum prop_type type;
	const char *dflt;
	long long min, max; /* counts and integers */
	bool secret, regex_list, abs_path;
};

static const struct prop_def defs[] = {
	{ "config/console-ring-size", PROP_COUNT, "65536", 4096, 64ll << 20, false, false, false },
	{ "config/default-weight", PROP_COUNT, "256", 1, 65535, false, false, false },
	{ "config/dom0-cpus", PROP_COUNT, "0", 0, 4096, false, false, false },
	{ "config/dom0-mem", PROP_COUNT, "128", 8, 1ll << 20, false, false, false },
	{ "config/dump-dir", PROP_ASTRING, "/var/crash/hvkit", 0, 0, false, false, true },
	{ "config/vncpasswd", PROP_ASTRING, "", 0, 0, true, false, false },
	{ "config/xend-relocation-address", PROP_ASTRING, "", 0, 0, false, false, false },
	{ "config/xend-relocation-hosts-allow", PROP_ASTRING, "^localhost$", 0, 0, false, true, false },
	{ "config/xend-relocation-port", PROP_COUNT, "8002", 1, 65535, false, false, false },
};

static const char *const type_names[] = { "astring", "boolean", "count", "integer" };

const char *prop_type_name(enum prop_type t)
{
	return (unsigned)t < 4 ? type_names[t] : "?";
}

static const struct prop_def *find(const char *name)
{
	char full[128];
	if (strncmp(name, "config/", 7))
		snprintf(full, sizeof(full), "config/%s", name);
	else
		snprintf(full, sizeof(full), "%s", name);
	for (size_t i = 0; i < sizeof(defs) / sizeof(defs[0]); i++)
		if (!strcmp(defs[i].name, full))
			return &defs[i];
	return NULL;
}

static int exec(struct props *p, const char *sql, struct err *e)
{
	char *msg = NULL;
	if (sqlite3_exec(p->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		err_set(e, "property store: %s", msg ? msg : sqlite3_errmsg(p->db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

struct props *props_open(const char *path, struct err *e)
{
	struct props *p = xcalloc(1, sizeof(*p));
	int fd;
	char sig[16] = "";
	struct stat st;

	/* refuse a file that is there but is not SQLite, before SQLite touches it */
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t n = read(fd, sig, sizeof(sig));
		close(fd);
		if (n > 0 && (n < 16 || memcmp(sig, "SQLite format 3", 16))) {
			free(p);
			err_set(e, "%s: not a property store", path);
			return NULL;
		}
	} else if (errno != ENOENT) {
		free(p);
		err_errno(e, "%s", path);
		return NULL;
	}
	if (sqlite3_open_v2(path, &p->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL) !=
	    SQLITE_OK) {
		err_set(e, "%s: cannot open the property store: %s", path, p->db ? sqlite3_errmsg(p->db) : "no memory");
		if (p->db)
			sqlite3_close(p->db);
		free(p);
		return NULL;
	}
	if (stat(path, &st) == 0)
		chmod(path, 0600);
	sqlite3_busy_timeout(p->db, 2000);
	if (exec(p, "PRAGMA synchronous=FULL; PRAGMA journal_mode=WAL;"
		    "CREATE TABLE IF NOT EXISTS props (name TEXT PRIMARY KEY, type TEXT NOT NULL,"
		    " value TEXT NOT NULL, pending TEXT);", e) < 0) {
		err_prefix(e, "%s", path);
		props_close(p);
		return NULL;
	}
	for (size_t i = 0; i < sizeof(defs) / sizeof(defs[0]); i++) {
		sqlite3_stmt *st2;
		sqlite3_prepare_v2(p->db, "INSERT OR IGNORE INTO props (name, type, value) VALUES (?, ?, ?)", -1, &st2, NULL);
		sqlite3_bind_text(st2, 1, defs[i].name, -1, SQLITE_STATIC);
		sqlite3_bind_text(st2, 2, type_names[defs[i].type], -1, SQLITE_STATIC);
		sqlite3_bind_text(st2, 3, defs[i].dflt, -1, SQLITE_STATIC);
		if (sqlite3_step(st2) != SQLITE_DONE) {
			err_set(e, "%s: %s", path, sqlite3_errmsg(p->db));
			sqlite3_finalize(st2);
			props_close(p);
			return NULL;
		}
		sqlite3_finalize(st2);
	}
	return p;
}

void props_close(struct props *p)
{
	if (!p)
		return;
	sqlite3_close(p->db);
	free(p);
}

/* Splits "type: value" and unquotes; checks the value against the definition. */
static int parse_value(const struct prop_def *d, const char *in, char *out, size_t len, struct err *e)
{
	const char *v = in, *colon;
	size_t n;
	while (*v == ' ')
		v++;
	colon = strchr(v, ':');
	if (colon) {
		size_t tl = (size_t)(colon - v);
		bool is_type = false;
		for (int t = 0; t < 4; t++) {
			if (tl == strlen(type_names[t]) && !strncmp(v, type_names[t], tl)) {
				is_type = true;
				if ((enum prop_type)t != d->type)
					return err_set(e, "%s is of type %s, not %s", d->name, type_names[d->type], type_names[t]);
			}
		}
		if (is_type) {
			v = colon + 1;
			while (*v == ' ')
				v++;
		}
	}
	n = strlen(v);
	while (n && v[n - 1] == ' ')
		n--;
	if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
		size_t o = 0;
		for (size_t i = 1; i + 1 < n; i++) {
			if (v[i] == '\\' && i + 2 < n && (v[i + 1] == '"' || v[i + 1] == '\\'))
				i++;
			if (o + 1 >= len)
				return err_set(e, "%s: value too long", d->name);
			out[o++] = v[i];
		}
		out[o] = 0;
	} else {
		if (n >= len)
			return err_set(e, "%s: value too long", d->name);
		memcpy(out, v, n);
		out[n] = 0;
	}
	switch (d->type) {
	case PROP_BOOLEAN:
		if (strcmp(out, "true") && strcmp(out, "false"))
			return err_set(e, "%s is a boolean: true or false, not '%s'", d->name, out);
		break;
	case PROP_COUNT:
	case PROP_INTEGER: {
		char *end;
		long long x;
		errno = 0;
		x = strtoll(out, &end, 10);
		if (!*out || *end || errno)
			return err_set(e, "%s is a %s: '%s' is not a number", d->name, type_names[d->type], out);
		if (d->type == PROP_COUNT && x < 0)
			return err_set(e, "%s is a count: it cannot be negative", d->name);
		if ((d->min || d->max) && (x < d->min || x > d->max))
			return err_set(e, "%s must be from %lld to %lld", d->name, d->min, d->max);
		break;
	}
	case PROP_ASTRING:
		if (d->abs_path && out[0] != '/')
			return err_set(e, "%s must be an absolute path", d->name);
		if (d->regex_list) {
			char copy[1024], *save = NULL;
			snprintf(copy, sizeof(copy), "%s", out);
			for (char *tok = strtok_r(copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
				regex_t re;
				int rc = regcomp(&re, tok, REG_EXTENDED | REG_NOSUB);
				if (rc) {
					char m[128];
					regerror(rc, &re, m, sizeof(m));
					return err_set(e, "%s: '%s' is not a valid regular expression: %s", d->name, tok, m);
				}
				regfree(&re);
			}
		}
		break;
	}
	return 0;
}

static int write_pending(struct props *p, const struct prop_def *d, const char *value, struct err *e)
{
	sqlite3_stmt *st;
	int rc;
	sqlite3_prepare_v2(p->db, "UPDATE props SET pending = ? WHERE name = ?", -1, &st, NULL);
	sqlite3_bind_text(st, 1, value, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, d->name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return err_set(e, "property store: %s", sqlite3_errmsg(p->db));
	return 0;
}

int props_set(struct props *p, const char *name, const char *value, struct err *e)
{
	const struct prop_def *d = find(name);
	char v[1024];
	if (!d)
		return err_set(e, "unknown property %s (hvctl listprop shows them)", name);
	if (parse_value(d, value, v, sizeof(v), e) < 0)
		return -1;
	return write_pending(p, d, v, e);
}

int props_delete(struct props *p, const char *name, struct err *e)
{
	const struct prop_def *d = find(name);
	if (!d)
		return err_set(e, "unknown property %s", name);
	return write_pending(p, d, d->dflt, e);
}

int props_list(struct props *p, const char *pattern, struct prop_entry *out, int max, struct err *e)
{
	sqlite3_stmt *st;
	int n = 0;
	char pat[128];
	if (pattern && strncmp(pattern, "config/", 7) && strchr(pattern, '/') == NULL)
		snprintf(pat, sizeof(pat), "config/%s", pattern);
	else
		snprintf(pat, sizeof(pat), "%s", pattern ? pattern : "*");
	if (sqlite3_prepare_v2(p->db, "SELECT name, type, value, pending FROM props ORDER BY name", -1, &st, NULL) != SQLITE_OK)
		return err_set(e, "property store: %s", sqlite3_errmsg(p->db));
	while (sqlite3_step(st) == SQLITE_ROW && n < max) {
		const char *nm = (const char *)sqlite3_column_text(st, 0);
		const struct prop_def *d = nm ? find(nm) : NULL;
		struct prop_entry *o = &out[n];
		if (!d || fnmatch(pat, nm, 0))
			continue;
		memset(o, 0, sizeof(*o));
		snprintf(o->name, sizeof(o->name), "%s", nm);
		o->type = d->type;
		o->secret = d->secret;
		snprintf(o->value, sizeof(o->value), "%s", d->secret ? "********" : (const char *)sqlite3_column_text(st, 2));
		if (sqlite3_column_type(st, 3) != SQLITE_NULL) {
			o->has_pending = true;
			snprintf(o->pending, sizeof(o->pending), "%s",
				 d->secret ? "********" : (const char *)sqlite3_column_text(st, 3));
			if (d->secret && !strcmp((const char *)sqlite3_column_text(st, 3), (const char *)sqlite3_column_text(st, 2)))
				o->has_pending = false;
		}
		n++;
	}
	sqlite3_finalize(st);
	return n;
}

int props_get(struct props *p, const char *name, char *buf, size_t len, struct err *e)
{
	const struct prop_def *d = find(name);
	sqlite3_stmt *st;
	int rc = -1;
	if (!d)
		return err_set(e, "unknown property %s", name);
	sqlite3_prepare_v2(p->db, "SELECT value FROM props WHERE name = ?", -1, &st, NULL);
	sqlite3_bind_text(st, 1, d->name, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		snprintf(buf, len, "%s", (const char *)sqlite3_column_text(st, 0));
		rc = 0;
	} else {
		snprintf(buf, len, "%s", d->dflt);
		rc = 0;
	}
	sqlite3_finalize(st);
	return rc;
}

int64_t props_get_int(struct props *p, const char *name, int64_t dflt)
{
	char buf[64], *end;
	long long v;
	if (props_get(p, name, buf, sizeof(buf), NULL) < 0)
		return dflt;
	v = strtoll(buf, &end, 10);
	return *end || end == buf ? dflt : v;
}

int props_refresh(struct props *p, char *changed, size_t len, struct err *e)
{
	sqlite3_stmt *st;
	int n = 0;
	size_t used = 0;
	if (changed && len)
		changed[0] = 0;
	if (exec(p, "BEGIN IMMEDIATE", e) < 0)
		return -1;
	sqlite3_prepare_v2(p->db, "SELECT name FROM props WHERE pending IS NOT NULL AND pending != value ORDER BY name", -1,
			   &st, NULL);
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *nm = (const char *)sqlite3_column_text(st, 0);
		if (changed && nm) {
			int w = snprintf(changed + used, len - used, "%s%s", n ? "," : "", nm);
			if (w > 0 && (size_t)w < len - used)
				used += (size_t)w;
		}
		n++;
	}
	sqlite3_finalize(st);
	if (exec(p, "UPDATE props SET value = pending, pending = NULL WHERE pending IS NOT NULL", e) < 0 ||
	    exec(p, "COMMIT", e) < 0) {
		exec(p, "ROLLBACK", NULL);
		return -1;
	}
	return n;
}
