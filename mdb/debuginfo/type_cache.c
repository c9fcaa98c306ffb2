/* type_cache: the type index (name and kind -> .debug_info offset) kept on disk per build-id
 * in SQLite, so a later hvmdb on the same kernel needs no scan of .debug_info. Written to a
 * temporary file and renamed; on open it must be ours (application id, schema version) and
 * made from this very file (build-id, size, mtime, .debug_info size), else it is ignored.
 * Its contents are untrusted: offsets are checked against .debug_info's size here, and the
 * DIE at one against the name by the caller. */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mdb/mdb.h"

#define TYPE_CACHE_APP_ID 0x68766b74 /* "hvkt" */
#define TYPE_CACHE_SCHEMA 1
#define TYPE_NAME_MAX 1024           /* longer names in a cache file make it invalid */

struct type_cache {
	sqlite3 *db;
	sqlite3_stmt *find;
	uint64_t info_size;
};

/* The size of .debug_info (0 when there is none). */
static uint64_t debug_info_size(int fd)
{
	Elf *elf;
	Elf_Scn *scn = NULL;
	size_t shstrndx;
	uint64_t size = 0;
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF || elf_getshdrstrndx(elf, &shstrndx) < 0)
		goto out;
	while ((scn = elf_nextscn(elf, scn)) != NULL) {
		GElf_Shdr sh;
		const char *name;
		if (gelf_getshdr(scn, &sh) && sh.sh_type != SHT_NOBITS && (name = elf_strptr(elf, shstrndx, sh.sh_name)) &&
		    !strcmp(name, ".debug_info")) {
			size = sh.sh_size;
			break;
		}
	}
out:
	if (elf)
		elf_end(elf);
	return size;
}

int type_cache_key(const char *symfile, struct type_cache_key *k, struct err *e)
{
	struct stat st;
	int fd;
	memset(k, 0, sizeof(*k));
	fd = file_open_regular(symfile, "symbol file", &st, e);
	if (fd < 0)
		return -1;
	k->file_size = (uint64_t)st.st_size;
	k->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
	k->info_size = debug_info_size(fd);
	close(fd);
	if (!k->info_size)
		return err_set(e, "%s has no .debug_info", symfile);
	if (elf_file_build_id(symfile, k->build_id) < 0)
		return err_set(e, "%s has no build-id", symfile);
	return 0;
}

int type_cache_path(const struct type_cache_key *k, char *out, size_t len, struct err *e)
{
	const char *dir = getenv("HVKIT_TYPE_CACHE"), *root = getenv("HVKIT_CACHE"), *xdg = getenv("XDG_CACHE_HOME"),
		   *home = getenv("HOME");
	int n;
	if (!k->build_id[0])
		return err_set(e, "no build-id");
	if (dir && (!*dir || !strcmp(dir, "off")))
		return err_set(e, "HVKIT_TYPE_CACHE=%s: no cache", dir);
	if (dir)
		n = snprintf(out, len, "%s/%s.sqlite", dir, k->build_id);
	else if (root && *root)
		n = snprintf(out, len, "%s/types/%s.sqlite", root, k->build_id);
	else if (xdg && *xdg == '/')
		n = snprintf(out, len, "%s/hvkit/types/%s.sqlite", xdg, k->build_id);
	else if (home && *home)
		n = snprintf(out, len, "%s/.cache/hvkit/types/%s.sqlite", home, k->build_id);
	else
		return err_set(e, "no HOME for the cache");
	if (n < 0 || (size_t)n >= len)
		return err_set(e, "cache path too long");
	return 0;
}

static int db_err(sqlite3 *db, struct err *e, const char *what)
{
	return err_set(e, "%s: %s", what, db ? sqlite3_errmsg(db) : "out of memory");
}

/* One integer from a one-row query; -1 with a message when it fails. */
static int query_int(sqlite3 *db, const char *sql, int64_t *v, struct err *e)
{
	sqlite3_stmt *st = NULL;
	int rc;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return db_err(db, e, sql);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : db_err(db, e, sql);
}

/* Hardening for a file anyone may have written: no triggers or views that call functions. */
static void db_defend(sqlite3 *db)
{
	sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
	sqlite3_exec(db, "PRAGMA cell_size_check = ON", NULL, NULL, NULL);
}

