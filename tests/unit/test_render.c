/* Rendering from a hand-built snapshot, and the inode scheme of fs/nodes.c. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nodes.h"
#include "render.h"
#include "util.h"

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* Two workloads: "web" with cpu and io, and one with a hostile name and
 * only threads; host with a few figures. */
static int snap_setup(void **state)
{
	struct snapshot *s = snapshot_new(2);

	s->seq = 7;
	s->wall_usec = 1700000000123456ULL;
	s->interval_usec = 1000000;
	s->wl[0] = (struct wl_view){ .id = 1, .name = xstrdup("web"), .engine = engine_get("lxc"),
				     .class = CLASS_CPU, .recommend_vm = true };
	metric_set(&s->wl[0].m, M_CPU_USAGE_PERCENT, 12.345);
	metric_set(&s->wl[0].m, M_CPU_USAGE_USEC, 2500000);
	metric_set(&s->wl[0].m, M_CPU_USER_USEC, 2000000);
	metric_set(&s->wl[0].m, M_IO_READ_BYTES, 4096);
	metric_set(&s->wl[0].m, M_IO_DELAY_USEC, 77);	/* hidden */
	metric_set(&s->wl[0].m, M_SCHED_WAIT_USEC, 1500);
	metric_set(&s->wl[0].m, M_THREADS_TOTAL, 4);
	s->wl[1] = (struct wl_view){ .id = 2, .name = xstrdup("we\"ird\\na\nme"), .engine = engine_get("docker"),
				     .vm = true, .class = CLASS_IDLE };
	metric_set(&s->wl[1].m, M_THREADS_TOTAL, 9);
	metric_set(&s->host, H_CORES, 8);
	metric_set(&s->host, H_LOAD1, 0.5);
	metric_set(&s->host, H_CPU_USAGE_USEC, 3000000);
	metric_set(&s->host, H_MEM_TOTAL_BYTES, 1073741824);
	snapshot_index(s);
	*state = s;
	return 0;
}

static int snap_teardown(void **state)
{
	snapshot_put(*state);
	return 0;
}

static void flat_file_lists_present_metrics_of_that_file_only(void **state)
{
	struct snapshot *s = *state;
	const struct wl_view *w = snapshot_find_name(s, "web");
	struct strbuf out = {0};

	assert_non_null(w);
	render_flat(wl_metrics, M_WL_COUNT, &w->m, "cpu", &out);
	assert_string_equal(out.buf, "usage_percent 12.35\nusage_usec 2500000\nuser_usec 2000000\n");
	strbuf_reset(&out);
	render_flat(wl_metrics, M_WL_COUNT, &w->m, "io", &out);
	/* No write_bytes, no rates, no wait_percent: absent is left out, never 0. */
	assert_string_equal(out.buf, "read_bytes 4096\n");
	strbuf_reset(&out);
	render_flat(wl_metrics, M_WL_COUNT, &w->m, "major_faults", &out);
	assert_true(out.len == 0);
	strbuf_free(&out);
}

static void stat_prefixes_keys_with_their_file_and_hides_internal_counters(void **state)
{
	struct snapshot *s = *state;
	const struct wl_view *w = snapshot_find_name(s, "web");
	struct strbuf out = {0};

	render_stat(wl_metrics, M_WL_COUNT, &w->m, &out);
	assert_string_equal(out.buf,
			    "cpu_usage_percent 12.35\n"
			    "cpu_usage_usec 2500000\n"
			    "cpu_user_usec 2000000\n"
			    "io_read_bytes 4096\n"
			    "threads_total 4\n"
			    "sched_wait_usec 1500\n");
	assert_null(strstr(out.buf, "io_delay"));
	strbuf_free(&out);
}

static void host_stat_covers_every_present_host_metric(void **state)
{
	struct snapshot *s = *state;
	struct strbuf out = {0};

	render_stat(host_metrics, H_COUNT, &s->host, &out);
	assert_string_equal(out.buf,
			    "cores_online 8\n"
			    "cpu_usage_usec 3000000\n"
			    "load1 0.50\n"
			    "memory_total_bytes 1073741824\n");
	strbuf_free(&out);
}

