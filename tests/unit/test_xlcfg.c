/* Unit tests for xl.cfg parsing: a full file, defaults, every error with its line, loading
 * files (missing, not regular, too large), and format -> parse round trips. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hv/xlcfg.h"

static void test_full(void **state)
{
	static const char text[] = "# web server\n"
				   "name = \"web1\"\n"
				   "kernel = '/boot/vmlinuz'   # PVH\n"
				   "ramdisk = \"/boot/initrd.img\"\n"
				   "memory = 256\n"
				   "vcpus = 2; maxvcpus = 4\n"
				   "cpu_weight = 512\r\n"
				   "cap = 50\n"
				   "root = \"/dev/xvda1\"\n"
				   "extra = \"console=hvc0 msg='hi'\"\n"
				   "disk = [ 'phy:/dev/vg/web1,xvda,w',   # boot disk\n"
				   "         \"file:/x.img,xvdb,r\",\n"
				   "       ]\n"
				   "vif = [ 'bridge=xenbr0' ]\n"
				   "type = \"pvh\"\n"
				   "on_poweroff = 'preserve'\n"
				   "on_crash = \"coredump-restart\"\n"
				   "\t\n";
	struct xlcfg c;
	struct err e = { "" };
	(void)state;
	if (xlcfg_parse(text, sizeof(text) - 1, "web1.cfg", &c, &e) < 0)
		fail_msg("%s", e.msg);
	assert_string_equal(c.name, "web1");
	assert_string_equal(c.kernel, "/boot/vmlinuz");
	assert_string_equal(c.initrd, "/boot/initrd.img");
	assert_int_equal(c.memory_mib, 256);
	assert_int_equal(c.vcpus, 2);
	assert_int_equal(c.weight, 512);
	assert_int_equal(c.cap, 50);
	assert_string_equal(c.cmdline, "root=/dev/xvda1 console=hvc0 msg='hi'");
	assert_string_equal(c.on_crash, "coredump-restart");
	assert_string_equal(c.on_poweroff, "preserve");
	assert_string_equal(c.on_reboot, "restart");
}

static void test_defaults(void **state)
{
	struct xlcfg c;
	struct err e;
	(void)state;
	assert_int_equal(xlcfg_parse("name=\"a\"", 8, "a.cfg", &c, &e), 0); /* no final newline */
	assert_string_equal(c.name, "a");
	assert_string_equal(c.kernel, "");
	assert_string_equal(c.initrd, "");
	assert_string_equal(c.cmdline, "");
	assert_int_equal(c.memory_mib, 128);
	assert_int_equal(c.vcpus, 1);
	assert_int_equal(c.weight, 256);
	assert_int_equal(c.cap, 0);
	assert_string_equal(c.on_poweroff, "destroy");
	assert_string_equal(c.on_reboot, "restart");
	assert_string_equal(c.on_crash, "destroy");
	/* xl numbers: hex; extra alone */
	assert_int_equal(xlcfg_parse("name='b'\nmemory=0x100\nextra='quiet'\n", 36, "b.cfg", &c, &e), 0);
	assert_int_equal(c.memory_mib, 256);
	assert_string_equal(c.cmdline, "quiet");
	/* edges of the ranges */
	assert_int_equal(xlcfg_parse("name='x'\nmemory=8\nvcpus=255\n", 28, "b.cfg", &c, &e), 0);
	assert_int_equal(xlcfg_parse("name='x'\nmemory=1048576\n", 24, "b.cfg", &c, &e), 0);
	assert_int_equal(c.memory_mib, 1048576);
}

