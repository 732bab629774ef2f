/* Discovery and sampling over fixture trees in the shape of real hosts:
 * tests/fixtures/cgroup-v1 (hybrid), cgroup-v2 (pure v2), proc/ and run/. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <poll.h>
#include <sys/inotify.h>

#include "cgroup.h"
#include "config.h"
#include "discover.h"
#include "host.h"
#include "proc.h"
#include "testutil.h"
#include "util.h"

#define FIX FIXTURES
#define V1 FIX "/cgroup-v1"
#define V2 FIX "/cgroup-v2"
#define PROC FIX "/proc"

#define D1 "ebc41e0bb9d104f36528ba5982aead0643871a35aadd9d3c5ca93d7ffff3347c"
#define D2 "2265f5336d7b6037b5b75ace727a6c482c37ae963dad3bd8eff402314e8548ab"
#define D3 "bed7abeac56e560a96b7fef4c846a691fe3deb2e4d1e5bbf1085b8d9e2c6e934"
#define C1 "ab861dc170dc2e43224e45278d3d31a675b9ebc34c9b0f48c066ca1eeaed8ee6"
#define P1 "422942900072b63e0779aff384b1c76f7935ac1288cdd2fc9609fbf7879fe954"
#define KUBEPOD "/kubepods.slice/kubepods-burstable.slice/" \
	"kubepods-burstable-pod5c2a9d4e_1b1f_4f5e_9c1d_0a6b2e7f8c91.slice"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static double tick_usec(void)
{
	return 1e6 / (double)sysconf(_SC_CLK_TCK);
}

/* ---- a scratch run dir with runc state pointing into the fixture ------ */

/* runc writes absolute mount paths into state.json: fill the template in
 * with this checkout's fixture root. */
static void write_runc_state(const char *run, const char *id, const char *cgroup_paths)
{
	char tmpl[4096], path[PATH_MAX];
	char *at, *out = NULL;

	snprintf(path, sizeof path, "%s/run/runc/%s/state.json.in", FIX, id);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	size_t n = fread(tmpl, 1, sizeof tmpl - 1, f);
	fclose(f);
	tmpl[n] = '\0';
	at = strstr(tmpl, "@CGROUP_PATHS@");
	assert_non_null(at);
	*at = '\0';
	if (asprintf(&out, "%s%s%s", tmpl, cgroup_paths, at + strlen("@CGROUP_PATHS@")) < 0)
		abort();
	tu_write(out, "%s/runc/%s/state.json", run, id);
	free(out);
}

struct ctx {
	char *tmp;
	char run_v1[PATH_MAX], run_v2[PATH_MAX], run_none[PATH_MAX];
	struct cgroup_layout v1, v2;
};

static int group_setup(void **state)
{
	struct ctx *c = calloc(1, sizeof *c);
	char paths[2048];

	c->tmp = tu_tmpdir();
	snprintf(c->run_v1, sizeof c->run_v1, "%s/run-v1", c->tmp);
	snprintf(c->run_v2, sizeof c->run_v2, "%s/run-v2", c->tmp);
	snprintf(c->run_none, sizeof c->run_none, "%s/run-none", c->tmp);
	tu_mkdirs("%s", c->run_none);
	/* v1: one path per controller, as runc records them on a host that
	 * mounts cpu and cpuacct separately. */
	snprintf(paths, sizeof paths,
		 "{\"blkio\":\"%s/blkio/ctr1\",\"cpu\":\"%s/cpu/ctr1\",\"cpuacct\":\"%s/cpuacct/ctr1\","
		 "\"memory\":\"%s/memory/ctr1\",\"name=systemd\":\"%s/systemd/ctr1\"}",
		 V1, V1, V1, V1, V1);
	write_runc_state(c->run_v1, "ctr1", paths);
	snprintf(paths, sizeof paths, "{\"\":\"%s/ctr1\"}", V2);
	write_runc_state(c->run_v2, "ctr1", paths);
	/* Both run dirs also hold a starting container and a garbled state. */
	tu_mkdirs("%s/runc/starting", c->run_v1);
	tu_mkdirs("%s/runc/starting", c->run_v2);
	tu_copy(FIX "/run/runc/garbled/state.json", "%s/runc/garbled/state.json", c->run_v1);
	tu_copy(FIX "/run/runc/garbled/state.json", "%s/runc/garbled/state.json", c->run_v2);
	tu_copy(FIX "/run/crun/ctr2/status", "%s/crun/ctr2/status", c->run_v2);
	if (cgroup_layout_detect(V1, &c->v1) < 0 || cgroup_layout_detect(V2, &c->v2) < 0)
		return -1;
	*state = c;
	return 0;
}

static int group_teardown(void **state)
{
	struct ctx *c = *state;

	cgroup_layout_free(&c->v1);
	cgroup_layout_free(&c->v2);
	tu_rm_rf(c->tmp);
	free(c->tmp);
	free(c);
	return 0;
}

/* ---- layout --------------------------------------------------------- */

static void layout_of_hybrid_host_uses_v1_controllers_and_unified_for_psi(void **state)
{
	struct ctx *c = *state;

	assert_false(c->v1.v2);
	assert_string_equal(c->v1.walk, V1 "/cpuacct");
	assert_string_equal(c->v1.cpuacct, V1 "/cpuacct");
	assert_string_equal(c->v1.memory, V1 "/memory");
	assert_string_equal(c->v1.blkio, V1 "/blkio");
	assert_string_equal(c->v1.unified, V1 "/unified");
}

static void layout_of_pure_v2_host_is_the_root(void **state)
{
	struct ctx *c = *state;

	assert_true(c->v2.v2);
	assert_string_equal(c->v2.walk, V2);
	assert_string_equal(c->v2.unified, V2);
	assert_null(c->v2.cpuacct);
	assert_null(c->v2.memory);
	assert_null(c->v2.blkio);
}

static void layout_finds_comounted_cpu_cpuacct(void **state)
{
	struct ctx *c = *state;
	struct cgroup_layout L;
	char root[PATH_MAX];

	snprintf(root, sizeof root, "%s/comount", c->tmp);
	tu_mkdirs("%s/cpu,cpuacct", root);
	tu_mkdirs("%s/memory", root);
	assert_int_equal(cgroup_layout_detect(root, &L), 0);
	assert_false(L.v2);
	assert_non_null(L.cpuacct);
	assert_true(endswith(L.cpuacct, "/cpu,cpuacct"));
	assert_string_equal(L.walk, L.cpuacct);
	assert_null(L.blkio);
	assert_null(L.unified);
	cgroup_layout_free(&L);
}

