/* Unit tests for util/access.h: the peer check, one-time tokens, directories others can
 * write, files created never through a symlink, and files replaced by rename. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/access.h"

static void test_peer_and_tokens(void **state)
{
	char a[33], b[33];
	unsigned uid = 0;
	int sv[2];
	struct err e;
	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_true(access_peer_owner(sv[0], &uid));
	assert_int_equal(uid, getuid());
	close(sv[0]);
	close(sv[1]);
	assert_false(access_peer_owner(-1, &uid));
	assert_int_equal(uid, ~0u);

	assert_int_equal(access_token(a, 16, &e), 0);
	assert_int_equal(access_token(b, 16, &e), 0);
	assert_int_equal(strlen(a), 32);
	assert_int_equal(strspn(a, "0123456789abcdef"), 32);
	assert_string_not_equal(a, b);
	assert_true(access_token_equal(a, a));
	assert_false(access_token_equal(a, b));
	assert_false(access_token_equal(a, "0"));
	assert_false(access_token_equal("", ""));
	assert_int_equal(access_token(a, 65, &e), -1);
}

static void test_split(void **state)
{
	char dir[64];
	const char *base;
	struct err e;
	(void)state;
	assert_int_equal(access_split("core", dir, sizeof(dir), &base, &e), 0);
	assert_string_equal(dir, ".");
	assert_string_equal(base, "core");
	assert_int_equal(access_split("/core", dir, sizeof(dir), &base, &e), 0);
	assert_string_equal(dir, "/");
	assert_string_equal(base, "core");
	assert_int_equal(access_split("/var/crash/vmcore.0", dir, sizeof(dir), &base, &e), 0);
	assert_string_equal(dir, "/var/crash");
	assert_string_equal(base, "vmcore.0");
	assert_int_equal(access_split("/var/crash/", dir, sizeof(dir), &base, &e), -1);
	assert_int_equal(access_split("", dir, sizeof(dir), &base, &e), -1);
}

static char *read_all(const char *path)
{
	static char buf[256];
	FILE *f = fopen(path, "r");
	size_t n;
	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = 0;
	fclose(f);
	return buf;
}

static void test_dirs_and_files(void **state)
{
	char top[] = "/tmp/test_access.XXXXXX", dir[128], sub[160], victim[128], link[200];
	struct err e;
	struct stat st;
	int dfd, fd;
	(void)state;
	assert_non_null(mkdtemp(top));
	snprintf(dir, sizeof(dir), "%s/d", top);
	snprintf(victim, sizeof(victim), "%s/victim", top);
	fd = open(victim, O_WRONLY | O_CREAT, 0644);
	assert_int_equal(write(fd, "precious", 8), 8);
	close(fd);

	assert_int_equal(access_dir_open(dir, false, "dump directory", &e), -1); /* missing */
	assert_non_null(strstr(e.msg, "No such file"));
	dfd = access_dir_open(dir, true, "dump directory", &e); /* made 0700 */
	assert_true(dfd >= 0);
	close(dfd);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(access_dir_open(victim, false, "dump directory", &e), -1); /* not a directory */
	snprintf(link, sizeof(link), "%s/dlink", top); /* our own symlink to it is followed */
	assert_int_equal(symlink(dir, link), 0);
	dfd = access_dir_open(link, false, "dump directory", &e);
	assert_true(dfd >= 0);
	close(dfd);
	if (geteuid() == 0) { /* another uid's is not */
		assert_int_equal(lchown(link, 65534, 65534), 0);
		assert_int_equal(access_dir_open(link, false, "dump directory", &e), -1);
		assert_non_null(strstr(e.msg, "is a symlink of uid 65534: not followed"));
	}
	unlink(link);
	chmod(dir, 0777);
	assert_int_equal(access_dir_open(dir, false, "dump directory", &e), -1);
	assert_non_null(strstr(e.msg, "is writable by others and not sticky (mode 0777)"));
	chmod(dir, 0770);
	assert_int_equal(access_dir_open(dir, false, "dump directory", &e), -1);
	chmod(dir, 01777); /* sticky: allowed, O_EXCL|O_NOFOLLOW protect what is written there */
	dfd = access_dir_open(dir, false, "dump directory", &e);
	assert_true(dfd >= 0);

	snprintf(link, sizeof(link), "%s/vmcore.0", dir);
	assert_int_equal(symlink(victim, link), 0);
	assert_int_equal(access_create_at(dfd, "vmcore.0", O_WRONLY, link, &e), -1);
	assert_non_null(strstr(e.msg, "exists: hv never writes through or over a file it did not create"));
	fd = access_create_at(dfd, "vmcore.1", O_WRONLY, "vmcore.1", &e);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	close(fd);
	assert_int_equal(access_create_at(dfd, "vmcore.1", O_WRONLY, "vmcore.1", &e), -1); /* never over a file */
	close(dfd);

	snprintf(link, sizeof(link), "%s/bounds", dir); /* a symlink at the name is replaced, not followed */
	assert_int_equal(symlink(victim, link), 0);
	assert_int_equal(access_write_file(dir, "bounds", "3\n", 2, false, &e), 0);
	assert_int_equal(lstat(link, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_string_equal(read_all(link), "3\n");
	assert_string_equal(read_all(victim), "precious");
	assert_int_equal(access_write_file(dir, "a/b", "x", 1, false, &e), -1);
	snprintf(sub, sizeof(sub), "%s/new", dir); /* create: the directory is made */
	assert_int_equal(access_write_file(sub, "f", "x", 1, true, &e), 0);
	chmod(dir, 0777);
	assert_int_equal(access_write_file(dir, "bounds", "4\n", 2, false, &e), -1);
	assert_string_equal(read_all(link), "3\n");

	unlink(link);
	snprintf(link, sizeof(link), "%s/vmcore.0", dir);
	unlink(link);
	snprintf(link, sizeof(link), "%s/vmcore.1", dir);
	unlink(link);
	snprintf(link, sizeof(link), "%s/f", sub);
	unlink(link);
	rmdir(sub);
	assert_int_equal(rmdir(dir), 0); /* no temporary file left behind */
	unlink(victim);
	rmdir(top);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_peer_and_tokens),
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_dirs_and_files),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
