/* Unit tests for the control-verb table (hv/control.c, hv/toolstack.c): every built-in
 * verb is found by name, a name registered twice is refused and the first row kept, and
 * the dispatcher's replies: an unknown verb, a verb's own handler, a missing domain name,
 * a usage error spelled from the row; the request framing (pieces, NULs, too many
 * arguments, too long) through control_feed, the loop's own path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hv/control.h"
#include "util/util.h"

static const char *const builtin[] = {
	"list",    "dominfo", "vcpuinfo", "define",     "create",      "undefine",  "start", "destroy",
	"suspend", "resume",  "shutdown", "reboot",     "console",     "debug-keys", "dmesg", "dump",
	"dump-cancel", "gdbserver", "gdb", "setprop", "listprop", "delprop", "refresh",
};

static int setup(void **state)
{
	struct err e;
	(void)state;
	return toolstack_register(&e);
}

static void test_each_verb_found(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(builtin) / sizeof(builtin[0]); i++) {
		const struct ctl_verb *v = ctl_lookup(builtin[i]);
		assert_non_null(v);
		assert_string_equal(v->name, builtin[i]);
		assert_non_null(v->run);
		/* the usage starts with the verb: "usage: dominfo NAME [--json]" */
		assert_int_equal(strncmp(v->usage, builtin[i], strlen(builtin[i])), 0);
	}
	assert_null(ctl_lookup("frobnicate"));
	assert_null(ctl_lookup(""));
	assert_null(ctl_lookup(NULL));
}

static int ran;

static int run_test_verb(struct ctl_req *q)
{
	ran++;
	reply_line(q->r, "ran %s with %d args", q->verb->name, q->argc - 1);
	return CTL_DONE;
}

static int run_other(struct ctl_req *q)
{
	(void)q;
	return CTL_DONE;
}

static const struct ctl_verb mine = { .name = "test-verb", .run = run_test_verb, .usage = "test-verb ARG...",
				      .max_args = 4 };

static void test_twice_refused(void **state)
{
	static const struct ctl_verb again = { .name = "list", .run = run_other, .usage = "list" };
	static const struct ctl_verb mine2 = { .name = "test-verb", .run = run_other, .usage = "test-verb" };
	static const struct ctl_verb noname = { .run = run_other };
	const struct ctl_verb *list = ctl_lookup("list");
	struct err e;
	(void)state;

	assert_int_equal(ctl_register(&again, &e), -1);
	assert_non_null(strstr(e.msg, "'list'"));
	assert_ptr_equal(ctl_lookup("list"), list); /* the first row stays */

	assert_int_equal(ctl_lookup("test-verb") ? 0 : ctl_register(&mine, &e), 0);
	assert_ptr_equal(ctl_lookup("test-verb"), &mine);
	assert_int_equal(ctl_register(&mine2, &e), -1);
	assert_non_null(strstr(e.msg, "'test-verb'"));
	assert_ptr_equal(ctl_lookup("test-verb"), &mine);

	assert_int_equal(ctl_register(&noname, &e), -1);
	assert_int_equal(ctl_register(NULL, &e), -1);
	/* the built-in rows register once; a second call is no error and no second copy */
	assert_int_equal(toolstack_register(&e), 0);
}

/* Sends n bytes as one client (in pieces of at most step bytes, as a socket may deliver
 * them) through control_feed, the control loop's own path, and returns the reply text;
 * *ret: control_feed's last answer. */
static char *feed(const char *bytes, size_t n, size_t step, int *ret)
{
	static struct ctl_client c;
	char *buf = xcalloc(1, 1 << 20);
	int sv[2];
	ssize_t got;
	size_t len = 0;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	c = (struct ctl_client){ .fd = sv[0], .console_dom = -1 };
	*ret = 0;
	for (size_t off = 0; off < n && *ret == 0; off += step) /* no hv: none of these reaches one */
		*ret = control_feed(NULL, &c, bytes + off, n - off < step ? n - off : step);
	assert_int_equal(c.out_len, 0); /* replies this short go out at once */
	free(c.out);
	free(c.buf);
	close(sv[0]);
	while ((got = read(sv[1], buf + len, (1 << 20) - 1 - len)) > 0)
		len += (size_t)got;
	close(sv[1]);
	buf[len] = 0;
	return buf;
}

/* One request line (TAB-separated, as hvctl sends it, without the newline). */
static char *request(const char *line, int *ret)
{
	char *copy = xcalloc(1, strlen(line) + 2);
	char *s;
	sprintf(copy, "%s\n", line);
	s = feed(copy, strlen(copy), 4096, ret);
	free(copy);
	return s;
}

