/* fuzz_typecache: libFuzzer target for the type cache as hvmdb reads it back (untrusted):
 * with build/guest.elf as the symbol file, the input is either the cache file itself (first
 * byte even) or rows for a cache with the right key (odd: kind byte, 4-byte offset, name
 * length byte, name; repeated), written again before each lookup. Type lookups through it must give the answers the scan
 * gives, or say there is no such type; anything else aborts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mdb/mdb.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const cmds[][2] = { { "struct thread", NULL }, { "struct cpu", "current" }, { "log_record", NULL },
				       { "uint64_t", NULL } };
#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))
static char guest[512], path[4200], want[NCMDS][512];
static struct type_cache_key key;

static void answer(size_t i, char *buf, size_t len)
{
	struct target t;
	FILE *f = fmemopen(buf, len, "w");
	memset(buf, 0, len);
	memset(&t, 0, sizeof(t));
	t.symfile = guest;
	if (cmds[i][1])
		dwarf_cmd_offsetof(&t, cmds[i][0], cmds[i][1], f);
	else
		dwarf_cmd_sizeof(&t, cmds[i][0], f);
	fclose(f);
	dwarf_close_target(&t);
	dwarf_names_free(&t);
}

static char dir[64] = "/tmp/hvkit-fuzz-types-XXXXXX";

static void cleanup(void)
{
	unlink(path);
	rmdir(dir);
}

static int init(void)
{
	const char *b = getenv("HVKIT_BUILD");
	struct err e;
	snprintf(guest, sizeof(guest), "%s/guest.elf", b ? b : "build");
	if (!mkdtemp(dir) || type_cache_key(guest, &key, &e) < 0)
		return -1;
	atexit(cleanup);
	setenv("HVKIT_TYPE_CACHE", "off", 1);
	for (size_t i = 0; i < NCMDS; i++)
		answer(i, want[i], sizeof(want[i])); /* by the scan */
	setenv("HVKIT_TYPE_CACHE", dir, 1);
	return type_cache_path(&key, path, sizeof(path), &e);
}

static void rows_cache(const uint8_t *p, size_t n)
{
	struct type_cache_entry v[64];
	char names[64][256];
	size_t nv = 0;
	struct err e;
	while (n >= 6 && nv < 64) {
		size_t nl = p[5] < n - 6 ? p[5] : n - 6;
		v[nv].kind = (enum type_kind)(p[0] & 7); /* also kinds that do not exist */
		v[nv].off = ((uint64_t)p[1] | (uint64_t)p[2] << 8 | (uint64_t)p[3] << 16 | (uint64_t)p[4] << 24) %
			    (key.info_size + 16); /* mostly inside .debug_info, at any byte */
		memcpy(names[nv], p + 6, nl);
		names[nv][nl] = 0;
		v[nv].name = names[nv];
		nv++;
		p += 6 + nl;
		n -= 6 + nl;
	}
	unlink(path);
	type_cache_write(path, &key, v, nv, &e); /* fails on a duplicate (kind, name): no file then */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	char got[512];
	if (!ready)
		ready = init() == 0 ? 1 : -1;
	if (ready < 0 || size < 1)
		return 0;
	for (size_t i = 0; i < NCMDS; i++) {
		if (data[0] & 1) { /* each time: the scan after a bad cache writes a good one */
			rows_cache(data + 1, size - 1);
		} else {
			FILE *f = fopen(path, "wb");
			if (!f)
				return 0;
			fwrite(data + 1, 1, size - 1, f);
			fclose(f);
		}
		answer(i, got, sizeof(got));
		if (strcmp(got, want[i]) && !strstr(got, "no type")) {
			fprintf(stderr, "fuzz_typecache: '%s' gave '%s', the scan '%s'\n", cmds[i][0], got, want[i]);
			abort();
		}
	}
	return 0;
}
