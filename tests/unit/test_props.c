/* Unit tests for the property store: defaults, setprop/listprop/refresh, type and value
 * errors that leave the store unchanged, secrets never listed, persistence, refusal of a
 * file that is not a store or a missing directory, fnmatch patterns. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hv/props.h"

static char dir[64], path[128];

static int setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/hvkit-props-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/props.db", dir);
	return 0;
}

static int teardown(void **state)
{
	char cmd[200];
	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

/* Each test starts from a fresh store. */
static int fresh(void **state)
{
	char p2[160];
	(void)state;
	unlink(path);
	snprintf(p2, sizeof(p2), "%s-wal", path);
	unlink(p2);
	snprintf(p2, sizeof(p2), "%s-shm", path);
	unlink(p2);
	return 0;
}

static const struct prop_entry *find(struct prop_entry *l, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(l[i].name, name))
			return &l[i];
	fail_msg("%s not listed", name);
	return NULL;
}

static void test_defaults(void **state)
{
	static const struct {
		const char *name;
		enum prop_type type;
		const char *value;
	} want[] = {
		{ "config/checkpoint-interval", PROP_COUNT, "0" },
		{ "config/checkpoint-keep", PROP_COUNT, "8" },
		{ "config/checkpoint-undo-max", PROP_COUNT, "0" },
		{ "config/console-ring-size", PROP_COUNT, "65536" },
		{ "config/default-weight", PROP_COUNT, "256" },
		{ "config/dom0-cpus", PROP_COUNT, "0" },
		{ "config/dom0-mem", PROP_COUNT, "128" },
		{ "config/dump-dir", PROP_ASTRING, "/var/crash/hvkit" },
		{ "config/dump-format", PROP_ASTRING, "kdump-zstd" },
		{ "config/migration-downtime", PROP_COUNT, "30" },
		{ "config/vncpasswd", PROP_ASTRING, "********" },
		{ "config/xend-relocation-address", PROP_ASTRING, "127.0.0.1" },
		{ "config/xend-relocation-hosts-allow", PROP_ASTRING, "^localhost$ ^127\\.0\\.0\\.1$ ^::1$" },
		{ "config/xend-relocation-port", PROP_COUNT, "8002" },
		{ "config/xend-relocation-server", PROP_BOOLEAN, "true" },
		{ "config/xend-relocation-ssl", PROP_BOOLEAN, "false" },
		{ "config/xend-relocation-ssl-ca", PROP_ASTRING, "" },
		{ "config/xend-relocation-ssl-cert", PROP_ASTRING, "" },
		{ "config/xend-relocation-ssl-key", PROP_ASTRING, "" },
		{ "config/xend-relocation-ssl-psk-file", PROP_ASTRING, "" },
	};
	struct err e;
	struct prop_entry l[32];
	struct stat st;
	struct props *p = props_open(path, &e);
	int n;
	(void)state;
	assert_non_null(p);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	n = props_list(p, NULL, l, 32, &e);
	assert_int_equal(n, 20);
	for (int i = 0; i < n; i++) { /* in name order */
		assert_string_equal(l[i].name, want[i].name);
		assert_int_equal(l[i].type, want[i].type);
		assert_string_equal(l[i].value, want[i].value);
		assert_false(l[i].has_pending);
		assert_int_equal(l[i].secret, !strcmp(want[i].name, "config/vncpasswd"));
	}
	assert_int_equal(props_get_int(p, "config/console-ring-size", -1), 65536);
	assert_int_equal(props_get_int(p, "xend-relocation-port", -1), 8002);
	assert_int_equal(props_get_int(p, "config/dump-dir", -1), -1); /* an astring */
	assert_int_equal(props_get_int(p, "config/nosuch", -7), -7);
	assert_string_equal(prop_type_name(PROP_ASTRING), "astring");
	assert_string_equal(prop_type_name(PROP_BOOLEAN), "boolean");
	assert_string_equal(prop_type_name(PROP_COUNT), "count");
	assert_string_equal(prop_type_name(PROP_INTEGER), "integer");
	/* a short list */
	assert_int_equal(props_list(p, NULL, l, 2, &e), 2);
	assert_string_equal(l[1].name, "config/checkpoint-keep");
	props_close(p);
}

