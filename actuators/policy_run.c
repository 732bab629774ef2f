#include "policy_run.h"
#include "control.h"
#include "events.h"
#include "layout.h"
#include "links.h"
#include "log.h"
#include "migrate.h"
#include "policy.h"
#include "managed.h"
#include "policy_auto.h"
#include "snapshot.h"
#include "util.h"

#include <errno.h>
#include <pthread.h>
#include <time.h>

#define MAX_DECISIONS 64
#define MAX_SENT 64

/* What the policy remembers of a workload between rounds. */
struct seen {
	uint64_t id;
	uint64_t last_action;	/* its last decision, or its arrival; 0: none */
	uint64_t group;		/* id of its group's first member; 0: none */
};

/* A move's demand, counted against its peer until settle has passed. */
struct sent {
	char peer[64];
	double demand;
	uint64_t at;
};

static struct {
	pthread_mutex_t lock;		/* guards cfg, proc_root, stop */
	pthread_cond_t wake;
	pthread_t thread;
	bool running, stop;
	struct policy_config cfg;
	struct class_config class_cfg;
	char *proc_root;
	/* the thread's own */
	struct seen *seen;
	size_t n_seen;
	bool first_round_done;
	struct sent sent[MAX_SENT];
	size_t n_sent;
} P = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.wake = PTHREAD_COND_INITIALIZER,
};

void policy_configure(const struct config *cfg)
{
	pthread_mutex_lock(&P.lock);
	P.cfg = cfg->policy;
	P.class_cfg = cfg->class;
	free(P.proc_root);
	P.proc_root = xstrdup(cfg->proc_root);
	pthread_cond_signal(&P.wake);
	pthread_mutex_unlock(&P.lock);
}

/* Carry each workload's record over to this snapshot (index i of s ->
 * seen[i]); a workload new since the first round arrived just now. */
static struct seen *track(const struct snapshot *s, uint64_t now)
{
	struct seen *next = xcalloc(s->n ? s->n : 1, sizeof *next);

	for (size_t i = 0; i < s->n; i++) {
		next[i] = (struct seen){ .id = s->wl[i].id, .last_action = P.first_round_done ? now : 0 };
		for (size_t k = 0; k < P.n_seen; k++)
			if (P.seen[k].id == s->wl[i].id) {
				next[i].last_action = P.seen[k].last_action;
				next[i].group = P.seen[k].group;
				break;
			}
	}
	free(P.seen);
	P.seen = next;
	P.n_seen = s->n;
	P.first_round_done = true;
	return next;
}

static double sent_to(const char *peer, uint64_t now, double settle_s)
{
	double d = 0;

	for (size_t i = 0; i < P.n_sent; i++)
		if (strcmp(P.sent[i].peer, peer) == 0 && (double)(now - P.sent[i].at) < settle_s * 1e6)
			d += P.sent[i].demand;
	return d;
}

static void remember_sent(const char *peer, double demand, uint64_t now, double settle_s)
{
	size_t k = 0;

	for (size_t i = 0; i < P.n_sent; i++)	/* drop the settled */
		if ((double)(now - P.sent[i].at) < settle_s * 1e6)
			P.sent[k++] = P.sent[i];
	P.n_sent = k;
	if (P.n_sent < MAX_SENT) {
		P.sent[P.n_sent] = (struct sent){ .demand = demand, .at = now };
		snprintf(P.sent[P.n_sent].peer, sizeof P.sent[P.n_sent].peer, "%s", peer);
		P.n_sent++;
	}
}

static void move_done(void *ctx, int err)
{
	(void)ctx;
	(void)err;	/* migrate_run said how it went in events */
}

static void apply_move(const struct snapshot *s, const struct wl_view *w, const char *peer,
		       const char *reason)
{
	char line[80];
	int r;

	events_add(w->name, "policy: move to %s: %s", peer, reason);
	snprintf(line, sizeof line, "host=%s", peer);
	/* The placement write's own path: checks, the job queue, EBUSY. */
	r = control_write(s, w, CTL_PLACEMENT, line, strlen(line), move_done, NULL);
	if (r < 0)
		log_info("policy: moving %s to %s refused: %s", w->name, peer, strerror(-r));
}

static void apply_mode(const struct wl_view *w, bool vm, const char *reason)
{
	int r;

	events_add(w->name, "policy: switch to %s: %s", vm ? "vm" : "container", reason);
	r = managed_switch(w->key, vm);
	if (r < 0)
		events_add(w->name, "policy: switching to %s failed: %s", vm ? "vm" : "container",
			   strerror(-r));
}

/* auto: set on the mode file of a discovered workload (the policy may move
 * it), or a managed workload's setting (it may also switch it). *managed:
 * whether the manager runs it, asked by its key, its recipe name (its
 * directory may be NAME.adaptfs while a discovered workload holds NAME). */
static bool is_auto(const struct wl_view *w, bool *managed)
{
	enum recipe_mode setting;

	*managed = engine_can(w->engine, ENGINE_MANAGED) && managed_mode(w->key, &setting) == 0;
	return *managed ? setting == RECIPE_AUTO : policy_auto(w->id);
}

