/* keys: the debug-key table, as in Xen's keyhandler.c: handlers registered by key with a
 * description and a diagnostic flag ('*' runs every diagnostic key). */
#include "internal.h"

#include <stdio.h>

struct key_entry {
	key_handler_fn fn;
	const char *desc;
	bool diagnostic;
};

static struct key_entry table[256];

int keys_register(unsigned char key, key_handler_fn fn, const char *desc, bool diagnostic)
{
	if (!fn || !desc)
		return -1;
	table[key] = (struct key_entry){ fn, desc, diagnostic };
	return 0;
}

void keys_handle(struct hv *hv, unsigned char key)
{
	struct key_entry *k = &table[key];
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
			out[n] = (struct key_info){ (unsigned char)k, table[k].desc, table[k].diagnostic };
		n++;
	}
	return n;
}
