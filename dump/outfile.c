/* outfile: a dump file that never overwrites and never looks complete before it is: it
 * is written as PATH.partial-PID (created O_EXCL) and gets its name only once fsynced. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "dump.h"

int dump_out_create(struct dump_out *o, const char *path, struct err *e)
{
	o->fd = -1;
	o->tmp[0] = 0;
	if (snprintf(o->path, sizeof(o->path), "%s", path) >= (int)sizeof(o->path) ||
	    snprintf(o->tmp, sizeof(o->tmp), "%s.partial-%d", path, (int)getpid()) >= (int)sizeof(o->tmp)) {
		o->tmp[0] = 0;
		return err_set(e, "%.200s...: path too long", path);
	}
	if (access(path, F_OK) == 0) {
		o->tmp[0] = 0;
		return err_set(e, "%s exists: a dump is never overwritten", path);
	}
	o->fd = open(o->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (o->fd < 0) {
		err_errno(e, "%s", o->tmp);
		o->tmp[0] = 0; /* not ours to remove */
		return -1;
	}
	return 0;
}

int dump_out_commit(struct dump_out *o, struct err *e)
{
	if (fsync(o->fd) < 0)
		return err_errno(e, "%s: fsync", o->tmp);
	if (link(o->tmp, o->path) < 0) /* fails if the name appeared meanwhile: never overwrite */
		return err_errno(e, "%s", o->path);
	dump_out_abort(o); /* the partial name goes; the file stays under its own */
	return 0;
}

void dump_out_abort(struct dump_out *o)
{
	if (o->fd >= 0)
		close(o->fd);
	o->fd = -1;
	if (o->tmp[0])
		unlink(o->tmp);
	o->tmp[0] = 0;
}
