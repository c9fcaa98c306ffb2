/* dcmd: the command and walker tables: the OS modules a program registers, the lookup of a
 * spelling (the active module's rows, then the engine's), and the listings generated from
 * the rows: ::help [CMD], ::dcmds, ::walkers, ::walk NAME, and completion's names. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "mdb/mdb.h"

#define MAX_OS 8

static const struct mdb_os *registered[MAX_OS];
static size_t nr_registered;

int mdb_fail(FILE *out, const char *fmt, ...)
{
	va_list ap;
	fputs("mdb: ", out);
	va_start(ap, fmt);
	vfprintf(out, fmt, ap);
	va_end(ap);
	fputc('\n', out);
	return -1;
}

static const struct mdb_dcmd *row_in(const struct mdb_dcmd *rows, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(rows[i].name, name))
			return &rows[i];
	return NULL;
}

/* Each name once in rows[0..n); an engine row it repeats must be MDB_FALLBACK. */
static int check_rows(const char *who, const struct mdb_dcmd *rows, size_t n, bool vs_engine, struct err *e)
{
	for (size_t i = 0; i < n; i++) {
		const struct mdb_dcmd *d;
		if (!rows[i].name || !*rows[i].name || !rows[i].fn || !rows[i].desc)
			return err_set(e, "%s: dcmd %zu has no name, function or description", who, i);
		if (row_in(rows, i, rows[i].name))
			return err_set(e, "%s: dcmd %s is registered twice", who, rows[i].name);
		d = vs_engine ? row_in(mdb_engine_dcmds, mdb_engine_nr_dcmds, rows[i].name) : NULL;
		if (d && !(d->flags & MDB_FALLBACK))
			return err_set(e, "%s: dcmd %s is registered twice (the engine has it)", who, rows[i].name);
	}
	return 0;
}

int mdb_os_register(const struct mdb_os *os, struct err *e)
{
	static bool engine_checked;
	if (!engine_checked) {
		if (check_rows("mdb", mdb_engine_dcmds, mdb_engine_nr_dcmds, false, e) < 0)
			return -1;
		engine_checked = true;
	}
	if (!os || !os->name)
		return err_set(e, "an OS module needs a name");
	for (size_t i = 0; i < nr_registered; i++)
		if (registered[i] == os || !strcmp(registered[i]->name, os->name))
			return err_set(e, "OS module %s is registered twice", os->name);
	if (nr_registered == MAX_OS)
		return err_set(e, "OS module %s: at most %d modules", os->name, MAX_OS);
	if (check_rows(os->name, os->dcmds, os->nr_dcmds, true, e) < 0)
		return -1;
	for (size_t i = 0; i < os->nr_walkers; i++) {
		if (!os->walkers[i].name || !os->walkers[i].walk || !os->walkers[i].desc)
			return err_set(e, "%s: walker %zu has no name, function or description", os->name, i);
		for (size_t j = 0; j < i; j++)
			if (!strcmp(os->walkers[i].name, os->walkers[j].name))
				return err_set(e, "%s: walker %s is registered twice", os->name, os->walkers[i].name);
	}
	registered[nr_registered++] = os;
	return 0;
}

void mdb_os_unregister_all(void)
{
	nr_registered = 0;
}

int mdb_os_attach(struct target *t, const char *reloc, struct err *e)
{
	for (size_t i = 0; i < nr_registered; i++) {
		int r = registered[i]->attach ? registered[i]->attach(t, reloc, e) : 0;
		if (r < 0)
			return -1;
		if (r > 0) {
			t->os = registered[i];
			return 0;
		}
	}
	return 0;
}

void mdb_os_detach(struct target *t)
{
	if (t->os && t->os->close)
		t->os->close(t);
	t->os = NULL;
	t->os_priv = NULL;
}

