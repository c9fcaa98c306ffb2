/* util/err.h: error values with a message, checked allocation, size parsing. */
#ifndef HVKIT_UTIL_ERR_H
#define HVKIT_UTIL_ERR_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* Every fallible call takes a struct err * and returns -1 (or NULL) with err->msg set. */
struct err {
	char msg[512];
};

__attribute__((format(printf, 2, 3))) int err_set(struct err *e, const char *fmt, ...);
/* Like err_set, with ": strerror(errno)" appended. Returns -1. */
__attribute__((format(printf, 2, 3))) int err_errno(struct err *e, const char *fmt, ...);
/* Prepends "PREFIX: " to the message already in e. Returns -1. */
__attribute__((format(printf, 2, 3))) int err_prefix(struct err *e, const char *fmt, ...);

void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t size);
char *xstrdup(const char *s);

/* Parses "512", "512M", "2G", "64K", "1T" (binary units; bare number = MiB when
 * default_unit is 1<<20). Returns -1 on junk or overflow. */
int size_parse(const char *s, uint64_t default_unit, uint64_t *out);
/* A size as a person reads it: "512 bytes", "839 KiB", "1.5 MiB", "128 MiB", "2.0 GiB"
 * (binary units, never "0 MiB" for a small file). Returns buf. */
char *size_format(char *buf, size_t len, uint64_t bytes);

#endif
