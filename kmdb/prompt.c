/* prompt: the kmdb prompt on hv's serial console (the q key, as in Xen's "put dom0 and
 * all domUs at the kmdb prompt"). Every domain stops (a debug session each) and the
 * console's hypervisor input becomes an mdb command line, `[dom0:0]> `, running the
 * hvmdb engine on the current domain; ::domain NAME switches, :c resumes every domain and
 * gives the keyboard to the prompt's domain. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mdb/mdb.h"
#include "mdb/os/guest/guest_os.h"
#include "mdb/os/linux/linux_os.h"
#include "hv/hv.h"
#include "kmdb.h"

#define MAX_DOMS 64
#define LINE_MAX_ 512

struct prompt {
	struct hv *hv;
	int n, cur;
	struct hv_dbg *g[MAX_DOMS];
	struct target *t[MAX_DOMS];
	char line[LINE_MAX_];
	size_t len;
};

static struct prompt *prompt; /* one at a time: there is one console */

static void show_prompt(struct prompt *p)
{
	char s[128];
	snprintf(s, sizeof(s), "[%s:%u]> ", hv_dbg_domain_name(p->g[p->cur]), p->t[p->cur]->cpu);
	hv_console_write(p->hv, s);
}

/* Every domain runs again, and the keyboard goes to the domain the prompt was on (not to
 * the debug keys, where the next word typed would run keys: R reboots dom0). */
static void leave(struct prompt *p)
{
	int to = hv_dbg_domain_id(p->g[p->cur]);
	char msg[200];
	const char *name;
	for (int i = 0; i < p->n; i++) {
		target_close(p->t[i]);
		hv_dbg_detach(p->g[i], true);
	}
	hv_set_prompt_input(p->hv, NULL);
	name = hv_console_input_to(p->hv, to);
	snprintf(msg, sizeof(msg), "kmdb: every domain resumed; the keyboard is %s's again (Ctrl-A three times: the "
		 "hypervisor)\n", name);
	hv_console_write(p->hv, msg);
	free(p);
	prompt = NULL;
}

static void run_line(struct prompt *p, char *line)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	while (*line == ' ')
		line++;
	if (!strcmp(line, ":c") || !strcmp(line, "::quit") || !strcmp(line, "$q")) {
		leave(p);
		return;
	}
	if (!strncmp(line, "::domain", 8)) {
		const char *name = line + 8;
		while (*name == ' ')
			name++;
		for (int i = 0; i < p->n; i++) {
			char id[16];
			snprintf(id, sizeof(id), "%d", hv_dbg_domain_id(p->g[i]));
			if (!*name) {
				char s[160];
				snprintf(s, sizeof(s), "%c %3d %s\n", i == p->cur ? '*' : ' ', hv_dbg_domain_id(p->g[i]),
					 hv_dbg_domain_name(p->g[i]));
				hv_console_write(p->hv, s);
			} else if (!strcmp(name, hv_dbg_domain_name(p->g[i])) || !strcmp(name, id)) {
				p->cur = i;
				show_prompt(p);
				return;
			}
		}
		if (*name)
			hv_console_write(p->hv, "mdb: no such domain (::domain lists them)\n");
		show_prompt(p);
		return;
	}
	f = open_memstream(&text, &len);
	if (f) {
		mdb_exec(p->t[p->cur], line, f);
		fclose(f);
		hv_console_write(p->hv, text);
		free(text);
	}
	show_prompt(p);
}

static void input(struct hv *hv, const uint8_t *buf, size_t n)
{
	struct prompt *p = prompt;
	(void)hv;
	for (size_t i = 0; i < n && p; i++) {
		uint8_t c = buf[i];
		if (c == '\r' || c == '\n') {
			hv_console_write(p->hv, "\n");
			p->line[p->len] = 0;
			p->len = 0;
			run_line(p, p->line);
			p = prompt; /* :c ends it */
		} else if ((c == 0x7f || c == 0x08) && p->len) {
			p->len--;
			hv_console_write(p->hv, "\b \b");
		} else if (c == 0x03 || c == 0x15) { /* Ctrl-C, Ctrl-U: the line is dropped */
			p->len = 0;
			hv_console_write(p->hv, "^C\n");
			show_prompt(p);
		} else if (c >= 0x20 && c < 0x7f && p->len < LINE_MAX_ - 1) {
			char s[2] = { (char)c, 0 };
			p->line[p->len++] = (char)c;
			hv_console_write(p->hv, s);
		}
	}
}

/* The OS modules of the live targets, in hvmdb's order: Linux's, then our guest's. */
int kmdb_os_register(void)
{
	static int done; /* 1 registered, -1 failed */
	struct err e;
	if (!done)
		done = mdb_os_register(&mdb_os_linux, &e) < 0 || mdb_os_register(&mdb_os_guest, &e) < 0 ? -1 : 1;
	return done > 0 ? 0 : -1;
}

void kmdb_prompt_enter(struct hv *hv)
{
	struct prompt *p;
	int ids[MAX_DOMS];
	unsigned n;
	if (prompt)
		return;
	if (kmdb_os_register() < 0) {
		hv_console_write(hv, "kmdb: the OS modules cannot be registered\n");
		return;
	}
	p = xcalloc(1, sizeof(*p));
	p->hv = hv;
	n = hv_domain_ids(hv, ids, MAX_DOMS);
	for (unsigned i = 0; i < n; i++) {
		struct err e;
		char path[300], msg[700];
		struct hv_dbg *g = hv_dbg_attach(hv, ids[i], &e);
		if (!g) {
			snprintf(msg, sizeof(msg), "kmdb: domain %d left running: %s\n", ids[i], e.msg);
			hv_console_write(hv, msg);
			continue;
		}
		p->g[p->n] = g;
		p->t[p->n] = kmdb_target_hv(g);
		if (hv_domain_kernel_path(hv, ids[i], path, sizeof(path)) == 0 &&
		    (target_add_symbols(p->t[p->n], path, &e) < 0 || target_check_build_id(p->t[p->n], path, &e) < 0)) {
			snprintf(msg, sizeof(msg), "kmdb: %s: no symbols (%s)\n", hv_dbg_domain_name(g), e.msg);
			hv_console_write(hv, msg);
			/* a file that is not the kernel: raw addresses, not wrong names */
			symtab_free(&p->t[p->n]->syms);
			free(p->t[p->n]->symfile);
			p->t[p->n]->symfile = NULL;
		}
		if (mdb_os_attach(p->t[p->n], NULL, &e) < 0) {
			snprintf(msg, sizeof(msg), "kmdb: %s: %s\n", hv_dbg_domain_name(g), e.msg);
			hv_console_write(hv, msg);
		}
		p->n++;
	}
	if (!p->n) {
		hv_console_write(hv, "kmdb: no domain to debug\n");
		free(p);
		return;
	}
	prompt = p;
	hv_console_write(hv, "\nWelcome to kmdb (hvkit): every domain is stopped. ::help lists the commands,\n"
			     "::domain [NAME] lists or switches domains, :c resumes them all and gives the keyboard\n"
			     "to the domain of the prompt.\n");
	hv_set_prompt_input(hv, input);
	show_prompt(p);
}