static int check_meta(struct type_cache *c, const struct type_cache_key *k, struct err *e)
{
	sqlite3_stmt *st = NULL;
	int64_t app, version, tables, rows;
	int ok, rc;
	if (query_int(c->db, "PRAGMA application_id", &app, e) < 0 || query_int(c->db, "PRAGMA user_version", &version, e) < 0)
		return -1;
	if (app != TYPE_CACHE_APP_ID || version != TYPE_CACHE_SCHEMA)
		return err_set(e, "not a type cache of schema %d (application id 0x%llx, version %lld)", TYPE_CACHE_SCHEMA,
			       (unsigned long long)app, (long long)version);
	if (query_int(c->db, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN ('meta', 'types')", &tables, e) < 0)
		return -1;
	if (tables != 2)
		return err_set(e, "no meta and types tables");
	if (sqlite3_prepare_v2(c->db, "SELECT build_id, file_size, mtime_ns, info_size, count FROM meta", -1, &st, NULL) != SQLITE_OK)
		return db_err(c->db, e, "meta");
	rc = sqlite3_step(st);
	ok = rc == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_TEXT &&
	     !strcmp((const char *)sqlite3_column_text(st, 0), k->build_id) &&
	     (uint64_t)sqlite3_column_int64(st, 1) == k->file_size && sqlite3_column_int64(st, 2) == k->mtime_ns &&
	     (uint64_t)sqlite3_column_int64(st, 3) == k->info_size;
	rows = rc == SQLITE_ROW ? sqlite3_column_int64(st, 4) : -1;
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW)
		return err_set(e, "no meta row");
	if (!ok)
		return err_set(e, "made from another file (build-id, size, mtime or .debug_info size differ)");
	if (query_int(c->db, "SELECT count(*) FROM types", &tables, e) < 0)
		return -1;
	if (tables != rows)
		return err_set(e, "%lld types where the meta row says %lld", (long long)tables, (long long)rows);
	return 0;
}

struct type_cache *type_cache_open(const char *path, const struct type_cache_key *k, struct err *e)
{
	struct type_cache *c = xcalloc(1, sizeof(*c));
	struct stat st;
	if (stat(path, &st) < 0) {
		err_errno(e, "%s", path);
		free(c);
		return NULL;
	}
	if (!S_ISREG(st.st_mode)) {
		err_set(e, "%s: not a regular file", path);
		free(c);
		return NULL;
	}
	c->info_size = k->info_size;
	if (sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		db_err(c->db, e, path);
		goto fail;
	}
	db_defend(c->db);
	if (check_meta(c, k, e) < 0) {
		err_prefix(e, "%s", path);
		goto fail;
	}
	if (sqlite3_prepare_v2(c->db, "SELECT off FROM types WHERE kind = ?1 AND name = ?2", -1, &c->find, NULL) != SQLITE_OK) {
		db_err(c->db, e, path);
		goto fail;
	}
	return c;
fail:
	type_cache_close(c);
	return NULL;
}

void type_cache_close(struct type_cache *c)
{
	if (!c)
		return;
	sqlite3_finalize(c->find);
	sqlite3_close(c->db);
	free(c);
}

/* An offset from the file: inside .debug_info, past the first unit's header. */
static bool off_ok(const struct type_cache *c, int64_t off)
{
	return off >= 11 && (uint64_t)off < c->info_size;
}

int type_cache_lookup(struct type_cache *c, enum type_kind kind, const char *name, uint64_t *off, struct err *e)
{
	int rc, ret;
	sqlite3_reset(c->find);
	if (sqlite3_bind_int(c->find, 1, (int)kind) != SQLITE_OK || sqlite3_bind_text(c->find, 2, name, -1, SQLITE_STATIC) != SQLITE_OK)
		return db_err(c->db, e, "type cache");
	rc = sqlite3_step(c->find);
	if (rc == SQLITE_ROW) {
		int64_t v = sqlite3_column_int64(c->find, 0);
		ret = off_ok(c, v) ? 1 : err_set(e, "type cache: offset 0x%llx of %s is outside .debug_info", (unsigned long long)v, name);
		*off = (uint64_t)v;
	} else {
		ret = rc == SQLITE_DONE ? 0 : db_err(c->db, e, "type cache");
	}
	sqlite3_reset(c->find);
	sqlite3_clear_bindings(c->find);
	return ret;
}

int type_cache_each(struct type_cache *c, type_cache_fn fn, void *arg, struct err *e)
{
	sqlite3_stmt *st = NULL;
	int rc;
	if (sqlite3_prepare_v2(c->db, "SELECT kind, name, off FROM types", -1, &st, NULL) != SQLITE_OK)
		return db_err(c->db, e, "type cache");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t kind = sqlite3_column_int64(st, 0), off = sqlite3_column_int64(st, 2);
		const char *name = (const char *)sqlite3_column_text(st, 1);
		if (kind < TYPE_OTHER || kind > TYPE_ENUM || !name || !*name || strlen(name) > TYPE_NAME_MAX || !off_ok(c, off)) {
			sqlite3_finalize(st);
			return err_set(e, "type cache: a bad row (kind %lld, offset 0x%llx)", (long long)kind, (unsigned long long)off);
		}
		fn(arg, (enum type_kind)kind, name, (uint64_t)off);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : db_err(c->db, e, "type cache");
}

/* mkdir -p of path's directory */
static int make_dirs(const char *path, struct err *e)
{
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s", path);
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			return err_errno(e, "mkdir %s", dir);
		*p = '/';
	}
	return 0;
}

