#include "journal.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>

static void entry_path(const char *state_dir, const char *id, const char *suffix, char *buf, size_t size)
{
	snprintf(buf, size, "%s/journal/%s%s", state_dir, id, suffix);
}

int journal_write(const char *state_dir, const char *id, const char *text)
{
	char dir[PATH_MAX], tmp[PATH_MAX + 300], path[PATH_MAX + 300];
	size_t len = strlen(text);
	int fd, r = 0;

	snprintf(dir, sizeof dir, "%s/journal", state_dir);
	if ((mkdir(state_dir, 0755) < 0 && errno != EEXIST) || (mkdir(dir, 0700) < 0 && errno != EEXIST))
		return -errno;
	entry_path(state_dir, id, ".new", tmp, sizeof tmp);
	entry_path(state_dir, id, "", path, sizeof path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (write(fd, text, len) != (ssize_t)len || fsync(fd) < 0)
		r = errno ? -errno : -ENOSPC;
	close(fd);
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0)
		unlink(tmp);
	return r;
}

void journal_remove(const char *state_dir, const char *id)
{
	char path[PATH_MAX + 300];

	entry_path(state_dir, id, "", path, sizeof path);
	unlink(path);
}

void journal_each(const char *state_dir, void (*fn)(const char *id, const char *text, void *ctx),
		  void *ctx)
{
	char dir[PATH_MAX], path[PATH_MAX + 300], text[8192];
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;

	snprintf(dir, sizeof dir, "%s/journal", state_dir);
	d = opendir(dir);
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		if (endswith(de->d_name, ".new")) {
			unlink(path);	/* never renamed: its phase never happened */
			continue;
		}
		if (read_file(path, text, sizeof text) >= 0)
			fn(de->d_name, text, ctx);
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
