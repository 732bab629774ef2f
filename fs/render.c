#include "render.h"
#include "events.h"
#include "util.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

static void put_value(struct strbuf *out, enum metric_fmt fmt, double v)
{
	strbuf_printf(out, fmt == FMT_INT ? "%.0f" : "%.2f", v);
}

void render_flat(const struct metric_def *defs, int n, const struct metric_set *m,
		 const char *file, struct strbuf *out)
{
	for (int i = 0; i < n; i++) {
		if (!defs[i].file || strcmp(defs[i].file, file) != 0 || !metric_has(m, i))
			continue;
		strbuf_printf(out, "%s ", defs[i].key);
		put_value(out, defs[i].fmt, m->v[i]);
		strbuf_append(out, "\n", 1);
	}
}

/* In stat, keys carry their file as prefix: cpu_usage_usec, io_read_bytes.
 * sched_wait's keys already say "wait", so its prefix is just "sched"; a
 * key that already starts with its file's name is not prefixed twice
 * (load's load1 stays load1, never load_load1). */
static void put_stat_key(struct strbuf *out, const char *file, const char *key)
{
	const char *prefix = strcmp(file, "sched_wait") == 0 ? "sched" : file;

	if (strncmp(key, prefix, strlen(prefix)) == 0)
		strbuf_printf(out, "%s ", key);
	else
		strbuf_printf(out, "%s_%s ", prefix, key);
}

void render_stat(const struct metric_def *defs, int n, const struct metric_set *m,
		 struct strbuf *out)
{
	for (int i = 0; i < n; i++) {
		if (!defs[i].file || !metric_has(m, i))
			continue;
		put_stat_key(out, defs[i].file, defs[i].key);
		put_value(out, defs[i].fmt, m->v[i]);
		strbuf_append(out, "\n", 1);
	}
}

static void put_prom_value(struct strbuf *out, const struct metric_def *d, double v)
{
	if (d->prom_scale != 1)
		strbuf_printf(out, " %.6f\n", v * d->prom_scale);
	else
		strbuf_printf(out, d->fmt == FMT_INT ? " %.0f\n" : " %.2f\n", v);
}

static void put_prom_header(struct strbuf *out, const struct metric_def *d, const char *suffix)
{
	strbuf_printf(out, "# HELP adapt_%s%s %s\n# TYPE adapt_%s%s %s\n", d->prom, suffix, d->help,
		      d->prom, suffix, d->counter ? "counter" : "gauge");
}

/* Label values are escaped as the text format demands: \\ \" \n. */
static void put_label_value(struct strbuf *out, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			strbuf_printf(out, "\\%c", *v);
		else if (*v == '\n')
			strbuf_append(out, "\\n", 2);
		else
			strbuf_append(out, v, 1);
	}
}

static void put_wl_labels(struct strbuf *out, const struct wl_view *w)
{
	strbuf_append(out, "{workload=\"", 11);
	put_label_value(out, w->name);
	strbuf_printf(out, "\",kind=\"%s\",engine=\"%s\"", w->vm ? "vm" : "container", w->engine->name);
}

static void render_prefetch_prom(const struct snapshot *s, struct strbuf *out);

#ifndef ADAPTFS_VERSION
#define ADAPTFS_VERSION "unknown"
#endif

/* The daemon's own health: which build, how fresh, how slow. A scraper tells
 * a hung sampler (timestamp stands still) from a quiet host this way. */
static void render_daemon_prom(const struct snapshot *s, struct strbuf *out)
{
	strbuf_printf(out, "# HELP adapt_build_info The adaptfs version serving these figures (always 1).\n"
			   "# TYPE adapt_build_info gauge\n"
			   "adapt_build_info{version=\"%s\"} 1\n", ADAPTFS_VERSION);
	strbuf_printf(out, "# HELP adapt_last_sample_timestamp_seconds Wall time of the snapshot these figures are from.\n"
			   "# TYPE adapt_last_sample_timestamp_seconds gauge\n"
			   "adapt_last_sample_timestamp_seconds %llu.%06llu\n",
		      (unsigned long long)(s->wall_usec / 1000000),
		      (unsigned long long)(s->wall_usec % 1000000));
	strbuf_printf(out, "# HELP adapt_sample_duration_seconds Time the last full sample round (host and every workload) took.\n"
			   "# TYPE adapt_sample_duration_seconds gauge\n"
			   "adapt_sample_duration_seconds %.6f\n", (double)s->round_usec / 1e6);
}

/* Moves to peers (host/stat's migrations, migrations_failed and the last
 * move's times) and the peers' reachability (hosts' reachable=). */