static void layout_without_any_cgroup_mount_is_enoent(void **state)
{
	struct ctx *c = *state;
	struct cgroup_layout L;

	assert_int_equal(cgroup_layout_detect(c->run_none, &L), -ENOENT);
	cgroup_layout_free(&L);
}

/* ---- discovery ------------------------------------------------------ */

struct want {
	const char *key, *name, *engine;
};

static int cmp_found(const void *a, const void *b)
{
	return strcmp(((const struct found *)a)->key, ((const struct found *)b)->key);
}

static int cmp_want(const void *a, const void *b)
{
	return strcmp(((const struct want *)a)->key, ((const struct want *)b)->key);
}

/* out must hold exactly want, in any order. */
static void check_found(struct found_list *out, struct want *want, size_t n)
{
	qsort(out->v, out->n, sizeof *out->v, cmp_found);
	qsort(want, n, sizeof *want, cmp_want);
	for (size_t i = 0; i < out->n && i < n; i++) {
		assert_string_equal(out->v[i].key, want[i].key);
		assert_string_equal(out->v[i].name, want[i].name);
		assert_string_equal(out->v[i].engine->name, want[i].engine);
		assert_false(out->v[i].vm);
	}
	if (out->n != n) {
		for (size_t i = 0; i < out->n; i++)
			print_message("found %s %s %s\n", out->v[i].key, out->v[i].name, out->v[i].engine->name);
		fail_msg("found %zu containers, want %zu", out->n, n);
	}
}

static struct config fixture_config(const char *cgroup_root, const char *run_root)
{
	return (struct config){ .cgroup_root = (char *)cgroup_root, .proc_root = (char *)PROC,
				.run_root = (char *)run_root };
}

static void discovers_every_engine_on_hybrid_host(void **state)
{
	struct ctx *c = *state;
	struct config cfg = fixture_config(V1, c->run_v1);
	struct found_list out = {0};
	struct want want[] = {
		{ "/lxc.payload.web", "web", "lxc" },
		{ "/docker/" D1, "ebc41e0bb9d1", "docker" },
		{ "/system.slice/docker-" D2 ".scope", "2265f5336d7b", "docker" },
		{ "/machine.slice/systemd-nspawn@db.service", "db", "systemd-nspawn" },
		{ "/ctr1", "ctr1", "runc" },
		{ "/lxc.payload.broken", "broken", "lxc" },
		{ "/lxc.payload.empty", "empty", "lxc" },
	};

	assert_int_equal(discover_containers(&c->v1, &cfg, -1, NULL, &out), 0);
	check_found(&out, want, N(want));
	found_list_free(&out);
}

/* Names of containers found before come from known, not the engine's files. */
static void known_containers_keep_their_names(void **state)
{
	struct ctx *c = *state;
	struct config cfg = fixture_config(V1, c->run_v1);
	struct found_list known = {0}, out = {0};
	struct want want[] = {
		{ "/lxc.payload.web", "web", "lxc" },
		{ "/docker/" D1, "old-name", "docker" },
		{ "/system.slice/docker-" D2 ".scope", "2265f5336d7b", "docker" },
		{ "/machine.slice/systemd-nspawn@db.service", "db", "systemd-nspawn" },
		{ "/ctr1", "ctr1", "runc" },
		{ "/lxc.payload.broken", "broken", "lxc" },
		{ "/lxc.payload.empty", "empty", "lxc" },
	};

	found_add(&known, "/docker/" D1, xstrdup("old-name"), engine_get("docker"), false);
	found_add(&known, "/gone", xstrdup("gone"), engine_get("docker"), false);
	found_list_sort(&known);
	assert_int_equal(discover_containers(&c->v1, &cfg, -1, &known, &out), 0);
	check_found(&out, want, N(want));
	found_list_free(&out);
	found_list_free(&known);
}

static void discovers_every_engine_on_pure_v2_host(void **state)
{
	struct ctx *c = *state;
	struct config cfg = fixture_config(V2, c->run_v2);
	struct found_list out = {0};
	struct want want[] = {
		{ "/system.slice/docker-" D3 ".scope", "bed7abeac56e", "docker" },
		{ "/machine.slice/libpod-" P1 ".scope", "422942900072", "podman" },
		{ "/lxc.payload.web", "web", "lxc" },
		{ KUBEPOD "/cri-containerd-" C1 ".scope", "ab861dc170dc", "containerd" },
		{ "/ctr1", "ctr1", "runc" },
		{ "/crun-demo/ctr2", "ctr2", "crun" },
		{ "/lxc.payload.broken", "broken", "lxc" },
		{ "/lxc.payload.empty", "empty", "lxc" },
	};

	assert_int_equal(discover_containers(&c->v2, &cfg, -1, NULL, &out), 0);
	check_found(&out, want, N(want));
	found_list_free(&out);
}

static void runtime_containers_need_their_state(void **state)
{
	struct ctx *c = *state;
	struct config cfg = fixture_config(V2, c->run_none);
	struct found_list out = {0};

	assert_int_equal(discover_containers(&c->v2, &cfg, -1, NULL, &out), 0);
	for (size_t i = 0; i < out.n; i++) {
		assert_string_not_equal(out.v[i].key, "/ctr1");
		assert_string_not_equal(out.v[i].key, "/crun-demo/ctr2");
	}
	assert_int_equal(out.n, 6);
	found_list_free(&out);
}

static void does_not_descend_into_a_matched_container(void **state)
{
	struct ctx *c = *state;
	struct config cfg = fixture_config(V2, c->run_v2);
	struct found_list out = {0};

	/* Both fixtures nest a docker scope inside lxc.payload.web. */
	assert_int_equal(discover_containers(&c->v2, &cfg, -1, NULL, &out), 0);
	for (size_t i = 0; i < out.n; i++)
		assert_false(startswith(out.v[i].key, "/lxc.payload.web/"));
	found_list_free(&out);
	cfg = fixture_config(V1, c->run_v1);
	assert_int_equal(discover_containers(&c->v1, &cfg, -1, NULL, &out), 0);
	for (size_t i = 0; i < out.n; i++)
		assert_false(startswith(out.v[i].key, "/lxc.payload.web/"));
	found_list_free(&out);
}

static void configured_patterns_find_plain_cgroups(void **state)
{
	struct ctx *c = *state;
	char *patterns[] = { (char *)"/user.slice/*/*.scope" };
	struct config cfg = fixture_config(V2, c->run_none);
	struct found_list out = {0};
	bool seen = false;

	cfg.patterns = patterns;
	cfg.n_patterns = 1;
	assert_int_equal(discover_containers(&c->v2, &cfg, -1, NULL, &out), 0);
	for (size_t i = 0; i < out.n; i++)
		if (strcmp(out.v[i].key, "/user.slice/user-1000.slice/session-2.scope") == 0) {
			assert_string_equal(out.v[i].name, "session-2.scope");
			assert_string_equal(out.v[i].engine->name, "cgroup");
			seen = true;
		}
	assert_true(seen);
	/* FNM_PATHNAME: a '*' does not cross '/'. */
	assert_int_equal(out.n, 7);
	found_list_free(&out);
}

