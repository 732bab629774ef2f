#include "prefetch_keep.h"
#include "engine.h"
#include "log.h"
#include "trust.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>

#define KEEP_FILE "prefetch"
#define KEEP_MAX (1 << 20)	/* far above a host's worth of lines */

int prefetch_keep_ident(const struct wl_view *w, char *buf, size_t size)
{
	/* Not the directory name: a clash may make it NAME.ENGINE for a while.
	 * A managed workload's key is its recipe name, the same in both modes. */
	if (!w->engine || !w->key || !*w->key || strchr(w->key, '\n'))
		return -EINVAL;
	if ((size_t)snprintf(buf, size, "%s %s", w->engine->name, w->key) >= size)
		return -ENAMETOOLONG;
	return 0;
}

/* The line at p, len chars, as "on|off ENGINE ID": where ENGINE starts, or
 * NULL for anything else. */
static const char *parse_line(const char *p, size_t len, bool *on)
{
	size_t word = strcspn(p, " \n"), engine;

	if (word >= len)
		return NULL;
	if (word == 2 && strncmp(p, "on", 2) == 0)
		*on = true;
	else if (word == 3 && strncmp(p, "off", 3) == 0)
		*on = false;
	else
		return NULL;
	engine = strcspn(p + word + 1, " \n");
	/* a space after ENGINE, and an ID after it */
	return engine && word + 1 + engine + 1 < len ? p + word + 1 : NULL;
}

size_t prefetch_keep_parse(const char *text, struct prefetch_kept **out)
{
	size_t n = 0, lines = 1;

	for (const char *p = text; *p; p++)
		lines += *p == '\n';
	*out = xcalloc(lines, sizeof **out);
	for (const char *p = text; *p;) {
		size_t len = strcspn(p, "\n");
		bool on;
		const char *ident = parse_line(p, len, &on);

		if (ident) {
			size_t n_ident = len - (size_t)(ident - p);

			(*out)[n].on = on;
			(*out)[n].ident = xmalloc(n_ident + 1);
			memcpy((*out)[n].ident, ident, n_ident);
			(*out)[n].ident[n_ident] = '\0';
			n++;
		} else if (len) {
			log_warn("%s: not a setting, left out: %.*s", KEEP_FILE, (int)len, p);
		}
		p += len + (p[len] == '\n');
	}
	return n;
}

void prefetch_kept_free(struct prefetch_kept *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].ident);
	free(v);
}

size_t prefetch_keep_load(const char *state_dir, struct prefetch_kept **out)
{
	_cleanup_close_ int dfd = trust_open_dir(AT_FDCWD, state_dir, 0755, false);
	_cleanup_free_ char *text = xmalloc(KEEP_MAX);
	int r = dfd < 0 ? dfd : trust_read_at(dfd, KEEP_FILE, text, KEEP_MAX);

	if (r < 0) {
		if (r != -ENOENT)
			log_warn("%s/%s: %s: prefetch settings of before not restored", state_dir,
				 KEEP_FILE, strerror(-r));
		*text = '\0';
	}
	return prefetch_keep_parse(text, out);
}

int prefetch_keep_save(const char *state_dir, const char *text)
{
	_cleanup_close_ int dfd = trust_open_dir(AT_FDCWD, state_dir, 0755, true);

	return dfd < 0 ? dfd : trust_write_at(dfd, KEEP_FILE, text);
}
