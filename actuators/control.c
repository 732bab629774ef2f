/* The control-file write path: parse, validate, then act (at once for
 * settings, on a worker for actions that touch the kernel). */
#include "control.h"
#include "cpulist.h"
#include "events.h"
#include "jobs.h"
#include "managed.h"
#include "migrate.h"
#include "placement.h"
#include "policy_auto.h"
#include "prefetch.h"
#include "sampler.h"
#include "util.h"

#include <errno.h>

static char host_name[64];

static const char *const file_names[] = {
	[CTL_PLACEMENT] = "placement", [CTL_MODE] = "mode", [CTL_PREFETCH] = "prefetch",
};

/* Refuse a write: say why in events, return the errno. */
static int refuse(const struct wl_view *w, enum control_file f, const char *line, int err,
		  const char *why)
{
	events_add(w->name, "%s: '%.64s' refused: %s (%s)", file_names[f], line, strerror(-err), why);
	return err;
}

static bool is_managed(const struct wl_view *w)
{
	return engine_can(w->engine, ENGINE_MANAGED);
}

/* What a pin job needs, in one allocation (the job frees it with free()):
 * key and name are whole copies in strings[], never cut, so a long cgroup
 * path cannot turn into another workload's. */
struct pin_arg {
	struct wl_view view;	/* id, vm, engine, pid, and key, name pointing into strings */
	cpu_set_t cpus;
	char strings[];
};

static struct pin_arg *pin_arg_new(const struct wl_view *w, const cpu_set_t *cpus)
{
	size_t lk = strlen(w->key) + 1, ln = strlen(w->name) + 1;
	struct pin_arg *a = xcalloc(1, sizeof *a + lk + ln);
	char *key = a->strings, *name = key + lk;

	memcpy(key, w->key, lk);
	memcpy(name, w->name, ln);
	a->view = (struct wl_view){ .id = w->id, .name = name, .key = key, .engine = w->engine,
				    .pid = w->pid, .vm = w->vm };
	a->cpus = *cpus;
	return a;
}

static int run_pin(struct job *job)
{
	struct pin_arg *a = job->arg;
	char list[1024];
	int r = placement_pin(&a->view, &a->cpus);

	cpulist_format(&a->cpus, list, sizeof list);
	if (r < 0) {
		events_add(a->view.name, "placement: pinning to cpus %s failed: %s; placement unchanged",
			   list, strerror(-r));
		return r;
	}
	events_add(a->view.name, "placement: pinned to cpus %s", list);
	/* Return only once a read of placement shows it. */
	sampler_refresh(2000);
	return 0;
}

static int run_migrate(struct job *job)
{
	int r = migrate_run(job->arg);

	/* Return only once this host's tree no longer shows it, and host/stat
	 * counts the move, done or failed. */
	sampler_refresh(2000);
	return r;
}

/* host=PEER: a reachable [host] peer and an engine that can move. */
static int placement_to_peer(const struct snapshot *s, const struct wl_view *w, const char *line,
			     const struct placement_req *req, control_done_fn done, void *ctx)
{
	struct migration *m;
	int r;

	/* Bad input is EINVAL whatever the state of the peer. */
	if (req->has_cpus)
		return refuse(w, CTL_PLACEMENT, line, -EINVAL,
			      "cpus= is for this host: move first, then pin there");
	for (size_t i = 0; i < s->n_peers; i++) {
		const struct peer_view *p = &s->peers[i];

		if (strcmp(p->name, req->host) == 0 && p->probed && !p->reachable)
			return refuse(w, CTL_PLACEMENT, line, -EHOSTUNREACH,
				      "the peer does not answer through its transport");
	}
	m = xcalloc(1, sizeof *m);
	if (migrate_peer(req->host, m) < 0) {
		free(m);
		return refuse(w, CTL_PLACEMENT, line, -EINVAL, "unknown host: not a [host] in the config");
	}
	if (!engine_can_move(w->engine)) {
		free(m);
		return refuse(w, CTL_PLACEMENT, line, -EOPNOTSUPP, w->engine->no_move);
	}
	if (engine_can(w->engine, ENGINE_MOVE_LIBVIRT) && !m->libvirt_uri[0]) {
		free(m);
		return refuse(w, CTL_PLACEMENT, line, -EOPNOTSUPP,
			      "libvirt moves its guests to a peer's libvirtd: the peer's [host] section has no libvirt_uri");
	}
	m->engine = w->engine;
	m->pid = w->pid;
	/* A cut name or key would move another workload: refuse instead. */
	if (path_printf(m->name, sizeof m->name, "%s", w->name) < 0 ||
	    path_printf(m->key, sizeof m->key, "%s", w->key) < 0) {
		free(m);
		return refuse(w, CTL_PLACEMENT, line, -ENAMETOOLONG,
			      "its name or cgroup path is too long to move");
	}
	r = jobs_submit(&(struct job){ .wid = w->id, .run = run_migrate, .done = done, .ctx = ctx, .arg = m });
	if (r < 0) {
		free(m);
		return refuse(w, CTL_PLACEMENT, line, r, "another action on this workload is running");
	}
	events_add(w->name, "placement: moving to %s", req->host);
	return 0;
}