static void test_dispatch_replies(void **state)
{
	static const struct {
		const char *line, *reply;
	} cases[] = {
		{ "frobnicate\t--all", "e unknown command 'frobnicate' (hvctl --help lists the commands)\n= 1\n" },
		{ "", "e unknown command '' (hvctl --help lists the commands)\n= 1\n" },
		/* a typo of a verb: the closest one (edit distance) */
		{ "lsit", "e unknown command 'lsit': did you mean 'list'? (hvctl --help lists the commands)\n= 1\n" },
		{ "test-verb\ta\tb", "o ran test-verb with 2 args\n= 0\n" },
		/* CTL_DOMAIN: the dispatcher asks for the domain before the handler runs */
		{ "dominfo\t--json", "e which domain? (give its name or id)\n= 1\n" },
		/* usage errors come from the row */
		{ "define", "e usage: define FILE\n= 1\n" },
		{ "create", "e usage: create FILE\n= 1\n" },
		{ "debug-keys", "e usage: debug-keys KEYS\n= 1\n" },
		/* the row's option table: unknown options and extra words, before the handler */
		{ "undefine\t--x", "e undefine: unknown option '--x' (usage: undefine NAME)\n= 1\n" },
		{ "list\t--al", "e list: unknown option '--al'; did you mean '--all'? (usage: list [--all] [--json])\n= 1\n" },
		{ "list\t-a", "e list: unknown option '-a' (usage: list [--all] [--json])\n= 1\n" },
		{ "list\textra", "e list: unexpected argument 'extra' (usage: list [--all] [--json])\n= 1\n" },
		{ "shutdown\tweb2\tnow", "e shutdown: unexpected argument 'now' (usage: shutdown NAME)\n= 1\n" },
		{ "dmesg\t-x", "e dmesg: unknown option '-x' (usage: dmesg [-c])\n= 1\n" },
		{ "restore\t/f\t--name", "e restore: --name needs a value (usage: restore FILE [--paused] [--name NEW])\n= 1\n" },
		{ "list\t--all=yes", "e list: --all takes no value (usage: list [--all] [--json])\n= 1\n" },
	};
	struct err e;
	(void)state;

	if (!ctl_lookup("test-verb"))
		assert_int_equal(ctl_register(&mine, &e), 0);
	ran = 0;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int ret;
		char *s = request(cases[i].line, &ret);
		assert_int_equal(ret, 1); /* done: the client goes once its reply is out */
		assert_string_equal(s, cases[i].reply);
		free(s);
	}
	assert_int_equal(ran, 1);
}

/* The framing: a line in pieces, bytes after the newline, NULs, too many arguments, a line
 * too long, a connection that ends before its newline. */
static void test_framing(void **state)
{
	char *big = xcalloc(1, CONTROL_MAX_LINE + 16), *s;
	char args[CONTROL_MAX_ARGS * 2 + 16] = "test-verb";
	int ret;
	struct err e;
	(void)state;
	if (!ctl_lookup("test-verb"))
		assert_int_equal(ctl_register(&mine, &e), 0);

	s = feed("test-verb\ta\tb\nfrobnicate\n", 25, 1, &ret); /* a byte at a time; the rest unread */
	assert_int_equal(ret, 1);
	assert_string_equal(s, "o ran test-verb with 2 args\n= 0\n");
	free(s);
	s = feed("test-verb\ta", 11, 3, &ret); /* no newline yet: nothing runs, nothing is said */
	assert_int_equal(ret, 0);
	assert_string_equal(s, "");
	free(s);
	s = feed("test-verb\0\t--all\n", 17, 100, &ret);
	assert_int_equal(ret, 1);
	assert_string_equal(s, "e the request has a NUL byte at offset 9 (arguments are text, separated by TAB)\n= 1\n");
	free(s);
	for (int i = 1; i < CONTROL_MAX_ARGS; i++) /* 64 arguments in all: framed, then the verb's row says */
		strcat(args, "\tx");
	s = request(args, &ret);
	assert_string_equal(s, "e test-verb: unexpected argument 'x' (usage: test-verb ARG...)\n= 1\n");
	free(s);
	strcat(args, "\tx"); /* 65: refused, not cut short */
	s = request(args, &ret);
	assert_string_equal(s, "e too many arguments (at most 64)\n= 1\n");
	free(s);
	s = request("\t\t", &ret);
	assert_string_equal(s, "e unknown command '' (hvctl --help lists the commands)\n= 1\n");
	free(s);
	memset(big, 'a', CONTROL_MAX_LINE + 8);
	s = feed(big, CONTROL_MAX_LINE + 8, 10000, &ret);
	assert_int_equal(ret, 1);
	assert_string_equal(s, "e request too long (at most 65535 bytes)\n= 1\n");
	free(s);
	memcpy(big, "test-verb\t", 10); /* the longest line there may be runs */
	big[CONTROL_MAX_LINE - 2] = '\n';
	s = feed(big, CONTROL_MAX_LINE - 1, CONTROL_MAX_LINE, &ret);
	assert_int_equal(ret, 1);
	assert_string_equal(s, "o ran test-verb with 1 args\n= 0\n");
	free(s);
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_each_verb_found),
		cmocka_unit_test(test_twice_refused),
		cmocka_unit_test(test_dispatch_replies),
		cmocka_unit_test(test_framing),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
