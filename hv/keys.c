/* keys: the debug-key table, as in Xen's keyhandler.c: handlers registered by key with a
 * description and a diagnostic flag ('*' runs every diagnostic key). */
#include "internal.h"

#include <stdio.h>

static struct key_info table[256]; /* by key; fn NULL: free */

static void key_name(unsigned char key, char *buf, size_t len)
{
	if (key >= 0x20 && key < 0x7f)
		snprintf(buf, len, "'%c'", key);
	else
		snprintf(buf, len, "0x%02x", key);
}

int keys_register(const struct key_info *k, struct err *e)
{
	char name[8];
	if (!k || !k->fn || !k->desc)
		return err_set(e, "a debug key needs a handler and a description");
	key_name(k->key, name, sizeof(name));
	if (table[k->key].fn)
		return err_set(e, "debug key %s is registered twice (\"%s\" and \"%s\")", name, table[k->key].desc,
			       k->desc);
	table[k->key] = *k;
	return 0;
}

void keys_handle(struct hv *hv, unsigned char key)
{
	struct key_info *k = &table[key];
	if (!k->fn) {
		if (key >= 0x20 && key < 0x7f)
			hv_log(hv, "'%c' pressed -> no such key ('h' lists the keys)", key);
		else
			hv_log(hv, "key 0x%02x pressed -> no such key ('h' lists the keys)", key);
		return;
	}
	{
		static int depth; /* keys run by another key ('*') were not typed on the console */
		bool typed = hv->key_from_console;
		if (depth)
			hv->key_from_console = false;
		depth++;
		k->fn(hv, key); /* each handler prints its own "'k' pressed -> ..." line, as Xen's do */
		depth--;
		hv->key_from_console = typed;
	}
}

unsigned keys_list(struct key_info *out, unsigned max)
{
	unsigned n = 0;
	for (unsigned k = 0; k < 256; k++) {
		if (!table[k].fn)
			continue;
		if (n < max)
			out[n] = table[k];
		n++;
	}
	return n;
}
