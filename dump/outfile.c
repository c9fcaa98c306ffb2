/* outfile: a dump file that never overwrites, never follows a symlink and never looks
 * complete before it is: created O_EXCL|O_NOFOLLOW as NAME.partial-PID relative to its
 * directory's fd (a directory others can write must be sticky), and linked to its name
 * only once fsynced. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dump.h"
#include "util/access.h"

int dump_out_create(struct dump_out *o, const char *path, struct err *e)
{
	char dir[sizeof(o->path)];
	const char *base;
	struct stat st;
	o->fd = o->dirfd = -1;
	o->tmp[0] = 0;
	if (snprintf(o->path, sizeof(o->path), "%s", path) >= (int)sizeof(o->path) ||
	    access_split(path, dir, sizeof(dir), &base, e) < 0 ||
	    snprintf(o->name, sizeof(o->name), "%s", base) >= (int)sizeof(o->name) ||
	    snprintf(o->tmpname, sizeof(o->tmpname), "%s.partial-%d", base, (int)getpid()) >= (int)sizeof(o->tmpname) ||
	    snprintf(o->tmp, sizeof(o->tmp), "%s.partial-%d", path, (int)getpid()) >= (int)sizeof(o->tmp)) {
		o->tmp[0] = 0;
		return err_set(e, "%.200s...: path too long", path);
	}
	if ((o->dirfd = access_dir_open(dir, false, "directory", e)) < 0) {
		o->tmp[0] = 0;
		return -1;
	}
	if (fstatat(o->dirfd, o->name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		o->tmp[0] = 0;
		dump_out_abort(o);
		return err_set(e, "%s exists: a dump is never overwritten", path);
	}
	/* errors name the user's file; only a name planted at the partial one is named too */
	o->fd = access_create_at(o->dirfd, o->tmpname, O_WRONLY, o->path, e);
	if (o->fd < 0 && errno == EEXIST)
		err_set(e, "%s: its partial file %s exists: hv never writes through or over a file it did not create", path,
			o->tmpname);
	if (o->fd < 0) {
		o->tmp[0] = 0; /* not ours to remove */
		dump_out_abort(o);
		return -1;
	}
	return 0;
}

int dump_out_commit(struct dump_out *o, struct err *e)
{
	if (fsync(o->fd) < 0)
		return err_errno(e, "%s: fsync", o->path);
	/* linkat fails if the name appeared meanwhile (a symlink too): never overwrite */
	if (linkat(o->dirfd, o->tmpname, o->dirfd, o->name, 0) < 0)
		return err_errno(e, "%s", o->path);
	dump_out_abort(o); /* the partial name goes; the file stays under its own */
	return 0;
}

void dump_out_abort(struct dump_out *o)
{
	if (o->fd >= 0)
		close(o->fd);
	o->fd = -1;
	if (o->tmp[0] && o->dirfd >= 0)
		unlinkat(o->dirfd, o->tmpname, 0);
	o->tmp[0] = 0;
	if (o->dirfd >= 0)
		close(o->dirfd);
	o->dirfd = -1;
}
