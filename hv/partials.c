/* partials: the dump files hv is writing (PATH.partial-PID, dump/outfile.c) are noted in
 * STATE_DIR/partials/, so that an hv killed mid-write leaves nothing behind for long: the
 * next hv removes every noted partial, and those in the dump-dir and checkpoint folders,
 * whose writer (the PID in the name) is no longer alive. */
#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dump/dump.h"

static const char *state_dir(struct hv *hv)
{
	return hv->opt.state_dir ? hv->opt.state_dir : HV_DEFAULT_STATE_DIR;
}

/* NAME.partial-PID: the PID, or 0 when the name is not one of ours. */
static pid_t partial_pid(const char *name)
{
	const char *p = strstr(name, ".partial-"), *next;
	char *end;
	long pid;
	if (!p)
		return 0;
	while ((next = strstr(p + 1, ".partial-")))
		p = next;
	p += strlen(".partial-");
	if (*p < '1' || *p > '9')
		return 0;
	pid = strtol(p, &end, 10);
	return *end || pid <= 0 || pid > INT_MAX ? 0 : (pid_t)pid;
}

/* A writer that can no longer finish: gone, or our own PID (we just started). */
static bool writer_gone(pid_t pid)
{
	return pid == getpid() || (kill(pid, 0) < 0 && errno == ESRCH);
}

void partial_note(struct hv *hv, const struct dump_out *o, char *note, size_t len)
{
	static atomic_uint seq;
	char dir[PATH_MAX], abs[PATH_MAX + 4200], top[700];
	const char *slash = strrchr(o->tmp, '/'), *base = slash ? slash + 1 : o->tmp;
	int fd, n;

	note[0] = 0;
	if (!o->tmp[0])
		return;
	n = slash ? snprintf(top, sizeof(top), "%.*s", (int)(slash - o->tmp), o->tmp) : snprintf(top, sizeof(top), ".");
	if (n >= (int)sizeof(top) || !realpath(slash == o->tmp ? "/" : top, dir))
		return;
	if (snprintf(abs, sizeof(abs), "%s/%s\n", strcmp(dir, "/") ? dir : "", base) >= (int)sizeof(abs))
		return;
	snprintf(top, sizeof(top), "%s/partials", state_dir(hv));
	mkdir(state_dir(hv), 0700);
	mkdir(top, 0700);
	if (snprintf(note, len, "%s/%d-%u", top, (int)getpid(), atomic_fetch_add(&seq, 1)) >= (int)len) {
		note[0] = 0;
		return;
	}
	fd = open(note, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, abs, strlen(abs)) != (ssize_t)strlen(abs)) {
		if (fd >= 0)
			unlink(note);
		note[0] = 0;
	}
	if (fd >= 0)
		close(fd);
}

void partial_forget(char *note)
{
	if (note[0])
		unlink(note);
	note[0] = 0;
}

/* path, when it is a regular file of ours named as a partial of a writer now gone. */
static void remove_stale(struct hv *hv, const char *path)
{
	const char *slash = strrchr(path, '/');
	pid_t pid = partial_pid(slash ? slash + 1 : path);
	struct stat st;
	if (!pid || !writer_gone(pid) || lstat(path, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid())
		return;
	if (unlink(path) == 0)
		hv_log(hv, "removed %s: a dump that hv %d was writing when it was killed", path, (int)pid);
}

static void sweep_dir(struct hv *hv, const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[PATH_MAX + 300];
	if (!d)
		return;
	while ((de = readdir(d)))
		if (partial_pid(de->d_name) && snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) < (int)sizeof(path))
			remove_stale(hv, path);
	closedir(d);
}

/* The notes of writers gone: the files they name, then the notes themselves. */
static void sweep_notes(struct hv *hv)
{
	char dir[700], note[PATH_MAX + 800], path[PATH_MAX + 300];
	DIR *d;
	struct dirent *de;
	snprintf(dir, sizeof(dir), "%s/partials", state_dir(hv));
	if (!(d = opendir(dir)))
		return;
	while ((de = readdir(d))) {
		long pid = strtol(de->d_name, NULL, 10);
		FILE *f;
		if (pid <= 0 || pid > INT_MAX || !writer_gone((pid_t)pid))
			continue;
		snprintf(note, sizeof(note), "%s/%s", dir, de->d_name);
		if ((f = fopen(note, "re"))) {
			if (fgets(path, sizeof(path), f)) {
				path[strcspn(path, "\n")] = 0;
				remove_stale(hv, path);
			}
			fclose(f);
		}
		unlink(note);
	}
	closedir(d);
}

void partials_sweep(struct hv *hv)
{
	char dir[1024], top[700], sub[PATH_MAX + 800];
	DIR *d;
	struct dirent *de;
	sweep_notes(hv);
	hv_property_str(hv, "config/dump-dir", "/var/crash/hvkit", dir, sizeof(dir));
	sweep_dir(hv, dir);
	snprintf(top, sizeof(top), "%s/checkpoints", state_dir(hv));
	if (!(d = opendir(top)))
		return;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' && snprintf(sub, sizeof(sub), "%s/%s", top, de->d_name) < (int)sizeof(sub))
			sweep_dir(hv, sub);
	closedir(d);
}
