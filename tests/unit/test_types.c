/* Unit tests for the type cache (mdb/debuginfo/type_cache.c) and the type index over it
 * (dwarf_names.c, dwarf.c), with build/guest.elf as the symbol file: a round trip, files
 * that are not ours or are made from another file, offsets outside .debug_info, a cache
 * that lies, an unwritable cache directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mdb/mdb.h"
#include "slurp.h"

static char guest[512], dir[64], path[4200];
static struct type_cache_key key;

static int setup(void **state)
{
	const char *b = getenv("HVKIT_BUILD");
	struct err e;
	(void)state;
	snprintf(guest, sizeof(guest), "%s/guest.elf", b ? b : "build");
	strcpy(dir, "/tmp/hvkit-types-XXXXXX");
	if (!mkdtemp(dir) || setenv("HVKIT_TYPE_CACHE", dir, 1) < 0)
		return -1;
	unsetenv("HVKIT_DEBUG_TYPES");
	if (type_cache_key(guest, &key, &e) < 0) {
		fprintf(stderr, "%s\n", e.msg);
		return -1;
	}
	return type_cache_path(&key, path, sizeof(path), &e);
}

static int teardown(void **state)
{
	char cmd[128];
	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static const struct type_cache_entry rows[] = {
	{ TYPE_STRUCT, "thread", 0x100 },
	{ TYPE_UNION, "thread", 0x200 }, /* another kind: another entry */
	{ TYPE_OTHER, "uint64_t", 0x300 },
	{ TYPE_ENUM, "state", 0x400 },
};

static void count_row(void *arg, enum type_kind kind, const char *name, uint64_t off)
{
	(void)kind, (void)name, (void)off;
	(*(int *)arg)++;
}

static void test_key_and_path(void **state)
{
	struct type_cache_key k;
	struct err e;
	char p[4200];
	(void)state;
	assert_int_equal(strlen(key.build_id), 40);
	assert_true(key.info_size > 0 && key.file_size > key.info_size);
	assert_non_null(strstr(path, dir));
	assert_non_null(strstr(path, key.build_id));
	setenv("HVKIT_TYPE_CACHE", "off", 1);
	assert_int_equal(type_cache_path(&key, p, sizeof(p), &e), -1);
	unsetenv("HVKIT_TYPE_CACHE");
	setenv("HVKIT_CACHE", "/var/tmp/hvc", 1);
	assert_int_equal(type_cache_path(&key, p, sizeof(p), &e), 0);
	assert_true(!strncmp(p, "/var/tmp/hvc/types/", 19));
	unsetenv("HVKIT_CACHE");
	setenv("HVKIT_TYPE_CACHE", dir, 1);
	k = key;
	k.build_id[0] = 0;
	assert_int_equal(type_cache_path(&k, p, sizeof(p), &e), -1); /* no build-id: no cache */
	assert_int_equal(type_cache_key("/nonexistent", &k, &e), -1);
}

static void test_round_trip(void **state)
{
	struct type_cache *c;
	struct err e;
	uint64_t off = 0;
	int n = 0;
	(void)state;
	assert_int_equal(type_cache_write(path, &key, rows, 4, &e), 0);
	c = type_cache_open(path, &key, &e);
	assert_non_null(c);
	assert_int_equal(type_cache_lookup(c, TYPE_STRUCT, "thread", &off, &e), 1);
	assert_int_equal(off, 0x100);
	assert_int_equal(type_cache_lookup(c, TYPE_UNION, "thread", &off, &e), 1);
	assert_int_equal(off, 0x200);
	assert_int_equal(type_cache_lookup(c, TYPE_OTHER, "uint64_t", &off, &e), 1);
	assert_int_equal(off, 0x300);
	assert_int_equal(type_cache_lookup(c, TYPE_ENUM, "thread", &off, &e), 0);
	assert_int_equal(type_cache_lookup(c, TYPE_STRUCT, "nosuch", &off, &e), 0);
	assert_int_equal(type_cache_each(c, count_row, &n, &e), 0);
	assert_int_equal(n, 4);
	type_cache_close(c);
	assert_int_equal(access(path, F_OK), 0);
}

