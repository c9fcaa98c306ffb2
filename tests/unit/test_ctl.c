/* Unit tests for the control-verb table (hv/control.c, hv/toolstack.c): every built-in
 * verb is found by name, a name registered twice is refused and the first row kept, and
 * the dispatcher's replies: an unknown verb, a verb's own handler, a missing domain name,
 * a usage error spelled from the row. */
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

/* Runs one request line (TAB-separated, as hvctl sends it) and returns the reply text. */
static char *request(const char *line, int *ret)
{
	static struct ctl_client c;
	char buf[4096], *argv[CONTROL_MAX_ARGS], *copy = strdup(line);
	int sv[2], argc = 0;
	ssize_t n;
	size_t len = 0;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	for (char *p = copy, *tab; p && argc < CONTROL_MAX_ARGS; p = tab ? tab + 1 : NULL) {
		tab = strchr(p, '\t');
		if (tab)
			*tab = 0;
		argv[argc++] = p;
	}
	c = (struct ctl_client){ .fd = sv[0], .console_dom = -1 };
	*ret = ctl_run(NULL, &c, argc, argv); /* no hv: none of these requests reaches one */
	free(c.out); /* what the socket did not take at once (nothing, for replies this short) */
	free(c.buf);
	close(sv[0]);
	while ((n = read(sv[1], buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	close(sv[1]);
	free(copy);
	buf[len] = 0;
	return strdup(buf);
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
		assert_int_equal(ret, CTL_DONE);
		assert_string_equal(s, cases[i].reply);
		free(s);
	}
	assert_int_equal(ran, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_each_verb_found),
		cmocka_unit_test(test_twice_refused),
		cmocka_unit_test(test_dispatch_replies),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