static void render_fleet_prom(const struct snapshot *s, struct strbuf *out)
{
	const struct migrate_stats *m = &s->act.migrations;
	bool header = false;

	strbuf_printf(out, "# HELP adapt_migrations_total Moves of workloads to a peer host since start, by result.\n"
			   "# TYPE adapt_migrations_total counter\n"
			   "adapt_migrations_total{result=\"done\"} %llu\n"
			   "adapt_migrations_total{result=\"failed\"} %llu\n",
		      (unsigned long long)m->done, (unsigned long long)m->failed);
	if (m->done)
		strbuf_printf(out, "# HELP adapt_migration_last_duration_seconds Time the last move to a peer took.\n"
				   "# TYPE adapt_migration_last_duration_seconds gauge\n"
				   "adapt_migration_last_duration_seconds %.6f\n"
				   "# HELP adapt_migration_last_downtime_seconds Time the last moved workload did not run.\n"
				   "# TYPE adapt_migration_last_downtime_seconds gauge\n"
				   "adapt_migration_last_downtime_seconds %.6f\n",
			      (double)m->last_total_usec / 1e6, (double)m->last_downtime_usec / 1e6);
	for (size_t i = 0; i < s->n_peers; i++) {
		const struct peer_view *p = &s->peers[i];

		if (!p->probed)
			continue;	/* unknown is left out, never shown as down */
		if (!header)
			strbuf_printf(out, "# HELP adapt_peer_up Whether the peer host answered its last probe.\n"
					   "# TYPE adapt_peer_up gauge\n");
		header = true;
		strbuf_append(out, "adapt_peer_up{host=\"", 20);
		put_label_value(out, p->name);
		strbuf_printf(out, "\"} %d\n", p->reachable ? 1 : 0);
	}
}

void render_prom(const struct snapshot *s, struct strbuf *out)
{
	render_daemon_prom(s, out);
	render_fleet_prom(s, out);
	for (int i = 0; i < H_COUNT; i++) {
		const struct metric_def *d = &host_metrics[i];
		const char *suffix = d->counter ? "_total" : "";

		if (!d->prom || !metric_has(&s->host, i))
			continue;
		put_prom_header(out, d, suffix);
		strbuf_printf(out, "adapt_%s%s", d->prom, suffix);
		put_prom_value(out, d, s->host.v[i]);
	}
	strbuf_printf(out, "# HELP adapt_workloads Workloads adaptfs shows.\n"
			   "# TYPE adapt_workloads gauge\nadapt_workloads %zu\n", s->n);
	for (int i = 0; i < M_WL_COUNT; i++) {
		const struct metric_def *d = &wl_metrics[i];
		const char *suffix = d->counter ? "_total" : "";
		bool header = false;

		if (!d->prom)
			continue;
		for (size_t k = 0; k < s->n; k++) {
			if (!metric_has(&s->wl[k].m, i))
				continue;
			if (!header)
				put_prom_header(out, d, suffix);
			header = true;
			strbuf_printf(out, "adapt_%s%s", d->prom, suffix);
			put_wl_labels(out, &s->wl[k]);
			strbuf_append(out, "}", 1);
			put_prom_value(out, d, s->wl[k].m.v[i]);
		}
	}
	render_prefetch_prom(s, out);
	if (s->n)
		strbuf_printf(out, "# HELP adapt_class Dominant demand of the workload (1 for its class).\n"
				   "# TYPE adapt_class gauge\n");
	for (size_t k = 0; k < s->n; k++) {
		strbuf_append(out, "adapt_class", 11);
		put_wl_labels(out, &s->wl[k]);
		strbuf_printf(out, ",class=\"%s\",mode=\"%s\"} 1\n", class_name(s->wl[k].class),
			      s->wl[k].recommend_vm ? "vm" : "container");
	}
}

static const struct {
	const char *key;
	size_t off;
	const char *help;
} prefetch_keys[] = {
	{ "triggers", offsetof(struct prefetch_stats, triggers), "Page-ins that started a sibling prefetch." },
	{ "bytes", offsetof(struct prefetch_stats, bytes), "Swapped-out bytes of siblings asked back." },
	{ "read_bytes", offsetof(struct prefetch_stats, bytes_read), "Bytes of siblings brought back by finished read-backs." },
	{ "skipped_budget", offsetof(struct prefetch_stats, skipped_budget), "Prefetches cut short or skipped for lack of headroom." },
	{ "skipped_cooldown", offsetof(struct prefetch_stats, skipped_cooldown), "Page-ins too soon after a prefetch." },
	{ "skipped_thrash", offsetof(struct prefetch_stats, skipped_thrash), "Page-ins skipped while the container thrashed." },
	{ "skipped_running", offsetof(struct prefetch_stats, skipped_running), "Page-ins skipped while the last read-back still ran." },
	{ "skipped_empty", offsetof(struct prefetch_stats, skipped_empty), "Page-ins that found no sibling memory in swap." },
	{ "skipped_contested", offsetof(struct prefetch_stats, skipped_contested), "Page-ins while a neighbour filled the room under a limited ancestor." },
	{ "skipped_pushed", offsetof(struct prefetch_stats, skipped_pushed), "Page-ins of fewer than min_faults faults while the container was pushed to swap." },
	{ "sibling_faults", offsetof(struct prefetch_stats, sibling_faults), "Siblings' major faults within the window after a trigger." },
};