/* A cache made from another file (each part of the key) is not opened. */
static void test_foreign_key(void **state)
{
	struct type_cache_key k;
	struct err e;
	(void)state;
	assert_int_equal(type_cache_write(path, &key, rows, 4, &e), 0);
	k = key;
	k.build_id[0] ^= 1;
	assert_null(type_cache_open(path, &k, &e));
	k = key;
	k.file_size++;
	assert_null(type_cache_open(path, &k, &e));
	assert_non_null(strstr(e.msg, "another file"));
	k = key;
	k.info_size--;
	assert_null(type_cache_open(path, &k, &e));
	k = key;
	k.mtime_ns++;
	assert_null(type_cache_open(path, &k, &e));
}

static void write_file(const char *p, const void *buf, size_t n)
{
	FILE *f = fopen(p, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, n, f), n);
	fclose(f);
}

/* Garbage, an empty file, someone else's SQLite database, a truncated cache: not opened. */
static void test_corrupt(void **state)
{
	static char buf[1 << 16];
	struct err e;
	char cmd[9000];
	FILE *f;
	size_t n;
	(void)state;
	memset(buf, 0x5a, 4096);
	write_file(path, buf, 4096);
	assert_null(type_cache_open(path, &key, &e));
	write_file(path, "", 0);
	assert_null(type_cache_open(path, &key, &e));
	unlink(path);
	snprintf(cmd, sizeof(cmd), "sqlite3 '%s' 'CREATE TABLE meta(x); CREATE TABLE types(y);' 2>/dev/null", path);
	if (system(cmd) == 0)
		assert_null(type_cache_open(path, &key, &e)); /* (without the sqlite3 tool: skipped) */
	assert_int_equal(type_cache_write(path, &key, rows, 4, &e), 0);
	f = fopen(path, "rb");
	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	assert_true(n > 1024);
	write_file(path, buf, n / 2);
	assert_null(type_cache_open(path, &key, &e));
	memset(buf + 100, 0xff, 32); /* a bad header */
	write_file(path, buf, n);
	assert_null(type_cache_open(path, &key, &e));
	unlink(path);
	assert_null(type_cache_open(path, &key, &e)); /* missing */
	assert_int_equal(mkdir(path, 0755), 0);
	assert_null(type_cache_open(path, &key, &e)); /* a directory */
	rmdir(path);
}

/* Offsets outside .debug_info are refused on lookup and when listing. */
static void test_offsets_bounded(void **state)
{
	struct type_cache_entry bad[] = { { TYPE_STRUCT, "thread", 0 }, { TYPE_STRUCT, "cpu", 0 } };
	struct type_cache *c;
	struct err e;
	uint64_t off;
	int n = 0;
	(void)state;
	bad[0].off = key.info_size;
	bad[1].off = 0x100;
	assert_int_equal(type_cache_write(path, &key, bad, 2, &e), 0);
	c = type_cache_open(path, &key, &e);
	assert_non_null(c);
	assert_int_equal(type_cache_lookup(c, TYPE_STRUCT, "thread", &off, &e), -1);
	assert_non_null(strstr(e.msg, "outside .debug_info"));
	assert_int_equal(type_cache_lookup(c, TYPE_STRUCT, "cpu", &off, &e), 1);
	assert_int_equal(type_cache_each(c, count_row, &n, &e), -1);
	type_cache_close(c);
	unlink(path);
}

/* ::sizeof through a fresh target on guest.elf, into buf */
static void run_sizeof(const char *type, char *buf, size_t len)
{
	struct target *t = xcalloc(1, sizeof(*t));
	FILE *f = fmemopen(buf, len, "w");
	assert_non_null(f);
	t->symfile = guest;
	dwarf_cmd_sizeof(t, type, f);
	fclose(f);
	dwarf_close_target(t);
	dwarf_names_free(t);
	free(t);
}

/* A section of an ELF file: its bytes (malloc'd) and its offset in the file. */
static uint8_t *section_of(const char *file, const char *name, size_t *size, size_t *foff)
{
	struct dwarf_obj *o;
	void *dbg;
	uint64_t addr;
	const uint8_t *p;
	uint8_t *copy = NULL;
	long whole;
	uint8_t *map = NULL;
	o = dwarf_obj_open(file, &dbg);
	assert_non_null(o);
	p = dwarf_obj_section(o, name, &addr, size);
	if (p) {
		copy = malloc(*size);
		memcpy(copy, p, *size);
		/* where it is in the file: found by its bytes (sections are unique enough) */
		map = slurp(file, &whole);
		*foff = 0;
		for (size_t i = 0; i + *size <= (size_t)whole; i++)
			if (!memcmp(map + i, copy, *size)) {
				*foff = i;
				break;
			}
		free(map);
	}
	dwarf_obj_close(o);
	return copy;
}