static void test_set_refresh_persist(void **state)
{
	struct err e = { "" };
	struct prop_entry l[32];
	char changed[256], v[64];
	struct props *p = props_open(path, &e);
	int n;
	(void)state;
	assert_non_null(p);
	assert_int_equal(props_set(p, "config/dom0-cpus", "count: 1", &e), 0);
	assert_int_equal(props_set(p, "dump-dir", "astring: \"/srv/crash\"", &e), 0); /* config/ optional */
	assert_int_equal(props_set(p, "config/xend-relocation-hosts-allow", "\"^flax$ ^localhost$\"", &e), 0);
	assert_int_equal(props_set(p, "config/xend-relocation-address", "\"say \\\"hi\\\" \\\\o/\"", &e), 0);
	assert_int_equal(props_set(p, "config/dom0-mem", "+0512", &e), 0);
	n = props_list(p, NULL, l, 32, &e);
	assert_true(find(l, n, "config/dom0-cpus")->has_pending);
	assert_string_equal(find(l, n, "config/dom0-cpus")->pending, "1");
	assert_string_equal(find(l, n, "config/dom0-cpus")->value, "0"); /* not yet refreshed */
	assert_string_equal(find(l, n, "config/dom0-mem")->pending, "512"); /* canonical */
	assert_string_equal(find(l, n, "config/xend-relocation-address")->pending, "say \"hi\" \\o/");
	assert_false(find(l, n, "config/default-weight")->has_pending);
	assert_int_equal(props_get_int(p, "config/dom0-cpus", -1), 0);
	/* setting the running value again is no change */
	assert_int_equal(props_set(p, "config/default-weight", "256", &e), 0);
	n = props_list(p, NULL, l, 32, &e);
	assert_false(find(l, n, "config/default-weight")->has_pending);

	assert_int_equal(props_refresh(p, changed, sizeof(changed), &e), 5);
	assert_string_equal(changed, "config/dom0-cpus,config/dom0-mem,config/dump-dir,"
				     "config/xend-relocation-address,config/xend-relocation-hosts-allow");
	assert_int_equal(props_get_int(p, "config/dom0-cpus", -1), 1);
	assert_int_equal(props_get(p, "config/dump-dir", v, sizeof(v), &e), 0);
	assert_string_equal(v, "/srv/crash");
	assert_int_equal(props_get(p, "config/dump-dir", v, 5, &e), -1); /* too small: refused, not cut */
	n = props_list(p, NULL, l, 32, &e);
	for (int i = 0; i < n; i++)
		assert_false(l[i].has_pending);
	assert_int_equal(props_refresh(p, changed, sizeof(changed), &e), 0);
	assert_string_equal(changed, "");
	/* a changed list too long for the buffer: whole names, then "..." */
	assert_int_equal(props_set(p, "config/default-weight", "7", &e), 0);
	assert_int_equal(props_set(p, "config/dom0-cpus", "2", &e), 0);
	assert_int_equal(props_refresh(p, changed, 30, &e), 2);
	assert_string_equal(changed, "config/default-weight,...");
	/* pending, not refreshed: survives a reopen as pending */
	assert_int_equal(props_set(p, "config/dom0-cpus", "3", &e), 0);
	props_close(p);

	p = props_open(path, &e);
	assert_non_null(p);
	assert_int_equal(props_get_int(p, "config/dom0-cpus", -1), 2);
	assert_int_equal(props_get_int(p, "config/default-weight", -1), 7);
	n = props_list(p, "dom0-cpus", l, 32, &e);
	assert_int_equal(n, 1);
	assert_string_equal(l[0].pending, "3");
	assert_int_equal(props_delete(p, "config/dom0-cpus", &e), 0); /* back to the default */
	assert_int_equal(props_refresh(p, changed, sizeof(changed), &e), 1);
	assert_string_equal(changed, "config/dom0-cpus");
	assert_int_equal(props_get_int(p, "config/dom0-cpus", -1), 0);
	assert_int_equal(props_delete(p, "config/nosuch", &e), -1);
	props_close(p);
}

