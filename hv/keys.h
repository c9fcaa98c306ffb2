/* keys: the debug-key table (like Xen's keyhandler.c). Handlers live in dbgkeys/, whose
 * table is registered at start-up; hv only keeps the table and dispatches (hv/keys.c). */
#ifndef HVKIT_HV_KEYS_H
#define HVKIT_HV_KEYS_H

#include <stdbool.h>

struct hv;
struct err;

typedef void (*key_handler_fn)(struct hv *hv, unsigned char key);
struct key_info {
	unsigned char key;
	key_handler_fn fn;
	const char *desc;  /* what 'h' lists */
	bool diagnostic;   /* '*' runs it */
};
/* Adds a key; -1 with a message when the key is taken (never overwritten) or the row
 * has no handler or description. */
int keys_register(const struct key_info *k, struct err *e);
/* Runs the handler of one key (the handler prints "'k' pressed -> ..." itself). */
void keys_handle(struct hv *hv, unsigned char key);
/* Fills up to max entries in key order; returns how many keys are registered. */
unsigned keys_list(struct key_info *out, unsigned max);

#endif
