/* xlcfg: domain configuration files in xl.cfg syntax (private to hv/): parsing with
 * file:line errors, and writing a definition back. */
#ifndef HVKIT_HV_XLCFG_H
#define HVKIT_HV_XLCFG_H

#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

struct xlcfg {
	char name[64];
	char kernel[1024];   /* "" = the built-in guest */
	char initrd[1024];   /* "ramdisk" is an alias */
	char cmdline[4096];  /* "cmdline", or "extra" (with "root" prepended as root=...) */
	uint64_t memory_mib; /* default 128 */
	unsigned vcpus;      /* default 1 */
	unsigned weight;     /* default 256 */
	unsigned cap;        /* default 0 */
	char on_poweroff[32], on_reboot[32], on_crash[32];
};

int xlcfg_parse(const char *text, size_t len, const char *filename, struct xlcfg *out, struct err *e);
int xlcfg_load(const char *path, struct xlcfg *out, struct err *e);
int xlcfg_format(const struct xlcfg *c, char *buf, size_t len);

#endif
