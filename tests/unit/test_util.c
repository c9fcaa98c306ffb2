/* Unit tests for util: size parsing and formatting, error messages, JSON strings, words, progress. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

static void test_size_parse(void **state)
{
	uint64_t v;
	(void)state;
	assert_int_equal(size_parse("128", 1 << 20, &v), 0);
	assert_int_equal(v, 128ull << 20);
	assert_int_equal(size_parse("2G", 1 << 20, &v), 0);
	assert_int_equal(v, 2ull << 30);
	assert_int_equal(size_parse("64KiB", 1 << 20, &v), 0);
	assert_int_equal(v, 64ull << 10);
	assert_int_equal(size_parse("1t", 1 << 20, &v), 0);
	assert_int_equal(v, 1ull << 40);
	assert_int_equal(size_parse("", 1, &v), -1);
	assert_int_equal(size_parse("-5M", 1, &v), -1);
	assert_int_equal(size_parse("12Q", 1, &v), -1);
	assert_int_equal(size_parse("5MB junk", 1, &v), -1);
	assert_int_equal(size_parse("99999999999999999999", 1, &v), -1);
	assert_int_equal(size_parse("17179869184T", 1, &v), -1); /* overflows 64 bits */
}

static void test_errors(void **state)
{
	struct err e;
	(void)state;
	assert_int_equal(err_set(&e, "bad %d", 7), -1);
	assert_string_equal(e.msg, "bad 7");
	errno = ENOENT;
	err_errno(&e, "open %s", "x");
	assert_string_equal(e.msg, "open x: No such file or directory");
	err_prefix(&e, "dom0");
	assert_string_equal(e.msg, "dom0: open x: No such file or directory");
	memset(e.msg, 'a', sizeof(e.msg) - 1);
	e.msg[sizeof(e.msg) - 1] = 0;
	err_prefix(&e, "p");
	assert_int_equal(strlen(e.msg), sizeof(e.msg) - 1); /* truncated, terminated */
	assert_int_equal(err_set(NULL, "x"), -1);
}

/* json_write_strn's output for n bytes of s, in a static buffer */
static const char *json_of(const char *s, size_t n)
{
	static char buf[256];
	FILE *f = fmemopen(buf, sizeof(buf), "w");
	assert_non_null(f);
	json_write_strn(f, s, n);
	fclose(f);
	return buf;
}

static void test_json_strings(void **state)
{
	char q[16];
	(void)state;
	assert_string_equal(json_of("plain", 5), "\"plain\"");
	assert_string_equal(json_of("a\"b\\c", 5), "\"a\\\"b\\\\c\"");
	assert_string_equal(json_of("t\tn\nr\rb\bf\f", 10), "\"t\\tn\\nr\\rb\\bf\\f\"");
	assert_string_equal(json_of("\x01\x1f\x7f", 3), "\"\\u0001\\u001f\\u007f\"");
	assert_string_equal(json_of("a\0b", 3), "\"a\\u0000b\"");          /* NULs inside n bytes */
	assert_string_equal(json_of("caf\xc3\xa9 \xe2\x82\xac", 9), "\"caf\xc3\xa9 \xe2\x82\xac\""); /* UTF-8 kept */
	assert_string_equal(json_of("\xff\xc3", 2), "\"\\u00ff\\u00c3\"");   /* not UTF-8; a cut sequence */
	assert_string_equal(json_of("\xc0\xaf\xed\xa0\x80", 5),             /* overlong; a surrogate */
			    "\"\\u00c0\\u00af\\u00ed\\u00a0\\u0080\"");
	{
		FILE *null = fopen("/dev/null", "w");
		assert_non_null(null);
		json_write_str(null, NULL); /* "" and no crash */
		fclose(null);
	}
	assert_string_equal(json_quote(q, sizeof(q), "x\"y"), "\"x\\\"y\"");
	assert_string_equal(json_quote(q, sizeof(q), "abcdefghijklmnop"), "\"abcdefghijklm\"");
	assert_string_equal(json_quote(q, 10, "abcdef\n"), "\"abcdef\""); /* never half an escape */
	assert_string_equal(json_quote(q, 3, "abc"), "\"\"");
}

/* "did you mean": the edit distance (a swap is one edit) and the closest word */
static void test_words(void **state)
{
	static const char *const verbs[] = { "list", "listprop", "dominfo", "dump", "dump-cancel" };
	static const char *const opts[] = { "--all", "--json" };
	(void)state;
	assert_int_equal(word_distance("list", "list"), 0);
	assert_int_equal(word_distance("lsit", "list"), 1);
	assert_int_equal(word_distance("--al", "--all"), 1);
	assert_int_equal(word_distance("", "abc"), 3);
	assert_string_equal(word_closest("lsit", verbs, 5), "list");
	assert_string_equal(word_closest("dominf", verbs, 5), "dominfo");
	assert_string_equal(word_closest("--jsn", opts, 2), "--json");
	assert_null(word_closest("frobnicate", verbs, 5));
	assert_null(word_closest("-x", opts, 2)); /* too short to guess from */
}

/* sizes people read, and a progress line with no absurd rate and no leftovers */
static void test_size_format_and_progress(void **state)
{
	char b[32], *line = NULL;
	size_t len = 0;
	FILE *f;
	(void)state;
	assert_string_equal(size_format(b, sizeof(b), 512), "512 bytes");
	assert_string_equal(size_format(b, sizeof(b), 839 * 1024), "839 KiB");
	assert_string_equal(size_format(b, sizeof(b), 3 << 19), "1.5 MiB");
	assert_string_equal(size_format(b, sizeof(b), 128ull << 20), "128 MiB");
	assert_string_equal(size_format(b, sizeof(b), 3ull << 30), "3.0 GiB");
	f = open_memstream(&line, &len);
	progress_print(f, 64ull << 20, 128ull << 20, 1000); /* 1 us in: no rate, no ETA */
	progress_print(f, 64ull << 20, 128ull << 20, 500000000ull);
	progress_print(f, 128ull << 20, 128ull << 20, 1000000000ull);
	fclose(f);
	assert_string_equal(line, "\r\033[K 50%  64 MiB of 128 MiB"
				  "\r\033[K 50%  64 MiB of 128 MiB  128 MiB/s  ETA 0 s"
				  "\r\033[K100%  128 MiB of 128 MiB  128 MiB/s\n");
	free(line);
}

int main(void)
{
	const struct CMUnitTest tests[] = { cmocka_unit_test(test_size_parse), cmocka_unit_test(test_errors),
					    cmocka_unit_test(test_json_strings), cmocka_unit_test(test_words),
					    cmocka_unit_test(test_size_format_and_progress) };
	return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}
