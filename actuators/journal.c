#include "journal.h"
#include "log.h"
#include "trust.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>

/* STATE_DIR/journal, checked; the state directory's own path and those
 * above it were checked with the configuration (lib/config.c). */
static int journal_dir(const char *state_dir, bool create)
{
	_cleanup_close_ int sfd = trust_open_dir(AT_FDCWD, state_dir, 0755, create);

	if (sfd < 0)
		return sfd;
	return trust_open_dir(sfd, "journal", 0700, create);
}

int journal_write(const char *state_dir, const char *id, const char *text)
{
	_cleanup_close_ int dfd = journal_dir(state_dir, true);

	if (dfd < 0)
		return dfd;
	return trust_write_at(dfd, id, text);
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
		if (trust_read_at(dfd, de->d_name, text, sizeof text) == 0)
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
