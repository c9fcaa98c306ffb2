/* Unit tests for xl.cfg parsing: a full file, defaults, every error with its line, and
 * format -> parse round trips. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "hv/xlcfg.h"

static void test_full(void **state)
{
	static const char text[] = "# web server\n"
				   "name = \"web1\"\n"
				   "kernel = '/boot/vmlinuz'   # PVH\n"
				   "ramdisk = \"/boot/initrd.img\"\n"
				   "memory = 256\n"
				   "vcpus = 2\n"
				   "weight = 512\n"
				   "cap = 50\n"
				   "root = \"/dev/xvda1\"\n"
				   "extra = \"console=hvc0\"\n"
				   "disk = [ 'phy:/dev/vg/web1,xvda,w', \"file:/x.img,xvdb,r\" ]\n"
				   "on_crash = \"coredump-restart\"\n";
	struct xlcfg c;
	struct err e;
	(void)state;
	assert_int_equal(xlcfg_parse(text, sizeof(text) - 1, "web1.cfg", &c, &e), 0);
	assert_string_equal(c.name, "web1");
	assert_string_equal(c.kernel, "/boot/vmlinuz");
	assert_string_equal(c.initrd, "/boot/initrd.img");
	assert_int_equal(c.memory_mib, 256);
	assert_int_equal(c.vcpus, 2);
	assert_int_equal(c.weight, 512);
	assert_int_equal(c.cap, 50);
	assert_string_equal(c.cmdline, "root=/dev/xvda1 console=hvc0");
	assert_string_equal(c.on_crash, "coredump-restart");
	assert_string_equal(c.on_poweroff, "destroy");
	assert_string_equal(c.on_reboot, "restart");
}

static void test_defaults(void **state)
{
	struct xlcfg c;
	struct err e;
	(void)state;
	assert_int_equal(xlcfg_parse("name=\"a\"", 8, "a.cfg", &c, &e), 0);
	assert_string_equal(c.kernel, "");
	assert_int_equal(c.memory_mib, 128);
	assert_int_equal(c.vcpus, 1);
	assert_int_equal(c.weight, 256);
	assert_int_equal(c.cap, 0);
}

static void test_errors(void **state)
{
	static const char *const cases[][2] = {
		{ "name = \"x\"\nmemory = lots\n", "x.cfg:2: memory: not a number" },
		{ "name = \"x\nvcpus = 1\n", "x.cfg:1: name: unterminated string" },
		{ "name = \"x\"\non_crash = \"explode\"\n", "x.cfg:2: on_crash: unknown action 'explode'" },
		{ "name = \"x\"\nvcpus = 1\nvcpus = 2\n", "x.cfg:3: vcpus is set twice" },
		{ "name = \"x\" junk\n", "x.cfg:1: name: unexpected text after the value" },
		{ "name = \"x\"\nmemory = 4\n", "x.cfg:2: memory: 4 is out of range" },
		{ "name = \"x\"\nvcpus = 300\n", "x.cfg:2: vcpus: 300 is out of range" },
		{ "name = \"x\"\nfrobnicate = 1\n", "x.cfg:2: unknown setting 'frobnicate'" },
		{ "name = \"a b\"\n", "x.cfg:1: name: only letters" },
		{ "name = \"Domain-0\"\n", "x.cfg:1: name: 'Domain-0' cannot be used" },
		{ "memory = 64\n", "x.cfg: no name" },
		{ "name = \"x\"\nthis is not a setting\n", "x.cfg:2: expected `key = value`" },
		{ "name = \"x\"\ndisk = [ 'a'\n", "x.cfg:2: disk: unterminated list" },
		{ "name = \"x\"\nkernel = 5\n", "x.cfg:2: kernel: expected a string" },
	};
	struct xlcfg c;
	struct err e;
	char big[5000];
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		e.msg[0] = 0;
		assert_int_equal(xlcfg_parse(cases[i][0], strlen(cases[i][0]), "x.cfg", &c, &e), -1);
		if (strncmp(e.msg, cases[i][1], strlen(cases[i][1])))
			fail_msg("case %zu: '%s' does not start with '%s'", i, e.msg, cases[i][1]);
	}
	assert_int_equal(xlcfg_parse("name = \"x\"\0", 11, "x.cfg", &c, &e), -1);
	assert_non_null(strstr(e.msg, "NUL byte"));
	memset(big, 'a', sizeof(big));
	memcpy(big, "name = \"", 8);
	assert_int_equal(xlcfg_parse(big, sizeof(big), "x.cfg", &c, &e), -1);
	assert_non_null(strstr(e.msg, "x.cfg:1: line too long"));
	assert_int_equal(xlcfg_load("/nonexistent.cfg", &c, &e), -1);
	assert_non_null(strstr(e.msg, "No such file"));
}

static void test_round_trip(void **state)
{
	static const char text[] = "name = \"db\"\nkernel = \"/k/with \\\"quotes\\\"\"\nmemory = 512\nvcpus = 4\n"
				   "cmdline = \"quiet\"\non_poweroff = \"preserve\"\n";
	struct xlcfg a, b;
	struct err e;
	char buf[16384];
	int n;
	(void)state;
	assert_int_equal(xlcfg_parse(text, sizeof(text) - 1, "db.cfg", &a, &e), 0);
	assert_string_equal(a.kernel, "/k/with \"quotes\"");
	n = xlcfg_format(&a, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(xlcfg_parse(buf, (size_t)n, "db.cfg", &b, &e), 0);
	assert_memory_equal(&a, &b, sizeof(a));
	assert_int_equal(xlcfg_format(&a, buf, 16), -1); /* too small: refused, not cut */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full), cmocka_unit_test(test_defaults), cmocka_unit_test(test_errors),
		cmocka_unit_test(test_round_trip),
	};
	return cmocka_run_group_tests_name("xlcfg", tests, NULL, NULL);
}