static bool inotify_has_event(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 1000) == 1;
}

static void drain(int fd)
{
	char buf[4096];

	while (read(fd, buf, sizeof buf) > 0)
		;
}

static void watches_walked_dirs_and_runtime_state_dirs(void **state)
{
	struct ctx *c = *state;
	char root[PATH_MAX], run[PATH_MAX];
	struct cgroup_layout L;
	struct config cfg;
	struct found_list out = {0};
	int ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);

	assert_true(ifd >= 0);
	snprintf(root, sizeof root, "%s/watch-cg", c->tmp);
	snprintf(run, sizeof run, "%s/watch-run", c->tmp);
	tu_write("cpu io memory\n", "%s/cgroup.controllers", root);
	tu_mkdirs("%s/system.slice/cron.service", root);
	tu_mkdirs("%s/runc", run);
	assert_int_equal(cgroup_layout_detect(root, &L), 0);
	cfg = fixture_config(root, run);
	assert_int_equal(discover_containers(&L, &cfg, ifd, NULL, &out), 0);
	assert_int_equal(out.n, 0);
	assert_false(inotify_has_event(ifd) && (drain(ifd), true));

	tu_mkdirs("%s/system.slice/docker-" D3 ".scope", root);
	assert_true(inotify_has_event(ifd));
	drain(ifd);
	tu_mkdirs("%s/runc/new", run);
	assert_true(inotify_has_event(ifd));
	drain(ifd);
	found_list_free(&out);
	assert_int_equal(discover_containers(&L, &cfg, ifd, NULL, &out), 0);
	assert_int_equal(out.n, 1);
	found_list_free(&out);
	cgroup_layout_free(&L);
	close(ifd);
}

/* ---- cgroup_sample -------------------------------------------------- */

struct expect {
	int metric;
	double v;
};

static void check_metrics(const struct metric_set *m, const struct expect *e, size_t n)
{
	uint64_t want = 0;

	for (size_t i = 0; i < n; i++) {
		if (!metric_has(m, e[i].metric))
			fail_msg("metric %d (%s_%s) absent", e[i].metric,
				 wl_metrics[e[i].metric].file ? wl_metrics[e[i].metric].file : "",
				 wl_metrics[e[i].metric].key);
		assert_float_equal(m->v[e[i].metric], e[i].v, 1e-6);
		want |= 1ULL << e[i].metric;
	}
	if (m->present != want)
		fail_msg("present %#llx, want %#llx", (unsigned long long)m->present,
			 (unsigned long long)want);
}

/* On v1 the throttle files' byte counts only cover cgroups with a limit set:
 * bytes come from /proc/PID/io (proc_sample_io), requests from io_serviced. */
static void v1_sample_reads_cpuacct_memory_blkio_and_unified_psi(void **state)
{
	struct ctx *c = *state;
	struct metric_set m = {0};
	const struct expect e[] = {
		{ M_CPU_USAGE_USEC, 5000000 },
		{ M_CPU_USER_USEC, 300 * tick_usec() },
		{ M_CPU_SYSTEM_USEC, 200 * tick_usec() },
		{ M_IO_READ_OPS, 3 },
		{ M_IO_WRITE_OPS, 5 },
		{ M_MAJFLT_TOTAL, 17 },		/* total_pgmajfault, not pgmajfault */
		{ M_SCHED_PRESSURE_SOME_AVG10, 12.5 },
		{ M_IO_DELAY_USEC, 424242 },
		{ M_PSI_CPU_SOME_AVG10, 12.5 },
		{ M_PSI_CPU_SOME_USEC, 5550000 },
		{ M_PSI_CPU_FULL_AVG10, 0 },
		{ M_PSI_CPU_FULL_USEC, 0 },
		{ M_PSI_IO_SOME_AVG10, 4 },
		{ M_PSI_IO_SOME_USEC, 424242 },
		{ M_PSI_IO_FULL_AVG10, 3 },
		{ M_PSI_IO_FULL_USEC, 300000 },
	};

	cgroup_sample(&c->v1, "/lxc.payload.web", NULL, NULL, &m);
	check_metrics(&m, e, N(e));
}

/* A throttle file with only "Total 0" lists no device: requests unknown. */
static void v1_sample_of_idle_docker_container_has_zeros_not_gaps(void **state)
{
	struct ctx *c = *state;
	struct metric_set m = {0};
	const struct expect e[] = {
		{ M_CPU_USAGE_USEC, 1737 },
		{ M_CPU_USER_USEC, 0 },
		{ M_CPU_SYSTEM_USEC, 0 },
		{ M_MAJFLT_TOTAL, 0 },
		{ M_SCHED_PRESSURE_SOME_AVG10, 0 },
		{ M_IO_DELAY_USEC, 0 },
		{ M_PSI_CPU_SOME_AVG10, 0 },
		{ M_PSI_CPU_SOME_USEC, 0 },
		{ M_PSI_CPU_FULL_AVG10, 0 },
		{ M_PSI_CPU_FULL_USEC, 0 },
		{ M_PSI_IO_SOME_AVG10, 0 },
		{ M_PSI_IO_SOME_USEC, 0 },
		{ M_PSI_IO_FULL_AVG10, 0 },
		{ M_PSI_IO_FULL_USEC, 0 },
	};

	cgroup_sample(&c->v1, "/docker/" D1, NULL, NULL, &m);
	check_metrics(&m, e, N(e));
}

static void v1_sample_falls_back_to_non_recursive_files_and_pgmajfault(void **state)
{
	struct ctx *c = *state;
	struct metric_set m = {0};
	const struct expect e[] = {
		{ M_CPU_USAGE_USEC, 2500000 },
		{ M_CPU_USER_USEC, 150 * tick_usec() },
		{ M_CPU_SYSTEM_USEC, 50 * tick_usec() },
		{ M_IO_READ_OPS, 16 },
		{ M_IO_WRITE_OPS, 32 },
		{ M_MAJFLT_TOTAL, 9 },
		/* no unified dir for it: no PSI */
	};

	cgroup_sample(&c->v1, "/system.slice/docker-" D2 ".scope", NULL, NULL, &m);
	check_metrics(&m, e, N(e));
}

static void v1_sample_leaves_out_what_a_cgroup_lacks(void **state)
{
	struct ctx *c = *state;
	struct metric_set m = {0};
	const struct expect e[] = { { M_CPU_USAGE_USEC, 42 } };

	cgroup_sample(&c->v1, "/machine.slice/systemd-nspawn@db.service", NULL, NULL, &m);
	check_metrics(&m, e, N(e));
}