/* Issue 17: .debug_abbrev is checked before libdwarf reads it. Real files pass (the guest,
 * this gcc-built test itself); an indexed form without its section, an unknown form and a
 * table cut short are refused with the reason; and a guest.elf with one form byte turned
 * into DW_FORM_strx (which crashed libdwarf in the name scan) gives "no DWARF", not SIGSEGV. */
static void test_abbrev_checked(void **state)
{
	const uint8_t strx[] = { 1, 0x11, 1, 0x03, 0x25, 0, 0, 0 }, unknown[] = { 1, 0x11, 1, 0x03, 0x7f, 0, 0, 0 },
		      cut[] = { 1, 0x11 }, implicit[] = { 1, 0x34, 0, 0x3b, 0x21, 0x85, 0x01, 0, 0, 0 };
	const char *files[] = { guest, "/proc/self/exe" };
	char why[200], out[256], bad[600];
	size_t size, foff;
	uint8_t *p;
	FILE *f;
	(void)state;
	for (unsigned i = 0; i < 2; i++) {
		p = section_of(files[i], ".debug_abbrev", &size, &foff);
		assert_non_null(p);
		assert_int_equal(dwarf_abbrev_check(p, size, DWARF_NEED_STR_OFFSETS | DWARF_NEED_ADDR | DWARF_NEED_RNGLISTS |
							       DWARF_NEED_LOCLISTS, why, sizeof(why)), 0);
		free(p);
	}
	assert_int_equal(dwarf_abbrev_check(strx, sizeof(strx), 0, why, sizeof(why)), -1);
	assert_string_equal(why, ".debug_abbrev+0x0: form 0x25 indexes .debug_str_offsets, which the file does not have");
	assert_int_equal(dwarf_abbrev_check(strx, sizeof(strx), DWARF_NEED_STR_OFFSETS, why, sizeof(why)), 0);
	assert_int_equal(dwarf_abbrev_check(unknown, sizeof(unknown), 0, why, sizeof(why)), -1);
	assert_string_equal(why, ".debug_abbrev+0x0: unknown attribute form 0x7f");
	assert_int_equal(dwarf_abbrev_check(cut, sizeof(cut), 0, why, sizeof(why)), -1);
	assert_string_equal(why, ".debug_abbrev: an abbreviation runs past the section's end");
	assert_int_equal(dwarf_abbrev_check(implicit, sizeof(implicit), 0, why, sizeof(why)), 0);
	/* the real thing: in guest.elf, the name (DW_AT_name, DW_FORM_strp) of the first
	 * base_type abbreviation, which the name scan reads, made DW_FORM_strx1 (the guest's
	 * abbreviation codes, tags, attributes and forms all fit in one byte) */
	p = section_of(guest, ".debug_abbrev", &size, &foff);
	assert_non_null(p);
	size_t at = 0, form_at = 0;
	while (at + 3 < size && !form_at) {
		uint8_t tag;
		if (!p[at]) {
			at++;
			continue;
		}
		tag = p[at + 1];
		at += 3;
		for (; at + 1 < size && (p[at] || p[at + 1]); at += 2 + (p[at + 1] == 0x21)) /* 0x21: implicit_const */
			if (tag == 0x24 && p[at] == 0x03 && p[at + 1] == 0x0e)
				form_at = at + 1;
		at += 2;
	}
	assert_true(foff > 0 && form_at > 0);
	{
		long n;
		uint8_t *all = slurp(guest, &n);
		all[foff + form_at] = 0x25;
		snprintf(bad, sizeof(bad), "%s/strx.elf", dir);
		f = fopen(bad, "wb");
		assert_non_null(f);
		assert_int_equal(fwrite(all, 1, (size_t)n, f), (size_t)n);
		fclose(f);
		free(all);
	}
	free(p);
	{
		struct target *t = xcalloc(1, sizeof(*t));
		FILE *o = fmemopen(out, sizeof(out), "w");
		t->symfile = bad;
		dwarf_cmd_sizeof(t, "struct nosuch", o); /* a full scan of the names, where libdwarf crashed */
		fclose(o);
		dwarf_close_target(t);
		dwarf_names_free(t);
		free(t);
	}
	assert_null(strstr(out, "sizeof"));
	unlink(bad);
}

