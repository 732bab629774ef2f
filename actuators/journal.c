#include "journal.h"
#include "log.h"
#include "trust.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>

/* A directory that only root can change, opened without following a
 * symlink: what is opened under it is what root wrote there. */
static int open_checked(int at, const char *path, mode_t mode, bool create)
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

/* STATE_DIR/journal, checked; the state directory's own path and those
 * above it were checked with the configuration (lib/config.c). */
static int journal_dir(const char *state_dir, bool create)
{
	_cleanup_close_ int sfd = open_checked(AT_FDCWD, state_dir, 0755, create);

	if (sfd < 0)
		return sfd;
	return open_checked(sfd, "journal", 0700, create);
}

int journal_write(const char *state_dir, const char *id, const char *text)
{
	_cleanup_close_ int dfd = journal_dir(state_dir, true);
	char tmp[NAME_MAX + 1];
	size_t len = strlen(text);
	int fd, r = 0;

	if (dfd < 0)
		return dfd;
	if (path_printf(tmp, sizeof tmp, "%s.new", id) < 0 || strchr(id, '/'))
		return -ENAMETOOLONG;
	/* Whatever is there (a planted symlink) goes: O_EXCL makes a new file. */
	unlinkat(dfd, tmp, 0);
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (write(fd, text, len) != (ssize_t)len || fsync(fd) < 0)
		r = errno ? -errno : -ENOSPC;
	close(fd);
	/* rename replaces a symlink at id itself, never what it points to */
	if (r == 0 && renameat(dfd, tmp, dfd, id) < 0)
		r = -errno;
	if (r < 0)
		unlinkat(dfd, tmp, 0);
	return r;
}

void journal_remove(const char *state_dir, const char *id)
{
	_cleanup_close_ int dfd = journal_dir(state_dir, false);

	if (dfd >= 0)
		unlinkat(dfd, id, 0);
}

bool journal_has(const char *state_dir, const char *id)
{
	_cleanup_close_ int dfd = journal_dir(state_dir, false);

	return dfd >= 0 && faccessat(dfd, id, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

/* An entry's text: a regular file, never through a symlink. */
static int read_entry(int dfd, const char *name, char *text, size_t size)
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

void journal_each(const char *state_dir, void (*fn)(const char *id, const char *text, void *ctx),
		  void *ctx)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	char text[8192];
	int dfd = journal_dir(state_dir, false);

	if (dfd < 0) {
		if (dfd != -ENOENT)
			log_warn("journal in %s: %s: nothing recovered", state_dir, strerror(-dfd));
		return;
	}
	d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return;
	}
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (endswith(de->d_name, ".new")) {
			unlinkat(dfd, de->d_name, 0);	/* never renamed: its phase never happened */
			continue;
		}
		if (read_entry(dfd, de->d_name, text, sizeof text) == 0)
			fn(de->d_name, text, ctx);
		else
			log_warn("journal %s/journal/%s: not a regular file: ignored", state_dir,
				 de->d_name);
	}
}

int journal_get(const char *text, const char *key, char *out, size_t size)
{
	size_t kl = strlen(key);

	for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (strncmp(p, key, kl) == 0 && p[kl] == '=') {
			const char *v = p + kl + 1;

			snprintf(out, size, "%.*s", (int)strcspn(v, "\n"), v);
			return 0;
		}
	return -ENOENT;
}