static void v2_sample_reads_cpu_io_memory_stat_psi_and_oom_kills(void **state)
{
	struct ctx *c = *state;
	struct metric_set m = {0};
	const struct expect e[] = {
		{ M_CPU_USAGE_USEC, 7000000 },
		{ M_CPU_USER_USEC, 5000000 },
		{ M_CPU_SYSTEM_USEC, 2000000 },
		{ M_IO_READ_BYTES, 1459200 + 90112 },
		{ M_IO_WRITE_BYTES, 314773504 + 4096 },
		{ M_IO_READ_OPS, 214 },
		{ M_IO_WRITE_OPS, 354 },
		{ M_MAJFLT_TOTAL, 21 },
		{ M_SCHED_PRESSURE_SOME_AVG10, 3.25 },
		{ M_IO_DELAY_USEC, 99000 },
		{ M_MEM_OOM_KILLS, 2 },
		{ M_PSI_CPU_SOME_AVG10, 3.25 },
		{ M_PSI_CPU_SOME_USEC, 2500000 },
		{ M_PSI_CPU_FULL_AVG10, 1 },
		{ M_PSI_CPU_FULL_USEC, 800000 },
		{ M_PSI_IO_SOME_AVG10, 0.5 },
		{ M_PSI_IO_SOME_USEC, 99000 },
		{ M_PSI_IO_FULL_AVG10, 0.25 },
		{ M_PSI_IO_FULL_USEC, 50000 },
		{ M_PSI_MEMORY_SOME_AVG10, 0 },
		{ M_PSI_MEMORY_SOME_USEC, 0 },
		{ M_PSI_MEMORY_FULL_AVG10, 0 },
		{ M_PSI_MEMORY_FULL_USEC, 0 },
	};

	cgroup_sample(&c->v2, "/system.slice/docker-" D3 ".scope", NULL, NULL, &m);
	check_metrics(&m, e, N(e));
}

static void v2_sample_with_empty_io_stat_reports_zero_io(void **state)
{
	struct ctx *c = *state;
	struct metric_set m = {0};
	const struct expect e[] = {
		{ M_CPU_USAGE_USEC, 1500 },
		{ M_CPU_USER_USEC, 1000 },
		{ M_CPU_SYSTEM_USEC, 500 },
		{ M_IO_READ_BYTES, 0 },
		{ M_IO_WRITE_BYTES, 0 },
		{ M_IO_READ_OPS, 0 },
		{ M_IO_WRITE_OPS, 0 },
		{ M_MAJFLT_TOTAL, 0 },
		{ M_SCHED_PRESSURE_SOME_AVG10, 0 },
		{ M_PSI_CPU_SOME_AVG10, 0 },
		{ M_PSI_CPU_SOME_USEC, 0 },
		{ M_PSI_CPU_FULL_AVG10, 0 },
		{ M_PSI_CPU_FULL_USEC, 0 },
	};

	cgroup_sample(&c->v2, "/machine.slice/libpod-" P1 ".scope", NULL, NULL, &m);
	check_metrics(&m, e, N(e));
}

static void psi_io_does_not_override_delay_accounting(void **state)
{
	struct ctx *c = *state;
	struct metric_set m = {0};

	metric_set(&m, M_IO_DELAY_USEC, 5);
	cgroup_sample(&c->v2, "/system.slice/docker-" D3 ".scope", NULL, NULL, &m);
	assert_float_equal(m.v[M_IO_DELAY_USEC], 5, 1e-9);
}

static void malformed_and_truncated_files_leave_metrics_out(void **state)
{
	struct ctx *c = *state;
	struct metric_set m = {0};

	cgroup_sample(&c->v1, "/lxc.payload.broken", NULL, NULL, &m);
	assert_int_equal(m.present, 0);
	cgroup_sample(&c->v2, "/lxc.payload.broken", NULL, NULL, &m);
	assert_int_equal(m.present, 0);
	cgroup_sample(&c->v1, "/lxc.payload.empty", NULL, NULL, &m);
	cgroup_sample(&c->v2, "/lxc.payload.empty", NULL, NULL, &m);
	cgroup_sample(&c->v2, "/no/such/cgroup", NULL, NULL, &m);
	assert_int_equal(m.present, 0);
}

static void oversized_file_is_left_out(void **state)
{
	struct ctx *c = *state;
	struct cgroup_layout L;
	struct metric_set m = {0};
	static const char line[] = "8:0 rbytes=1 wbytes=1 rios=1 wios=1 dbytes=0 dios=0\n";
	const size_t lines = 2000;
	char root[PATH_MAX], *big = malloc(lines * (sizeof line - 1) + 1);

	snprintf(root, sizeof root, "%s/huge", c->tmp);
	tu_write("cpu io memory\n", "%s/cgroup.controllers", root);
	/* Valid lines, but more of them than the reader's buffer holds. */
	big[0] = '\0';
	for (size_t i = 0; i < lines; i++)
		strcat(big + i * (sizeof line - 1), line);
	tu_write(big, "%s/c/io.stat", root);
	tu_write("usage_usec 5\n", "%s/c/cpu.stat", root);
	free(big);
	assert_int_equal(cgroup_layout_detect(root, &L), 0);
	cgroup_sample(&L, "/c", NULL, NULL, &m);
	assert_true(metric_has(&m, M_CPU_USAGE_USEC));
	assert_false(metric_has(&m, M_IO_READ_BYTES));
	cgroup_layout_free(&L);
}

static void missing_files_are_remembered_until_the_mask_is_cleared(void **state)
{
	struct ctx *c = *state;
	struct cgroup_layout L;
	struct metric_set m = {0};
	uint32_t absent = 0;
	char root[PATH_MAX];

	snprintf(root, sizeof root, "%s/absent", c->tmp);
	tu_write("cpu io memory\n", "%s/cgroup.controllers", root);
	tu_write("usage_usec 5\n", "%s/c/cpu.stat", root);
	assert_int_equal(cgroup_layout_detect(root, &L), 0);
	cgroup_sample(&L, "/c", NULL, &absent, &m);
	assert_true(metric_has(&m, M_CPU_USAGE_USEC));
	assert_false(metric_has(&m, M_SCHED_PRESSURE_SOME_AVG10));
	assert_int_not_equal(absent, 0);
	/* Appearing later: skipped while remembered, read once forgotten. */
	tu_write("some avg10=1.50 avg60=0 avg300=0 total=7\n", "%s/c/cpu.pressure", root);
	m = (struct metric_set){0};
	cgroup_sample(&L, "/c", NULL, &absent, &m);
	assert_true(metric_has(&m, M_CPU_USAGE_USEC));
	assert_false(metric_has(&m, M_SCHED_PRESSURE_SOME_AVG10));
	absent = 0;
	cgroup_sample(&L, "/c", NULL, &absent, &m);
	assert_true(metric_has(&m, M_SCHED_PRESSURE_SOME_AVG10));
	cgroup_layout_free(&L);
}