static int write_placement(const struct snapshot *s, const struct wl_view *w, const char *line,
			   control_done_fn done, void *ctx)
{
	struct placement_req req;
	cpu_set_t online, outside;
	struct pin_arg *a;
	int r = control_parse_placement(line, &req);

	if (r == -ERANGE)
		return refuse(w, CTL_PLACEMENT, line, r, "CPU number out of range");
	if (r < 0)
		return refuse(w, CTL_PLACEMENT, line, r, "expected host=NAME cpus=LIST, either alone");
	if (req.has_host && strcmp(req.host, host_name) != 0)
		return placement_to_peer(s, w, line, &req, done, ctx);
	if (!req.has_cpus)
		return 1;	/* host=this host: already there */
	if (placement_online_cpus(&online) < 0)
		return refuse(w, CTL_PLACEMENT, line, -EIO, "cannot read the online CPUs");
	CPU_AND(&outside, &req.cpus, &online);
	if (!CPU_EQUAL(&outside, &req.cpus))
		return refuse(w, CTL_PLACEMENT, line, -ERANGE, "CPU not online on this host");
	if (!engine_can(w->engine, ENGINE_PIN_CPUSET | ENGINE_PIN_VCPUS | ENGINE_MANAGED))
		return refuse(w, CTL_PLACEMENT, line, -EOPNOTSUPP, "cannot pin this engine's guests");

	a = pin_arg_new(w, &req.cpus);
	r = jobs_submit(&(struct job){ .wid = w->id, .run = run_pin, .done = done, .ctx = ctx, .arg = a });
	if (r < 0) {
		free(a);
		return refuse(w, CTL_PLACEMENT, line, r, "another action on this workload is running");
	}
	return 0;
}

struct mode_arg {
	char name[RECIPE_NAME_MAX + 1];
	enum recipe_mode mode;
};

static int run_mode(struct job *job)
{
	struct mode_arg *a = job->arg;
	int r = managed_set_mode(a->name, a->mode);

	/* Return only once kind shows the new mode. */
	sampler_refresh(2000);
	return r;
}

/* Managed workloads switch on a worker (it takes seconds); auto is only a
 * setting, kept for the policy. */
static int write_managed_mode(const struct wl_view *w, const char *line, enum mode m,
			      control_done_fn done, void *ctx)
{
	static const enum recipe_mode to_recipe[] = {
		[MODE_CONTAINER] = RECIPE_CONTAINER, [MODE_VM] = RECIPE_VM, [MODE_AUTO] = RECIPE_AUTO,
	};
	struct mode_arg *a;
	int r;

	if (m == MODE_AUTO) {
		r = managed_set_mode(w->key, RECIPE_AUTO);
		if (r < 0)
			return refuse(w, CTL_MODE, line, r, r == -EBUSY ? "a switch of it is running"
								       : "no such managed workload");
		events_add(w->name, "mode: auto (the policy decides)");
		return 1;
	}
	a = xcalloc(1, sizeof *a);
	if (path_printf(a->name, sizeof a->name, "%s", w->key) < 0) {
		free(a);
		return refuse(w, CTL_MODE, line, -ENAMETOOLONG, "no such managed workload");
	}
	a->mode = to_recipe[m];
	r = jobs_submit(&(struct job){ .wid = w->id, .run = run_mode, .done = done, .ctx = ctx, .arg = a });
	if (r < 0) {
		free(a);
		return refuse(w, CTL_MODE, line, r, "another action on this workload is running");
	}
	return 0;
}

/* Discovered workloads run in the mode their engine gave them: writing that
 * mode is a no-op (and ends auto), switching needs a recipe (managed
 * workloads). auto lets the policy move them between hosts, so it needs an
 * engine that can move. */
