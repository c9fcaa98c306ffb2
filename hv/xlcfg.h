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
	char mem_image[1024]; /* hvkit's "mem_image": RAM filled from this file at boot (benchmarks); not written back */
	char cmdline[4096];  /* "cmdline", or "extra" (and "root" prepended as "root=..." like xl) */
	uint64_t memory_mib; /* "memory", default 128 */
	unsigned vcpus;      /* default 1 */
	unsigned weight;     /* "weight" or "cpu_weight", default 256 */
	unsigned cap;        /* default 0 */
	char on_poweroff[32], on_reboot[32], on_crash[32]; /* defaults destroy, restart, destroy; allowed:
	      destroy restart preserve rename-restart coredump-destroy coredump-restart */
};

/* Parses xl.cfg text: `key = value` per line (or separated by ';'), '#' comments, values
 * "string" or 'string' (escapes \\ \" \' only), integers (decimal, 0x hex, 0 octal, as xl),
 * and [ "list", ... ] (may span lines; accepted and ignored for xl keys hvkit does not use,
 * such as disk and vif). Errors name the line: "web1.cfg:3: memory: not a number".
 * Required: name. name: 1-63 chars of [A-Za-z0-9_.-], not "Domain-0". memory 8..1048576,
 * vcpus 1..255, weight 1..65535, cap 0..25500. Unknown keys, duplicates (aliases
 * included), cmdline together with extra/root, NUL bytes and lines over 4096 bytes are errors. */
int xlcfg_parse(const char *text, size_t len, const char *filename, struct xlcfg *out, struct err *e);
int xlcfg_load(const char *path, struct xlcfg *out, struct err *e); /* reads the file (max 1 MiB) */
/* Writes it back in xl.cfg syntax (for the persisted definition); returns bytes or -1
 * when buf is too small or a string could not be read back (unterminated, control chars). */
int xlcfg_format(const struct xlcfg *c, char *buf, size_t len);

/* hv's domain configuration from xl settings (strings point into x) and back (domcfg.c). */
struct domain_config;
void xlcfg_to_config(const struct xlcfg *x, struct domain_config *c);
void xlcfg_from_config(const struct domain_config *c, struct xlcfg *x);
#endif