/* The sampler holds a cgroup's directories from sweep to sweep; a cgroup
 * removed and made again under the same name is read anew, tasks too. */
static void a_held_cgroup_made_again_is_read_anew(void **state)
{
	struct ctx *c = *state;
	struct cgroup_layout L;
	struct cgroup_dirs dirs = CGROUP_DIRS_INIT;
	struct pid_list tids = {0};
	struct metric_set m = {0};
	char root[PATH_MAX], dir[PATH_MAX + 4];

	snprintf(root, sizeof root, "%s/remade", c->tmp);
	snprintf(dir, sizeof dir, "%s/c", root);
	tu_write("cpu io memory\n", "%s/cgroup.controllers", root);
	tu_write("usage_usec 5\n", "%s/c/cpu.stat", root);
	tu_write("7\n", "%s/c/cgroup.threads", root);
	tu_write("7\n", "%s/c/cgroup.procs", root);
	assert_int_equal(cgroup_layout_detect(root, &L), 0);
	cgroup_sample(&L, "/c", &dirs, NULL, &m);
	assert_float_equal(m.v[M_CPU_USAGE_USEC], 5, 1e-9);
	assert_int_equal(cgroup_list_tasks(&L, &dirs, "/c", &tids, NULL), 0);
	assert_true(dirs.d[CG_UNIFIED].fd >= 0);

	tu_rm_rf(dir);
	tu_write("usage_usec 9\n", "%s/c/cpu.stat", root);
	tu_write("8\n", "%s/c/cgroup.threads", root);
	tu_write("8\n", "%s/c/cgroup.procs", root);
	m = (struct metric_set){0};
	cgroup_sample(&L, "/c", &dirs, NULL, &m);
	assert_float_equal(m.v[M_CPU_USAGE_USEC], 9, 1e-9);
	pid_list_free(&tids);
	assert_int_equal(cgroup_list_tasks(&L, &dirs, "/c", &tids, NULL), 0);
	assert_int_equal(tids.n, 1);
	assert_int_equal(tids.v[0], 8);

	/* Gone for good: no figures, and the lists say so. */
	tu_rm_rf(dir);
	m = (struct metric_set){0};
	cgroup_sample(&L, "/c", &dirs, NULL, &m);
	assert_int_equal(m.present, 0);
	pid_list_free(&tids);
	assert_int_equal(cgroup_list_tasks(&L, &dirs, "/c", &tids, NULL), -ENOENT);
	cgroup_dirs_close(&dirs);
	pid_list_free(&tids);
	cgroup_layout_free(&L);
}

/* ---- cgroup_list_tasks ---------------------------------------------- */

static int cmp_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return (x > y) - (x < y);
}

static void check_pids(struct pid_list *l, const pid_t *want, size_t n)
{
	qsort(l->v, l->n, sizeof *l->v, cmp_pid);
	assert_int_equal(l->n, n);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(l->v[i], want[i]);
}

static void list_tasks_covers_the_whole_subtree_v1(void **state)
{
	struct ctx *c = *state;
	struct pid_list tids = {0}, pids = {0};
	const pid_t want_tids[] = { 101, 102, 103, 104 }, want_pids[] = { 101, 103, 104 };

	assert_int_equal(cgroup_list_tasks(&c->v1, NULL, "/lxc.payload.web", &tids, &pids), 0);
	check_pids(&tids, want_tids, N(want_tids));
	check_pids(&pids, want_pids, N(want_pids));
	pid_list_free(&tids);
	pid_list_free(&pids);
}

/* A held directory is read again each sample: its subtree must be too. */
static void list_tasks_of_a_held_directory_covers_the_subtree_every_time(void **state)
{
	struct ctx *c = *state;
	struct cgroup_dirs dirs = CGROUP_DIRS_INIT;
	const pid_t want_tids[] = { 101, 102, 103, 104 };

	for (int round = 0; round < 3; round++) {
		struct pid_list tids = {0};

		assert_int_equal(cgroup_list_tasks(&c->v1, &dirs, "/lxc.payload.web", &tids, NULL), 0);
		check_pids(&tids, want_tids, N(want_tids));
		pid_list_free(&tids);
	}
	cgroup_dirs_close(&dirs);
}

static void list_tasks_reads_cgroup_threads_on_v2(void **state)
{
	struct ctx *c = *state;
	struct pid_list tids = {0}, pids = {0};
	const pid_t want_tids[] = { 2001, 2002 }, want_pids[] = { 2001 };
	const pid_t lxc_tids[] = { 3001, 3100, 3101 };

	assert_int_equal(cgroup_list_tasks(&c->v2, NULL, "/machine.slice/libpod-" P1 ".scope", &tids, &pids), 0);
	check_pids(&tids, want_tids, N(want_tids));
	check_pids(&pids, want_pids, N(want_pids));
	pid_list_free(&tids);
	pid_list_free(&pids);
	/* pids is optional */
	assert_int_equal(cgroup_list_tasks(&c->v2, NULL, "/lxc.payload.web", &tids, NULL), 0);
	check_pids(&tids, lxc_tids, N(lxc_tids));
	pid_list_free(&tids);
}

static void list_tasks_of_missing_cgroup_is_enoent(void **state)
{
	struct ctx *c = *state;
	struct pid_list tids = {0}, pids = {0};

	assert_int_equal(cgroup_list_tasks(&c->v2, NULL, "/gone", &tids, &pids), -ENOENT);
	assert_int_equal(tids.n + pids.n, 0);
	assert_int_equal(cgroup_list_tasks(&c->v2, NULL, "/lxc.payload.empty", &tids, &pids), 0);
	assert_int_equal(tids.n + pids.n, 0);
	pid_list_free(&tids);
	pid_list_free(&pids);
}

/* ---- /proc ---------------------------------------------------------- */

static void proc_tasks_count_threads_states_wait_and_io_delay(void **state)
{
	pid_t v[] = { 101, 102, 103, 104, 999 };
	struct pid_list tids = { v, N(v), N(v) };
	struct task_carry carry = {0};
	struct metric_set m = {0};
	const struct expect e[] = {
		{ M_THREADS_TOTAL, 3 },		/* 103 truncated, 999 gone */
		{ M_THREADS_SAMPLED, 3 },
		{ M_THREADS_RUNNING, 1 },
		{ M_SCHED_WAIT_USEC, (4000000 + 6000000) / 1000 },
		{ M_IO_DELAY_USEC, (11 + 4 + 20) * tick_usec() },
	};

	(void)state;
	proc_sample_tasks(PROC, &tids, true, PROC_TASK_BUDGET_USEC, &carry, &m);
	check_metrics(&m, e, N(e));
	task_carry_free(&carry);
}

