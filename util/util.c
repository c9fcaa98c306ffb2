/* util: error values, checked allocation, size parsing, time. */
#include "util/util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int err_set(struct err *e, const char *fmt, ...)
{
	va_list ap;
	if (!e)
		return -1;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return -1;
}

int err_errno(struct err *e, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;
	size_t n;
	if (!e)
		return -1;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	n = strlen(e->msg);
	snprintf(e->msg + n, sizeof(e->msg) - n, ": %s", strerror(saved));
	errno = saved;
	return -1;
}

int err_prefix(struct err *e, const char *fmt, ...)
{
	char prefix[256], old[sizeof(e->msg)];
	va_list ap;
	if (!e)
		return -1;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, e->msg, sizeof(old));
	old[sizeof(old) - 1] = 0;
	{
		size_t pl = strlen(prefix), ol = strlen(old), cap = sizeof(e->msg) - 1, n = 0;
		memcpy(e->msg, prefix, pl < cap ? pl : cap);
		n = pl < cap ? pl : cap;
		if (n + 2 <= cap) {
			memcpy(e->msg + n, ": ", 2);
			n += 2;
		}
		if (ol > cap - n)
			ol = cap - n;
		memcpy(e->msg + n, old, ol);
		e->msg[n + ol] = 0;
	}
	return -1;
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p) {
		fputs("hvkit: out of memory\n", stderr);
		abort();
	}
	return p;
}

void *xrealloc(void *p, size_t size)
{
	void *n = realloc(p, size ? size : 1);
	if (!n) {
		fputs("hvkit: out of memory\n", stderr);
		abort();
	}
	return n;
}

char *xstrdup(const char *s)
{
	char *p = strdup(s ? s : "");
	if (!p) {
		fputs("hvkit: out of memory\n", stderr);
		abort();
	}
	return p;
}

int size_parse(const char *s, uint64_t default_unit, uint64_t *out)
{
	char *end;
	unsigned long long v;
	uint64_t unit = default_unit;

	if (!s || !isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	if (*end) {
		switch (toupper((unsigned char)*end)) {
		case 'B': unit = 1; break;
		case 'K': unit = 1ull << 10; break;
		case 'M': unit = 1ull << 20; break;
		case 'G': unit = 1ull << 30; break;
		case 'T': unit = 1ull << 40; break;
		default: return -1;
		}
		end++;
		if (*end == 'i' || *end == 'I')
			end++;
		if (*end == 'B' || *end == 'b')
			end++;
		if (*end)
			return -1;
	}
	if (unit && v > UINT64_MAX / unit)
		return -1;
	*out = v * unit;
	return 0;
}

int file_open_regular(const char *path, const char *what, struct stat *st, struct err *e)
{
	const char *sp = what && *what ? " " : "";
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return err_errno(e, "%s%s%s", what ? what : "", sp, path);
	if (fstat(fd, st) < 0) {
		err_errno(e, "%s%s%s", what ? what : "", sp, path);
		close(fd);
		return -1;
	}
	if (!S_ISREG(st->st_mode)) {
		close(fd);
		return err_set(e, "%s%s%s: not a regular file", what ? what : "", sp, path);
	}
	fcntl(fd, F_SETFL, 0); /* blocking reads from here on */
	return fd;
}

uint64_t time_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

char *size_format(char *buf, size_t len, uint64_t bytes)
{
	if (bytes < 1024)
		snprintf(buf, len, "%llu bytes", (unsigned long long)bytes);
	else if (bytes < (1ull << 20))
		snprintf(buf, len, "%llu KiB", (unsigned long long)((bytes + 512) >> 10));
	else if (bytes < (10ull << 20))
		snprintf(buf, len, "%.1f MiB", (double)bytes / 1048576.0);
	else if (bytes < (1ull << 30))
		snprintf(buf, len, "%llu MiB", (unsigned long long)((bytes + (1u << 19)) >> 20));
	else
		snprintf(buf, len, "%.1f GiB", (double)bytes / 1073741824.0);
	return buf;
}

void progress_print(FILE *f, uint64_t done, uint64_t total, uint64_t elapsed_ns)
{
	double secs = (double)elapsed_ns / 1e9;
	char d[32], t[32], r[32], rate[96] = "";
	if (!total)
		return;
	/* a rate and an ETA only once there is enough to measure (a few ms of a small file
	 * gave "68266666667 MiB/s") */
	if (secs >= 0.2 && done) {
		double bps = (double)done / secs;
		size_format(r, sizeof(r), (uint64_t)bps);
		if (done < total)
			snprintf(rate, sizeof(rate), "  %s/s  ETA %.0f s", r, (double)(total - done) / bps);
		else
			snprintf(rate, sizeof(rate), "  %s/s", r);
	}
	/* \r and erase to the end of the line: a shorter line leaves nothing of the last */
	fprintf(f, "\r\033[K%3.0f%%  %s of %s%s%s", 100.0 * (double)done / (double)total, size_format(d, sizeof(d), done),
		size_format(t, sizeof(t), total), rate, done == total ? "\n" : "");
}
