/* util/json.h: JSON string output (json.c). */
#ifndef HVKIT_UTIL_JSON_H
#define HVKIT_UTIL_JSON_H

#include <stddef.h>
#include <stdio.h>

/* JSON strings: "..." with \" \\ \n \t (and the like) and \u00XX for other
 * control bytes and for bytes that are not valid UTF-8 (valid UTF-8 is kept). */
void json_write_str(FILE *f, const char *s); /* NULL: "" */
void json_write_strn(FILE *f, const char *s, size_t n); /* n bytes, NULs included */
/* Into out (len bytes): the quoted string, cut short at a whole character to fit; out. */
char *json_quote(char *out, size_t len, const char *s);

#endif