static void proc_tasks_without_delayacct_leave_io_delay_out(void **state)
{
	pid_t v[] = { 101, 102 };
	struct pid_list tids = { v, N(v), N(v) };
	struct task_carry carry = {0};
	struct metric_set m = {0};

	(void)state;
	proc_sample_tasks(PROC, &tids, false, PROC_TASK_BUDGET_USEC, &carry, &m);
	assert_false(metric_has(&m, M_IO_DELAY_USEC));
	assert_true(metric_has(&m, M_SCHED_WAIT_USEC));
	task_carry_free(&carry);
}

static void proc_tasks_count_a_thread_listed_twice_once(void **state)
{
	pid_t v[] = { 102, 101, 102 };
	struct pid_list tids = { v, N(v), N(v) };
	struct task_carry carry = {0};
	struct metric_set m = {0};

	(void)state;
	proc_sample_tasks(PROC, &tids, false, PROC_TASK_BUDGET_USEC, &carry, &m);
	assert_float_equal(m.v[M_THREADS_TOTAL], 2, 1e-9);
	assert_float_equal(m.v[M_SCHED_WAIT_USEC], 10000, 1e-9);
	task_carry_free(&carry);
}

static void sched_wait_stays_monotonic_when_threads_exit(void **state)
{
	pid_t all[] = { 101, 102, 104 }, one[] = { 101 };
	struct pid_list tids = { all, N(all), N(all) };
	struct task_carry carry = {0};
	struct metric_set a = {0}, b = {0};

	(void)state;
	proc_sample_tasks(PROC, &tids, true, PROC_TASK_BUDGET_USEC, &carry, &a);
	tids = (struct pid_list){ one, 1, 1 };
	proc_sample_tasks(PROC, &tids, true, PROC_TASK_BUDGET_USEC, &carry, &b);
	assert_float_equal(b.v[M_THREADS_TOTAL], 1, 1e-9);
	assert_float_equal(b.v[M_SCHED_WAIT_USEC], a.v[M_SCHED_WAIT_USEC], 1e-9);
	assert_float_equal(b.v[M_IO_DELAY_USEC], a.v[M_IO_DELAY_USEC], 1e-6);
	task_carry_free(&carry);
}

/* proc-many/TID/task/TID for tids 1000.. : thread i waited i ms, every
 * tenth runs. */
static void make_threads(const char *root, pid_t from, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		pid_t t = from + (pid_t)i;
		char text[256];

		snprintf(text, sizeof text, "%d (worker) %c 1 1 1 0 -1 0 0 0 0 0 1 1 0 0 20 0 1 0 1 "
			 "1000 100 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n", t, i % 10 ? 'S' : 'R');
		tu_write(text, "%s/%d/task/%d/stat", root, t, t);
		snprintf(text, sizeof text, "5000 %zu 3\n", i * 1000000);
		tu_write(text, "%s/%d/task/%d/schedstat", root, t, t);
	}
}

/* Out of budget: PROC_TASK_MIN_READS threads a sample, in turn (wrapping);
 * the total stays exact and after a full turn the wait is the whole sum. */
static void many_threads_are_read_in_turn_within_the_budget(void **state)
{
	struct ctx *c = *state;
	enum { T = 3 * PROC_TASK_MIN_READS + 10 };
	const double all_wait = (double)T * (T - 1) / 2 * 1000;
	pid_t v[T];
	struct pid_list tids = { v, T, T };
	struct task_carry carry = {0};
	struct metric_set m = {0};
	char root[PATH_MAX];
	double last = 0;

	snprintf(root, sizeof root, "%s/proc-many", c->tmp);
	make_threads(root, 1000, T);
	for (size_t i = 0; i < T; i++)
		v[T - 1 - i] = 1000 + (pid_t)i;	/* any order */
	for (int turn = 0; turn < 4; turn++) {
		proc_sample_tasks(root, &tids, false, 0, &carry, &m);
		assert_float_equal(m.v[M_THREADS_TOTAL], T, 1e-9);
		assert_float_equal(m.v[M_THREADS_SAMPLED], PROC_TASK_MIN_READS, 1e-9);
		assert_true(m.v[M_SCHED_WAIT_USEC] > last);	/* more threads known each time */
		last = m.v[M_SCHED_WAIT_USEC];
	}
	/* every thread read: the sum of i ms for i < T, one in ten running */
	assert_float_equal(m.v[M_SCHED_WAIT_USEC], all_wait, 1e-6);
	assert_float_equal(m.v[M_THREADS_RUNNING], (T / 10 + 1), 1e-9);	/* tids 1000, 1010, ... */
	/* read again in turn: the same figures, nothing counted twice */
	for (int turn = 0; turn < 4; turn++) {
		proc_sample_tasks(root, &tids, false, 0, &carry, &m);
		assert_float_equal(m.v[M_SCHED_WAIT_USEC], all_wait, 1e-6);
	}
	/* with time to spare, all of them at once */
	proc_sample_tasks(root, &tids, false, 10 * 1000000, &carry, &m);
	assert_float_equal(m.v[M_THREADS_SAMPLED], T, 1e-9);
	assert_float_equal(m.v[M_SCHED_WAIT_USEC], all_wait, 1e-6);
	task_carry_free(&carry);
}

/* A thread that exits before its turn banks the figures of its last one. */
static void a_thread_gone_before_its_turn_keeps_its_wait(void **state)
{
	struct ctx *c = *state;
	enum { T = PROC_TASK_MIN_READS + 1 };
	pid_t v[T];
	struct pid_list tids = { v, T, T };
	struct task_carry carry = {0};
	struct metric_set a = {0}, b = {0};
	char root[PATH_MAX];

	snprintf(root, sizeof root, "%s/proc-gone", c->tmp);
	make_threads(root, 2000, T);
	for (size_t i = 0; i < T; i++)
		v[i] = 2000 + (pid_t)i;
	proc_sample_tasks(root, &tids, false, 0, &carry, &a);	/* 2000..2063 */
	tids.n = T - 1;	/* 2064, unread, leaves; 2000 is next */
	proc_sample_tasks(root, &tids, false, 0, &carry, &b);
	assert_float_equal(a.v[M_SCHED_WAIT_USEC], (double)(T - 1) * (T - 2) / 2 * 1000, 1e-6);
	assert_float_equal(b.v[M_SCHED_WAIT_USEC], a.v[M_SCHED_WAIT_USEC], 1e-6);
	assert_float_equal(b.v[M_THREADS_TOTAL], T - 1, 1e-9);
	task_carry_free(&carry);
}

