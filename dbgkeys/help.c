/* help: 'h' lists the keys in the seed's format, 'w' prints the console ring, '*' runs
 * every diagnostic key. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void dbgkeys_key_help(struct hv *hv, unsigned char key)
{
	struct key_info k[256];
	unsigned n = keys_list(k, 256);
	out(hv, "'%c' pressed -> showing installed handlers", key);
	for (unsigned i = 0; i < n; i++)
		out(hv, "key '%c' (ascii '%02x') => %s", k[i].key, k[i].key, k[i].desc);
}

void dbgkeys_key_ring(struct hv *hv, unsigned char key)
{
	size_t cap = hv_console_ring_size(hv);
	char *buf = malloc(cap + 1), *line, *save = NULL;
	size_t n;
	if (!buf)
		return;
	n = hv_console_ring(hv, buf, cap);
	out(hv, "'%c' pressed -> dumping the console ring (%zu of %zu bytes)", key, n, cap);
	buf[n] = 0;
	/* lines in the ring already carry "(hv) "; print them as they were */
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		out(hv, "| %s", strncmp(line, "(hv) ", 5) ? line : line + 5);
	free(buf);
}

void dbgkeys_key_all(struct hv *hv, unsigned char key)
{
	struct key_info k[256];
	unsigned n = keys_list(k, 256);
	out(hv, "'%c' pressed -> firing all diagnostic keyhandlers", key);
	for (unsigned i = 0; i < n; i++)
		if (k[i].diagnostic && k[i].key != key)
			keys_handle(hv, k[i].key);
	out(hv, "*** done with all diagnostic keyhandlers");
}