static void prom_has_help_and_type_once_per_family(void **state)
{
	struct snapshot *s = *state;
	struct strbuf out = {0};

	render_prom(s, &out);
	/* threads is present in both workloads: one header, two samples. */
	assert_int_equal(count(out.buf, "# HELP adapt_threads "), 1);
	assert_int_equal(count(out.buf, "# TYPE adapt_threads gauge\n"), 1);
	assert_int_equal(count(out.buf, "\nadapt_threads{"), 2);
	assert_int_equal(count(out.buf, "# TYPE adapt_class gauge\n"), 1);
	assert_int_equal(count(out.buf, "# HELP adapt_workloads "), 1);
	assert_non_null(strstr(out.buf, "\nadapt_workloads 2\n"));
	/* Every line is a comment or a sample; every family's TYPE precedes its samples. */
	for (char *line = out.buf; *line;) {
		char *nl = strchr(line, '\n');

		assert_non_null(nl);
		if (line[0] != '#') {
			char name[128];
			size_t k = strcspn(line, "{ ");
			char type_line[160];

			assert_true(k < sizeof name);
			memcpy(name, line, k);
			name[k] = '\0';
			snprintf(type_line, sizeof type_line, "# TYPE %s ", name);
			char *t = strstr(out.buf, type_line);
			assert_non_null(t);
			assert_true(t < line);
		}
		line = nl + 1;
	}
	/* Absent metrics are not exported (nobody has write_bytes). */
	assert_null(strstr(out.buf, "adapt_io_write_bytes"));
	strbuf_free(&out);
}

static void prom_counters_end_in_total_and_are_scaled_to_seconds(void **state)
{
	struct snapshot *s = *state;
	struct strbuf out = {0};

	render_prom(s, &out);
	assert_non_null(strstr(out.buf, "# TYPE adapt_cpu_usage_seconds_total counter\n"));
	assert_non_null(strstr(out.buf,
			       "adapt_cpu_usage_seconds_total{workload=\"web\",kind=\"container\","
			       "engine=\"lxc\"} 2.500000\n"));
	assert_non_null(strstr(out.buf, "adapt_io_read_bytes_total{workload=\"web\""));
	assert_non_null(strstr(out.buf, "# TYPE adapt_host_cpu_usage_seconds_total counter\n"
					"adapt_host_cpu_usage_seconds_total 3.000000\n"));
	assert_non_null(strstr(out.buf, "# TYPE adapt_cpu_usage_percent gauge\n"
					"adapt_cpu_usage_percent{workload=\"web\",kind=\"container\","
					"engine=\"lxc\"} 12.35\n"));
	assert_non_null(strstr(out.buf, "\nadapt_host_cores 8\n"));
	/* Gauges never get _total. */
	assert_null(strstr(out.buf, "adapt_threads_total"));
	assert_null(strstr(out.buf, "adapt_cpu_usage_percent_total"));
	strbuf_free(&out);
}

static void prom_escapes_label_values(void **state)
{
	struct snapshot *s = *state;
	struct strbuf out = {0};

	render_prom(s, &out);
	assert_non_null(strstr(out.buf, "adapt_threads{workload=\"we\\\"ird\\\\na\\nme\",kind=\"vm\","
					"engine=\"docker\"} 9\n"));
	strbuf_free(&out);
}

static void prom_has_one_class_line_per_workload(void **state)
{
	struct snapshot *s = *state;
	struct strbuf out = {0};

	render_prom(s, &out);
	assert_int_equal(count(out.buf, "\nadapt_class{"), 2);
	assert_non_null(strstr(out.buf, "adapt_class{workload=\"web\",kind=\"container\",engine=\"lxc\","
					"class=\"cpu\",mode=\"vm\"} 1\n"));
	assert_non_null(strstr(out.buf, ",class=\"idle\",mode=\"container\"} 1\n"));
	strbuf_free(&out);
}

static void prom_of_empty_snapshot_has_no_class_header(void **state)
{
	struct snapshot *s = snapshot_new(0);
	struct strbuf out = {0};

	(void)state;
	snapshot_index(s);
	render_prom(s, &out);
	assert_non_null(strstr(out.buf, "# HELP adapt_workloads Workloads adaptfs shows.\n"
					"# TYPE adapt_workloads gauge\nadapt_workloads 0\n"));
	assert_null(strstr(out.buf, "adapt_class"));
	strbuf_free(&out);
	snapshot_put(s);
}