static void test_errors_leave_the_store_unchanged(void **state)
{
	struct err e;
	struct prop_entry before[32], after[32];
	struct props *p = props_open(path, &e);
	static const char *const bad[][3] = {
		{ "config/dom0-cpus", "astring: \"x\"", "config/dom0-cpus is of type count, not astring" },
		{ "config/dump-dir", "count: 4", "config/dump-dir is of type astring, not count" },
		{ "config/dump-dir", "boolean: true", "config/dump-dir is of type astring, not boolean" },
		{ "config/dump-dir", "ustring: \"/x\"", "config/dump-dir is of type astring, not ustring" },
		{ "config/nosuch", "1", "unknown property 'config/nosuch'" },
		{ "nosuch", "1", "unknown property 'nosuch'" },
		{ "config/", "1", "unknown property" },
		{ "config/dom0-cpus", "-3", "config/dom0-cpus is a count: '-3': a count cannot be negative" },
		{ "config/dom0-cpus", "count: -1", "cannot be negative" },
		{ "config/dom0-cpus", "three", "config/dom0-cpus is a count: 'three' is not a number" },
		{ "config/dom0-cpus", "", "not a number" },
		{ "config/dom0-cpus", "1.5", "not a number" },
		{ "config/dom0-cpus", "0x10", "not a number" },
		{ "config/dom0-cpus", "99999999999999999999", "out of range" },
		{ "config/xend-relocation-port", "70000", "must be from 1 to 65535" },
		{ "config/xend-relocation-port", "0", "must be from 1 to 65535" },
		{ "config/console-ring-size", "4095", "must be from 4096 to 67108864" },
		{ "config/console-ring-size", "67108865", "must be from 4096 to 67108864" },
		{ "config/default-weight", "0", "must be from 1 to 65535" },
		{ "config/xend-relocation-hosts-allow", "\"^ok$ ([unclosed\"", "'([unclosed' is not a valid regular expression" },
		{ "config/xend-relocation-hosts-allow", "a{2,1}", "not a valid regular expression" },
		{ "config/dump-dir", "relative/dir", "config/dump-dir must be an absolute path" },
		{ "config/dump-dir", "\"\"", "must be an absolute path" },
		{ "config/dump-dir", "\"/unterminated", "unterminated" },
		{ "config/dump-dir", "\"/a\" junk", "unexpected text after the closing quote" },
		{ "config/vncpasswd", "\"a\nb\"", "control characters" },
		{ "config/dump-format", "kdump-lzo", "config/dump-format is elf, kdump-zstd, kdump-lz4, kdump-zlib or kdump" },
	};
	char longval[1100];
	int n;
	(void)state;
	assert_non_null(p);
	assert_int_equal(props_list(p, NULL, before, 32, &e), 20);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		e.msg[0] = 0;
		assert_int_equal(props_set(p, bad[i][0], bad[i][1], &e), -1);
		if (!strstr(e.msg, bad[i][2]))
			fail_msg("setprop %s = %s: '%s' lacks '%s'", bad[i][0], bad[i][1], e.msg, bad[i][2]);
	}
	memset(longval, 'a', sizeof(longval));
	longval[0] = '/';
	longval[sizeof(longval) - 1] = 0;
	assert_int_equal(props_set(p, "config/dump-dir", longval, &e), -1);
	assert_non_null(strstr(e.msg, "too long"));
	n = props_list(p, NULL, after, 32, &e);
	assert_int_equal(n, 20);
	assert_memory_equal(before, after, sizeof(before[0]) * 20);
	props_close(p);
	/* booleans: no property has the type yet; the type's own check */
	{
		char out[16];
		assert_int_equal(prop_value_parse(PROP_BOOLEAN, "true", out, sizeof(out), &e), 0);
		assert_int_equal(prop_value_parse(PROP_BOOLEAN, "false", out, sizeof(out), &e), 0);
		assert_int_equal(prop_value_parse(PROP_BOOLEAN, "yes", out, sizeof(out), &e), -1);
		assert_string_equal(e.msg, "'yes' is not a boolean (true or false)");
		assert_int_equal(prop_value_parse(PROP_BOOLEAN, "TRUE", out, sizeof(out), &e), -1);
		assert_int_equal(prop_value_parse(PROP_INTEGER, "-42", out, sizeof(out), &e), 0);
		assert_string_equal(out, "-42");
		assert_int_equal(prop_value_parse(PROP_COUNT, "-42", out, sizeof(out), &e), -1);
		assert_int_equal(prop_value_parse(PROP_ASTRING, "0123456789abcdef", out, sizeof(out), &e), -1);
	}
}