static void cache_stat(struct stat *st)
{
	assert_int_equal(stat(path, st), 0);
}

/* The first lookup scans and writes the cache; the next one answers from it, the same; a
 * cache whose offsets lie, or that is garbage, gives the same answers and is written anew. */
static void test_lookups_through_cache(void **state)
{
	char first[256], again[256], nocache[256];
	struct type_cache_entry lie[] = { { TYPE_STRUCT, "thread", 0 }, { TYPE_STRUCT, "cpu", 0 } };
	struct type_cache *c;
	struct stat st1, st2;
	struct err e;
	uint64_t thread_off, cpu_off;
	(void)state;
	unlink(path);
	run_sizeof("struct thread", first, sizeof(first));
	assert_non_null(strstr(first, "sizeof (struct thread) = 0x"));
	cache_stat(&st1);
	run_sizeof("struct thread", again, sizeof(again));
	assert_string_equal(first, again);
	cache_stat(&st2);
	assert_true(st1.st_ino == st2.st_ino && st1.st_mtim.tv_sec == st2.st_mtim.tv_sec &&
		    st1.st_mtim.tv_nsec == st2.st_mtim.tv_nsec); /* not written again */
	setenv("HVKIT_TYPE_CACHE", "off", 1);
	run_sizeof("struct thread", nocache, sizeof(nocache));
	setenv("HVKIT_TYPE_CACHE", dir, 1);
	assert_string_equal(first, nocache);
	run_sizeof("struct nosuch", again, sizeof(again));
	assert_non_null(strstr(again, "no type"));

	/* swap the offsets of struct thread and struct cpu */
	c = type_cache_open(path, &key, &e);
	assert_non_null(c);
	assert_int_equal(type_cache_lookup(c, TYPE_STRUCT, "thread", &thread_off, &e), 1);
	assert_int_equal(type_cache_lookup(c, TYPE_STRUCT, "cpu", &cpu_off, &e), 1);
	type_cache_close(c);
	lie[0].off = cpu_off;
	lie[1].off = thread_off;
	assert_int_equal(type_cache_write(path, &key, lie, 2, &e), 0);
	cache_stat(&st1);
	run_sizeof("struct thread", again, sizeof(again));
	assert_string_equal(first, again);
	cache_stat(&st2);
	assert_true(st1.st_ino != st2.st_ino); /* rescanned and written anew */
	c = type_cache_open(path, &key, &e);
	assert_non_null(c);
	assert_int_equal(type_cache_lookup(c, TYPE_STRUCT, "thread", &cpu_off, &e), 1);
	assert_int_equal(cpu_off, thread_off);
	type_cache_close(c);

	write_file(path, "SQLite format 3\0garbage", 24);
	run_sizeof("struct thread", again, sizeof(again));
	assert_string_equal(first, again);
	c = type_cache_open(path, &key, &e);
	assert_non_null(c); /* the garbage replaced by a good cache */
	type_cache_close(c);
}

/* A cache directory that cannot be made: lookups work, nothing is written. */
static void test_unwritable_dir(void **state)
{
	char file[128], sub[160], out[256], ref[256];
	struct err e;
	(void)state;
	run_sizeof("struct cpu", ref, sizeof(ref));
	snprintf(file, sizeof(file), "%s/plainfile", dir);
	write_file(file, "x", 1);
	snprintf(sub, sizeof(sub), "%s/types", file); /* below a regular file: mkdir fails, even as root */
	setenv("HVKIT_TYPE_CACHE", sub, 1);
	run_sizeof("struct cpu", out, sizeof(out));
	assert_string_equal(out, ref);
	assert_int_equal(type_cache_write(path, &key, rows, 4, &e), 0); /* (path is still the good one) */
	{
		char p[4200];
		assert_int_equal(type_cache_path(&key, p, sizeof(p), &e), 0);
		assert_int_equal(type_cache_write(p, &key, rows, 4, &e), -1);
		assert_int_equal(access(p, F_OK), -1);
	}
	setenv("HVKIT_TYPE_CACHE", dir, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_and_path),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_foreign_key),
		cmocka_unit_test(test_corrupt),
		cmocka_unit_test(test_offsets_bounded),
		cmocka_unit_test(test_lookups_through_cache),
		cmocka_unit_test(test_unwritable_dir),
		cmocka_unit_test(test_abbrev_checked),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
