/* domcfg: a domain's configuration (struct domain_config) as xl.cfg settings and back:
 * for the domain image's DOMAIN_CONFIG record, and for `hvctl create` of a file. */
#include "internal.h"
#include "xlcfg.h"

#include <stdio.h>
#include <string.h>

static enum domain_action action_of(const char *s)
{
	return strstr(s, "restart") ? ACTION_RESTART : !strcmp(s, "preserve") ? ACTION_PRESERVE : ACTION_DESTROY;
}

void xlcfg_to_config(const struct xlcfg *x, struct domain_config *c)
{
	memset(c, 0, sizeof(*c));
	c->name = x->name;
	c->mem_bytes = x->memory_mib << 20;
	c->vcpus = x->vcpus;
	c->kernel = x->kernel[0] ? x->kernel : NULL;
	c->initrd = x->initrd[0] ? x->initrd : NULL;
	c->mem_image = x->mem_image[0] ? x->mem_image : NULL;
	c->cmdline = x->cmdline;
	c->weight = x->weight;
	c->cap = x->cap;
	/* rename-restart acts as restart; coredump-* dump into dump-dir, then destroy/restart;
	 * *rollback goes back to the latest checkpoint (destroy when there is none) */
	c->on_poweroff = action_of(x->on_poweroff);
	c->on_reboot = action_of(x->on_reboot);
	c->on_crash = action_of(x->on_crash);
	c->coredump_on_crash = !strncmp(x->on_crash, "coredump-", 9);
	c->rollback_on_crash = strstr(x->on_crash, "rollback") != NULL;
}

static void put_action(char *dst, size_t len, enum domain_action a, bool coredump, bool rollback)
{
	const char *name = rollback ? "rollback" : domain_action_name(a);
	snprintf(dst, len, "%s%s", coredump ? "coredump-" : "", name);
	if (coredump && a == ACTION_PRESERVE && !rollback)
		snprintf(dst, len, "preserve"); /* xl has no coredump-preserve */
}

void xlcfg_from_config(const struct domain_config *c, struct xlcfg *x)
{
	memset(x, 0, sizeof(*x));
	snprintf(x->name, sizeof(x->name), "%s", c->name ? c->name : "dom0");
	snprintf(x->kernel, sizeof(x->kernel), "%s", c->kernel ? c->kernel : "");
	snprintf(x->initrd, sizeof(x->initrd), "%s", c->initrd ? c->initrd : "");
	snprintf(x->cmdline, sizeof(x->cmdline), "%s", c->cmdline ? c->cmdline : "");
	x->memory_mib = c->mem_bytes >> 20;
	x->vcpus = c->vcpus;
	x->weight = c->weight;
	x->cap = c->cap;
	put_action(x->on_poweroff, sizeof(x->on_poweroff), c->on_poweroff, false, false);
	put_action(x->on_reboot, sizeof(x->on_reboot), c->on_reboot, false, false);
	put_action(x->on_crash, sizeof(x->on_crash), c->on_crash, c->coredump_on_crash, c->rollback_on_crash);
}