static void test_secret(void **state)
{
	struct err e;
	struct prop_entry l[32];
	char v[64];
	struct props *p = props_open(path, &e);
	int n;
	(void)state;
	assert_int_equal(props_set(p, "config/vncpasswd", "astring: \"hunter2\"", &e), 0);
	n = props_list(p, NULL, l, 32, &e);
	assert_true(find(l, n, "config/vncpasswd")->has_pending);
	assert_string_equal(find(l, n, "config/vncpasswd")->pending, "********");
	assert_string_equal(find(l, n, "config/vncpasswd")->value, "********");
	assert_int_equal(props_refresh(p, NULL, 0, &e), 1);
	n = props_list(p, "vncpasswd", l, 32, &e);
	assert_int_equal(n, 1);
	assert_string_equal(l[0].value, "********");
	assert_false(l[0].has_pending);
	for (int i = 0; i < n; i++) {
		assert_null(strstr(l[i].value, "hunter2"));
		assert_null(strstr(l[i].pending, "hunter2"));
	}
	assert_int_equal(props_get(p, "config/vncpasswd", v, sizeof(v), &e), 0);
	assert_string_equal(v, "hunter2"); /* hv itself can read it */
	props_close(p);
}

static void test_patterns(void **state)
{
	struct err e;
	struct prop_entry l[32];
	struct props *p = props_open(path, &e);
	(void)state;
	assert_int_equal(props_list(p, "config/xend-*", l, 32, &e), 9);
	assert_string_equal(l[0].name, "config/xend-relocation-address");
	assert_string_equal(l[2].name, "config/xend-relocation-port");
	assert_int_equal(props_list(p, "dom0-*", l, 32, &e), 2);
	assert_int_equal(props_list(p, "*-size", l, 32, &e), 1);
	assert_int_equal(props_list(p, "config/dom0-[cm]*", l, 32, &e), 2);
	assert_int_equal(props_list(p, "config/dom0-?pus", l, 32, &e), 1);
	assert_int_equal(props_list(p, "config", l, 32, &e), 20);
	assert_int_equal(props_list(p, "*", l, 32, &e), 20);
	assert_int_equal(props_list(p, "nosuch*", l, 32, &e), 0);
	assert_int_equal(props_list(p, "other/*", l, 32, &e), 0);
	assert_int_equal(props_list(p, NULL, l, -1, &e), -1);
	props_close(p);
}

static void test_not_a_store(void **state)
{
	struct err e;
	char other[160];
	FILE *f;
	(void)state;
	snprintf(other, sizeof(other), "%s/junk.db", dir);
	f = fopen(other, "w");
	fputs("this is not a database at all\n", f);
	fclose(f);
	assert_null(props_open(other, &e));
	assert_non_null(strstr(e.msg, "not a property store"));
	/* an SQLite header with garbage after it */
	f = fopen(other, "w");
	fwrite("SQLite format 3\0", 1, 16, f);
	for (int i = 0; i < 4096; i++)
		fputc(0xa5, f);
	fclose(f);
	assert_null(props_open(other, &e));
	assert_non_null(strstr(e.msg, "not a property store"));
	/* an SQLite database of something else */
	{
		sqlite3 *db;
		unlink(other);
		assert_int_equal(sqlite3_open(other, &db), SQLITE_OK);
		assert_int_equal(sqlite3_exec(db, "CREATE TABLE t (x)", NULL, NULL, NULL), SQLITE_OK);
		sqlite3_close(db);
		assert_null(props_open(other, &e));
		assert_non_null(strstr(e.msg, "not a property store"));
	}
	/* a directory */
	assert_null(props_open(dir, &e));
	if (!strstr(e.msg, "not a property store")) fail_msg("%s", e.msg);
	/* a missing directory */
	snprintf(other, sizeof(other), "%s/missing/props.db", dir);
	assert_null(props_open(other, &e));
	assert_non_null(strstr(e.msg, "missing/props.db"));
	assert_non_null(strstr(e.msg, "does not exist"));
	assert_null(props_open("", &e));
	assert_int_equal(props_set(NULL, "dom0-cpus", "1", &e), -1);
	props_close(NULL);
}

