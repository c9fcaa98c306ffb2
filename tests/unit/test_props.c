/* Unit tests for the property store: defaults, setprop/listprop/refresh, type and value
 * errors that leave the store unchanged, secrets never listed, persistence, refusal of a
 * file that is not a store, patterns. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hv/props.h"

static char dir[64], path[128];

static int setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/hvkit-props-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/props.db", dir);
	return 0;
}

static int teardown(void **state)
{
	char cmd[200];
	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

static const struct prop_entry *find(struct prop_entry *l, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(l[i].name, name))
			return &l[i];
	return NULL;
}

static void test_defaults_set_refresh(void **state)
{
	struct err e;
	struct prop_entry l[32];
	char changed[256], v[64];
	struct props *p = props_open(path, &e);
	int n;
	(void)state;
	assert_non_null(p);
	n = props_list(p, NULL, l, 32, &e);
	assert_true(n >= 9);
	assert_string_equal(find(l, n, "config/dom0-cpus")->value, "0");
	assert_int_equal(find(l, n, "config/dom0-cpus")->type, PROP_COUNT);
	assert_int_equal(props_set(p, "config/dom0-cpus", "count: 1", &e), 0);
	assert_int_equal(props_set(p, "dump-dir", "astring: \"/srv/crash\"", &e), 0); /* config/ optional */
	n = props_list(p, NULL, l, 32, &e);
	assert_true(find(l, n, "config/dom0-cpus")->has_pending);
	assert_string_equal(find(l, n, "config/dom0-cpus")->pending, "1");
	assert_string_equal(find(l, n, "config/dom0-cpus")->value, "0"); /* not yet refreshed */
	assert_int_equal(props_get_int(p, "config/dom0-cpus", -1), 0);
	assert_int_equal(props_refresh(p, changed, sizeof(changed), &e), 2);
	assert_string_equal(changed, "config/dom0-cpus,config/dump-dir");
	assert_int_equal(props_get_int(p, "config/dom0-cpus", -1), 1);
	assert_int_equal(props_get(p, "config/dump-dir", v, sizeof(v), &e), 0);
	assert_string_equal(v, "/srv/crash");
	assert_int_equal(props_refresh(p, changed, sizeof(changed), &e), 0);
	props_close(p);
	/* committed values survive a reopen */
	p = props_open(path, &e);
	assert_non_null(p);
	assert_int_equal(props_get_int(p, "config/dom0-cpus", -1), 1);
	assert_int_equal(props_delete(p, "config/dom0-cpus", &e), 0);
	assert_int_equal(props_refresh(p, NULL, 0, &e), 1);
	assert_int_equal(props_get_int(p, "config/dom0-cpus", -1), 0);
	props_close(p);
}

static void test_errors_leave_the_store_unchanged(void **state)
{
	struct err e;
	struct prop_entry l[32];
	struct props *p = props_open(path, &e);
	static const char *const bad[][3] = {
		{ "config/dom0-cpus", "astring: \"x\"", "type count" },
		{ "config/nosuch", "1", "unknown property" },
		{ "config/dom0-cpus", "-3", "cannot be negative" },
		{ "config/dom0-cpus", "three", "not a number" },
		{ "config/xend-relocation-port", "70000", "from 1 to 65535" },
		{ "config/xend-relocation-hosts-allow", "\"^ok$ ([unclosed\"", "not a valid regular expression" },
		{ "config/dump-dir", "relative/dir", "absolute path" },
		{ "config/dump-dir", "boolean: true", "type astring" },
	};
	int n;
	(void)state;
	assert_non_null(p);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		e.msg[0] = 0;
		assert_int_equal(props_set(p, bad[i][0], bad[i][1], &e), -1);
		if (!strstr(e.msg, bad[i][2]))
			fail_msg("setprop %s = %s: '%s' lacks '%s'", bad[i][0], bad[i][1], e.msg, bad[i][2]);
	}
	n = props_list(p, NULL, l, 32, &e);
	for (int i = 0; i < n; i++)
		assert_false(l[i].has_pending);
	props_close(p);
}

static void test_secret_and_patterns(void **state)
{
	struct err e;
	struct prop_entry l[32];
	char v[64];
	struct props *p = props_open(path, &e);
	int n;
	(void)state;
	assert_int_equal(props_set(p, "config/vncpasswd", "astring: \"hunter2\"", &e), 0);
	n = props_list(p, NULL, l, 32, &e);
	assert_string_equal(find(l, n, "config/vncpasswd")->pending, "********");
	props_refresh(p, NULL, 0, &e);
	n = props_list(p, NULL, l, 32, &e);
	assert_string_equal(find(l, n, "config/vncpasswd")->value, "********");
	assert_false(find(l, n, "config/vncpasswd")->has_pending);
	assert_int_equal(props_get(p, "config/vncpasswd", v, sizeof(v), &e), 0);
	assert_string_equal(v, "hunter2"); /* hv itself can read it */
	n = props_list(p, "config/xend-*", l, 32, &e);
	assert_int_equal(n, 3);
	n = props_list(p, "dom0-*", l, 32, &e);
	assert_int_equal(n, 2);
	props_close(p);
}

static void test_not_a_store(void **state)
{
	struct err e;
	char other[160];
	FILE *f;
	(void)state;
	snprintf(other, sizeof(other), "%s/junk.db", dir);
	f = fopen(other, "w");
	fputs("this is not a database at all\n", f);
	fclose(f);
	assert_null(props_open(other, &e));
	assert_non_null(strstr(e.msg, "not a property store"));
	assert_null(props_open("/nonexistent-dir/props.db", &e));
	assert_non_null(strstr(e.msg, "props.db"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_set_refresh), cmocka_unit_test(test_errors_leave_the_store_unchanged),
		cmocka_unit_test(test_secret_and_patterns), cmocka_unit_test(test_not_a_store),
	};
	return cmocka_run_group_tests_name("props", tests, setup, teardown);
}