static void prom_carries_sample_time_duration_and_build(void **state)
{
	struct snapshot *s = snapshot_new(0);
	struct strbuf out = {0};

	(void)state;
	s->wall_usec = 1765012345000042ULL;
	s->round_usec = 1500;
	snapshot_index(s);
	render_prom(s, &out);
	assert_non_null(strstr(out.buf, "\nadapt_last_sample_timestamp_seconds 1765012345.000042\n"));
	assert_non_null(strstr(out.buf, "\nadapt_sample_duration_seconds 0.001500\n"));
	assert_non_null(strstr(out.buf, "\nadapt_build_info{version=\""));
	assert_non_null(strstr(out.buf, "\nadapt_migrations_total{result=\"failed\"} 0\n"));
	/* no peers configured: no adapt_peer_up at all */
	assert_null(strstr(out.buf, "adapt_peer_up"));
	strbuf_free(&out);
	snapshot_put(s);
}

static void render_node_renders_workload_files_by_id(void **state)
{
	struct snapshot *s = *state;
	struct strbuf out = {0};
	struct node n = { .kind = N_WL_FILE, .file = WF_KIND, .wid = 2 };

	assert_int_equal(render_node(s, &n, &out), 0);
	assert_string_equal(out.buf, "vm docker\n");
	strbuf_reset(&out);
	n = (struct node){ .kind = N_WL_FILE, .file = WF_CLASS, .wid = 1 };
	assert_int_equal(render_node(s, &n, &out), 0);
	assert_string_equal(out.buf, "cpu mode=vm\n");
	strbuf_reset(&out);
	n = (struct node){ .kind = N_WL_FILE, .file = WF_STAT, .wid = 2 };
	assert_int_equal(render_node(s, &n, &out), 0);
	/* before a workload's second sample its rates have no span yet */
	assert_string_equal(out.buf, "threads_total 9\ntimestamp_usec 1700000000123456\n");
	strbuf_reset(&out);
	n = (struct node){ .kind = N_WL_FILE, .file = WF_THREADS, .wid = 1 };
	assert_int_equal(render_node(s, &n, &out), 0);
	assert_string_equal(out.buf, "total 4\n");
	strbuf_reset(&out);
	n = (struct node){ .kind = N_HOST_FILE, .file = HF_LOAD };
	assert_int_equal(render_node(s, &n, &out), 0);
	assert_string_equal(out.buf, "load1 0.50\n");
	strbuf_free(&out);
}

/* Actuator state comes from the snapshot only: stat and metrics.prom of one
 * snapshot show the same prefetch counters, and the control files read back
 * its settings. */
static void stat_prom_and_control_files_render_the_snapshots_actuator_state(void **state)
{
	struct snapshot *s = *state;
	struct wl_view *w = (struct wl_view *)snapshot_find_name(s, "web");
	struct strbuf out = {0};
	struct node n = { .kind = N_WL_FILE, .file = WF_STAT, .wid = 1 };

	w->act = (struct wl_act){ .mode = RECIPE_AUTO, .prefetch_on = true, .have_prefetch = true,
				  .prefetch = { .triggers = 42, .bytes_read = 8192 },
				  .prefetch_last_skipped = "none" };
	snprintf(s->act.host_name, sizeof s->act.host_name, "%s", "hA");
	s->act.migrations.done = 3;
	assert_int_equal(render_node(s, &n, &out), 0);
	assert_non_null(strstr(out.buf, "\nprefetch_triggers 42\n"));
	assert_non_null(strstr(out.buf, "\nprefetch_read_bytes 8192\n"));
	assert_non_null(strstr(out.buf, "\nprefetch_last_skipped none\n"));
	strbuf_reset(&out);
	render_prom(s, &out);
	assert_non_null(strstr(out.buf, "adapt_prefetch_triggers_total{workload=\"web\",kind=\"container\",engine=\"lxc\"} 42\n"));
	assert_non_null(strstr(out.buf, "adapt_migrations_total{result=\"done\"} 3\n"));
	/* the other workload never had prefetch on: no line */
	assert_int_equal(count(out.buf, "adapt_prefetch_triggers_total{"), 1);
	strbuf_reset(&out);
	n.file = WF_MODE;
	assert_int_equal(render_node(s, &n, &out), 0);
	assert_string_equal(out.buf, "container vm [auto]\n");
	strbuf_reset(&out);
	n.file = WF_PREFETCH;
	assert_int_equal(render_node(s, &n, &out), 0);
	assert_string_equal(out.buf, "[on] off\n");
	strbuf_reset(&out);
	n.file = WF_PLACEMENT;
	assert_int_equal(render_node(s, &n, &out), 0);
	assert_string_equal(out.buf, "host=hA\n");
	strbuf_reset(&out);
	n = (struct node){ .kind = N_HOST_FILE, .file = HF_STAT };
	assert_int_equal(render_node(s, &n, &out), 0);
	assert_non_null(strstr(out.buf, "\nmigrations 3\n"));
	strbuf_free(&out);
}

