/* Trust like sshd's StrictModes: a file or directory that says what root
 * runs (the configuration, recipes, the state and run directories) must be
 * writable by root alone, and so must every directory above it, else
 * whoever can write one of them could make root run their commands. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

/* st, of path, owned by root (or by the user the daemon runs as) and not
 * writable by group or others. 0, or -EPERM with err "PATH: reason". */
int trust_check_stat(const char *path, const struct stat *st, char *err, size_t errlen);

/* Every directory above path up to /: owned by root (or us) and not
 * writable by group or others, except that a root-owned sticky directory
 * (/tmp) may be writable by all: no one else can rename or remove what
 * root put in it. 0, or -EPERM with err set. */
int trust_check_parents(const char *path, char *err, size_t errlen);

/* A directory and the directories above it. One that does not exist yet is
 * trusted if the directory it would be made in is (adaptfs makes it root's,
 * 0755). 0, -EPERM or another -errno, with err set. */
int trust_check_dir(const char *path, char *err, size_t errlen);

/* Files root keeps in such a directory (journals, managed workloads'
 * state): the directory path (relative to at), made first with mode if
 * create, opened without following a symlink and checked as
 * trust_check_stat. Its fd, or -errno (-EPERM: not root's alone). */
int trust_open_dir(int at, const char *path, mode_t mode, bool create);
/* name in dfd replaced whole by text: written to a new NAME.new (O_EXCL,
 * O_NOFOLLOW: a planted symlink is removed, never followed), synced and
 * renamed over name. 0 or -errno (ENOSPC, EROFS). */
int trust_write_at(int dfd, const char *name, const char *text);
/* A regular file name in dfd, never through a symlink, into text
 * (NUL-terminated). 0 or -errno (-EINVAL: not a regular file). */
int trust_read_at(int dfd, const char *name, char *text, size_t size);
