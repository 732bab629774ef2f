#include "keptdir.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>

static long budget = 1024;
static atomic_long held;

void kept_dir_set_budget(long n)
{
	budget = n;
}

void kept_dir_close(struct kept_dir *d)
{
	if (d->fd < 0)
		return;
	close(d->fd);
	d->fd = -1;
	atomic_fetch_sub(&held, 1);
}

int kept_dir_fd(struct kept_dir *d, const char *path, bool again)
{
	int fd;

	if (again)
		kept_dir_close(d);
	if (d->fd >= 0)
		return d->fd;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (atomic_fetch_add(&held, 1) < budget)
		d->fd = fd;
	else
		atomic_fetch_sub(&held, 1);
	return fd;
}

void kept_dir_done(struct kept_dir *d, int fd)
{
	if (fd >= 0 && fd != d->fd)
		close(fd);
}

/* fn(dirfd) in the directory at path; a held directory may be a dead one
 * (removed: no entries, ENOENT; a dead task's: ESRCH), so on those errors
 * path is looked up once more. */
static ssize_t kept_dir_at(struct kept_dir *d, const char *path,
			   ssize_t (*fn)(int dirfd, void *ctx), void *ctx)
{
	bool held_before = d->fd >= 0;
	int fd = kept_dir_fd(d, path, false);
	ssize_t r;

	if (fd < 0)
		return fd;
	r = fn(fd, ctx);
	kept_dir_done(d, fd);
	if ((r == -ENOENT || r == -ESRCH) && held_before) {
		fd = kept_dir_fd(d, path, true);
		if (fd < 0)
			return fd;
		r = fn(fd, ctx);
		kept_dir_done(d, fd);
	}
	return r;
}

struct read_ctx {
	const char *name;
	char *buf;
	size_t size;
};

static ssize_t read_at(int dirfd, void *ctx)
{
	struct read_ctx *c = ctx;

	return read_file_once_at(dirfd, c->name, c->buf, c->size);
}

ssize_t kept_dir_read(struct kept_dir *d, const char *path, const char *name, char *buf,
		      size_t size)
{
	return kept_dir_at(d, path, read_at, &(struct read_ctx){ name, buf, size });
}

struct stat_ctx {
	const char *name;
	struct stat *st;
};

static ssize_t stat_at(int dirfd, void *ctx)
{
	struct stat_ctx *c = ctx;

	return fstatat(dirfd, c->name, c->st, 0) == 0 ? 0 : -errno;
}

int kept_dir_stat(struct kept_dir *d, const char *path, const char *name, struct stat *st)
{
	return (int)kept_dir_at(d, path, stat_at, &(struct stat_ctx){ name, st });
}