static void render_node_of_vanished_workload_is_enoent(void **state)
{
	struct snapshot *s = *state;
	struct strbuf out = {0};
	struct node n = { .kind = N_WL_FILE, .file = WF_CPU, .wid = 99 };

	assert_int_equal(render_node(s, &n, &out), -ENOENT);
	n = (struct node){ .kind = N_ROOT };
	assert_int_equal(render_node(s, &n, &out), -EISDIR);
	strbuf_free(&out);
}

static void metrics_prom_is_rendered_once_per_snapshot(void **state)
{
	struct snapshot *s = *state;
	struct strbuf a = {0}, b = {0}, direct = {0};
	struct node n = { .kind = N_METRICS };

	assert_int_equal(render_node(s, &n, &a), 0);
	assert_non_null(s->prom);
	assert_int_equal(render_node(s, &n, &b), 0);
	render_prom(s, &direct);
	assert_string_equal(a.buf, b.buf);
	assert_string_equal(a.buf, direct.buf);
	strbuf_free(&a);
	strbuf_free(&b);
	strbuf_free(&direct);
}

/* ---- nodes ---------------------------------------------------------- */

static void round_trip(const struct node *n)
{
	struct node back;
	uint64_t ino = node_ino(n);

	assert_true(ino != 0);
	assert_true(node_from_ino(ino, &back));
	assert_int_equal(back.kind, n->kind);
	assert_int_equal(back.file, n->file);
	assert_int_equal(back.wid, n->wid);
}

static void every_node_kind_round_trips_through_its_inode(void **state)
{
	static const uint64_t wids[] = { 1, 2, 17, 1000, 123456789 };

	(void)state;
	round_trip(&(struct node){ .kind = N_ROOT });
	assert_int_equal(node_ino(&(struct node){ .kind = N_ROOT }), ROOT_INO);
	round_trip(&(struct node){ .kind = N_EVENTS });
	round_trip(&(struct node){ .kind = N_METRICS });
	round_trip(&(struct node){ .kind = N_HOST_DIR });
	for (int f = 0; f < HF_COUNT; f++)
		round_trip(&(struct node){ .kind = N_HOST_FILE, .file = f });
	for (size_t i = 0; i < sizeof wids / sizeof wids[0]; i++) {
		round_trip(&(struct node){ .kind = N_WL_DIR, .wid = wids[i] });
		for (int f = 0; f < WF_COUNT; f++)
			round_trip(&(struct node){ .kind = N_WL_FILE, .file = f, .wid = wids[i] });
	}
}

static void inodes_of_distinct_nodes_are_distinct(void **state)
{
	uint64_t seen[64];
	size_t n = 0;

	(void)state;
	seen[n++] = node_ino(&(struct node){ .kind = N_ROOT });
	seen[n++] = node_ino(&(struct node){ .kind = N_EVENTS });
	seen[n++] = node_ino(&(struct node){ .kind = N_METRICS });
	seen[n++] = node_ino(&(struct node){ .kind = N_HOST_DIR });
	for (int f = 0; f < HF_COUNT; f++)
		seen[n++] = node_ino(&(struct node){ .kind = N_HOST_FILE, .file = f });
	for (uint64_t w = 1; w <= 2; w++) {
		seen[n++] = node_ino(&(struct node){ .kind = N_WL_DIR, .wid = w });
		for (int f = 0; f < WF_COUNT; f++)
			seen[n++] = node_ino(&(struct node){ .kind = N_WL_FILE, .file = f, .wid = w });
	}
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < i; j++)
			assert_true(seen[i] != seen[j]);
}

