#include "trust.h"
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <unistd.h>

static int refuse(char *err, size_t errlen, const char *path, const char *under, const char *why,
		  const char *fix)
{
	if (under)
		snprintf(err, errlen, "%s: its directory %s %s: refusing it (%s %s)", path, under, why,
			 fix, under);
	else
		snprintf(err, errlen, "%s: %s: refusing it (%s)", path, why, fix);
	return -EPERM;
}

/* under: the directory above path that st is of, NULL for path itself. */
static int check(const char *path, const char *under, const struct stat *st, char *err, size_t errlen)
{
	char why[64];
	bool sticky_ok = under && st->st_uid == 0 && S_ISDIR(st->st_mode) && (st->st_mode & S_ISVTX);

	if (st->st_uid != 0 && st->st_uid != geteuid()) {
		snprintf(why, sizeof why, "is owned by uid %u, not root", (unsigned)st->st_uid);
		return refuse(err, errlen, path, under, why, "chown root");
	}
	if ((st->st_mode & S_IWOTH) && !sticky_ok)
		return refuse(err, errlen, path, under, "is world-writable", "chmod o-w");
	if ((st->st_mode & S_IWGRP) && !sticky_ok)
		return refuse(err, errlen, path, under, "is writable by its group", "chmod g-w");
	return 0;
}

int trust_check_stat(const char *path, const struct stat *st, char *err, size_t errlen)
{
	return check(path, NULL, st, err, errlen);
}

/* dir, a directory above path, and every directory above it. */
static int check_above(const char *path, const char *dir, char *err, size_t errlen)
{
	char real[PATH_MAX];
	struct stat st;
	char *slash;

	if (!realpath(dir, real)) {
		snprintf(err, errlen, "%s: %s: %s", path, dir, strerror(errno));
		return -errno;
	}
	for (;;) {
		if (stat(real, &st) < 0) {
			snprintf(err, errlen, "%s: %s: %s", path, real, strerror(errno));
			return -errno;
		}
		if (check(path, real, &st, err, errlen) < 0)
			return -EPERM;
		slash = strrchr(real, '/');
		if (!slash || strcmp(real, "/") == 0)
			return 0;
		slash[slash == real] = '\0';	/* "/x" -> "/", "/x/y" -> "/x" */
	}
}

static void dir_of(const char *path, char *dir, size_t size)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		snprintf(dir, size, ".");
	else
		snprintf(dir, size, "%.*s", slash == path ? 1 : (int)(slash - path), path);
}

/* Above where path's last component sits (whoever can write there can
 * point a symlink elsewhere) and above where it leads. */
int trust_check_parents(const char *path, char *err, size_t errlen)
{
	char dir[PATH_MAX], real[PATH_MAX], rdir[PATH_MAX];
	int r;

	dir_of(path, dir, sizeof dir);
	r = check_above(path, dir, err, errlen);
	if (r < 0 || !realpath(path, real))
		return r;
	dir_of(real, rdir, sizeof rdir);
	return check_above(path, rdir, err, errlen);
}

int trust_check_dir(const char *path, char *err, size_t errlen)
{
	char up[PATH_MAX];
	struct stat st;

	if (stat(path, &st) == 0)
		return check(path, NULL, &st, err, errlen) < 0 ? -EPERM
								: trust_check_parents(path, err, errlen);
	if (errno != ENOENT) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -errno;
	}
	/* Not made yet: the nearest directory that is decides, as one above
	 * it (a sticky /tmp may hold it). */
	snprintf(up, sizeof up, "%s", path);
	do {
		char cur[PATH_MAX];

		snprintf(cur, sizeof cur, "%s", up);
		dir_of(cur, up, sizeof up);
	} while (strcmp(up, "/") != 0 && strcmp(up, ".") != 0 && stat(up, &st) < 0 && errno == ENOENT);
	return check_above(path, up, err, errlen);
}