const struct mdb_dcmd *mdb_dcmd_find(struct target *t, const char *name)
{
	const struct mdb_dcmd *d = t->os ? row_in(t->os->dcmds, t->os->nr_dcmds, name) : NULL;
	return d ? d : row_in(mdb_engine_dcmds, mdb_engine_nr_dcmds, name);
}

int mdb_dcmd_elsewhere(struct target *t, const char *name, FILE *out)
{
	for (size_t i = 0; i < nr_registered; i++)
		if (registered[i] != t->os && row_in(registered[i]->dcmds, registered[i]->nr_dcmds, name))
			return mdb_fail(out, "%s: %s", name, registered[i]->hint ? registered[i]->hint : registered[i]->name);
	return 1;
}

const struct mdb_walker *mdb_walker_find(struct target *t, const char *name)
{
	for (size_t i = 0; t->os && i < t->os->nr_walkers; i++)
		if (!strcmp(t->os->walkers[i].name, name))
			return &t->os->walkers[i];
	return NULL;
}

/* The rows of t in listing order: the engine's (an OS row in place of a fallback one),
 * then the module's own; NULL past the end. */
static const struct mdb_dcmd *row_at(struct target *t, size_t i)
{
	size_t nos = t->os ? t->os->nr_dcmds : 0;
	if (i < mdb_engine_nr_dcmds)
		return mdb_dcmd_find(t, mdb_engine_dcmds[i].name);
	for (i -= mdb_engine_nr_dcmds; i < nos; i++) /* skip the module's replacements of engine rows */
		if (!row_in(mdb_engine_dcmds, mdb_engine_nr_dcmds, t->os->dcmds[i].name))
			return &t->os->dcmds[i];
	return NULL;
}

const char *mdb_dcmd_name(struct target *t, size_t i)
{
	size_t nos = t && t->os ? t->os->nr_dcmds : 0;
	if (i < mdb_engine_nr_dcmds)
		return mdb_engine_dcmds[i].name;
	i -= mdb_engine_nr_dcmds;
	return i < nos ? t->os->dcmds[i].name : NULL;
}

static void row_line(const struct mdb_dcmd *d, FILE *out)
{
	char head[64];
	snprintf(head, sizeof(head), "%s%s%s", d->name, d->usage && *d->usage ? " " : "", d->usage ? d->usage : "");
	fprintf(out, "  %-28s - %s\n", head, d->desc);
}

static void list_rows(struct target *t, FILE *out)
{
	const struct mdb_dcmd *d;
	size_t i = 0, seen = 0;
	while (seen < mdb_engine_nr_dcmds + (t->os ? t->os->nr_dcmds : 0)) {
		seen++;
		if ((d = row_at(t, i++)) != NULL)
			row_line(d, out);
	}
}

int mdb_cmd_dcmds(struct target *t, struct mdb_args *a, FILE *out)
{
	(void)a;
	fprintf(out, "dcmds of the engine%s%s:\n", t->os ? " and of OS module " : "", t->os ? t->os->name : "");
	list_rows(t, out);
	return 0;
}

int mdb_cmd_walkers(struct target *t, struct mdb_args *a, FILE *out)
{
	(void)a;
	if (!t->os || !t->os->nr_walkers) {
		if (t->os)
			return fprintf(out, "no walkers (OS module %s has none)\n", t->os->name), 0;
		return fprintf(out, "no walkers (no OS module has this kernel)\n"), 0;
	}
	fprintf(out, "walkers of OS module %s:\n", t->os->name);
	for (size_t i = 0; i < t->os->nr_walkers; i++)
		fprintf(out, "  %-28s - %s\n", t->os->walkers[i].name, t->os->walkers[i].desc);
	return 0;
}

