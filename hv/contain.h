/* contain: hv's containment contract (issue 13): a domain saved to a file and restored,
 * live checkpoints and rollback. The file format is the domain image (dump/image.h,
 * docs/save-format.md); hvctl's verbs call these (hv/toolstack.c). */
#ifndef HVKIT_HV_CONTAIN_H
#define HVKIT_HV_CONTAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

struct hv;
struct domain;

#define HV_VERSION "hvkit 0.13"

struct hv_save_opts {
	bool keep;   /* the domain stays (xl save -c; virsh save has no such) */
	bool paused; /* with keep: it stays paused after the save */
	int (*progress)(void *opaque, uint64_t done, uint64_t total); /* non-zero: cancel */
	void *opaque;
};
struct hv_save_stats {
	uint64_t ram_bytes, file_bytes, pause_ns, total_ns;
	bool cow; /* the domain ran while the file was written */
};
/* Writes the domain to path (never over an existing file; a temporary name until it is
 * complete and fsynced). Without keep the domain is destroyed afterwards (hv's loop
 * does it); a failed save leaves it running. */
int hv_domain_save(struct hv *hv, struct domain *d, const char *path, const struct hv_save_opts *o,
		   struct hv_save_stats *st, struct err *e);
/* A new domain from a save file (or a full checkpoint); its id, or -1 with a message and
 * nothing started. name NULL: the image's. took_ns (may be NULL): from the call to the
 * vCPU threads started. */
int hv_domain_restore(struct hv *hv, const char *path, const char *name, bool paused, uint64_t *took_ns,
		      struct err *e);

struct hv_ckpt_stats {
	char tag[64];
	bool incremental, cow;
	uint64_t pages, file_bytes, pause_ns, total_ns;
};
/* A checkpoint of a running (or paused) domain, kept in STATE_DIR/checkpoints/NAME/;
 * tag NULL: the time, as virsh names snapshots. */
int hv_domain_checkpoint(struct hv *hv, struct domain *d, const char *tag, const struct hv_save_opts *o,
			 struct hv_ckpt_stats *st, struct err *e);
struct hv_ckpt_info {
	char tag[64], parent[64]; /* parent "" for a full image */
	uint64_t created_ns, bytes;
	bool incremental;
};
/* A domain's checkpoints, oldest first (*out malloc'd); their count or -1. */
int hv_checkpoint_list(struct hv *hv, const char *name, struct hv_ckpt_info **out, struct err *e);
/* Refused while another checkpoint is incremental on top of it. */
int hv_checkpoint_delete(struct hv *hv, const char *name, const char *tag, struct err *e);
struct hv_rollback_stats {
	uint64_t pages, total_ns;
	unsigned chain; /* images read */
	bool full;      /* every page was read back (no history from the checkpoint to now) */
	bool undo;      /* the target is the latest: its undo log in memory gave the pages it kept */
	uint64_t from_log;    /* pages copied from the latest's undo log */
	uint64_t from_frozen; /* pages copied from older checkpoints' frozen undo logs (the others from the files) */
	unsigned frozen_logs; /* frozen logs that gave some */
};
/* Back to checkpoint tag: RAM (only what changed since), vCPUs and devices. The domain
 * keeps running afterwards (or stays paused); a domain whose vCPU threads stopped (a crash,
 * on_crash = "rollback") gets its state back and its caller starts them again. */
int hv_domain_rollback(struct hv *hv, struct domain *d, const char *tag, struct hv_rollback_stats *st, struct err *e);
/* The domain's latest checkpoint's tag, or NULL (for dominfo and the q key). */
const char *hv_domain_latest_checkpoint(struct domain *d, char *buf, size_t len);

#endif
