/* A directory read on every sweep, held open: its files are opened relative
 * to it, which skips the walk from / (with one read per file instead of two,
 * a fifth of the sampler's time at 1000 containers, bench/scale). Only
 * directories are held: an open pseudo file pins a page of kernel buffer, a
 * directory does not. */
#pragma once

#include <stdbool.h>
#include <sys/stat.h>
#include <sys/types.h>

struct kept_dir {
	int fd;		/* -1: not held */
};
#define KEPT_DIR_INIT ((struct kept_dir){ .fd = -1 })

/* Hold at most this many directories across all kept_dirs (beyond it they
 * are opened and closed on each use): set once at start from RLIMIT_NOFILE. */
void kept_dir_set_budget(long n);

/* Read the small kernel file name in directory path (held by d) into buf,
 * as read_file_once_at (a file made whole for each read). A held directory that was removed and made again (a reused
 * tid, a cgroup made anew under the same name) is looked up again. */
ssize_t kept_dir_read(struct kept_dir *d, const char *path, const char *name, char *buf,
		      size_t size);
/* fstatat() of name in directory path, held by d; 0 or -errno. */
int kept_dir_stat(struct kept_dir *d, const char *path, const char *name, struct stat *st);
/* The directory's fd for the caller's own openat()s (held by d, or opened
 * for this use and closed by kept_dir_done), or -errno. With again, the held
 * one is dropped and path looked up afresh. */
int kept_dir_fd(struct kept_dir *d, const char *path, bool again);
void kept_dir_done(struct kept_dir *d, int fd);
void kept_dir_close(struct kept_dir *d);