int mdb_cmd_help(struct target *t, struct mdb_args *a, FILE *out)
{
	if (a->arg && *a->arg) { /* ::help CMD: "status" finds "::status" too */
		char name[64];
		const struct mdb_dcmd *d = mdb_dcmd_find(t, a->arg);
		snprintf(name, sizeof(name), "::%s", a->arg);
		if (!d && strncmp(a->arg, "::", 2))
			d = mdb_dcmd_find(t, name);
		if (!d)
			return mdb_fail(out, "::help: no dcmd %s (::dcmds lists them)", a->arg);
		fprintf(out, "%s%s%s\n  %s\n", d->name, d->usage && *d->usage ? " " : "", d->usage ? d->usage : "", d->desc);
		if ((d->flags & MDB_STACK) && t->os && t->os->stack_usage)
			fprintf(out, "  %s: %s\n", t->os->name, t->os->stack_usage);
		return 0;
	}
	fputs("ADDR: hex number, 0tDECIMAL, symbol, <reg, and + - between them\n"
	      "ADDR/[N]{B,X,J,K,c,s,i} (virtual)  ADDR\\[N]{B,X,J,K,c,s} (physical)  ADDR::dcmd [ARGS]\n"
	      "CMD; CMD  runs both;  ::walk NAME | ADDR-taking command  runs it at each address\n"
	      "CMD --json (or hvmdb --json): ::status ::cpus $r ::nm ::walk ::ps ::msgbuf/log,\n"
	      "  bt sys mod, as one JSON document each (docs/hvmdb.md)\n"
	      "TAB completes commands, symbols, type names (::print ::sizeof ::offsetof whatis struct ...)\n"
	      "  and ::offsetof TYPE's members\n"
	      "live (hvmdb -d, the q prompt): ADDR/[vwWZ] VALUE (writes 1 2 4 8 bytes)  VALUE>REG\n"
	      "::help CMD: one command; ::walkers: the walkers\n",
	      out);
	mdb_cmd_dcmds(t, a, out);
	for (size_t i = 0; i < nr_registered; i++) { /* each module's stacks, and what the others would add */
		const struct mdb_os *os = registered[i];
		if (os->stack_usage)
			fprintf(out, "stacks of OS module %s ($c ::stack bt): %s\n", os->name, os->stack_usage);
		if (os == t->os || !os->nr_dcmds)
			continue;
		fprintf(out, "OS module %s, %s:", os->name, os->hint ? os->hint : "for its kernels");
		for (size_t j = 0; j < os->nr_dcmds; j++)
			fprintf(out, " %s%s%s", os->dcmds[j].name, *os->dcmds[j].usage ? " " : "", os->dcmds[j].usage);
		fputc('\n', out);
	}
	return 0;
}

int mdb_walk(struct target *t, const char *name, uint64_t *v, size_t max, size_t *n, FILE *out)
{
	const struct mdb_walker *w = mdb_walker_find(t, name);
	struct err e;
	*n = 0;
	if (!w) {
		fprintf(out, "mdb: ::walk: walkers:");
		for (size_t i = 0; t->os && i < t->os->nr_walkers; i++)
			fprintf(out, " %s", t->os->walkers[i].name);
		fprintf(out, "%s (not '%s')\n", t->os && t->os->nr_walkers ? "" : " none", name);
		return -1;
	}
	if (w->walk(t, v, max, n, &e) < 0)
		return mdb_fail(out, "%s", e.msg);
	return 0;
}

/* ::walk NAME: its addresses, one a line (a JSON array with --json) */
int mdb_cmd_walk(struct target *t, struct mdb_args *a, FILE *out)
{
	uint64_t *addrs = xcalloc(4096, sizeof(*addrs));
	char what[32] = "";
	size_t n;
	if (a->arg)
		sscanf(a->arg, "%31s", what);
	if (mdb_walk(t, what, addrs, 4096, &n, out) < 0) {
		free(addrs);
		return -1;
	}
	if (t->json)
		fputc('[', out);
	for (size_t i = 0; i < n; i++)
		fprintf(out, t->json ? "%s\"0x%llx\"" : "%s%llx\n", t->json && i ? ", " : "", (unsigned long long)addrs[i]);
	if (t->json)
		fputs("]\n", out);
	free(addrs);
	return 0;
}
