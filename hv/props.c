/* props: the property store. Every known property has a type, a default and a check;
 * setprop writes a pending value in one SQLite transaction, refresh copies every pending
 * value to the running one in another, so a crash loses nothing committed. A store that is
 * corrupt (PRAGMA integrity_check at open, quick_check in every write's transaction) or
 * gone (removed or replaced while open) fails the open and every write: a write is never
 * reported done unless it is in a sound store. */
#include "props.h"
#include "dump/dump.h"
#include "util/access.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <regex.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PROPS_APP_ID 0x68766b70 /* "hvkp" in the SQLite header: this file is a property store */
#define VALUE_MAX 1024          /* bytes, with the NUL (struct prop_entry.value) */

struct props {
	sqlite3 *db;
	char path[512];
	dev_t dev; /* the file opened: a store removed or replaced meanwhile is noticed */
	ino_t ino;
	bool gone;
};

struct prop_def {
	const char *name;
	enum prop_type type;
	const char *dflt;
	long long min, max; /* counts and integers */
	bool secret, regex_list, abs_path;
};

/* In name order (props_list relies on the database's ORDER BY, not on this). */
static const struct prop_def defs[] = {
	{ "config/checkpoint-interval", PROP_COUNT, "0", 0, 7 * 86400, false, false, false },
	{ "config/checkpoint-keep", PROP_COUNT, "8", 1, 10000, false, false, false },
	{ "config/checkpoint-undo-max", PROP_COUNT, "0", 0, 1ll << 24, false, false, false },
	{ "config/console-ring-size", PROP_COUNT, "65536", 4096, 64ll << 20, false, false, false },
	{ "config/default-weight", PROP_COUNT, "256", 1, 65535, false, false, false },
	{ "config/dom0-cpus", PROP_COUNT, "0", 0, 4096, false, false, false },
	{ "config/dom0-mem", PROP_COUNT, "128", 8, 1ll << 20, false, false, false },
	{ "config/dump-dir", PROP_ASTRING, "/var/crash/hvkit", 0, 0, false, false, true },
	{ "config/dump-format", PROP_ASTRING, "kdump-zstd", 0, 0, false, false, false },
	{ "config/migration-downtime", PROP_COUNT, "30", 1, 60000, false, false, false },
	{ "config/vncpasswd", PROP_ASTRING, "", 0, 0, true, false, false },
	{ "config/xend-relocation-address", PROP_ASTRING, "127.0.0.1", 0, 0, false, false, false },
	{ "config/xend-relocation-hosts-allow", PROP_ASTRING, "^localhost$ ^127\\.0\\.0\\.1$ ^::1$", 0, 0, false, true,
	  false },
	{ "config/xend-relocation-port", PROP_COUNT, "8002", 1, 65535, false, false, false },
	{ "config/xend-relocation-server", PROP_BOOLEAN, "true", 0, 0, false, false, false },
	{ "config/xend-relocation-ssl", PROP_BOOLEAN, "false", 0, 0, false, false, false },
	{ "config/xend-relocation-ssl-ca", PROP_ASTRING, "", 0, 0, false, false, true },
	{ "config/xend-relocation-ssl-cert", PROP_ASTRING, "", 0, 0, false, false, true },
	{ "config/xend-relocation-ssl-key", PROP_ASTRING, "", 0, 0, false, false, true },
	{ "config/xend-relocation-ssl-psk-file", PROP_ASTRING, "", 0, 0, false, false, true },
};
#define NDEFS (sizeof(defs) / sizeof(defs[0]))

static const char *const type_names[] = { "astring", "boolean", "count", "integer" };
/* Other SMF types: named as a prefix they are refused, not taken as part of the value. */
static const char *const smf_types[] = { "ustring", "opaque", "time", "host", "hostname", "net_address",
					 "net_address_v4", "net_address_v6", "uri", "fmri" };

const char *prop_type_name(enum prop_type t)
{
	return (unsigned)t < 4 ? type_names[t] : "?";
}

static const struct prop_def *find(const char *name)
{
	const char *n;
	if (!name)
		return NULL;
	n = strncmp(name, "config/", 7) ? name : name + 7;
	for (size_t i = 0; i < NDEFS; i++)
		if (!strcmp(defs[i].name + 7, n))
			return &defs[i];
	return NULL;
}

