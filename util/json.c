/* json: JSON strings for every --json listing (hvmdb's, hvctl's): quotes, backslashes and
 * control bytes escaped, valid UTF-8 kept, any other byte as the \u00XX of its value. */
#include <string.h>

#include "util/util.h"

/* The length of the valid UTF-8 sequence at s (of n bytes), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len = s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 && s[0] <= 0xdf ? 2 : 0;
	uint32_t cp;
	if (s[0] > 0xf4 || !len || len > n)
		return 0;
	for (size_t i = 1; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	cp = len == 2 ? 0 : len == 3 ? (uint32_t)(s[0] & 0x0f) << 12 | (uint32_t)(s[1] & 0x3f) << 6
			 : (uint32_t)(s[0] & 0x07) << 18 | (uint32_t)(s[1] & 0x3f) << 12;
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0; /* overlong, a surrogate, or past Unicode */
	return len;
}

/* The escaped form of the character at s (n bytes left) in out (at most 6 bytes + NUL);
 * returns the bytes of s it stands for. */
static size_t escape_one(const char *s, size_t n, char out[8])
{
	unsigned char c = (unsigned char)s[0];
	char short_form = c == '"' ? '"' : c == '\\' ? '\\' : c == '\b' ? 'b' : c == '\f' ? 'f' : c == '\n' ? 'n'
			  : c == '\r' ? 'r' : c == '\t' ? 't' : 0;
	size_t u;
	if (short_form) {
		out[0] = '\\';
		out[1] = short_form;
		out[2] = 0;
		return 1;
	}
	if (c >= 0x20 && c < 0x7f) {
		out[0] = (char)c;
		out[1] = 0;
		return 1;
	}
	if (c >= 0x80 && (u = utf8_len((const unsigned char *)s, n)) != 0) {
		memcpy(out, s, u);
		out[u] = 0;
		return u;
	}
	snprintf(out, 8, "\\u%04x", c);
	return 1;
}

void json_write_strn(FILE *f, const char *s, size_t n)
{
	char e[8];
	fputc('"', f);
	for (size_t i = 0; i < n;) {
		i += escape_one(s + i, n - i, e);
		fputs(e, f);
	}
	fputc('"', f);
}

void json_write_str(FILE *f, const char *s)
{
	json_write_strn(f, s ? s : "", s ? strlen(s) : 0);
}

char *json_quote(char *out, size_t len, const char *s)
{
	size_t n = 0, left = strlen(s);
	char e[8];
	if (len < 3) {
		if (len)
			out[0] = 0;
		return out;
	}
	out[n++] = '"';
	while (left) {
		size_t used = escape_one(s, left, e), el = strlen(e);
		if (n + el + 2 > len) /* the closing quote and NUL must fit */
			break;
		memcpy(out + n, e, el);
		n += el;
		s += used;
		left -= used;
	}
	out[n++] = '"';
	out[n] = 0;
	return out;
}
