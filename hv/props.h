/* props: an SMF-style store of typed properties (config/NAME) in SQLite, with pending
 * values that `refresh` makes the running ones atomically (private to hv/). */
#ifndef HVKIT_HV_PROPS_H
#define HVKIT_HV_PROPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

enum prop_type { PROP_ASTRING, PROP_BOOLEAN, PROP_COUNT, PROP_INTEGER };
const char *prop_type_name(enum prop_type t); /* "astring", "boolean", "count", "integer" */
/* Checks text (unquoted, no type prefix) as a value of type t, whatever the property, and
 * writes its canonical form ("+07" -> "7") to out. -1 with the reason when it is not one. */
int prop_value_parse(enum prop_type t, const char *text, char *out, size_t len, struct err *e);

struct props;
/* Opens (creating if needed, mode 0600) the store at path; the schema is seeded with
 * defaults. A missing directory, or a file that is not a store, is refused. An existing
 * store readable by group or others is chmod'ed to 0600 (it holds vncpasswd). */
struct props *props_open(const char *path, struct err *e);
void props_close(struct props *p);
/* A write found the store's file removed or replaced while it was open (and failed): the
 * caller may close it and open a new one. */
bool props_gone(const struct props *p);
/* setprop: name like "config/dom0-cpus" (the "config/" prefix may be omitted); value text as the
 * user typed it after '=': "1", "true", "astring: \"secret\"", "count: 4", "\"^flax$ ^localhost$\"".
 * An explicit type prefix must match the property's type. Unknown property, wrong type, bad
 * value (negative count, non-number, bad boolean, invalid regex in a regex list, relative
 * dump-dir) -> -1 with a clear message; the store is unchanged. Writes the PENDING value
 * (no pending value when it equals the running one). Numbers are stored canonically. */
int props_set(struct props *p, const char *name, const char *value, struct err *e);
int props_delete(struct props *p, const char *name, struct err *e); /* back to the default (pending) */
struct prop_entry {
	char name[64];
	enum prop_type type;
	char value[1024];   /* running value ("********" for secrets) */
	char pending[1024]; /* pending value, when has_pending ("********" for secrets) */
	bool secret;
	bool has_pending;
};
/* Lists properties whose name matches the fnmatch(3) pattern (NULL = all; "dom0-*" means
 * "config/dom0-*"), in name order, at most max. The value of a secret property (vncpasswd)
 * is replaced by "********" in both fields. Returns count or -1. */
int props_list(struct props *p, const char *pattern, struct prop_entry *out, int max, struct err *e);
/* The running (refreshed) value, raw (secrets included), for hv's own use; -1 if unknown
 * name or buf too small. A stored value that fails its check reads as the default. */
int props_get(struct props *p, const char *name, char *buf, size_t len, struct err *e);
/* Counts and integers; booleans as 1/0; dflt for an astring or an unknown name. */
int64_t props_get_int(struct props *p, const char *name, int64_t dflt);
/* refresh: atomically (one SQLite transaction) makes every pending value the running value;
 * writes the names that changed, comma separated, to changed (may be NULL; whole names only,
 * "..." when the rest did not fit). Returns the number changed or -1. */
int props_refresh(struct props *p, char *changed, size_t len, struct err *e);

#endif
