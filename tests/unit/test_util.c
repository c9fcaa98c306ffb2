/* Unit tests for util: size parsing and error messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
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

int main(void)
{
	const struct CMUnitTest tests[] = { cmocka_unit_test(test_size_parse), cmocka_unit_test(test_errors) };
	return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}
