/* Trust like sshd's StrictModes: a file or directory that says what root
 * runs (the configuration, recipes, the state and run directories) must be
 * writable by root alone, and so must every directory above it, else
 * whoever can write one of them could make root run their commands. */
#pragma once

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