/* A store with a damaged page is refused at open ("corrupt"); one removed or replaced
 * while open fails the next write and every one after it until it is reopened. */
static void test_corrupt_or_gone(void **state)
{
	struct err e;
	struct props *p;
	char other[160];
	uint8_t *data;
	long size;
	FILE *f;
	(void)state;
	p = props_open(path, &e);
	assert_non_null(p);
	assert_int_equal(props_set(p, "dump-format", "elf", &e), 0);
	props_close(p);
	f = fopen(path, "rb");
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	assert_true(size >= 3 * 4096);
	rewind(f);
	data = malloc((size_t)size);
	assert_int_equal(fread(data, 1, (size_t)size, f), (size_t)size);
	fclose(f);
	for (long i = 4096 + 100; i < 8192 - 100; i += 7) /* the props table's page */
		data[i] ^= 0x5a;
	snprintf(other, sizeof(other), "%s/bad.db", dir);
	f = fopen(other, "wb");
	fwrite(data, 1, (size_t)size, f);
	fclose(f);
	free(data);
	assert_null(props_open(other, &e));
	if (!strstr(e.msg, "is corrupt (PRAGMA integrity_check")) fail_msg("%s", e.msg);
	/* removed under an open store: every write fails and says so */
	p = props_open(path, &e);
	assert_non_null(p);
	assert_int_equal(rename(path, other), 0);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(props_set(p, "checkpoint-keep", "3", &e), -1);
		if (!strstr(e.msg, "was removed while hv ran: not stored")) fail_msg("%s", e.msg);
	}
	assert_int_equal(props_refresh(p, NULL, 0, &e), -1);
	assert_true(props_gone(p));
	props_close(p);
}

/* A store from before the relocation server: its untouched address and hosts-allow (the
 * old seeded "" and "^localhost$") become the loopback-only defaults; a value the
 * administrator set stays. */
static void test_old_store_upgraded(void **state)
{
	struct err e;
	char v[256];
	sqlite3 *db;
	struct props *p = props_open(path, &e);
	(void)state;
	assert_non_null(p);
	props_close(p);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "DELETE FROM props WHERE name LIKE 'config/xend-relocation-s%' OR "
				      "name = 'config/migration-downtime'; UPDATE props SET value = '' WHERE name = "
				      "'config/xend-relocation-address'; UPDATE props SET value = '^flax$' WHERE name = "
				      "'config/xend-relocation-hosts-allow'", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	p = props_open(path, &e);
	assert_non_null(p);
	assert_int_equal(props_get(p, "config/xend-relocation-address", v, sizeof(v), &e), 0);
	assert_string_equal(v, "127.0.0.1");
	assert_int_equal(props_get(p, "config/xend-relocation-hosts-allow", v, sizeof(v), &e), 0);
	assert_string_equal(v, "^flax$"); /* set by hand: kept */
	assert_int_equal(props_get_int(p, "config/xend-relocation-server", -1), 1);
	/* once upgraded, "" set by hand means every address and stays */
	assert_int_equal(props_set(p, "config/xend-relocation-address", "\"\"", &e), 0);
	assert_int_equal(props_refresh(p, NULL, 0, &e), 1);
	props_close(p);
	p = props_open(path, &e);
	assert_int_equal(props_get(p, "config/xend-relocation-address", v, sizeof(v), &e), 0);
	assert_string_equal(v, "");
	props_close(p);
}