static void invalid_inodes_are_rejected(void **state)
{
	struct node n;
	uint64_t wl1 = node_ino(&(struct node){ .kind = N_WL_DIR, .wid = 1 });
	uint64_t host_last = node_ino(&(struct node){ .kind = N_HOST_FILE, .file = HF_COUNT - 1 });
	uint64_t wl0 = wl1 - (node_ino(&(struct node){ .kind = N_WL_DIR, .wid = 2 }) - wl1);

	(void)state;
	assert_false(node_from_ino(0, &n));
	assert_false(node_from_ino(host_last + 1, &n));
	assert_false(node_from_ino(wl0 - 1, &n));
	/* Workload id 0 is never handed out. */
	assert_false(node_from_ino(wl0, &n));
	assert_false(node_from_ino(wl0 + 1, &n));
	/* Past the last file of a workload's stride. */
	assert_false(node_from_ino(wl1 + 1 + WF_COUNT, &n));
	for (uint64_t ino = 6; ino < 16; ino++)	/* 5 is hosts */
		assert_false(node_from_ino(ino, &n));
}

static void dirs_are_root_host_and_workloads(void **state)
{
	(void)state;
	assert_true(node_is_dir(&(struct node){ .kind = N_ROOT }));
	assert_true(node_is_dir(&(struct node){ .kind = N_HOST_DIR }));
	assert_true(node_is_dir(&(struct node){ .kind = N_WL_DIR, .wid = 1 }));
	assert_false(node_is_dir(&(struct node){ .kind = N_EVENTS }));
	assert_false(node_is_dir(&(struct node){ .kind = N_METRICS }));
	assert_false(node_is_dir(&(struct node){ .kind = N_HOST_FILE }));
	assert_false(node_is_dir(&(struct node){ .kind = N_WL_FILE, .wid = 1 }));
}

static void file_index_finds_names_in_their_directory_only(void **state)
{
	(void)state;
	for (int i = 0; i < WF_COUNT; i++)
		assert_int_equal(node_file_index(N_WL_DIR, wl_file_names[i]), i);
	for (int i = 0; i < HF_COUNT; i++)
		assert_int_equal(node_file_index(N_HOST_DIR, host_file_names[i]), i);
	assert_int_equal(node_file_index(N_WL_DIR, "load"), -1);
	assert_int_equal(node_file_index(N_HOST_DIR, "threads"), -1);
	assert_int_equal(node_file_index(N_ROOT, "cpu"), -1);
	assert_int_equal(node_file_index(N_WL_DIR, ""), -1);
	assert_int_equal(node_file_index(N_WL_DIR, "cpux"), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(flat_file_lists_present_metrics_of_that_file_only,
						snap_setup, snap_teardown),
		cmocka_unit_test_setup_teardown(stat_prefixes_keys_with_their_file_and_hides_internal_counters,
						snap_setup, snap_teardown),
		cmocka_unit_test_setup_teardown(host_stat_covers_every_present_host_metric,
						snap_setup, snap_teardown),
		cmocka_unit_test_setup_teardown(prom_has_help_and_type_once_per_family,
						snap_setup, snap_teardown),
		cmocka_unit_test_setup_teardown(prom_counters_end_in_total_and_are_scaled_to_seconds,
						snap_setup, snap_teardown),
		cmocka_unit_test_setup_teardown(prom_escapes_label_values, snap_setup, snap_teardown),
		cmocka_unit_test_setup_teardown(prom_has_one_class_line_per_workload,
						snap_setup, snap_teardown),
		cmocka_unit_test(prom_of_empty_snapshot_has_no_class_header),
		cmocka_unit_test(prom_carries_sample_time_duration_and_build),
		cmocka_unit_test_setup_teardown(render_node_renders_workload_files_by_id,
						snap_setup, snap_teardown),
		cmocka_unit_test_setup_teardown(stat_prom_and_control_files_render_the_snapshots_actuator_state,
						snap_setup, snap_teardown),
		cmocka_unit_test_setup_teardown(render_node_of_vanished_workload_is_enoent,
						snap_setup, snap_teardown),
		cmocka_unit_test_setup_teardown(metrics_prom_is_rendered_once_per_snapshot,
						snap_setup, snap_teardown),
		cmocka_unit_test(every_node_kind_round_trips_through_its_inode),
		cmocka_unit_test(inodes_of_distinct_nodes_are_distinct),
		cmocka_unit_test(invalid_inodes_are_rejected),
		cmocka_unit_test(dirs_are_root_host_and_workloads),
		cmocka_unit_test(file_index_finds_names_in_their_directory_only),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