static const struct prop_def *find_err(const char *name, struct err *e)
{
	const struct prop_def *d = find(name);
	if (!d)
		err_set(e, "unknown property '%.100s' (listprop shows them)", name ? name : "(null)");
	return d;
}

static int db_err(struct props *p, struct err *e, const char *what)
{
	return err_set(e, "property store %s: %s: %s", p->path, what, sqlite3_errmsg(p->db));
}

static int exec(struct props *p, const char *sql, struct err *e)
{
	char *msg = NULL;
	if (sqlite3_exec(p->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		err_set(e, "property store %s: %s", p->path, msg ? msg : sqlite3_errmsg(p->db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

static sqlite3_stmt *prepare(struct props *p, const char *sql, struct err *e)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(p->db, sql, -1, &st, NULL) != SQLITE_OK) {
		db_err(p, e, "prepare");
		sqlite3_finalize(st);
		return NULL;
	}
	return st;
}

int prop_value_parse(enum prop_type t, const char *v, char *out, size_t len, struct err *e)
{
	char canon[32];
	if ((unsigned)t > PROP_INTEGER)
		return err_set(e, "unknown property type %d", (int)t);
	if (!v || !out || !len)
		return err_set(e, "no value");
	for (const unsigned char *s = (const unsigned char *)v; *s; s++)
		if (*s < 0x20 || *s == 0x7f)
			return err_set(e, "control characters are not allowed in a value");
	switch (t) {
	case PROP_BOOLEAN:
		if (strcmp(v, "true") && strcmp(v, "false"))
			return err_set(e, "'%.64s' is not a boolean (true or false)", v);
		break;
	case PROP_COUNT:
	case PROP_INTEGER: {
		char *end;
		long long x;
		const char *s = v;
		if (*s == '+' || *s == '-')
			s++;
		errno = 0;
		x = strtoll(v, &end, 10);
		if (*s < '0' || *s > '9' || *end)
			return err_set(e, "'%.64s' is not a number", v);
		if (t == PROP_COUNT && v[0] == '-')
			return err_set(e, "'%.64s': a count cannot be negative", v);
		if (errno == ERANGE)
			return err_set(e, "'%.64s' is out of range", v);
		snprintf(canon, sizeof(canon), "%lld", x);
		v = canon;
		break;
	}
	case PROP_ASTRING:
		break;
	}
	if (strlen(v) >= len)
		return err_set(e, "value too long (at most %zu bytes)", len - 1);
	memmove(out, v, strlen(v) + 1);
	return 0;
}

/* Checks a value (already unquoted) against the definition; numbers are rewritten in
 * their canonical form ("+07" -> "7"). out may be the same buffer as v. */
static int check_value(const struct prop_def *d, const char *v, char *out, size_t len, struct err *e)
{
	if (prop_value_parse(d->type, v, out, len, e) < 0)
		return err_prefix(e, "%s is a%s %s", d->name, d->type == PROP_ASTRING || d->type == PROP_INTEGER ? "n" : "",
				  type_names[d->type]);
	if (d->type == PROP_COUNT || d->type == PROP_INTEGER) {
		long long x = strtoll(out, NULL, 10);
		if (x < d->min || x > d->max)
			return err_set(e, "%s must be from %lld to %lld, not %lld", d->name, d->min, d->max, x);
	}
	if (!strcmp(d->name, "config/dump-format") && dump_fmt_parse(out) < 0)
		return err_set(e, "%s is elf, kdump-zstd, kdump-lz4, kdump-zlib or kdump, not '%.64s'", d->name, out);
	if (d->abs_path && (out[0] || d->dflt[0]) && out[0] != '/')
		return err_set(e, "%s must be an absolute path (starting with /), not '%.64s'", d->name, out);
	if (d->regex_list) {
		char copy[VALUE_MAX], *save = NULL;
		snprintf(copy, sizeof(copy), "%s", out);
		for (char *tok = strtok_r(copy, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
			regex_t re;
			int rc = regcomp(&re, tok, REG_EXTENDED | REG_NOSUB);
			if (rc) {
				char m[128];
				regerror(rc, &re, m, sizeof(m));
				return err_set(e, "%s: '%.64s' is not a valid regular expression: %s", d->name, tok, m);
			}
			regfree(&re);
		}
	}
	return 0;
}

/* Splits an optional "type:" prefix, unquotes, then checks the value. */
static int parse_value(const struct prop_def *d, const char *in, char *out, size_t len, struct err *e)
{
	const char *v = in;
	size_t n = 0, o = 0;
	char tmp[VALUE_MAX];

	while (*v == ' ' || *v == '\t')
		v++;
	/* "type:" prefix: a word of letters, digits and '_' before the first ':' */
	{
		size_t tl = strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789_");
		if (tl && v[tl] == ':') {
			bool known = false;
			for (int t = 0; t < 4; t++) {
				if (tl == strlen(type_names[t]) && !strncmp(v, type_names[t], tl)) {
					known = true;
					if ((enum prop_type)t != d->type)
						return err_set(e, "%s is of type %s, not %s", d->name,
							       type_names[d->type], type_names[t]);
				}
			}
			for (size_t t = 0; !known && t < sizeof(smf_types) / sizeof(smf_types[0]); t++)
				if (tl == strlen(smf_types[t]) && !strncmp(v, smf_types[t], tl))
					return err_set(e, "%s is of type %s, not %s", d->name, type_names[d->type],
						       smf_types[t]);
			if (known) {
				v += tl + 1;
				while (*v == ' ' || *v == '\t')
					v++;
			}
		}
	}
	n = strlen(v);
	while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	if (n && v[0] == '"') {
		size_t i = 1;
		for (; i < n && v[i] != '"'; i++) {
			if (v[i] == '\\' && i + 1 < n && (v[i + 1] == '"' || v[i + 1] == '\\'))
				i++;
			if (o + 1 >= sizeof(tmp))
				return err_set(e, "%s: value too long (at most %d bytes)", d->name, VALUE_MAX - 1);
			tmp[o++] = v[i];
		}
		if (i >= n)
			return err_set(e, "%s: unterminated \"string\"", d->name);
		if (i + 1 != n)
			return err_set(e, "%s: unexpected text after the closing quote", d->name);
	} else {
		if (n >= sizeof(tmp))
			return err_set(e, "%s: value too long (at most %d bytes)", d->name, VALUE_MAX - 1);
		memcpy(tmp, v, n);
		o = n;
	}
	tmp[o] = 0;
	return check_value(d, tmp, out, len, e);
}

static bool ours(uid_t uid)
{
	return uid == 0 || uid == geteuid();
}

/* The store's directory as util/access.h wants a directory hv writes into (root's or
 * ours; sticky if others can write it), and SQLite's files beside the store (its WAL,
 * shared memory, journal) none that another uid planted or a symlink. */
static int check_place(const char *path, struct err *e)
{
	static const char *const side[] = { "-wal", "-shm", "-journal" };
	char dir[512], name[600];
	const char *base;
	struct stat st;
	int fd;
	if (access_split(path, dir, sizeof(dir), &base, e) < 0)
		return -1;
	if (stat(dir, &st) < 0 && errno == ENOENT)
		return err_set(e, "%s: cannot create the property store: directory %s does not exist", path, dir);
	if ((fd = access_dir_open(dir, false, "state directory", e)) < 0)
		return err_prefix(e, "property store %s", path);
	close(fd);
	for (size_t i = 0; i < sizeof(side) / sizeof(side[0]); i++) {
		snprintf(name, sizeof(name), "%s%s", path, side[i]);
		if (lstat(name, &st) < 0)
			continue;
		if (S_ISLNK(st.st_mode) || !S_ISREG(st.st_mode))
			return err_set(e, "%s: not a file SQLite may use (%s): the property store is not opened", name,
				       S_ISLNK(st.st_mode) ? "a symlink" : "not a regular file");
		if (!ours(st.st_uid))
			return err_set(e, "%s belongs to uid %u: the property store is not opened", name,
				       (unsigned)st.st_uid);
	}
	return 0;
}

/* The file itself: created 0600 if missing, never through a symlink; refused unless it is
 * root's or ours, and empty or an SQLite database. Its identity in *out. */
static int prepare_file(const char *path, struct stat *out, struct err *e)
{
	struct stat st;
	char sig[16];
	ssize_t n;
	int fd;
	if (check_place(path, e) < 0)
		return -1;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW, 0600);
	if (fd < 0) {
		int err = errno;
		/* ELOOP; or EACCES when the kernel's protected_symlinks saw it first */
		if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode))
			return err_set(e, "%s: the property store is a symlink: not followed", path);
		errno = err;
		if (errno == EISDIR)
			return err_set(e, "%s: not a property store (a directory)", path);
		return err_errno(e, "%s: cannot open the property store", path);
	}
	if (fstat(fd, &st) < 0) {
		err_errno(e, "%s", path);
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return err_set(e, "%s: not a property store (not a regular file)", path);
	}
	if (!ours(st.st_uid)) {
		close(fd);
		return err_set(e, "%s: the property store belongs to uid %u: not opened", path, (unsigned)st.st_uid);
	}
	/* it holds a password: owner only (best effort on root's file when we are not root) */
	if ((st.st_mode & 077) && fchmod(fd, 0600) < 0 && errno != EPERM) {
		err_errno(e, "%s: chmod", path);
		close(fd);
		return -1;
	}
	if (st.st_size > 0) {
		n = pread(fd, sig, sizeof(sig), 0);
		if (n != (ssize_t)sizeof(sig) || memcmp(sig, "SQLite format 3", 16)) {
			close(fd);
			return err_set(e, "%s: not a property store (not an SQLite database)", path);
		}
	}
	close(fd);
	*out = st;
	return 0;
}

/* The one integer row st yields (st is finalized). */
static int one_int(struct props *p, sqlite3_stmt *st, int *out, const char *what, struct err *e)
{
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : db_err(p, e, what);
}

/* PRAGMA integrity_check or quick_check: its first row is "ok" in a sound database. */
static int check_sound(struct props *p, const char *pragma, struct err *e)
{
	sqlite3_stmt *st = prepare(p, pragma, e);
	char first[200] = "";
	int rc;
	if (!st)
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		snprintf(first, sizeof(first), "%s", (const char *)sqlite3_column_text(st, 0) ?: "");
	sqlite3_finalize(st);
	for (char *c = first; *c; c++) /* integrity_check's report has lines: one line here */
		if (*c == '\n')
			*c = ' ';
	if (rc != SQLITE_ROW)
		return err_set(e, "property store %s is corrupt (%s: %s)", p->path, pragma, sqlite3_errmsg(p->db));
	if (strcmp(first, "ok"))
		return err_set(e, "property store %s is corrupt (%s: %s)", p->path, pragma, first);
	return 0;
}

/* The file we opened is still there under its name. */
static int check_there(struct props *p, struct err *e)
{
	struct stat st;
	int r = lstat(p->path, &st);
	if (r == 0 && st.st_dev == p->dev && st.st_ino == p->ino)
		return 0;
	p->gone = true;
	return err_set(e, "property store %s was %s while hv ran: not stored (the next write creates a new store)",
		       p->path, r < 0 ? "removed" : "replaced");
}

bool props_gone(const struct props *p)
{
	return p && p->gone;
}

/* In the open transaction: a fresh database gets the table; an existing one must be ours. */
static int check_schema(struct props *p, struct err *e)
{
	sqlite3_stmt *st = prepare(p, "PRAGMA application_id", e);
	int app = 0, tables = 0;
	char set_id[64];
	if (!st || one_int(p, st, &app, "reading the application id", e) < 0)
		return -1;
	st = prepare(p, "SELECT count(*) FROM sqlite_master WHERE type = 'table'", e);
	if (!st || one_int(p, st, &tables, "reading the schema", e) < 0)
		return -1;
	snprintf(set_id, sizeof(set_id), "PRAGMA application_id = %d;", PROPS_APP_ID);
	if (tables == 0)
		return exec(p,
			    "CREATE TABLE props (name TEXT PRIMARY KEY, type TEXT NOT NULL, value TEXT NOT NULL,"
			    " pending TEXT);",
			    e) < 0 ? -1 : exec(p, set_id, e);
	/* ours, or an older store without the id: it needs the props table as we make it */
	if (sqlite3_prepare_v2(p->db, "SELECT name, type, value, pending FROM props LIMIT 0", -1, &st, NULL) !=
	    SQLITE_OK) {
		sqlite3_finalize(st);
		return err_set(e, "%s: not a property store (an SQLite database without the props table)", p->path);
	}
	sqlite3_finalize(st);
	if (app != PROPS_APP_ID) {
		if (app != 0)
			return err_set(e, "%s: not a property store (application id 0x%x)", p->path, (unsigned)app);
		if (exec(p, set_id, e) < 0)
			return -1;
	}
	return 0;
}

/* Every known property gets a row; a row whose type no longer matches is reset. */
static int seed(struct props *p, struct err *e)
{
	sqlite3_stmt *ins = prepare(p, "INSERT OR IGNORE INTO props (name, type, value) VALUES (?1, ?2, ?3)", e);
	sqlite3_stmt *fix = prepare(p, "UPDATE props SET type = ?2, value = ?3, pending = NULL WHERE name = ?1 AND type != ?2",
				    e);
	int r = 0;
	for (size_t i = 0; r == 0 && ins && fix && i < NDEFS; i++) {
		sqlite3_stmt *s[2] = { ins, fix };
		for (int k = 0; k < 2; k++) {
			sqlite3_reset(s[k]); /* its result is the last step's, checked there */
			if (sqlite3_bind_text(s[k], 1, defs[i].name, -1, SQLITE_STATIC) != SQLITE_OK ||
			    sqlite3_bind_text(s[k], 2, type_names[defs[i].type], -1, SQLITE_STATIC) != SQLITE_OK ||
			    sqlite3_bind_text(s[k], 3, defs[i].dflt, -1, SQLITE_STATIC) != SQLITE_OK ||
			    sqlite3_step(s[k]) != SQLITE_DONE) {
				r = db_err(p, e, "seeding defaults");
				break;
			}
		}
	}
	if (!ins || !fix)
		r = -1;
	sqlite3_finalize(ins);
	sqlite3_finalize(fix);
	return r;
}

/* A store from before the relocation server existed holds the old seeded defaults of its
 * address ("") and hosts-allow ("^localhost$"), which meant nothing then; now "" means
 * every address. Such untouched values become the new, loopback-only defaults. */
static int upgrade_relocation(struct props *p, struct err *e)
{
	static const char sql[] =
		"UPDATE props SET value = CASE name WHEN 'config/xend-relocation-address' THEN '127.0.0.1' "
		"ELSE '^localhost$ ^127\\.0\\.0\\.1$ ^::1$' END "
		"WHERE ((name = 'config/xend-relocation-address' AND value = '') OR "
		"(name = 'config/xend-relocation-hosts-allow' AND value = '^localhost$')) AND pending IS NULL "
		"AND NOT EXISTS (SELECT 1 FROM props WHERE name = 'config/xend-relocation-server') "
		"AND EXISTS (SELECT 1 FROM props WHERE name = 'config/dump-dir')";
	return exec(p, sql, e);
}

struct props *props_open(const char *path, struct err *e)
{
	struct props *p;
	struct stat st;
	int rc;

	if (!path || !*path) {
		err_set(e, "no property store path");
		return NULL;
	}
	if (strlen(path) >= sizeof(p->path)) {
		err_set(e, "%.64s...: property store path too long", path);
		return NULL;
	}
	if (prepare_file(path, &st, e) < 0)
		return NULL;
	p = xcalloc(1, sizeof(*p));
	snprintf(p->path, sizeof(p->path), "%s", path);
	p->dev = st.st_dev;
	p->ino = st.st_ino;
	rc = sqlite3_open_v2(path, &p->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX | SQLITE_OPEN_NOFOLLOW, NULL);
	if (rc != SQLITE_OK) {
		err_set(e, "%s: cannot open the property store: %s", path, p->db ? sqlite3_errmsg(p->db) : "no memory");
		props_close(p);
		return NULL;
	}
	sqlite3_extended_result_codes(p->db, 0);
	sqlite3_busy_timeout(p->db, 2000);
	if (lstat(path, &st) < 0 || st.st_dev != p->dev || st.st_ino != p->ino) { /* not the file checked */
		err_set(e, "%s: the property store was replaced while it was being opened: not opened", path);
		props_close(p);
		return NULL;
	}
	/* the first statement reads the header: a damaged database fails here */
	if (exec(p, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", e) < 0 ||
	    exec(p, "BEGIN IMMEDIATE", e) < 0) {
		if (sqlite3_errcode(p->db) == SQLITE_NOTADB || sqlite3_errcode(p->db) == SQLITE_CORRUPT)
			err_set(e, "%s: not a property store (%s)", path, sqlite3_errmsg(p->db));
		props_close(p);
		return NULL;
	}
	if ((rc = check_sound(p, "PRAGMA integrity_check", e)) < 0 || check_schema(p, e) < 0 ||
	    upgrade_relocation(p, e) < 0 || seed(p, e) < 0 || exec(p, "COMMIT", e) < 0) {
		if (rc == 0 && (sqlite3_errcode(p->db) == SQLITE_NOTADB || sqlite3_errcode(p->db) == SQLITE_CORRUPT))
			err_set(e, "%s: not a property store (%s)", path, sqlite3_errmsg(p->db));
		exec(p, "ROLLBACK", NULL);
		props_close(p);
		return NULL;
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

/* A write's transaction: the store still there and begun; write_end checks it is sound
 * before the commit, and rolls back (the write is not done) otherwise. */
static int write_begin(struct props *p, struct err *e)
{
	if (check_there(p, e) < 0)
		return -1;
	return exec(p, "BEGIN IMMEDIATE", e);
}

static int write_end(struct props *p, int rc, struct err *e)
{
	if (rc == 0 && check_sound(p, "PRAGMA quick_check", e) == 0 && exec(p, "COMMIT", e) == 0)
		return 0;
	exec(p, "ROLLBACK", NULL);
	return -1;
}

/* pending = value, or NULL when it equals the running value (nothing to refresh). */
static int write_pending(struct props *p, const struct prop_def *d, const char *value, struct err *e)
{
	sqlite3_stmt *st;
	int rc;
	if (write_begin(p, e) < 0)
		return -1;
	st = prepare(p, "UPDATE props SET pending = CASE WHEN ?1 = value THEN NULL ELSE ?1 END WHERE name = ?2", e);
	if (!st)
		return write_end(p, -1, e);
	if (sqlite3_bind_text(st, 1, value, -1, SQLITE_TRANSIENT) != SQLITE_OK ||
	    sqlite3_bind_text(st, 2, d->name, -1, SQLITE_STATIC) != SQLITE_OK) {
		db_err(p, e, d->name);
		sqlite3_finalize(st);
		return write_end(p, -1, e);
	}
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return write_end(p, db_err(p, e, d->name), e);
	if (sqlite3_changes(p->db) != 1)
		return write_end(p, err_set(e, "property store %s: no row for %s (reopen the store)", p->path, d->name),
				 e);
	return write_end(p, 0, e);
}

int props_set(struct props *p, const char *name, const char *value, struct err *e)
{
	const struct prop_def *d;
	char v[VALUE_MAX];
	if (!p)
		return err_set(e, "no property store");
	if (!(d = find_err(name, e)))
		return -1;
	if (!value)
		return err_set(e, "%s: no value", d->name);
	if (parse_value(d, value, v, sizeof(v), e) < 0)
		return -1;
	return write_pending(p, d, v, e);
}

int props_delete(struct props *p, const char *name, struct err *e)
{
	const struct prop_def *d;
	if (!p)
		return err_set(e, "no property store");
	if (!(d = find_err(name, e)))
		return -1;
	return write_pending(p, d, d->dflt, e);
}

static const char *col(sqlite3_stmt *st, int i)
{
	const char *s = (const char *)sqlite3_column_text(st, i);
	return s ? s : "";
}

int props_list(struct props *p, const char *pattern, struct prop_entry *out, int max, struct err *e)
{
	sqlite3_stmt *st;
	int n = 0, rc;
	char pat[128];
	if (!p)
		return err_set(e, "no property store");
	if (max < 0 || (max > 0 && !out))
		return err_set(e, "listprop: no room for the list");
	if (pattern && strlen(pattern) >= sizeof(pat) - 8)
		return err_set(e, "listprop: pattern too long");
	/* "dom0-*" means config/dom0-*; "config" or "config/" means all */
	if (!pattern || !strcmp(pattern, "config") || !strcmp(pattern, "config/"))
		snprintf(pat, sizeof(pat), "*");
	else if (strncmp(pattern, "config/", 7) && !strchr(pattern, '/'))
		snprintf(pat, sizeof(pat), "config/%s", pattern);
	else
		snprintf(pat, sizeof(pat), "%s", pattern);
	st = prepare(p, "SELECT name, value, pending FROM props ORDER BY name", e);
	if (!st)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < max) {
		const char *nm = col(st, 0);
		const struct prop_def *d = find(nm);
		struct prop_entry *o = &out[n];
		if (!d || strcmp(nm, d->name) || fnmatch(pat, nm, 0))
			continue;
		memset(o, 0, sizeof(*o));
		snprintf(o->name, sizeof(o->name), "%s", d->name);
		o->type = d->type;
		o->secret = d->secret;
		snprintf(o->value, sizeof(o->value), "%s", d->secret ? "********" : col(st, 1));
		if (sqlite3_column_type(st, 2) != SQLITE_NULL) {
			o->has_pending = true;
			snprintf(o->pending, sizeof(o->pending), "%s", d->secret ? "********" : col(st, 2));
		}
		n++;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_err(p, e, "listprop");
	return n;
}

int props_get(struct props *p, const char *name, char *buf, size_t len, struct err *e)
{
	const struct prop_def *d;
	sqlite3_stmt *st;
	const char *v;
	char checked[VALUE_MAX];
	int rc;
	if (!p)
		return err_set(e, "no property store");
	if (!(d = find_err(name, e)))
		return -1;
	if (!buf || !len)
		return err_set(e, "%s: no buffer", d->name);
	st = prepare(p, "SELECT value FROM props WHERE name = ?1", e);
	if (!st)
		return -1;
	rc = sqlite3_bind_text(st, 1, d->name, -1, SQLITE_STATIC) == SQLITE_OK ? sqlite3_step(st) : SQLITE_ERROR;
	v = rc == SQLITE_ROW ? col(st, 0) : d->dflt;
	/* a value that fails its check (the file was edited by hand) reads as the default */
	if (strlen(v) >= sizeof(checked) || check_value(d, v, checked, sizeof(checked), NULL) < 0)
		snprintf(checked, sizeof(checked), "%s", d->dflt);
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_err(p, e, d->name);
	if (strlen(checked) >= len)
		return err_set(e, "%s: value longer than the buffer (%zu bytes)", d->name, len);
	memcpy(buf, checked, strlen(checked) + 1);
	return 0;
}

int64_t props_get_int(struct props *p, const char *name, int64_t dflt)
{
	const struct prop_def *d = find(name);
	char buf[VALUE_MAX], *end;
	long long v;
	if (!d || props_get(p, name, buf, sizeof(buf), NULL) < 0)
		return dflt;
	if (d->type == PROP_BOOLEAN)
		return !strcmp(buf, "true");
	if (d->type == PROP_ASTRING)
		return dflt;
	errno = 0;
	v = strtoll(buf, &end, 10);
	return *end || end == buf || errno ? dflt : v;
}

int props_refresh(struct props *p, char *changed, size_t len, struct err *e)
{
	sqlite3_stmt *st;
	int n = 0, rc;
	size_t used = 0;
	bool cut = false;
	if (!p)
		return err_set(e, "no property store");
	if (changed && len)
		changed[0] = 0;
	if (write_begin(p, e) < 0)
		return -1;
	st = prepare(p, "SELECT name, pending FROM props WHERE pending IS NOT NULL AND pending != value ORDER BY name",
		     e);
	if (!st)
		goto fail;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *nm = col(st, 0);
		const struct prop_def *d = find(nm);
		char tmp[VALUE_MAX];
		if (d && (strlen(col(st, 1)) >= sizeof(tmp) || check_value(d, col(st, 1), tmp, sizeof(tmp), e) < 0)) {
			err_prefix(e, "refresh refused");
			sqlite3_finalize(st);
			goto fail;
		}
		if (changed && len && !cut) {
			int w = snprintf(changed + used, len - used, "%s%s", n ? "," : "", nm);
			if (w > 0 && (size_t)w < len - used) {
				used += (size_t)w;
			} else {
				/* whole names only; "..." when the rest did not fit */
				changed[used] = 0;
				if (len - used > 4)
					snprintf(changed + used, len - used, "%s", n ? ",..." : "...");
				cut = true;
			}
		}
		n++;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		db_err(p, e, "refresh");
		goto fail;
	}
	if (write_end(p, exec(p, "UPDATE props SET value = pending, pending = NULL WHERE pending IS NOT NULL", e), e) < 0)
		goto fail_done;
	return n;
fail:
	exec(p, "ROLLBACK", NULL);
fail_done:
	if (changed && len)
		changed[0] = 0;
	return -1;
}
