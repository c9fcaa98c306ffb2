/* access: the peer check on hv's Unix sockets, one-time secrets, sockets that remove only
 * what they created, and files created relative to a directory nobody else can tamper with
 * (see access.h). */
#include "util/access.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

bool access_peer_owner(int fd, unsigned *uid)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		if (uid)
			*uid = ~0u;
		return false;
	}
	if (uid)
		*uid = (unsigned)cred.uid;
	return cred.uid == 0 || cred.uid == getuid();
}

int access_token(char *hex, size_t nbytes, struct err *e)
{
	uint8_t b[64];
	size_t got = 0;
	if (nbytes > sizeof(b))
		return err_set(e, "a secret of at most %zu bytes", sizeof(b));
	while (got < nbytes) {
		ssize_t n = getrandom(b + got, nbytes - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return err_errno(e, "getrandom");
		got += (size_t)n;
	}
	for (size_t i = 0; i < nbytes; i++)
		snprintf(hex + 2 * i, 3, "%02x", b[i]);
	hex[2 * nbytes] = 0;
	return 0;
}

bool access_token_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned char d = la != lb;
	for (size_t i = 0; i < la && i < lb; i++)
		d |= (unsigned char)(a[i] ^ b[i]);
	return !d && la > 0;
}

/* ---- Unix sockets */

/* Whether a socket listens on path: from /proc/net/unix (a listener has __SO_ACCEPTCON,
 * 0x10000, in its flags), so that asking does not connect to it (a gdb server would take
 * the probe for its client); 1, 0, or -1 when the table cannot be read. */
static int listening(const char *path)
{
	char line[4096 + 128];
	int r = 0;
	FILE *f = fopen("/proc/net/unix", "re");
	if (!f)
		return -1;
	while (r == 0 && fgets(line, sizeof(line), f)) {
		unsigned long flags;
		int at = 0;
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = 0;
		if (sscanf(line, "%*s %*s %*s %lx %*s %*s %*s %n", &flags, &at) == 1 && at > 0 && (flags & 0x10000) &&
		    !strcmp(line + at, path))
			r = 1;
	}
	fclose(f);
	return r;
}

/* A socket at path owned by root or us that nobody listens on: an earlier hv's. */
static bool stale_socket(const char *path, const struct sockaddr_un *a, struct err *e)
{
	struct stat st;
	int fd, r;
	if (lstat(path, &st) < 0 || !S_ISSOCK(st.st_mode) || (st.st_uid != 0 && st.st_uid != getuid())) {
		err_set(e, "%s exists: hv never replaces a file it did not create", path);
		return false;
	}
	if ((r = listening(path)) < 0) { /* no /proc: ask the socket itself */
		if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
			err_errno(e, "socket");
			return false;
		}
		r = connect(fd, (const struct sockaddr *)a, sizeof(*a)) == 0 || errno != ECONNREFUSED;
		close(fd);
	}
	if (r) {
		err_set(e, "%s is in use (a live socket: an earlier server of this hv, or another process's)", path);
		return false;
	}
	return true;
}

int access_sock_listen(struct access_sock *s, const char *path, int backlog, int flags, bool take_stale,
		       struct err *e)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct stat st;
	char proc[64], dir[sizeof(a.sun_path)];
	const char *base;
	int fd, pfd;
	s->fd = -1;
	s->path[0] = 0;
	if (strlen(path) >= sizeof(a.sun_path) || strlen(path) >= sizeof(s->path))
		return err_set(e, "%s: path too long for a socket", path);
	strcpy(a.sun_path, path);
	if (access_split(path, dir, sizeof(dir), &base, e) < 0 ||
	    (fd = access_dir_open(dir, false, "socket directory", e)) < 0)
		return -1;
	close(fd); /* nobody else can swap what is in it (or, sticky, what is ours) */
	if (lstat(path, &st) == 0) {
		if (!take_stale)
			return err_set(e, "%s exists: hv never replaces a file it did not create", path);
		if (!stale_socket(path, &a, e))
			return -1;
		if (unlink(path) < 0 && errno != ENOENT)
			return err_errno(e, "%s", path);
	} else if (errno != ENOENT) {
		return err_errno(e, "%s", path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | flags, 0);
	if (fd < 0)
		return err_errno(e, "socket");
	/* EADDRINUSE: it appeared meanwhile. Listening at once, so that the file is not there
	 * unanswered for long; a client of another uid that connects before the mode is set
	 * is turned away by the peer check all the same. */
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		err_errno(e, "%s", path);
		close(fd);
		return -1;
	}
	if (listen(fd, backlog) < 0) {
		err_errno(e, "%s", path);
		unlink(path); /* the socket bind just made */
		close(fd);
		return -1;
	}
	/* the mode goes on the inode bind made, not through a name someone may have swapped */
	pfd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", pfd);
	if (pfd < 0 || fstat(pfd, &st) < 0 || !S_ISSOCK(st.st_mode) || chmod(proc, 0600) < 0 || fstat(pfd, &st) < 0) {
		err_errno(e, "%s", path);
		if (pfd >= 0 && S_ISSOCK(st.st_mode))
			unlink(path); /* the socket bind just made */
		if (pfd >= 0)
			close(pfd);
		close(fd);
		return -1;
	}
	close(pfd);
	s->fd = fd;
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	s->ctime = st.st_ctim;
	snprintf(s->path, sizeof(s->path), "%s", path);
	return 0;
}