static int write_rows(sqlite3 *db, const struct type_cache_key *k, const struct type_cache_entry *v, size_t n, struct err *e)
{
	sqlite3_stmt *st = NULL;
	char sql[512];
	snprintf(sql, sizeof(sql),
		 "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA application_id = %d; PRAGMA user_version = %d;"
		 "CREATE TABLE meta (build_id TEXT, file_size INTEGER, mtime_ns INTEGER, info_size INTEGER, count INTEGER);"
		 "CREATE TABLE types (kind INTEGER NOT NULL, name TEXT NOT NULL, off INTEGER NOT NULL,"
		 " PRIMARY KEY (kind, name)) WITHOUT ROWID; BEGIN;",
		 TYPE_CACHE_APP_ID, TYPE_CACHE_SCHEMA);
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return db_err(db, e, "create");
	if (sqlite3_prepare_v2(db, "INSERT INTO meta VALUES (?1, ?2, ?3, ?4, ?5)", -1, &st, NULL) != SQLITE_OK)
		return db_err(db, e, "meta");
	sqlite3_bind_text(st, 1, k->build_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (int64_t)k->file_size);
	sqlite3_bind_int64(st, 3, k->mtime_ns);
	sqlite3_bind_int64(st, 4, (int64_t)k->info_size);
	sqlite3_bind_int64(st, 5, (int64_t)n);
	if (sqlite3_step(st) != SQLITE_DONE) {
		sqlite3_finalize(st);
		return db_err(db, e, "meta");
	}
	sqlite3_finalize(st);
	if (sqlite3_prepare_v2(db, "INSERT INTO types VALUES (?1, ?2, ?3)", -1, &st, NULL) != SQLITE_OK)
		return db_err(db, e, "types");
	for (size_t i = 0; i < n; i++) {
		sqlite3_bind_int(st, 1, (int)v[i].kind);
		sqlite3_bind_text(st, 2, v[i].name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, (int64_t)v[i].off);
		if (sqlite3_step(st) != SQLITE_DONE) {
			sqlite3_finalize(st);
			return db_err(db, e, "types");
		}
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		return db_err(db, e, "commit");
	return 0;
}

int type_cache_write(const char *path, const struct type_cache_key *k, const struct type_cache_entry *v, size_t n,
		     struct err *e)
{
	char tmp[4200];
	sqlite3 *db = NULL;
	int ret;
	if (make_dirs(path, e) < 0)
		return -1;
	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
	unlink(tmp);
	if (sqlite3_open_v2(tmp, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
		ret = db_err(db, e, tmp);
		sqlite3_close(db);
		unlink(tmp);
		return ret;
	}
	ret = write_rows(db, k, v, n, e);
	if (sqlite3_close(db) != SQLITE_OK && ret == 0)
		ret = err_set(e, "%s: close failed", tmp);
	if (ret == 0 && rename(tmp, path) < 0)
		ret = err_errno(e, "rename %s", tmp);
	if (ret < 0)
		unlink(tmp);
	return ret;
}
