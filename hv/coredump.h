/* coredump: a consistent dump of a running domain (snapshot.c, dumpjob.c): the call,
 * its options and figures, and the savecore-style naming of the dump-dir's files. */
#ifndef HVKIT_HV_COREDUMP_H
#define HVKIT_HV_COREDUMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hv;
struct err;

/* A consistent ELF core dump of a domain into path (never overwritten; written under a
 * temporary name, fsync'd, then linked into place). */
struct hv_dump_stats {
	uint64_t pause_ns, total_ns, bytes, pages_copied, file_bytes /* allocated on disk */;
	uint64_t pages_reprotected; /* written between arming and the instant, protected again in the pause */
	bool cow; /* written under userfaultfd write-protection (the domain was let go at once) */
	bool ran; /* and it did run meanwhile (not a crashed, shut-off or paused domain) */
};
struct hv_dump_opts {
	int format;                                        /* enum dump_fmt (dump/dump.h); 0 = ELF */
	int (*progress)(void *opaque, uint64_t done, uint64_t total); /* non-zero: cancel */
	void *opaque;
};
/* opts may be NULL (ELF, no progress). */
int hv_domain_dump(struct hv *hv, int id, const char *path, const struct hv_dump_opts *opts, struct hv_dump_stats *st,
		   struct err *e);
/* The config/dump-format property (for the 'C' key and coredump-* actions). */
int hv_dump_default_format(struct hv *hv);
/* savecore-style: the next DIR/vmcore.N (N from DIR/bounds, which is then advanced). DIR
 * is absolute and made (0700) when missing; one owned by another uid, or that others can
 * write and is not sticky, is refused (util/access.h), and bounds is never followed. */
int hv_dump_next_path(const char *dir, char *path, size_t len, struct err *e);
/* A dump written by a thread of its own, as `hvctl dump` is, with no client: what it says at
 * its end goes to hv's log (who: HV_DUMP_BY_KEY, "dom0 dumped to PATH (...)"; or
 * HV_DUMP_ON_CRASH, "NAME: crash dump written to PATH"). The domain holds a RAM-user
 * reference until it ends: its events, resets and teardown wait for it. -1 when it cannot
 * start (another dump, save or checkpoint of it runs; no thread). */
enum hv_dump_by { HV_DUMP_BY_KEY, HV_DUMP_ON_CRASH };
int hv_domain_dump_background(struct hv *hv, int id, const char *path, int format, enum hv_dump_by who,
			      struct err *e);

#endif