/* Prefetch counters, in stat, of containers that ever had prefetch on. */
static void render_prefetch_stats(const struct wl_view *w, struct strbuf *out)
{
	const struct prefetch_stats *pst = &w->act.prefetch;

	if (!w->act.have_prefetch)
		return;
	for (size_t i = 0; i < sizeof prefetch_keys / sizeof prefetch_keys[0]; i++)
		strbuf_printf(out, "prefetch_%s %lu\n", prefetch_keys[i].key,
			      *(const uint64_t *)((const char *)pst + prefetch_keys[i].off));
	strbuf_printf(out, "prefetch_last_skipped %s\n", w->act.prefetch_last_skipped);
	if (pst->last_skipped)
		strbuf_printf(out, "prefetch_last_skipped_pid %d\n", pst->last_skipped_pid);
	if (pst->have_last) {
		char comm[64];

		/* one token: a comm may hold spaces and any byte */
		str_escape(pst->last.comm, comm, sizeof comm);
		for (char *c = comm; *c; c++)
			if (*c == ' ')
				*c = '_';
		strbuf_printf(out, "prefetch_last_trigger_pid %d\nprefetch_last_trigger_comm %s\n"
				   "prefetch_last_asked_bytes %lu\nprefetch_last_read_bytes %lu\n"
				   "prefetch_last_room_bytes %lu\nprefetch_last_first_usec %lu\n"
				   "prefetch_last_usec %lu\n",
			      pst->last.pid, comm[0] ? comm : "-", pst->last.asked, pst->last.read,
			      pst->last.room, pst->last.first_usec, pst->last.usec);
	}
}

static void render_prefetch_prom(const struct snapshot *s, struct strbuf *out)
{
	for (size_t i = 0; i < sizeof prefetch_keys / sizeof prefetch_keys[0]; i++) {
		bool header = false;

		for (size_t k = 0; k < s->n; k++) {
			const struct wl_act *a = &s->wl[k].act;

			if (!a->have_prefetch)
				continue;
			if (!header)
				strbuf_printf(out, "# HELP adapt_prefetch_%s_total %s\n"
						   "# TYPE adapt_prefetch_%s_total counter\n",
					      prefetch_keys[i].key, prefetch_keys[i].help, prefetch_keys[i].key);
			header = true;
			strbuf_printf(out, "adapt_prefetch_%s_total", prefetch_keys[i].key);
			put_wl_labels(out, &s->wl[k]);
			strbuf_printf(out, "} %lu\n",
				      *(const uint64_t *)((const char *)&a->prefetch + prefetch_keys[i].off));
		}
	}
}

/* A move to a peer under way (placement host=), as the snapshot caught it:
 * "phase none" when there is none. */
static void render_migration(const struct wl_view *w, struct strbuf *out)
{
	const struct migrate_progress *p = &w->act.move;

	if (!w->act.moving) {
		strbuf_printf(out, "phase none\n");
		return;
	}
	strbuf_printf(out, "phase %s\nhost %s\nelapsed_usec %llu\n", p->phase, p->host,
		      (unsigned long long)w->act.move_elapsed_usec);
	if (p->live)
		strbuf_printf(out,
			      "sent_bytes %llu\nremaining_bytes %llu\ntotal_bytes %llu\n"
			      "dirty_bytes_per_sec %llu\nbandwidth_bytes_per_sec %llu\n"
			      "expected_downtime_usec %llu\npasses %llu\nthrottle_percent %u\n",
			      (unsigned long long)p->sent_bytes, (unsigned long long)p->remaining_bytes,
			      (unsigned long long)p->total_bytes, (unsigned long long)p->dirty_bytes_per_sec,
			      (unsigned long long)p->bandwidth_bytes_per_sec,
			      (unsigned long long)p->expected_downtime_usec, (unsigned long long)p->passes,
			      p->throttle_percent);
}

/* Control files read back in the syntax they accept. */
static void render_placement(const struct snapshot *s, const struct wl_view *w, struct strbuf *out)
{
	/* "cpus=" with no list would not be writable back */
	if (w->cpus && w->cpus[0])
		strbuf_printf(out, "host=%s cpus=%s\n", s->act.host_name, w->cpus);
	else
		strbuf_printf(out, "host=%s\n", s->act.host_name);
}