static int write_mode(const struct wl_view *w, const char *line, control_done_fn done, void *ctx)
{
	enum mode m;

	if (control_parse_mode(line, &m) < 0)
		return refuse(w, CTL_MODE, line, -EINVAL, "expected container, vm or auto");
	if (is_managed(w))
		return write_managed_mode(w, line, m, done, ctx);
	if (m == MODE_AUTO) {
		if (!engine_can_move(w->engine))
			return refuse(w, CTL_MODE, line, -EOPNOTSUPP, w->engine->no_move);
		if (policy_set_auto(w->id, true))
			events_add(w->name, "mode: auto (the policy may move it to a peer; "
				   "a discovered workload keeps its mode)");
		return 1;
	}
	if (m == (w->vm ? MODE_VM : MODE_CONTAINER)) {
		if (policy_set_auto(w->id, false))
			events_add(w->name, "mode: %s, auto off", w->vm ? "vm" : "container");
		return 1;
	}
	return refuse(w, CTL_MODE, line, -EOPNOTSUPP,
		      "a discovered workload runs in the mode its engine gave it");
}

static int write_prefetch(const struct wl_view *w, const char *line)
{
	bool on;

	if (control_parse_prefetch(line, &on) < 0)
		return refuse(w, CTL_PREFETCH, line, -EINVAL, "expected on or off");
	/* a managed workload keeps it for when it runs as a container */
	if (w->vm && !is_managed(w))
		return refuse(w, CTL_PREFETCH, line, -EOPNOTSUPP, "sibling prefetch is for containers");
	if (prefetch_set(w, on))
		events_add(w->name, "prefetch: %s", on ? "on" : "off");
	return 1;
}

int control_write(const struct snapshot *s, const struct wl_view *w, enum control_file f,
		  const char *buf, size_t len, control_done_fn done, void *ctx)
{
	char line[CONTROL_MAX_LINE + 1];
	int r;

	if (control_line(buf, len, line, sizeof line) < 0)
		return refuse(w, f, "", -EINVAL, "one line of at most 4096 bytes, no NUL bytes");
	switch (f) {
	case CTL_PLACEMENT:
		r = write_placement(s, w, line, done, ctx);
		break;
	case CTL_MODE:
		r = write_mode(w, line, done, ctx);
		break;
	case CTL_PREFETCH:
		r = write_prefetch(w, line);
		break;
	default:
		return -EINVAL;
	}
	/* A setting done at once reads back at once: files render from the
	 * snapshot, which holds the settings (queued actions refresh it when
	 * they are done). */
	if (r == 1)
		sampler_refresh(2000);
	return r;
}

/* What the snapshot shows of w's settings and of what runs for it. */
static void state_of_workload(const struct wl_view *w, struct wl_act *out)
{
	enum recipe_mode setting = w->vm ? RECIPE_VM : RECIPE_CONTAINER;

	/* managed: the setting (kind says what runs now) */
	if (is_managed(w))
		managed_mode(w->key, &setting);
	else if (policy_auto(w->id))
		setting = RECIPE_AUTO;
	out->mode = setting;
	out->prefetch_on = prefetch_enabled(w);
	out->have_prefetch = prefetch_get_stats(w->id, &out->prefetch);
	out->prefetch_last_skipped = prefetch_skip_name(out->prefetch.last_skipped);
	out->moving = migrate_get_progress(w->key, &out->move);
	if (out->moving)
		out->move_elapsed_usec = now_usec() - out->move.start_usec;
}

static void state_of_host(struct host_act *out)
{
	snprintf(out->host_name, sizeof out->host_name, "%s", host_name);
	migrate_get_stats(&out->migrations);
}

static const struct actuator_source source = {
	.workload = state_of_workload,
	.host = state_of_host,
};

int control_start(const struct config *cfg)
{
	snprintf(host_name, sizeof host_name, "%s", cfg->host_name);
	placement_init(cfg);
	placement_set_state_dir(cfg->state_dir);
	/* before any job can pin */
	placement_recover();
	/* before the sampler's first snapshot */
	sampler_set_actuator_source(&source);
	if (jobs_start(2) < 0)
		return -1;
	return managed_start(cfg);
}

void control_stop(void)
{
	sampler_set_actuator_source(NULL);
	jobs_stop();
	managed_stop();
	placement_fini();
	policy_auto_clear();
}