/* Where the store is (issue 17): never through a symlink (props.db or SQLite's files beside
 * it), never in a directory others can write unless it is sticky, never a file of another
 * uid; the symlink's target is left as it was. */
static void test_no_symlink_no_open_dir(void **state)
{
	struct err e;
	struct props *p;
	struct stat st;
	char sub[160], store[200], victim[200], side[220];
	(void)state;
	snprintf(victim, sizeof(victim), "%s/victim", dir);
	snprintf(sub, sizeof(sub), "%s/state", dir);
	snprintf(store, sizeof(store), "%s/props.db", sub);
	assert_int_equal(mkdir(sub, 0700), 0);

	/* a dangling symlink: nothing is created at its target */
	assert_int_equal(symlink(victim, store), 0);
	assert_null(props_open(store, &e));
	if (!strstr(e.msg, "is a symlink: not followed")) fail_msg("%s", e.msg);
	assert_int_equal(lstat(victim, &st), -1);
	/* a symlink to a real store: not opened either, the store untouched */
	p = props_open(path, &e);
	assert_non_null(p);
	props_close(p);
	unlink(store);
	assert_int_equal(symlink(path, store), 0);
	assert_null(props_open(store, &e));
	if (!strstr(e.msg, "is a symlink: not followed")) fail_msg("%s", e.msg);
	unlink(store);
	/* a symlink where SQLite would put its WAL */
	snprintf(side, sizeof(side), "%s-wal", store);
	assert_int_equal(symlink(victim, side), 0);
	assert_null(props_open(store, &e));
	if (!strstr(e.msg, "props.db-wal: not a file SQLite may use (a symlink)")) fail_msg("%s", e.msg);
	assert_int_equal(lstat(victim, &st), -1);
	unlink(side);

	/* a directory others can write: refused unless sticky */
	assert_int_equal(chmod(sub, 0777), 0);
	assert_null(props_open(store, &e));
	if (!strstr(e.msg, "is writable by others and not sticky (mode 0777)")) fail_msg("%s", e.msg);
	assert_int_equal(lstat(store, &st), -1); /* nothing created there */
	assert_int_equal(chmod(sub, 0770), 0);
	assert_null(props_open(store, &e));
	assert_int_equal(chmod(sub, 01777), 0);
	p = props_open(store, &e);
	if (!p) fail_msg("%s", e.msg);
	assert_int_equal(props_set(p, "checkpoint-keep", "3", &e), 0);
	props_close(p);

	/* a store another uid put there (in a sticky directory anyone may) */
	if (geteuid() == 0) {
		assert_int_equal(chown(store, 65534, 65534), 0);
		assert_null(props_open(store, &e));
		if (!strstr(e.msg, "belongs to uid 65534: not opened")) fail_msg("%s", e.msg);
		assert_int_equal(chown(store, 0, 0), 0);
		snprintf(side, sizeof(side), "%s-journal", store); /* another uid's file beside it */
		close(open(side, O_CREAT | O_WRONLY, 0666));
		assert_int_equal(chown(side, 65534, 65534), 0);
		assert_null(props_open(store, &e));
		if (!strstr(e.msg, "props.db-journal belongs to uid 65534")) fail_msg("%s", e.msg);
		unlink(side);
	}
	p = props_open(store, &e);
	if (!p) fail_msg("%s", e.msg);
	props_close(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_defaults, fresh),
		cmocka_unit_test_setup(test_set_refresh_persist, fresh),
		cmocka_unit_test_setup(test_errors_leave_the_store_unchanged, fresh),
		cmocka_unit_test_setup(test_secret, fresh),
		cmocka_unit_test_setup(test_patterns, fresh),
		cmocka_unit_test_setup(test_not_a_store, fresh),
		cmocka_unit_test_setup(test_old_store_upgraded, fresh),
		cmocka_unit_test_setup(test_corrupt_or_gone, fresh),
		cmocka_unit_test_setup(test_no_symlink_no_open_dir, fresh),
	};
	return cmocka_run_group_tests_name("props", tests, setup, teardown);
}