void access_sock_close(struct access_sock *s)
{
	struct stat st;
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	if (s->path[0] && lstat(s->path, &st) == 0 && st.st_dev == s->dev && st.st_ino == s->ino &&
	    st.st_ctim.tv_sec == s->ctime.tv_sec && st.st_ctim.tv_nsec == s->ctime.tv_nsec)
		unlink(s->path);
	s->path[0] = 0;
}

/* ---- files */

int access_split(const char *path, char *dir, size_t dlen, const char **base, struct err *e)
{
	const char *slash = strrchr(path, '/');
	size_t n;
	if (!*path || (slash && !slash[1]))
		return err_set(e, "%s: not a file name", path);
	if (!slash) {
		snprintf(dir, dlen, ".");
		*base = path;
		return 0;
	}
	n = slash == path ? 1 : (size_t)(slash - path);
	if (n >= dlen)
		return err_set(e, "%.200s...: path too long", path);
	memcpy(dir, path, n);
	dir[n] = 0;
	*base = slash + 1;
	return 0;
}

int access_dir_open(const char *dir, bool create, const char *what, struct err *e)
{
	struct stat st;
	int fd;
	if (create && mkdir(dir, 0700) < 0 && errno != EEXIST)
		return err_errno(e, "%s %s", what, dir);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && (errno == ELOOP || errno == ENOTDIR) && lstat(dir, &st) == 0 && S_ISLNK(st.st_mode)) {
		/* a symlink: only one that root or we made is followed */
		if (st.st_uid != 0 && st.st_uid != geteuid())
			return err_set(e, "%s %s is a symlink of uid %u: not followed", what, dir, (unsigned)st.st_uid);
		fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if (fd < 0)
		return err_errno(e, "%s %s", what, dir);
	if (fstat(fd, &st) < 0) {
		err_errno(e, "%s %s", what, dir);
		close(fd);
		return -1;
	}
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		close(fd);
		return err_set(e, "%s %s belongs to uid %u: hv writes only into its own or root's directories", what,
			       dir, (unsigned)st.st_uid);
	}
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX)) {
		close(fd);
		return err_set(e, "%s %s is writable by others and not sticky (mode %04o): refused (chmod o-w,g-w or +t)",
			       what, dir, (unsigned)(st.st_mode & 07777));
	}
	return fd;
}

int access_create_at(int dirfd, const char *name, int flags, const char *shown, struct err *e)
{
	int fd = openat(dirfd, name, flags | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
	if (fd < 0) {
		if (errno == EEXIST)
			return err_set(e, "%s exists: hv never writes through or over a file it did not create", shown);
		return err_errno(e, "%s", shown);
	}
	return fd;
}

int access_write_file(const char *dir, const char *name, const void *buf, size_t n, bool create, struct err *e)
{
	char tmp[256], shown[4400], rnd[17];
	int dfd, fd;
	size_t done = 0;
	bool ok;
	if (strlen(name) > 200 || strchr(name, '/'))
		return err_set(e, "%s: not a file name", name);
	snprintf(shown, sizeof(shown), "%s/%s", dir, name);
	if (access_token(rnd, 8, e) < 0)
		return -1;
	snprintf(tmp, sizeof(tmp), ".%s.tmp-%s", name, rnd);
	if ((dfd = access_dir_open(dir, create, "directory", e)) < 0)
		return -1;
	if ((fd = access_create_at(dfd, tmp, O_WRONLY, shown, e)) < 0) {
		close(dfd);
		return -1;
	}
	while (done < n) {
		ssize_t w = write(fd, (const char *)buf + done, n - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		done += (size_t)w;
	}
	ok = done == n && fsync(fd) == 0;
	if (close(fd) < 0)
		ok = false;
	if (!ok || renameat(dfd, tmp, dfd, name) < 0) {
		err_errno(e, "cannot write %s", shown);
		unlinkat(dfd, tmp, 0);
		close(dfd);
		return -1;
	}
	close(dfd);
	return 0;
}
