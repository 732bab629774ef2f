/* The Xen backend against a test double of libxenstat (xenstat_double.h):
 * these machines have no Xen hypervisor, so the real library cannot serve
 * domains here. The double serves dom0 and two guests with growing counters. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>

#ifdef HAVE_XENSTAT
#include "backend.h"
#include "testutil.h"
#include "xenstat_double.h"

static struct config cfg;
static struct backend_env env = { .cfg = &cfg, .inotify_fd = -1 };

static const struct found *find(const struct found_list *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i].name, name) == 0)
			return &l->v[i];
	return NULL;
}

static void guests_are_vms_and_dom0_is_not_a_workload(void **state)
{
	struct found_list l = {0};

	(void)state;
	assert_int_equal(xen_backend.init(&env), 0);
	xen_backend.discover(&env, &l);
	assert_int_equal(l.n, 2);
	assert_null(find(&l, "Domain-0"));
	const struct found *g = find(&l, "guest2");
	assert_non_null(g);
	assert_string_equal(g->key, "20");
	assert_string_equal(g->engine->name, "xen");
	assert_true(g->vm);
	found_list_free(&l);
	xen_backend.fini();
}

static void domain_counters_map_to_workload_metrics_and_grow(void **state)
{
	struct found_list l = {0};
	struct metric_set a = {0}, b = {0};
	void *st = NULL;

	(void)state;
	assert_int_equal(xen_backend.init(&env), 0);
	xen_backend.discover(&env, &l);		/* node read 1 */
	const struct found *g = find(&l, "guest2");
	xen_backend.sample(&env, g, &st, &a);
	assert_true(metric_has(&a, M_CPU_USAGE_USEC));
	assert_int_equal((long)a.v[M_CPU_USAGE_USEC], 2000000);	/* 2 s of cpu_ns */
	assert_true(a.v[M_PARALLEL_USEC] == 2e6);
	assert_true(a.v[M_THREADS_TOTAL] == 2);	/* vCPUs */
	assert_true(a.v[M_MEM_CURRENT_BYTES] == 512.0 * 1024 * 1024);
	assert_true(a.v[M_IO_READ_BYTES] == 8 * 512);	/* sectors */
	assert_true(a.v[M_IO_WRITE_OPS] == 4);
	assert_true(a.v[M_IO_NET_RX_BYTES] == 2000);
	assert_true(a.v[M_IO_NET_TX_PACKETS] == 5);
	/* no user/system split in xenstat: left out, never 0 */
	assert_false(metric_has(&a, M_CPU_USER_USEC));
	found_list_free(&l);

	xen_backend.discover(&env, &l);		/* node read 2 */
	xen_backend.sample(&env, find(&l, "guest2"), &st, &b);
	assert_true(b.v[M_CPU_USAGE_USEC] > a.v[M_CPU_USAGE_USEC]);
	assert_true(b.v[M_IO_NET_RX_BYTES] > a.v[M_IO_NET_RX_BYTES]);
	metrics_derive_rates(wl_metrics, M_WL_COUNT, &a, &b, 1000000);
	assert_true(b.v[M_CPU_USAGE_PERCENT] == 200.0);	/* 2 vCPUs busy */
	xen_backend.state_free(st);
	found_list_free(&l);
	xen_backend.fini();
}

static void host_without_xen_skips_the_backend(void **state)
{
	(void)state;
	xenstat_double_available = 0;
	assert_true(xen_backend.init(&env) < 0);
	xenstat_double_available = 1;
}

/* No privcmd: xenstat_init() is never called (it would complain on the
 * process's stderr, which other threads log to). */
static void host_without_privcmd_never_asks_libxenstat(void **state)
{
	char *saved = cfg.proc_root, *bare;
	int inits = xenstat_double_inits;

	(void)state;
	if (access("/dev/xen/privcmd", F_OK) == 0)
		skip();		/* a Xen host: the device is there */
	bare = tu_tmpdir();
	cfg.proc_root = bare;
	assert_true(xen_backend.init(&env) < 0);
	assert_int_equal(xenstat_double_inits, inits);
	cfg.proc_root = saved;
	tu_rm_rf(bare);
	free(bare);
}

/* A proc_root with xen/privcmd, as xenfs shows on a Xen host. */
static int with_privcmd(void **state)
{
	char *root = tu_tmpdir();

	tu_write("", "%s/xen/privcmd", root);
	cfg.proc_root = root;
	*state = root;
	return 0;
}

static int without_privcmd(void **state)
{
	tu_rm_rf(*state);
	free(*state);
	cfg.proc_root = NULL;
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(guests_are_vms_and_dom0_is_not_a_workload),
		cmocka_unit_test(domain_counters_map_to_workload_metrics_and_grow),
		cmocka_unit_test(host_without_xen_skips_the_backend),
		cmocka_unit_test(host_without_privcmd_never_asks_libxenstat),
	};

	return cmocka_run_group_tests(tests, with_privcmd, without_privcmd);
}
#else
int main(void)
{
	printf("test_xen: skipped: built without libxenstat (Debian package libxen-dev)\n");
	return 0;
}
#endif