static void test_errors(void **state)
{
	static const char *const cases[][2] = {
		{ "name = \"x\"\nmemory = lots\n", "x.cfg:2: memory: not a number" },
		{ "name = \"x\"\nmemory = 1.5\n", "x.cfg:2: memory: not a number" },
		{ "name = \"x\"\nmemory = 12abc\n", "x.cfg:2: memory: not a number" },
		{ "name = \"x\"\nmemory = \"256\"\n", "x.cfg:2: memory: not a number" },
		{ "name = \"x\"\nmemory = [ 1 ]\n", "x.cfg:2: memory: not a number" },
		{ "name = \"x\"\nmemory = 99999999999999999999999\n", "x.cfg:2: memory: not a number" },
		{ "# c\nname = \"x\nvcpus = 1\n", "x.cfg:2: name: unterminated string" },
		{ "name = 'x\"\n", "x.cfg:1: name: unterminated string" },
		{ "name = \"x\\", "x.cfg:1: name: unterminated string" },
		{ "name = \"x\"\nkernel = \"/a\\qb\"\n", "x.cfg:2: kernel: unknown escape '\\q'" },
		{ "name = \"x\"\nkernel = \"/a\033b\"\n", "x.cfg:2: kernel: control character 0x1b" },
		{ "name = \"x\"\n\non_crash = \"explode\"\n", "x.cfg:3: on_crash: unknown action 'explode'" },
		{ "name = \"x\"\non_poweroff = \"rollback\"\n", "x.cfg:2: on_poweroff: unknown action 'rollback'" },
		{ "name = \"x\"\non_reboot = 1\n", "x.cfg:2: on_reboot: expected a quoted string" },
		{ "name = \"x\"\nvcpus = 1\nvcpus = 2\n", "x.cfg:3: vcpus is set twice (first on line 2)" },
		{ "name = \"x\"\ninitrd = \"/a\"\nramdisk = \"/b\"\n", "x.cfg:3: ramdisk is set twice (first on line 2)" },
		{ "name = \"x\"\nweight = 1; cpu_weight = 2\n", "x.cfg:2: cpu_weight is set twice" },
		{ "name = \"x\"\ndisk = [ 'a' ]\ndisk = [ 'b' ]\n", "x.cfg:3: disk is set twice" },
		{ "name = \"x\" junk\n", "x.cfg:1: name: unexpected text after the value" },
		{ "name = \"x\"\nvcpus = 2 2\n", "x.cfg:2: vcpus: unexpected text after the value" },
		{ "name = \"x\"\ndisk = [ 'a' ] ]\n", "x.cfg:2: disk: unexpected text after the value" },
		{ "name = \"x\"\nmemory = 4\n", "x.cfg:2: memory: 4 is out of range (8 to 1048576)" },
		{ "name = \"x\"\nmemory = 1048577\n", "x.cfg:2: memory: 1048577 is out of range" },
		{ "name = \"x\"\nmemory = -1\n", "x.cfg:2: memory: -1 is out of range" },
		{ "name = \"x\"\nvcpus = 0\n", "x.cfg:2: vcpus: 0 is out of range (1 to 255)" },
		{ "name = \"x\"\nvcpus = 256\n", "x.cfg:2: vcpus: 256 is out of range" },
		{ "name = \"x\"\nweight = 0\n", "x.cfg:2: weight: 0 is out of range" },
		{ "name = \"x\"\nfrobnicate = 1\n", "x.cfg:2: unknown setting 'frobnicate'" },
		{ "name = \"a b\"\n", "x.cfg:1: name: only letters" },
		{ "name = \"a/b\"\n", "x.cfg:1: name: only letters" },
		{ "name = \"\"\n", "x.cfg:1: name: must be 1 to 63 characters" },
		{ "name = \"0123456789012345678901234567890123456789012345678901234567890123\"\n",
		  "x.cfg:1: name: too long (at most 63 characters)" },
		{ "name = \"Domain-0\"\n", "x.cfg:1: name: 'Domain-0' cannot be used" },
		{ "memory = 64\n", "x.cfg: no name" },
		{ "", "x.cfg: no name" },
		{ "name = \"x\"\nthis is not a setting\n", "x.cfg:2: expected `key = value`" },
		{ "name = \"x\"\n= 5\n", "x.cfg:2: expected `key = value`" },
		{ "name = \"x\"\nmemory =\n", "x.cfg:2: memory: missing value" },
		{ "name = \"x\"\nmemory = # none\n", "x.cfg:2: memory: missing value" },
		{ "name = \"x\"\ndisk = [ 'a',\n  'b'\n", "x.cfg:2: disk: unterminated list" },
		{ "name = \"x\"\ndisk = [ 'a' 'b' ]\n", "x.cfg:2: disk: expected ',' or ']'" },
		{ "name = \"x\"\ndisk = [ , ]\n", "x.cfg:2: disk: empty list element" },
		{ "name = \"x\"\ndisk = [ 'a',\n  xvda ]\n", "x.cfg:3: disk: list elements are numbers or quoted strings" },
		{ "name = \"x\"\nvif = bridge\n", "x.cfg:2: vif: not a number or a quoted string" },
		{ "name = \"x\"\nkernel = 5\n", "x.cfg:2: kernel: expected a quoted string" },
		{ "name = \"x\"\ncmdline = \"a\"\nextra = \"b\"\n", "x.cfg:3: cmdline cannot be combined with extra" },
		{ "name = \"x\"\nmemory = @\n", "x.cfg:2: memory: unexpected '@'" },
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
	/* a NUL byte, on line 3 */
	assert_int_equal(xlcfg_parse("name = \"x\"\n\nvcpus = 1\0\n", 22, "x.cfg", &c, &e), -1);
	assert_string_equal(e.msg, "x.cfg:3: contains a NUL byte: not a config file");
	/* a line over 4096 bytes, on line 2 (4096 is still fine) */
	memset(big, ' ', sizeof(big));
	memcpy(big, "name = 'x'\n", 11);
	big[11 + 4096] = '\n';
	assert_int_equal(xlcfg_parse(big, 11 + 4097, "x.cfg", &c, &e), 0);
	big[11 + 4096] = ' ';
	assert_int_equal(xlcfg_parse(big, sizeof(big), "x.cfg", &c, &e), -1);
	assert_string_equal(e.msg, "x.cfg:2: line too long (more than 4096 bytes)");
}

static void test_load(void **state)
{
	char dir[] = "/tmp/hvkit-xlcfg-XXXXXX", path[128], cmd[160];
	struct xlcfg c;
	struct err e;
	FILE *f;
	int fd;
	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/web1.cfg", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("name = 'web1'\nmemory = 512\nvcpus = lots\n", f);
	fclose(f);
	assert_int_equal(xlcfg_load(path, &c, &e), -1);
	assert_non_null(strstr(e.msg, "web1.cfg:3: vcpus: not a number"));
	f = fopen(path, "w");
	fputs("name = 'web1'\nmemory = 512\n", f);
	fclose(f);
	assert_int_equal(xlcfg_load(path, &c, &e), 0);
	assert_int_equal(c.memory_mib, 512);
	/* over 1 MiB */
	fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (2 << 20)), 0);
	close(fd);
	assert_int_equal(xlcfg_load(path, &c, &e), -1);
	assert_non_null(strstr(e.msg, "too large"));
	/* not a regular file: a directory, a FIFO (must not block) */
	assert_int_equal(xlcfg_load(dir, &c, &e), -1);
	assert_non_null(strstr(e.msg, "not a regular file"));
	snprintf(path, sizeof(path), "%s/fifo", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(xlcfg_load(path, &c, &e), -1);
	assert_non_null(strstr(e.msg, "not a regular file"));
	assert_int_equal(xlcfg_load("/nonexistent.cfg", &c, &e), -1);
	assert_non_null(strstr(e.msg, "/nonexistent.cfg: No such file"));
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

static void test_round_trip(void **state)
{
	static const char text[] = "name = \"db\"\nkernel = \"/k/with \\\"quotes\\\" and \\\\ \\'\"\n"
				   "initrd = '/i'\nmemory = 512\nvcpus = 4\nweight = 100\ncap = 150\n"
				   "cmdline = \"quiet\tx='y'\"\non_poweroff = \"preserve\"\non_reboot = 'rename-restart'\n"
				   "on_crash = 'coredump-destroy'\n";
	struct xlcfg a, b;
	struct err e;
	char buf[16384];
	int n;
	(void)state;
	if (xlcfg_parse(text, sizeof(text) - 1, "db.cfg", &a, &e) < 0)
		fail_msg("%s", e.msg);
	assert_string_equal(a.kernel, "/k/with \"quotes\" and \\ '");
	n = xlcfg_format(&a, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal((size_t)n, strlen(buf));
	if (xlcfg_parse(buf, (size_t)n, "db.cfg", &b, &e) < 0)
		fail_msg("%s in:\n%s", e.msg, buf);
	assert_memory_equal(&a, &b, sizeof(a));
	/* on_crash's rollbacks (issue 13) read back too */
	assert_int_equal(xlcfg_parse("name='r'\non_crash='coredump-rollback'", 37, "r.cfg", &a, &e), 0);
	assert_string_equal(a.on_crash, "coredump-rollback");
	n = xlcfg_format(&a, buf, sizeof(buf));
	assert_int_equal(xlcfg_parse(buf, (size_t)n, "r.cfg", &b, &e), 0);
	assert_memory_equal(&a, &b, sizeof(a));
	/* the defaults too */
	assert_int_equal(xlcfg_parse("name='d'", 8, "d.cfg", &a, &e), 0);
	n = xlcfg_format(&a, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(xlcfg_parse(buf, (size_t)n, "d.cfg", &b, &e), 0);
	assert_memory_equal(&a, &b, sizeof(a));
	assert_null(strstr(buf, "kernel")); /* "" = the built-in guest: not written */
	/* too small: refused, not cut */
	assert_int_equal(xlcfg_format(&a, buf, 16), -1);
	assert_int_equal(xlcfg_format(&a, buf, (size_t)n), -1);
	assert_int_equal(xlcfg_format(&a, buf, (size_t)n + 1), n);
	/* what could not be read back is refused */
	strcpy(a.cmdline, "two\nlines");
	assert_int_equal(xlcfg_format(&a, buf, sizeof(buf)), -1);
	memset(a.name, 'x', sizeof(a.name)); /* unterminated */
	a.cmdline[0] = 0;
	assert_int_equal(xlcfg_format(&a, buf, sizeof(buf)), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full),   cmocka_unit_test(test_defaults),	  cmocka_unit_test(test_errors),
		cmocka_unit_test(test_load),   cmocka_unit_test(test_round_trip),
	};
	return cmocka_run_group_tests_name("xlcfg", tests, NULL, NULL);
}
