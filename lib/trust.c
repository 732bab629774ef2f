#include "trust.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
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

int trust_open_dir(int at, const char *path, mode_t mode, bool create)
{
	char err[PATH_MAX + 128];
	struct stat st;
	int fd;

	if (create && mkdirat(at, path, mode) < 0 && errno != EEXIST)
		return -errno;
	fd = openat(at, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || trust_check_stat(path, &st, err, sizeof err) < 0) {
		close(fd);
		return -EPERM;
	}
	return fd;
}

int trust_write_at(int dfd, const char *name, const char *text)
{
	char tmp[NAME_MAX + 1];
	size_t len = strlen(text);
	int fd, r = 0;

	if (path_printf(tmp, sizeof tmp, "%s.new", name) < 0 || strchr(name, '/'))
		return -ENAMETOOLONG;
	/* Whatever is there (a planted symlink) goes: O_EXCL makes a new file. */
	unlinkat(dfd, tmp, 0);
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (write(fd, text, len) != (ssize_t)len || fsync(fd) < 0)
		r = errno ? -errno : -ENOSPC;
	close(fd);
	/* rename replaces a symlink at name itself, never what it points to */
	if (r == 0 && renameat(dfd, tmp, dfd, name) < 0)
		r = -errno;
	if (r < 0)
		unlinkat(dfd, tmp, 0);
	return r;
}

int trust_read_at(int dfd, const char *name, char *text, size_t size)
{
	_cleanup_close_ int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	struct stat st;
	ssize_t n;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return -EINVAL;
	n = read(fd, text, size - 1);
	if (n < 0)
		return -errno;
	text[n] = '\0';
	return 0;
}
