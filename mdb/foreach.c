/* foreach: crash's foreach [SELECTOR...] VERB [ARGS]: the OS module runs VERB (bt, ps, task)
 * for each task the selectors pick; this file parses the line and matches a task against
 * the selectors, the same way for every OS module. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "mdb/mdb.h"

static const char *const verbs[] = { "bt", "ps", "task" };
/* crash's other verbs: what a user may type, said not to be here */
static const char *const elsewhere[] = { "vm", "files", "net", "set", "sig", "vtop" };

static bool in(const char *w, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(w, list[i]))
			return true;
	return false;
}

bool mdb_foreach_match(char *const *sel, size_t nsel, const struct mdb_task *k)
{
	if (!nsel)
		return true;
	for (size_t i = 0; i < nsel; i++) {
		const char *s = sel[i];
		char *end;
		unsigned long long v;
		if (!strcmp(s, "kernel") || !strcmp(s, "user")) {
			if (k->kernel >= 0 && k->kernel == (s[0] == 'k'))
				return true;
			continue;
		}
		if (!strcmp(s, "active")) {
			if (k->current)
				return true;
			continue;
		}
		if (k->state && strlen(s) >= 2 && strlen(s) <= 5 && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") == strlen(s)) {
			if (!strcmp(s, k->state)) /* a state as ps shows it: RU, IN (Linux); RUN, SLEEP (our guest) */
				return true;
			continue;
		}
		v = strtoull(s, &end, 10);
		if (*s && !*end) { /* a PID (TID) */
			if ((long long)v == k->pid)
				return true;
			continue;
		}
		v = strtoull(s, &end, 16);
		if (*s && !*end && strlen(s) > 8) { /* a task address, in hex as ps shows it */
			if (v == k->addr)
				return true;
			continue;
		}
		if (!strcmp(s + (s[0] == '\\'), k->comm)) /* a name ("\bt": the task named bt) */
			return true;
	}
	return false;
}

int mdb_cmd_foreach(struct target *t, struct mdb_args *a, FILE *out)
{
	char *words[64], *save = NULL, *args = NULL;
	size_t n = 0, v;
	int r;
	char *line = xstrdup(a->arg ? a->arg : "");
	for (char *w = strtok_r(line, " \t", &save); w && n < 64; w = strtok_r(NULL, " \t", &save)) {
		words[n++] = w;
		if (in(w, verbs, sizeof(verbs) / sizeof(verbs[0])) || in(w, elsewhere, sizeof(elsewhere) / sizeof(elsewhere[0]))) {
			args = save; /* what follows the verb: its flags */
			break;
		}
	}
	if (!n) {
		free(line);
		return mdb_fail(out, "foreach [PID|TASK|NAME|kernel|user|active|STATE]... bt|ps|task");
	}
	v = n - 1;
	if (!in(words[v], verbs, sizeof(verbs) / sizeof(verbs[0]))) {
		r = in(words[v], elsewhere, sizeof(elsewhere) / sizeof(elsewhere[0]))
			    ? mdb_fail(out, "foreach: crash's '%s' is not here: the verbs are bt, ps and task", words[v])
			    : mdb_fail(out, "foreach: no verb in '%s': the verbs are bt, ps and task", a->arg ? a->arg : "");
		free(line);
		return r;
	}
	if (t->json) {
		free(line);
		return mdb_fail(out, "foreach: no JSON form (ps --json and bt --json have one)");
	}
	if (!t->os || !t->os->foreach) {
		free(line);
		return mdb_fail(out, "foreach: no OS module knows this kernel's tasks (is the symbol file its kernel?)");
	}
	if (args)
		args += strspn(args, " \t");
	r = t->os->foreach(t, words[v], words, v, args && *args ? args : NULL, out);
	free(line);
	return r;
}