static void render_mode(const struct wl_view *w, struct strbuf *out)
{
	/* the setting in brackets (kind says what runs now) */
	strbuf_printf(out, "%s\n", w->act.mode == RECIPE_VM ? "container [vm] auto" :
				    w->act.mode == RECIPE_AUTO ? "container vm [auto]" :
								 "[container] vm auto");
}

static void render_wl_file(const struct snapshot *s, const struct wl_view *w, int file,
			   struct strbuf *out)
{
	switch (file) {
	case WF_KIND:
		strbuf_printf(out, "%s %s\n", w->vm ? "vm" : "container", w->engine->name);
		break;
	case WF_CLASS:
		strbuf_printf(out, "%s mode=%s\n", class_name(w->class),
			      w->recommend_vm ? "vm" : "container");
		break;
	case WF_MIGRATION:
		render_migration(w, out);
		break;
	case WF_PLACEMENT:
		render_placement(s, w, out);
		break;
	case WF_MODE:
		render_mode(w, out);
		break;
	case WF_PREFETCH:
		strbuf_printf(out, w->act.prefetch_on ? "[on] off\n" : "on [off]\n");
		break;
	case WF_STAT:
		render_stat(wl_metrics, M_WL_COUNT, &w->m, out);
		render_prefetch_stats(w, out);
		strbuf_printf(out, "timestamp_usec %llu\n", (unsigned long long)s->wall_usec);
		if (w->rate_usec)
			strbuf_printf(out, "interval_usec %llu\n", (unsigned long long)w->rate_usec);
		break;
	default:
		render_flat(wl_metrics, M_WL_COUNT, &w->m, wl_file_names[file], out);
	}
}

/* Moves to peers since start (placement host=): counts and the last one. */
static void render_migrations(const struct snapshot *s, struct strbuf *out)
{
	const struct migrate_stats *m = &s->act.migrations;

	strbuf_printf(out, "migrations %llu\nmigrations_failed %llu\nmigrations_active %llu\n"
			   "migrations_postcopy %llu\nmigrations_throttled %llu\n",
		      (unsigned long long)m->done, (unsigned long long)m->failed,
		      (unsigned long long)m->active, (unsigned long long)m->postcopy,
		      (unsigned long long)m->throttled);
	if (m->done)
		strbuf_printf(out, "migration_last_total_usec %llu\nmigration_last_downtime_usec %llu\n",
			      (unsigned long long)m->last_total_usec,
			      (unsigned long long)m->last_downtime_usec);
}

/* Rendered once per snapshot: scrapers of a big host share the work. */
struct shared_text *render_prom_cached(struct snapshot *s)
{
	struct shared_text *t;

	pthread_mutex_lock(&s->cache_lock);
	if (!s->prom) {
		struct strbuf sb = {0};

		render_prom(s, &sb);
		s->prom = shared_text_new(&sb);
		strbuf_free(&sb);
	}
	t = shared_text_get(s->prom);
	pthread_mutex_unlock(&s->cache_lock);
	return t;
}

int render_node(struct snapshot *s, const struct node *n, struct strbuf *out)
{
	const struct wl_view *w;

	switch (n->kind) {
	case N_EVENTS:
		events_render(out);
		return 0;
	case N_METRICS: {
		struct shared_text *prom = render_prom_cached(s);

		strbuf_append(out, prom->buf, prom->len);
		shared_text_put(prom);
		return 0;
	}
	case N_HOSTS:
		/* nested keyed, like io.stat: one peer per line */
		for (size_t i = 0; i < s->n_peers; i++) {
			const struct peer_view *p = &s->peers[i];

			strbuf_printf(out, "%s address=%s", p->name, p->address);
			if (p->cores)
				strbuf_printf(out, " cores=%d", p->cores);
			if (p->probed)
				strbuf_printf(out, " reachable=%s", p->reachable ? "yes" : "no");
			strbuf_append(out, "\n", 1);
		}
		return 0;
	case N_HOST_FILE:
		if (n->file == HF_STAT) {
			render_stat(host_metrics, H_COUNT, &s->host, out);
			strbuf_printf(out, "timestamp_usec %llu\n", (unsigned long long)s->wall_usec);
			if (s->interval_usec)
				strbuf_printf(out, "interval_usec %llu\n",
					      (unsigned long long)s->interval_usec);
			render_migrations(s, out);
		}
		else
			render_flat(host_metrics, H_COUNT, &s->host, host_file_names[n->file], out);
		return 0;
	case N_WL_FILE:
		w = snapshot_find_id(s, n->wid);
		if (!w)
			return -ENOENT;
		render_wl_file(s, w, n->file, out);
		return 0;
	default:
		return -EISDIR;
	}
}
