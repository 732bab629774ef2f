#include "migrate.h"
#include "events.h"
#include "journal.h"
#include "peers.h"
#include "util.h"

#include <errno.h>
#include <pthread.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char *state_dir, *proc_root;
static struct migration_config settings;	/* lxc_path not kept: adaptfs-migrate's */
static struct migrate_stats stats;
static struct migrate_ctx *moving;	/* moves under way, for NAME/migration */

void migrate_configure(const struct config *cfg)
{
	pthread_mutex_lock(&lock);
	free(state_dir);
	state_dir = xstrdup(cfg->state_dir);
	free(proc_root);
	proc_root = xstrdup(cfg->proc_root);
	settings = cfg->migration;
	settings.lxc_path = NULL;
	pthread_mutex_unlock(&lock);
}

int migrate_peer(const char *host, struct migration *m)
{
	if (peers_find(host, m->address, sizeof m->address, m->transport, sizeof m->transport) < 0)
		return -EINVAL;
	if (peers_libvirt_uri(host, m->libvirt_uri, sizeof m->libvirt_uri) < 0)
		m->libvirt_uri[0] = '\0';
	snprintf(m->host, sizeof m->host, "%s", host);
	return 0;
}

void shell_quote(const char *s, char *out, size_t size)
{
	size_t n = 0;

	if (size < 3)
		return;
	out[n++] = '\'';
	for (; *s && n + 6 < size; s++) {
		if (*s == '\'') {
			memcpy(out + n, "'\\''", 4);
			n += 4;
		} else {
			out[n++] = *s;
		}
	}
	out[n++] = '\'';
	out[n] = '\0';
}

int migrate_run(const struct migration *m)
{
	struct migrate_ctx c = { .m = m };
	_cleanup_free_ char *dir = NULL, *proc = NULL;
	uint64_t start = now_usec();
	int r;

	pthread_mutex_lock(&lock);
	dir = xstrdup(state_dir);
	proc = xstrdup(proc_root);
	c.settings = settings;
	snprintf(c.progress.host, sizeof c.progress.host, "%s", m->host);
	snprintf(c.progress.phase, sizeof c.progress.phase, "preparing");
	c.progress.start_usec = start;
	c.shown = c.progress;
	c.next = moving;
	moving = &c;
	pthread_mutex_unlock(&lock);
	c.state_dir = dir;
	c.proc_root = proc;
	snprintf(c.id, sizeof c.id, "migrate-%s-%s", m->engine->name, m->name);
	/* A move that a restart could not settle (the peer did not answer)
	 * is not overwritten by a new one: it decides where the copy runs. */
	if (journal_has(dir, c.id)) {
		snprintf(c.why, sizeof c.why, "an interrupted move of it is not settled yet (see earlier events)");
		r = -EBUSY;
	} else {
		r = engine_can(m->engine, ENGINE_MOVE_LIBVIRT) ? migrate_libvirt(&c)
		    : engine_can(m->engine, ENGINE_MOVE_LIVE) ? migrate_qemu(&c) : migrate_lxc(&c);
	}
	c.total_usec = now_usec() - start;
	pthread_mutex_lock(&lock);
	for (struct migrate_ctx **p = &moving; *p; p = &(*p)->next)
		if (*p == &c) {
			*p = c.next;
			break;
		}
	stats.postcopy += c.postcopy;
	stats.throttled += c.max_throttle_percent > 0;
	if (r == 0) {
		stats.done++;
		stats.last_total_usec = c.total_usec;
		stats.last_downtime_usec = c.downtime_usec;
	} else {
		stats.failed++;
	}
	pthread_mutex_unlock(&lock);
	if (r == 0)
		events_add(m->name, "placement: moved to %s %s in %llu ms (downtime %llu ms)", m->host,
			   c.how, (unsigned long long)(c.total_usec / 1000),
			   (unsigned long long)(c.downtime_usec / 1000));
	else if (c.keep_journal)
		events_add(m->name, "placement: moving to %s failed: %s", m->host, c.why);
	else
		events_add(m->name, "placement: moving to %s failed: %s; it runs here, unchanged",
			   m->host, c.why[0] ? c.why : strerror(-r));
	return r;
}

struct recovery {
	const char *state_dir, *proc_root;
};

static void recover_one(const char *id, const char *text, void *ctx)
{
	const struct recovery *rc = ctx;
	char engine[32] = "";
	bool settled = true;

	journal_get(text, "engine", engine, sizeof engine);
	if (strcmp(engine, "qemu") == 0)
		settled = recover_qemu(text, rc->proc_root);
	else if (strcmp(engine, "lxc") == 0)
		settled = recover_lxc(text);
	else if (strcmp(engine, "pin") == 0)
		settled = false;	/* placement_recover's, once the cgroups are known */
	if (settled)
		journal_remove(rc->state_dir, id);
}

void migrate_recover(void)
{
	_cleanup_free_ char *dir = NULL, *proc = NULL;

	pthread_mutex_lock(&lock);
	dir = state_dir ? xstrdup(state_dir) : NULL;
	proc = proc_root ? xstrdup(proc_root) : NULL;
	pthread_mutex_unlock(&lock);
	if (dir)
		journal_each(dir, recover_one, &(struct recovery){ dir, proc });
}

void migrate_publish(struct migrate_ctx *c)
{
	const struct migrate_progress *p = &c->progress;
	bool new_phase, new_throttle;

	pthread_mutex_lock(&lock);
	new_phase = strcmp(c->shown.phase, p->phase) != 0;
	/* QEMU drops the figure when the move ends: no line for that */
	new_throttle = p->throttle_percent && c->shown.throttle_percent != p->throttle_percent;
	c->shown = *p;
	pthread_mutex_unlock(&lock);
	if (p->throttle_percent > c->max_throttle_percent)
		c->max_throttle_percent = p->throttle_percent;
	if (new_phase)
		events_add(c->m->name, "placement: moving to %s: %s", c->m->host, p->phase);
	if (new_throttle)
		events_add(c->m->name, "placement: moving to %s: auto-converge holds the guest to %u%% of its CPU time",
			   c->m->host, 100 - p->throttle_percent);
}

bool migrate_get_progress(const char *key, struct migrate_progress *out)
{
	bool found = false;

	pthread_mutex_lock(&lock);
	for (const struct migrate_ctx *c = moving; c && !found; c = c->next)
		if (strcmp(c->m->key, key) == 0) {
			*out = c->shown;
			found = true;
		}
	pthread_mutex_unlock(&lock);
	return found;
}

void migrate_get_stats(struct migrate_stats *out)
{
	pthread_mutex_lock(&lock);
	*out = stats;
	for (const struct migrate_ctx *c = moving; c; c = c->next)
		out->active++;
	pthread_mutex_unlock(&lock);
}
