/* Unit tests for the dcmd and walker tables (mdb/dcmd.c, mdb/cmds.c): a name registered
 * twice is refused (in a module's own rows, against the engine's, a module twice), and an
 * attached module's rows and walkers are dispatched, listed (::dcmds ::walkers ::help CMD)
 * and completed; an inactive module's command says what it is for. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mdb/mdb.h"

static char last_arg[64];

static int row_hello(struct target *t, struct mdb_args *a, FILE *out)
{
	(void)t;
	snprintf(last_arg, sizeof(last_arg), "%s", a->arg ? a->arg : "(none)");
	fprintf(out, "hello%s%s\n", a->have_addr ? " at " : "", a->have_addr ? "addr" : "");
	return 0;
}

static int walk_three(struct target *t, uint64_t *v, size_t max, size_t *n, struct err *e)
{
	(void)t;
	(void)e;
	for (*n = 0; *n < 3 && *n < max; (*n)++)
		v[*n] = 0x1000 * (*n + 1);
	return 0;
}

static int mine(struct target *t, const char *reloc, struct err *e)
{
	(void)t;
	(void)reloc;
	(void)e;
	return 1;
}

static const struct mdb_dcmd good_rows[] = {
	{ "::hello", "[WORDS]", "say hello", row_hello, 0 },
	{ "hi", "WORDS", "crash-style hello", row_hello, MDB_NEEDARGS },
};
static const struct mdb_walker good_walkers[] = { { "three", "three addresses", walk_three } };
static const struct mdb_os good = { .name = "good", .hint = "for good kernels", .attach = mine, .dcmds = good_rows,
				    .nr_dcmds = 2, .walkers = good_walkers, .nr_walkers = 1 };

static const struct mdb_dcmd other_rows[] = { { "frob", "", "frobnicate", row_hello, MDB_NOARGS } };
static const struct mdb_os other = { .name = "other", .hint = "for other kernels", .dcmds = other_rows, .nr_dcmds = 1 };

static unsigned f_nr_cpus(struct target *t)
{
	(void)t;
	return 1;
}

static int f_regs(struct target *t, unsigned cpu, struct target_regs *r)
{
	(void)t;
	(void)cpu;
	(void)r;
	return -1;
}

static size_t f_read_phys(struct target *t, uint64_t pa, void *buf, size_t len)
{
	(void)t;
	(void)pa;
	(void)buf;
	(void)len;
	return 0;
}

static void f_status(struct target *t, FILE *out)
{
	(void)t;
	fputs("a fake target\n", out);
}

static const struct target_ops fake_ops = { .kind = "fake", .nr_cpus = f_nr_cpus, .regs = f_regs,
					    .read_phys = f_read_phys, .status = f_status };

/* what `cmds` prints, in a malloc()ed string; *ret: mdb_exec's */
static char *run(struct target *t, const char *cmds, int *ret)
{
	char *text = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&text, &n);
	*ret = mdb_exec(t, cmds, f);
	fclose(f);
	return text;
}

