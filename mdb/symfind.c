/* symfind: the symbol file of a dump found by its kernel's build-id (VMCOREINFO
 * BUILD-ID=), when hvmdb is given none: in each directory of $HVKIT_DEBUG_PATH (default
 * /usr/lib/debug:build:.), first debuginfod's layout .build-id/xx/yyyy[.debug], then
 * every ELF file directly in the directory whose GNU build-id matches. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mdb.h"

#define MAX_SCAN 4096 /* files looked at per directory */

static bool matches(const char *path, const char *want)
{
	char id[41];
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && elf_file_build_id(path, id) == 0 && !strcmp(id, want);
}

static bool search_dir(const char *dir, const char *id, char *out, size_t len)
{
	static const char *const sfx[] = { ".debug", "" };
	DIR *d;
	struct dirent *de;
	unsigned n = 0;
	for (int i = 0; i < 2; i++) {
		snprintf(out, len, "%s/.build-id/%.2s/%s%s", dir, id, id + 2, sfx[i]);
		if (matches(out, id))
			return true;
	}
	d = opendir(dir);
	if (!d)
		return false;
	while ((de = readdir(d)) != NULL && n++ < MAX_SCAN) {
		if (de->d_name[0] == '.')
			continue;
		if (snprintf(out, len, "%s/%s", dir, de->d_name) >= (int)len)
			continue;
		if (matches(out, id)) {
			closedir(d);
			return true;
		}
	}
	closedir(d);
	return false;
}

bool target_find_symfile(struct target *t, char *path, size_t len)
{
	const char *info = target_vmcoreinfo(t), *b = info ? strstr(info, "BUILD-ID=") : NULL;
	const char *env = getenv("HVKIT_DEBUG_PATH");
	char id[41], dirs[4096];
	size_t n;
	if (!b)
		return false;
	b += 9;
	n = strcspn(b, "\n");
	if (n < 2 || n > 40 || strspn(b, "0123456789abcdef") < n)
		return false;
	memcpy(id, b, n);
	id[n] = 0;
	snprintf(dirs, sizeof(dirs), "%s", env && *env ? env : "/usr/lib/debug:build:.");
	for (char *save = NULL, *dir = strtok_r(dirs, ":", &save); dir; dir = strtok_r(NULL, ":", &save))
		if (search_dir(dir, id, path, len))
			return true;
	return false;
}
