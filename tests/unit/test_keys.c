/* Unit tests for the debug-key table (hv/keys.c, dbgkeys/dbgkeys.c): a key registered
 * twice is refused and the first handler kept; dbgkeys' table registers once and a second
 * registration fails; 'h' prints every key in the seed's format, byte for byte. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dbgkeys/dbgkeys.h"
#include "hv/internal.h"

/* 'h' as hv printed it before the key table moved into dbgkeys.c (and must still). */
static const char help_text[] =
	"(hv) 'h' pressed -> showing installed handlers\n"
	"(hv) key '%' (ascii '25') => trap to the debugger\n"
	"(hv) key '*' (ascii '2a') => print all diagnostics\n"
	"(hv) key '0' (ascii '30') => dump dom0 registers\n"
	"(hv) key 'C' (ascii '43') => trigger a crashdump\n"
	"(hv) key 'H' (ascii '48') => dump heap info\n"
	"(hv) key 'N' (ascii '4e') => NMI statistics\n"
	"(hv) key 'R' (ascii '52') => reboot dom0\n"
	"(hv) key 'a' (ascii '61') => dump timer queues\n"
	"(hv) key 'd' (ascii '64') => dump registers\n"
	"(hv) key 'h' (ascii '68') => show this message\n"
	"(hv) key 'i' (ascii '69') => dump interrupt bindings\n"
	"(hv) key 'm' (ascii '6d') => memory info\n"
	"(hv) key 'n' (ascii '6e') => trigger an NMI\n"
	"(hv) key 'q' (ascii '71') => dump domain (and guest debug) info\n"
	"(hv) key 'r' (ascii '72') => dump run queues\n"
	"(hv) key 't' (ascii '74') => display multi-cpu clock info\n"
	"(hv) key 'u' (ascii '75') => dump numa info\n"
	"(hv) key 'v' (ascii '76') => dump VMCS-equivalent guest state\n"
	"(hv) key 'w' (ascii '77') => synchronously dump the console ring buffer (dmesg)\n"
	"(hv) key 'z' (ascii '7a') => print ioapic info\n";

static struct hv fake; /* no KVM: only the console and the key state */
static int pipe_fd[2];

static int setup(void **state)
{
	struct err e;
	(void)state;
	if (pipe(pipe_fd) < 0)
		return -1;
	console_init(&fake.con, -1, pipe_fd[1]);
	return dbgkeys_register_all(&e);
}

static int teardown(void **state)
{
	(void)state;
	conout_stop(&fake.con, 2000);
	free(fake.con.ring);
	close(pipe_fd[0]);
	close(pipe_fd[1]);
	return 0;
}

static char *drain(void)
{
	static char buf[8192];
	ssize_t n;
	conout_flush(&fake.con, 2000); /* the writer thread has it all out */
	close(pipe_fd[1]);
	n = read(pipe_fd[0], buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = 0;
	close(pipe_fd[0]);
	if (pipe(pipe_fd) == 0)
		fake.con.out_fd = pipe_fd[1];
	return buf;
}

static void test_help_byte_identical(void **state)
{
	(void)state;
	drain();
	keys_handle(&fake, 'h');
	assert_string_equal(drain(), help_text);
}

static void test_table_registers_once(void **state)
{
	struct key_info k[256];
	unsigned n = keys_list(k, 256), diag = 0;
	struct err e;
	(void)state;
	assert_int_equal(n, 20);
	for (unsigned i = 0; i < n; i++) {
		assert_true(i == 0 || k[i - 1].key < k[i].key); /* key order */
		assert_non_null(k[i].fn);
		diag += k[i].diagnostic;
	}
	assert_int_equal(diag, 13);
	/* the whole table again: its first key is taken, and nothing is overwritten */
	assert_int_equal(dbgkeys_register_all(&e), -1);
	assert_string_equal(e.msg, "debug key 'h' is registered twice (\"show this message\" and \"show this message\")");
	assert_int_equal(keys_list(k, 256), 20);
}

static int ran_first, ran_second;

static void first(struct hv *hv, unsigned char key)
{
	(void)hv, (void)key;
	ran_first++;
}

static void second(struct hv *hv, unsigned char key)
{
	(void)hv, (void)key;
	ran_second++;
}

static void test_twice_refused(void **state)
{
	const struct key_info a = { .key = '~', .fn = first, .desc = "a test key" };
	const struct key_info b = { .key = '~', .fn = second, .desc = "another test key", .diagnostic = true };
	const struct key_info ctl = { .key = 0x01, .fn = second, .desc = "ctrl-a" };
	const struct key_info nofn = { .key = '`', .desc = "no handler" };
	struct err e;
	(void)state;
	assert_int_equal(keys_register(&a, &e), 0);
	assert_int_equal(keys_register(&b, &e), -1);
	assert_string_equal(e.msg, "debug key '~' is registered twice (\"a test key\" and \"another test key\")");
	assert_int_equal(keys_register(&ctl, &e), 0);
	assert_int_equal(keys_register(&ctl, &e), -1);
	assert_non_null(strstr(e.msg, "debug key 0x01 is registered twice"));
	assert_int_equal(keys_register(&nofn, &e), -1);
	assert_int_equal(keys_register(NULL, &e), -1);
	keys_handle(&fake, '~');
	assert_int_equal(ran_first, 1);
	assert_int_equal(ran_second, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_help_byte_identical),
		cmocka_unit_test(test_table_registers_once),
		cmocka_unit_test(test_twice_refused),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