static void test_twice_refused(void **state)
{
	static const struct mdb_dcmd dup_own[] = { { "::x", "", "one", row_hello, 0 }, { "::x", "", "two", row_hello, 0 } };
	static const struct mdb_dcmd dup_engine[] = { { "::status", "", "mine", row_hello, 0 } };
	static const struct mdb_dcmd fallback_ok[] = { { "$c", "", "a stack", row_hello, 0 } };
	static const struct mdb_walker dup_walk[] = { { "w", "one", walk_three }, { "w", "two", walk_three } };
	const struct mdb_os a = { .name = "a", .dcmds = dup_own, .nr_dcmds = 2 };
	const struct mdb_os b = { .name = "b", .dcmds = dup_engine, .nr_dcmds = 1 };
	const struct mdb_os c = { .name = "c", .walkers = dup_walk, .nr_walkers = 2 };
	const struct mdb_os good_again = { .name = "good" };
	struct err e;
	(void)state;
	mdb_os_unregister_all();
	assert_int_equal(mdb_os_register(&a, &e), -1);
	assert_non_null(strstr(e.msg, "::x is registered twice"));
	assert_int_equal(mdb_os_register(&b, &e), -1);
	assert_non_null(strstr(e.msg, "::status is registered twice"));
	assert_int_equal(mdb_os_register(&c, &e), -1);
	assert_non_null(strstr(e.msg, "walker w is registered twice"));
	assert_int_equal(mdb_os_register(&good, &e), 0);
	assert_int_equal(mdb_os_register(&good, &e), -1);
	assert_non_null(strstr(e.msg, "good is registered twice"));
	assert_int_equal(mdb_os_register(&good_again, &e), -1);
	/* $c is not a fallback row (the engine's reaches the stack op): a module's $c is refused too */
	{
		const struct mdb_os d = { .name = "d", .dcmds = fallback_ok, .nr_dcmds = 1 };
		assert_int_equal(mdb_os_register(&d, &e), -1);
	}
	mdb_os_unregister_all();
}

static void test_rows_dispatched_and_listed(void **state)
{
	struct target *t = xcalloc(1, sizeof(*t));
	struct err e;
	char *s;
	int r;
	size_t i;
	bool saw_hello = false, saw_status = false;
	(void)state;
	t->ops = &fake_ops;
	mdb_os_unregister_all();
	assert_int_equal(mdb_os_register(&good, &e), 0);
	assert_int_equal(mdb_os_register(&other, &e), 0);
	assert_int_equal(mdb_os_attach(t, NULL, &e), 0);
	assert_ptr_equal(t->os, &good);

	s = run(t, "::hello a b; hi x; 0x10::hello", &r);
	assert_int_equal(r, 0);
	assert_string_equal(s, "hello\nhello\nhello at addr\n");
	assert_string_equal(last_arg, "(none)");
	free(s);
	s = run(t, "hi", &r); /* NEEDARGS: alone it is no command */
	assert_int_equal(r, -1);
	assert_non_null(strstr(s, "unknown command: hi"));
	free(s);

	s = run(t, "::dcmds", &r);
	assert_int_equal(r, 0);
	assert_non_null(strstr(s, "::hello [WORDS]"));
	assert_non_null(strstr(s, "say hello"));
	assert_non_null(strstr(s, "::status"));
	free(s);
	s = run(t, "::help hello; ::help ::status", &r);
	assert_int_equal(r, 0);
	assert_non_null(strstr(s, "::hello [WORDS]\n  say hello\n"));
	assert_non_null(strstr(s, "::status\n  the target"));
	free(s);
	s = run(t, "::help nosuch", &r);
	assert_int_equal(r, -1);
	free(s);

	s = run(t, "::walkers; ::walk three; ::walk three | ::hello", &r);
	assert_int_equal(r, 0);
	assert_non_null(strstr(s, "three"));
	assert_non_null(strstr(s, "1000\n2000\n3000\n"));
	assert_non_null(strstr(s, "hello at addr\nhello at addr\nhello at addr\n"));
	free(s);
	s = run(t, "::walk nosuch", &r);
	assert_int_equal(r, -1);
	assert_non_null(strstr(s, "walkers: three (not 'nosuch')"));
	free(s);

	s = run(t, "frob", &r); /* the inactive module's: what it is for */
	assert_int_equal(r, -1);
	assert_string_equal(s, "mdb: frob: for other kernels\n");
	free(s);

	for (i = 0; mdb_dcmd_name(t, i); i++) {
		saw_hello |= !strcmp(mdb_dcmd_name(t, i), "::hello");
		saw_status |= !strcmp(mdb_dcmd_name(t, i), "::status");
	}
	assert_true(saw_hello && saw_status);
	target_close(t);
	mdb_os_unregister_all();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_twice_refused),
		cmocka_unit_test(test_rows_dispatched_and_listed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
