/* save: a domain into a save file (hvctl save), and back (hvctl restore). A save stops
 * the domain for the write (as xl save suspends it) unless it is kept running (--keep,
 * xl save -c): then only the instant is paused and the domain runs while the file is
 * written from the instant's copy-on-write view. The file is written under a temporary
 * name, fsynced and linked to its name, never over an existing file; a failed or
 * cancelled save leaves no file and the domain running. */
#include "internal.h"
#include "contain.h"
#include "vmstate.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dump/dump.h"
#include "dump/image.h"

/* The held domain's own RAM (it does not run while this reads). */
static int read_ram(void *opaque, uint64_t gpa, void *buf, size_t len)
{
	struct domain *d = opaque;
	const void *p = mem_ptr(&d->mem, gpa, len);
	if (!p)
		return -1;
	memcpy(buf, p, len);
	return 0;
}

int image_save_check(struct domain *d, const char *what, struct err *e)
{
	enum domain_state was = domain_state_now(d);
	if (!d->vcpus || d->vm_fd < 0 ||
	    (was != DOMAIN_RUNNING && was != DOMAIN_BLOCKED && was != DOMAIN_PAUSED && was != DOMAIN_SHUTDOWN))
		return err_set(e, "%s is %s: only a running or paused domain can be %s", d->name, domain_state_name(was),
			       what);
	return 0;
}

int image_write_file(struct domain *d, struct dump_out *file, const char *path, struct image_header *h,
		     const struct image_src *src, uint64_t *bytes, struct err *e)
{
	struct stat sb;
	if (image_write_domain(d, file->fd, h, src, e) < 0 || dump_out_commit(file, e) < 0)
		return -1;
	*bytes = stat(path, &sb) == 0 ? (uint64_t)sb.st_size : 0;
	return 0;
}

static int state_in_pause(struct domain *d, void *opaque, struct err *e)
{
	return vmstate_get(d, opaque, e);
}

int hv_domain_save(struct hv *hv, struct domain *d, const char *path, const struct hv_save_opts *o,
		   struct hv_save_stats *st, struct err *e)
{
	struct dump_out file;
	char note[PARTIAL_NOTE_MAX];
	struct vm_state vs = { 0 };
	struct image_header h;
	struct instant *in = NULL;
	struct image_src src = { .vs = &vs, .progress = o->progress, .popaque = o->opaque };
	enum domain_state was = domain_state_now(d);
	bool paused_here = false, live = o->keep && !o->paused;
	uint64_t t0 = time_ns();
	int ret = -1;

	memset(st, 0, sizeof(*st));
	if (image_save_check(d, "saved", e) < 0)
		return -1;
	if (dump_out_create(&file, path, e) < 0)
		return -1;
	partial_note(hv, &file, note, sizeof(note));
	atomic_fetch_add(&d->dump_active, 1); /* no reboot or teardown while it is written */
	image_header_init(&h, HV_VERSION);
	if (live) {
		h.flags |= IMAGE_F_CHECKPOINT;
		in = instant_freeze(d, state_in_pause, &vs, e);
		if (!in)
			goto out;
		src.read = instant_read;
		src.opaque = in;
		src.read_mt = true;
	} else {
		if (!d->pause_count) {
			if (domain_pause(d, e) < 0)
				goto out;
			paused_here = true;
		}
		if (vmstate_get(d, &vs, e) < 0)
			goto out;
		src.read = read_ram;
		src.opaque = d;
		src.read_mt = true;
	}
	vs.state = was;
	if (in) {
		struct instant_stats is;
		instant_stats(in, &is);
		st->pause_ns = is.pause_ns;
		/* it ran meanwhile only if it was running: not a crashed or paused one */
		st->cow = is.cow && (was == DOMAIN_RUNNING || was == DOMAIN_BLOCKED || was == DOMAIN_SHUTDOWN);
	}
	if (image_write_file(d, &file, path, &h, &src, &st->file_bytes, e) < 0)
		goto out;
	st->ram_bytes = d->mem.size;
	ret = 0;
out:
	instant_end(in);
	vmstate_free(&vs);
	dump_out_abort(&file);
	partial_forget(note);
	if (!live)
		st->pause_ns = time_ns() - t0; /* held for the whole write */
	/* a failed save leaves the domain as it was; a saved one stays paused until the loop
	 * destroys it, a kept --paused one stays paused */
	if (paused_here && ret < 0)
		domain_unpause(d, &(struct err){ 0 });
	if (ret == 0 && !o->keep)
		domain_post_event(d, EVENT_SAVED, "saved to %s", path);
	st->total_ns = time_ns() - t0;
	if (atomic_fetch_sub(&d->dump_active, 1) == 1)
		hv_wake(d->hv);
	return ret;
}

int hv_domain_restore(struct hv *hv, const char *path, const char *name, bool paused, uint64_t *took_ns,
		      struct err *e)
{
	uint64_t steps[RS_N] = { time_ns() };
	struct image_restore_opts o = { .name = name, .paused = paused, .steps = steps };
	struct image_header h;
	struct image_reader *r;
	struct domain *d;
	struct stat st;
	/* the file checked and indexed (record headers, page descriptors), its RAM read
	 * on demand once the domain runs (lazy.c) */
	int fd = file_open_regular(path, "", &st, e);
	if (fd < 0)
		return -1;
	close(fd);
	struct image_index *ix = image_index_open_lazy(path, &h, e);
	if (!ix)
		return -1;
	steps[RS_INDEX] = time_ns();
	r = image_index_reader(ix, e);
	if (!r) {
		image_index_close(ix);
		return err_prefix(e, "%s", path);
	}
	d = image_restore(hv, r, ix, &o, &h, e);
	image_reader_close(r);
	if (!d)
		return err_prefix(e, "%s", path);
	if (took_ns)
		*took_ns = steps[RS_START] - steps[RS_BEGIN];
	hv_log(hv, "%s (domain %d) restored from %s: %u vCPU%s, %llu MiB%s", d->name, d->id, path, d->nr_vcpus,
	       d->nr_vcpus == 1 ? "" : "s", (unsigned long long)(d->mem.size >> 20), paused ? ", paused" : "");
#define SPAN(a, b) (steps[b] - steps[a]) / 1e6
	hv_log(hv, "%s: restore took %.2f ms: index %.2f, records %.2f (domain and %s VM %.2f), "
		   "vCPUs %.2f, lazy RAM %.2f, machine state %.2f, threads %.2f", d->name, SPAN(RS_BEGIN, RS_START),
	       SPAN(RS_BEGIN, RS_INDEX), SPAN(RS_INDEX, RS_RECORDS), d->vm_from_spare ? "spare" : "new", SPAN(RS_INDEX, RS_DOMAIN),
	       SPAN(RS_RECORDS, RS_VCPUS), SPAN(RS_VCPUS, RS_LAZY), SPAN(RS_LAZY, RS_STATE), SPAN(RS_STATE, RS_START));
#undef SPAN
	return d->id;
}
