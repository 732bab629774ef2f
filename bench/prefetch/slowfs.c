/* slowfs: one file, /disk, backed by a real file, every read and write of which
 * takes DELAY_US microseconds longer. A stand-in for a slow swap device where the
 * kernel has no device mapper (so no dm-delay): bench/prefetch/run.sh puts a loop
 * device on MNT/disk and swaps on it.
 *
 * usage: slowfs BACKING_FILE DELAY_US MOUNTPOINT [FUSE options]   (stays in the foreground)
 * build: cc -O2 -o slowfs slowfs.c $(pkg-config --cflags --libs fuse3)
 *
 * Opened with direct_io, so no page cache of its own: every read of the loop device
 * reaches this daemon and pays the delay. Requests are served by several threads,
 * so reads issued together (a prefetch) wait the delay together, as on a real device. */
#define FUSE_USE_VERSION 31
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int backing = -1;
static long delay_us;

static void pause_io(void)
{
	struct timespec ts = { delay_us / 1000000, (delay_us % 1000000) * 1000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int sf_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	(void)fi;
	memset(st, 0, sizeof *st);
	if (strcmp(path, "/") == 0) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
		return 0;
	}
	if (strcmp(path, "/disk") != 0)
		return -ENOENT;
	if (fstat(backing, st) < 0)
		return -errno;
	st->st_mode = S_IFREG | 0600;
	return 0;
}

static int sf_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off,
		      struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	(void)off, (void)fi, (void)flags;
	if (strcmp(path, "/") != 0)
		return -ENOENT;
	fill(buf, ".", NULL, 0, 0);
	fill(buf, "..", NULL, 0, 0);
	fill(buf, "disk", NULL, 0, 0);
	return 0;
}

static int sf_open(const char *path, struct fuse_file_info *fi)
{
	if (strcmp(path, "/disk") != 0)
		return -ENOENT;
	fi->direct_io = 1;
	return 0;
}

static int sf_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	ssize_t n;

	(void)path, (void)fi;
	pause_io();
	n = pread(backing, buf, size, off);
	return n < 0 ? -errno : (int)n;
}

static int sf_write(const char *path, const char *buf, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	ssize_t n;

	(void)path, (void)fi;
	pause_io();
	n = pwrite(backing, buf, size, off);
	return n < 0 ? -errno : (int)n;
}

static int sf_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	(void)path, (void)datasync, (void)fi;
	return 0;
}

static const struct fuse_operations ops = {
	.getattr = sf_getattr,
	.readdir = sf_readdir,
	.open = sf_open,
	.read = sf_read,
	.write = sf_write,
	.fsync = sf_fsync,
};

int main(int argc, char **argv)
{
	char *fargv[16];
	int fargc = 0;

	if (argc < 4 || argc > 12) {
		fprintf(stderr, "usage: slowfs BACKING_FILE DELAY_US MOUNTPOINT [FUSE options]\n");
		return 2;
	}
	backing = open(argv[1], O_RDWR | O_CLOEXEC);
	if (backing < 0) {
		perror(argv[1]);
		return 1;
	}
	delay_us = strtol(argv[2], NULL, 10);
	fargv[fargc++] = argv[0];
	fargv[fargc++] = "-f";
	for (int i = 4; i < argc; i++)
		fargv[fargc++] = argv[i];
	fargv[fargc++] = argv[3];
	fargv[fargc] = NULL;
	return fuse_main(fargc, fargv, &ops, NULL);
}