/* Say when an auto workload joins or leaves a group: moves keep groups whole. */
static void note_groups(const struct snapshot *s, struct seen *seen, const int *group,
			const struct policy_wl *wl)
{
	for (size_t i = 0; i < s->n; i++) {
		uint64_t g = group[i] >= 0 ? s->wl[group[i]].id : 0;
		char with[256] = "";
		size_t o = 0;

		if (g == seen[i].group)
			continue;
		seen[i].group = g;
		if (!wl[i].is_auto)
			continue;
		for (size_t k = 0; k < s->n && o < sizeof with; k++)
			if (k != i && group[k] >= 0 && group[k] == group[i])
				o += (size_t)snprintf(with + o, sizeof with - o, " %s", s->wl[k].name);
		if (g)
			events_add(s->wl[i].name, "policy: talks over TCP with%s: they stay on one host", with);
		else
			events_add(s->wl[i].name, "policy: talks with no other workload now");
	}
}

static double metric(const struct metric_set *m, int k)
{
	return metric_has(m, k) ? m->v[k] : 0.0;
}

static void round_once(const struct snapshot *s, const struct policy_config *cfg,
		       const struct class_config *class_cfg, const char *proc_root)
{
	uint64_t now = now_usec();
	struct seen *seen = track(s, now);
	_cleanup_free_ int *group = xcalloc(s->n ? s->n : 1, sizeof *group);
	_cleanup_free_ struct policy_wl *wl = xcalloc(s->n ? s->n : 1, sizeof *wl);
	_cleanup_free_ struct policy_peer *peers = xcalloc(s->n_peers ? s->n_peers : 1, sizeof *peers);
	struct policy_decision out[MAX_DECISIONS];
	bool any_auto = false;
	size_t n;

	for (size_t i = 0; i < s->n; i++) {
		wl[i].is_auto = is_auto(&s->wl[i], &wl[i].switchable);
		any_auto |= wl[i].is_auto;
	}
	if (!any_auto)
		return;
	/* Only when there is something to decide: it reads every container's sockets. */
	links_collect(actuator_layout(), proc_root, s, group);
	for (size_t i = 0; i < s->n; i++) {
		const struct wl_view *w = &s->wl[i];

		wl[i] = (struct policy_wl){
			.name = w->name,
			.parallelism = metric(&w->m, M_THREADS_PARALLELISM),
			.wait = metric(&w->m, M_SCHED_WAIT_PERCENT) / 100.0,
			.is_auto = wl[i].is_auto,		/* asked once, above */
			.can_move = engine_can_move(w->engine),
			.switchable = wl[i].switchable,
			.vm = w->vm,
			.class = w->class,
			.class_since_usec = w->class_since_usec,
			.last_action_usec = seen[i].last_action,
			.group = group[i],
		};
	}
	note_groups(s, seen, group, wl);
	for (size_t p = 0; p < s->n_peers; p++)
		peers[p] = (struct policy_peer){
			.name = s->peers[p].name,
			.reachable = s->peers[p].reachable,
			.cores = s->peers[p].cores,
			.demand = sent_to(s->peers[p].name, now, cfg->settle),
		};
	struct policy_input in = {
		.cfg = cfg, .class_cfg = class_cfg, .kvm = s->kvm, .now_usec = now,
		.cores = (int)metric(&s->host, H_CORES),
		.wl = wl, .n = s->n, .peers = peers, .n_peers = s->n_peers,
	};
	for (size_t i = 0; i < s->n; i++)
		if (wl[i].switchable)
			managed_want_standby(s->wl[i].key, policy_switch_ahead(&in, &wl[i]));
	n = policy_decide(&in, out, MAX_DECISIONS);
	for (size_t k = 0; k < n; k++) {
		const struct wl_view *w = &s->wl[out[k].wl];

		seen[out[k].wl].last_action = now;
		if (out[k].verb == POLICY_MODE) {
			apply_mode(w, out[k].vm, out[k].reason);
			continue;
		}
		remember_sent(peers[out[k].peer].name, policy_wl_demand(&wl[out[k].wl]), now,
			      cfg->settle);
		apply_move(s, w, peers[out[k].peer].name, out[k].reason);
	}
}

static void *policy_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&P.lock);
	while (!P.stop) {
		struct timespec until;
		double interval = P.cfg.interval;

		timespec_after(&until, (uint64_t)(interval * 1e6));
		if (pthread_cond_timedwait(&P.wake, &P.lock, &until) != ETIMEDOUT || P.stop ||
		    !P.cfg.enabled)
			continue;	/* woken by a reload: wait a whole interval again */

		struct policy_config cfg = P.cfg;
		struct class_config class_cfg = P.class_cfg;
		_cleanup_free_ char *proc_root = xstrdup(P.proc_root);
		struct snapshot *s;

		pthread_mutex_unlock(&P.lock);
		s = snapshot_get();
		if (s) {
			policy_auto_prune(s);
			round_once(s, &cfg, &class_cfg, proc_root);
			snapshot_put(s);
		}
		pthread_mutex_lock(&P.lock);
	}
	pthread_mutex_unlock(&P.lock);
	return NULL;
}

int policy_start(void)
{
	int r;

	P.stop = false;
	r = pthread_create(&P.thread, NULL, policy_main, NULL);
	if (r != 0)
		return -r;
	pthread_setname_np(P.thread, "adapt-policy");
	P.running = true;
	return 0;
}

void policy_stop(void)
{
	pthread_mutex_lock(&P.lock);
	P.stop = true;
	pthread_cond_signal(&P.wake);
	pthread_mutex_unlock(&P.lock);
	if (P.running)
		pthread_join(P.thread, NULL);
	P.running = false;
	free(P.seen);
	P.seen = NULL;
	P.n_seen = 0;
	free(P.proc_root);
	P.proc_root = NULL;
}