/* Open file descriptors of this process. */
static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	assert_non_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static void a_reused_tid_banks_the_old_threads_wait(void **state)
{
	struct ctx *c = *state;
	pid_t v[] = { 101, 102 };
	struct pid_list tids = { v, N(v), N(v) };
	struct task_carry carry = {0};
	struct metric_set a = {0}, b = {0};
	char proc2[PATH_MAX], dir[PATH_MAX + 8];

	snprintf(proc2, sizeof proc2, "%s/proc-reused", c->tmp);
	tu_copy(PROC "/101/task/101/stat", "%s/101/task/101/stat", proc2);
	tu_copy(PROC "/101/task/101/schedstat", "%s/101/task/101/schedstat", proc2);
	tu_copy(PROC "/102/task/102/stat", "%s/102/task/102/stat", proc2);
	tu_copy(PROC "/102/task/102/schedstat", "%s/102/task/102/schedstat", proc2);
	proc_sample_tasks(proc2, &tids, false, PROC_TASK_BUDGET_USEC, &carry, &a);

	/* Thread 102 exits and a new thread gets its tid: a new /proc/102
	 * (the one held since the last sweep is a dead directory), whose
	 * wait starts again from almost nothing. */
	snprintf(dir, sizeof dir, "%s/102", proc2);
	tu_rm_rf(dir);
	tu_copy(PROC "/102/task/102/stat", "%s/102/task/102/stat", proc2);
	tu_write("1000 1000 1\n", "%s/102/task/102/schedstat", proc2);
	proc_sample_tasks(proc2, &tids, false, PROC_TASK_BUDGET_USEC, &carry, &b);
	assert_float_equal(a.v[M_SCHED_WAIT_USEC], 10000, 1e-9);
	assert_float_equal(b.v[M_SCHED_WAIT_USEC], 10000 + 1, 1e-9);
	task_carry_free(&carry);
}

static void a_threads_proc_dir_is_held_while_it_lives(void **state)
{
	pid_t all[] = { 101, 102 }, one[] = { 101 };
	struct pid_list tids = { all, N(all), N(all) };
	struct task_carry carry = {0};
	struct metric_set m = {0};
	int before = open_fds();

	(void)state;
	proc_sample_tasks(PROC, &tids, false, PROC_TASK_BUDGET_USEC, &carry, &m);
	assert_int_equal(open_fds(), before + 2);
	proc_sample_tasks(PROC, &tids, false, PROC_TASK_BUDGET_USEC, &carry, &m);
	assert_int_equal(open_fds(), before + 2);	/* the same two, not two more */
	tids = (struct pid_list){ one, 1, 1 };
	proc_sample_tasks(PROC, &tids, false, PROC_TASK_BUDGET_USEC, &carry, &m);
	assert_int_equal(open_fds(), before + 1);	/* 102 left: its dir is let go */
	task_carry_free(&carry);
	assert_int_equal(open_fds(), before);
}

static void proc_io_sums_bytes_of_every_process(void **state)
{
	pid_t v[] = { 101, 104, 999 };
	struct pid_list pids = { v, N(v), N(v) };
	struct task_carry carry = {0};
	struct metric_set m = {0};
	const struct expect e[] = {
		{ M_IO_READ_BYTES, 4096 + 1048576 },
		{ M_IO_WRITE_BYTES, 8192 + 0 },
	};

	(void)state;
	proc_sample_io(PROC, &pids, &carry, &m);
	check_metrics(&m, e, N(e));
	task_carry_free(&carry);
}

static void proc_io_bytes_never_go_backwards_when_a_process_leaves(void **state)
{
	pid_t all[] = { 101, 104 }, one[] = { 101 };
	struct pid_list pids = { all, N(all), N(all) };
	struct task_carry carry = {0};
	struct metric_set a = {0}, b = {0};

	(void)state;
	proc_sample_io(PROC, &pids, &carry, &a);
	pids = (struct pid_list){ one, 1, 1 };
	proc_sample_io(PROC, &pids, &carry, &b);
	assert_true(b.v[M_IO_READ_BYTES] >= a.v[M_IO_READ_BYTES]);
	assert_true(b.v[M_IO_WRITE_BYTES] >= a.v[M_IO_WRITE_BYTES]);
	task_carry_free(&carry);
}

static void proc_io_without_readable_processes_is_left_out(void **state)
{
	pid_t v[] = { 102, 999 };	/* 102: a thread dir without io (fixture), 999: gone */
	struct pid_list pids = { v, N(v), N(v) };
	struct task_carry carry = {0};
	struct metric_set m = {0};

	(void)state;
	proc_sample_io(PROC, &pids, &carry, &m);
	assert_int_equal(m.present, 0);
	/* No process at all: nothing did I/O, which is a zero. */
	pids.n = 0;
	proc_sample_io(PROC, &pids, &carry, &m);
	assert_float_equal(m.v[M_IO_READ_BYTES], 0, 1e-9);
	assert_float_equal(m.v[M_IO_WRITE_BYTES], 0, 1e-9);
	task_carry_free(&carry);
}

static void net_comes_from_the_first_process_with_its_own_namespace(void **state)
{
	ino_t host = proc_netns_inode(PROC, 1);
	struct task_carry no_carry = {0};
	static const struct { pid_t v[3]; size_t n; bool has; } cases[] = {
		{ { 101 }, 1, true },
		{ { 999, 101 }, 2, true },		/* gone */
		{ { 300, 101 }, 2, true },		/* own namespace, garbled net/dev */
		{ { 200, 101 }, 2, false },		/* shares the host's namespace */
		{ { 1 }, 1, false },
		{ { 0 }, 0, false },
	};

	(void)state;
	assert_true(host != 0);
	assert_int_equal(proc_netns_inode(PROC, 200), host);
	assert_int_equal(proc_netns_inode(PROC, 999), 0);
	for (size_t i = 0; i < N(cases); i++) {
		pid_t v[3];
		struct pid_list pids = { v, cases[i].n, 3 };
		struct metric_set m = {0};

		memcpy(v, cases[i].v, sizeof v);
		proc_sample_net(PROC, &pids, &no_carry, host, &m);
		if (!cases[i].has) {
			assert_int_equal(m.present, 0);
			continue;
		}
		assert_float_equal(m.v[M_IO_NET_RX_BYTES], 1000000, 1e-9);
		assert_float_equal(m.v[M_IO_NET_TX_BYTES], 500000, 1e-9);
		assert_int_equal(m.present, (1ULL << M_IO_NET_RX_BYTES) | (1ULL << M_IO_NET_TX_BYTES));
	}
}

