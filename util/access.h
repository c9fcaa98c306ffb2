/* util/access.h: who reaches hv and where it writes: the peer check on its Unix sockets,
 * one-time secrets, Unix sockets that remove only what they created, and files created only
 * relative to a directory that nobody else can tamper with. */
#ifndef HVKIT_UTIL_ACCESS_H
#define HVKIT_UTIL_ACCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "util/err.h"

/* The peer of a connected Unix socket is root or this process's uid (its uid in *uid,
 * when uid is not NULL; ~0u when the kernel does not say). */
bool access_peer_owner(int fd, unsigned *uid);

/* A one-time secret: nbytes random bytes (getrandom) as 2*nbytes hex digits and a NUL in
 * hex (room for them). 0, or -1 with a message. */
int access_token(char *hex, size_t nbytes, struct err *e);
/* Compares a secret in time independent of where they differ (a and b NUL-terminated). */
bool access_token_equal(const char *a, const char *b);

/* A listening Unix socket that hv created: mode 0600 (set through the inode it bound,
 * never through a name someone may have swapped), close-on-exec, flags added to the socket
 * type (SOCK_NONBLOCK). Its directory is checked as access_dir_open does (root's or ours,
 * sticky if others can write it). An existing path is refused ("PATH exists: ..."),
 * except, with take_stale, a socket owned by root or this uid that nobody answers on (an
 * earlier hv's). close removes the path only while it is still the inode that listen
 * bound (device, inode number and change time: a new file reusing the number differs). */
struct access_sock {
	int fd;
	dev_t dev;
	ino_t ino;
	struct timespec ctime;
	char path[108];
};
int access_sock_listen(struct access_sock *s, const char *path, int backlog, int flags, bool take_stale,
		       struct err *e);
void access_sock_close(struct access_sock *s);

/* A directory to write into, as an fd (O_DIRECTORY, close-on-exec); create: mkdir it
 * (0700) first when missing. Refused with a message when it is owned by another uid than
 * root or this one, or others (group or world) can write it and it is not sticky: a
 * symlink planted there could turn a write into an overwrite elsewhere; and when dir
 * itself is a symlink that another uid made. what names it in the messages ("dump
 * directory"). */
int access_dir_open(const char *dir, bool create, const char *what, struct err *e);
/* Creates name in dirfd: O_CREAT|O_EXCL|O_NOFOLLOW, mode 0600, close-on-exec, flags (e.g.
 * O_WRONLY) added: never an existing file, never through a symlink. fd or -1. */
int access_create_at(int dirfd, const char *name, int flags, const char *shown, struct err *e);
/* Replaces dir/name with n bytes: written to a new temporary name in the same directory
 * (access_create_at), fsynced, then renamed over name (a symlink at name is replaced, not
 * followed). dir is checked as access_dir_open does (create: made when missing). */
int access_write_file(const char *dir, const char *name, const void *buf, size_t n, bool create, struct err *e);

/* Splits an absolute or relative path into its directory ("." when none) and last
 * component; -1 with a message when it ends in '/' or is too long. */
int access_split(const char *path, char *dir, size_t dlen, const char **base, struct err *e);

#endif
