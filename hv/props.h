/* props: an SMF-style store of typed properties (config/NAME) in SQLite, with pending
 * values that `refresh` makes the running ones atomically (private to hv/). */
#ifndef HVKIT_HV_PROPS_H
#define HVKIT_HV_PROPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

enum prop_type { PROP_ASTRING, PROP_BOOLEAN, PROP_COUNT, PROP_INTEGER };
const char *prop_type_name(enum prop_type t);

struct props;
struct props *props_open(const char *path, struct err *e);
void props_close(struct props *p);
/* setprop: value as typed after '=': "1", "true", "astring: \"secret\"", "count: 4". An
 * explicit type must match the property's; bad values leave the store unchanged. */
int props_set(struct props *p, const char *name, const char *value, struct err *e);
int props_delete(struct props *p, const char *name, struct err *e); /* pending = default */
struct prop_entry {
	char name[64];
	enum prop_type type;
	char value[1024];   /* running value ("********" for secrets) */
	char pending[1024]; /* pending value, when has_pending */
	bool secret;
	bool has_pending;
};
int props_list(struct props *p, const char *pattern, struct prop_entry *out, int max, struct err *e);
int props_get(struct props *p, const char *name, char *buf, size_t len, struct err *e);
int64_t props_get_int(struct props *p, const char *name, int64_t dflt);
int props_refresh(struct props *p, char *changed, size_t len, struct err *e);

#endif