static void delayacct_is_read_from_sysctl(void **state)
{
	struct ctx *c = *state;

	assert_true(proc_delayacct_enabled(PROC));
	assert_false(proc_delayacct_enabled(c->run_none));
}

static void host_sample_reads_cpu_load_memory_and_pressure(void **state)
{
	struct metric_set m = {0};
	double t = tick_usec();

	(void)state;
	host_sample(PROC, &m);
	assert_true(metric_has(&m, H_CORES) && m.v[H_CORES] >= 1);
	assert_float_equal(m.v[H_CPU_USER_USEC], (10132153.0 + 290696) * t, 1);
	assert_float_equal(m.v[H_CPU_SYSTEM_USEC], (3084719.0 + 0 + 25195) * t, 1);
	assert_float_equal(m.v[H_CPU_IOWAIT_USEC], 16683.0 * t, 1);
	assert_float_equal(m.v[H_CPU_STEAL_USEC], 7.0 * t, 1);
	/* steal is not this host's use */
	assert_float_equal(m.v[H_CPU_USAGE_USEC], (10132153.0 + 290696 + 3084719 + 25195) * t, 1);
	assert_float_equal(m.v[H_LOAD1], 1.92, 1e-9);
	assert_float_equal(m.v[H_LOAD5], 2.07, 1e-9);
	assert_float_equal(m.v[H_LOAD15], 1.11, 1e-9);
	assert_float_equal(m.v[H_LOAD_RUNNING], 3, 1e-9);
	assert_float_equal(m.v[H_LOAD_THREADS], 110, 1e-9);
	assert_float_equal(m.v[H_MEM_TOTAL_BYTES], 24684100.0 * 1024, 1e-3);
	assert_float_equal(m.v[H_MEM_FREE_BYTES], 24275200.0 * 1024, 1e-3);
	assert_float_equal(m.v[H_MEM_AVAILABLE_BYTES], 24324836.0 * 1024, 1e-3);
	assert_float_equal(m.v[H_MEM_CACHED_BYTES], 227684.0 * 1024, 1e-3);
	assert_float_equal(m.v[H_MEM_SWAP_TOTAL_BYTES], 2097148.0 * 1024, 1e-3);
	assert_float_equal(m.v[H_MEM_SWAP_FREE_BYTES], 2000000.0 * 1024, 1e-3);
	assert_float_equal(m.v[H_PSI_CPU_SOME_AVG10], 1.25, 1e-9);
	assert_float_equal(m.v[H_PSI_IO_SOME_AVG10], 0.0, 1e-9);
	assert_float_equal(m.v[H_PSI_IO_FULL_AVG10], 0.5, 1e-9);
	assert_float_equal(m.v[H_PSI_MEMORY_SOME_AVG10], 2.0, 1e-9);
	assert_float_equal(m.v[H_PSI_MEMORY_FULL_AVG10], 1.5, 1e-9);
	assert_int_equal(m.present, (1ULL << H_COUNT) - 1 - (1ULL << H_CPU_USAGE_PERCENT));
}

static void host_sample_without_proc_files_has_only_cores(void **state)
{
	struct ctx *c = *state;
	struct metric_set m = {0};

	host_sample(c->run_none, &m);
	assert_int_equal(m.present, 1ULL << H_CORES);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(layout_of_hybrid_host_uses_v1_controllers_and_unified_for_psi),
		cmocka_unit_test(layout_of_pure_v2_host_is_the_root),
		cmocka_unit_test(layout_finds_comounted_cpu_cpuacct),
		cmocka_unit_test(layout_without_any_cgroup_mount_is_enoent),
		cmocka_unit_test(discovers_every_engine_on_hybrid_host),
		cmocka_unit_test(known_containers_keep_their_names),
		cmocka_unit_test(discovers_every_engine_on_pure_v2_host),
		cmocka_unit_test(runtime_containers_need_their_state),
		cmocka_unit_test(does_not_descend_into_a_matched_container),
		cmocka_unit_test(configured_patterns_find_plain_cgroups),
		cmocka_unit_test(watches_walked_dirs_and_runtime_state_dirs),
		cmocka_unit_test(v1_sample_reads_cpuacct_memory_blkio_and_unified_psi),
		cmocka_unit_test(v1_sample_of_idle_docker_container_has_zeros_not_gaps),
		cmocka_unit_test(v1_sample_falls_back_to_non_recursive_files_and_pgmajfault),
		cmocka_unit_test(v1_sample_leaves_out_what_a_cgroup_lacks),
		cmocka_unit_test(v2_sample_reads_cpu_io_memory_stat_psi_and_oom_kills),
		cmocka_unit_test(v2_sample_with_empty_io_stat_reports_zero_io),
		cmocka_unit_test(psi_io_does_not_override_delay_accounting),
		cmocka_unit_test(malformed_and_truncated_files_leave_metrics_out),
		cmocka_unit_test(oversized_file_is_left_out),
		cmocka_unit_test(missing_files_are_remembered_until_the_mask_is_cleared),
		cmocka_unit_test(a_held_cgroup_made_again_is_read_anew),
		cmocka_unit_test(list_tasks_covers_the_whole_subtree_v1),
		cmocka_unit_test(list_tasks_of_a_held_directory_covers_the_subtree_every_time),
		cmocka_unit_test(list_tasks_reads_cgroup_threads_on_v2),
		cmocka_unit_test(list_tasks_of_missing_cgroup_is_enoent),
		cmocka_unit_test(proc_tasks_count_threads_states_wait_and_io_delay),
		cmocka_unit_test(proc_tasks_without_delayacct_leave_io_delay_out),
		cmocka_unit_test(proc_tasks_count_a_thread_listed_twice_once),
		cmocka_unit_test(sched_wait_stays_monotonic_when_threads_exit),
		cmocka_unit_test(many_threads_are_read_in_turn_within_the_budget),
		cmocka_unit_test(a_thread_gone_before_its_turn_keeps_its_wait),
		cmocka_unit_test(a_reused_tid_banks_the_old_threads_wait),
		cmocka_unit_test(a_threads_proc_dir_is_held_while_it_lives),
		cmocka_unit_test(proc_io_sums_bytes_of_every_process),
		cmocka_unit_test(proc_io_bytes_never_go_backwards_when_a_process_leaves),
		cmocka_unit_test(proc_io_without_readable_processes_is_left_out),
		cmocka_unit_test(net_comes_from_the_first_process_with_its_own_namespace),
		cmocka_unit_test(delayacct_is_read_from_sysctl),
		cmocka_unit_test(host_sample_reads_cpu_load_memory_and_pressure),
		cmocka_unit_test(host_sample_without_proc_files_has_only_cores),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
