/* Snapshots: lookup by name and id, and the publish/get/put lifecycle. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "snapshot.h"
#include "util.h"

/* Ids spread the way the sampler hands them out (never reused, so sparse),
 * plus multiples of the table size to force id hash collisions. */
static struct snapshot *make(size_t n, uint64_t id_step)
{
	struct snapshot *s = snapshot_new(n);

	for (size_t i = 0; i < n; i++) {
		char name[32];

		/* Inserted in reverse order: snapshot_index must sort. */
		snprintf(name, sizeof name, "wl-%05zu", n - 1 - i);
		s->wl[i].name = xstrdup(name);
		s->wl[i].id = 1 + (n - 1 - i) * id_step;
		s->wl[i].engine = engine_get("lxc");
	}
	snapshot_index(s);
	return s;
}

static void index_sorts_by_name(void **state)
{
	struct snapshot *s = make(100, 1);

	(void)state;
	for (size_t i = 1; i < s->n; i++)
		assert_true(strcmp(s->wl[i - 1].name, s->wl[i].name) < 0);
	snapshot_put(s);
}

static void find_by_name_and_id_with_many_workloads(void **state)
{
	static const size_t sizes[] = { 0, 1, 7, 8, 9, 100, 1000, 5000 };
	static const uint64_t steps[] = { 1, 16, 1024, 1ULL << 32 };

	(void)state;
	for (size_t a = 0; a < sizeof sizes / sizeof sizes[0]; a++)
		for (size_t b = 0; b < sizeof steps / sizeof steps[0]; b++) {
			size_t n = sizes[a];
			struct snapshot *s = make(n, steps[b]);

			for (size_t i = 0; i < n; i++) {
				char name[32];
				const struct wl_view *w;

				snprintf(name, sizeof name, "wl-%05zu", i);
				w = snapshot_find_name(s, name);
				assert_non_null(w);
				assert_string_equal(w->name, name);
				assert_int_equal(w->id, 1 + i * steps[b]);
				assert_ptr_equal(snapshot_find_id(s, w->id), w);
			}
			assert_null(snapshot_find_name(s, "wl-"));
			assert_null(snapshot_find_name(s, "wl-99999"));
			assert_null(snapshot_find_name(s, ""));
			assert_null(snapshot_find_id(s, 0));
			assert_null(snapshot_find_id(s, 1 + n * steps[b]));
			if (steps[b] > 1)
				assert_null(snapshot_find_id(s, 2));
			snapshot_put(s);
		}
}

static void find_on_unindexed_snapshot_is_null(void **state)
{
	struct snapshot *s = snapshot_new(0);

	(void)state;
	assert_null(snapshot_find_name(s, "x"));
	assert_null(snapshot_find_id(s, 1));
	snapshot_put(s);
}

static const struct snapshot *hook_old, *hook_cur;
static int hook_calls;

static void hook(const struct snapshot *old, const struct snapshot *cur)
{
	hook_old = old;
	hook_cur = cur;
	hook_calls++;
}

static int hook_setup(void **state)
{
	(void)state;
	hook_old = hook_cur = NULL;
	hook_calls = 0;
	snapshot_set_publish_hook(hook);
	return 0;
}

/* Leave no published snapshot behind, whatever the test did. */
static int hook_teardown(void **state)
{
	(void)state;
	snapshot_set_publish_hook(NULL);
	snapshot_release_all();
	return 0;
}

static void get_before_any_publish_is_null(void **state)
{
	(void)state;
	assert_null(snapshot_get());
}

static void publish_calls_hook_with_old_and_new(void **state)
{
	struct snapshot *a = make(3, 1), *b = make(4, 1);

	(void)state;
	snapshot_publish(a);
	assert_int_equal(hook_calls, 0);	/* nothing to compare the first one with */
	snapshot_publish(b);
	assert_int_equal(hook_calls, 1);
	assert_ptr_equal(hook_old, a);
	assert_ptr_equal(hook_cur, b);
}

static void get_takes_a_reference_that_outlives_the_snapshot(void **state)
{
	struct snapshot *a = make(3, 1), *b = make(5, 1), *c = make(1, 1), *r, *r2;

	(void)state;
	snapshot_publish(a);
	r = snapshot_get();
	assert_ptr_equal(r, a);
	assert_int_equal(atomic_load(&a->refs), 2);
	r2 = snapshot_get();
	assert_int_equal(atomic_load(&a->refs), 3);
	snapshot_put(r2);
	assert_int_equal(atomic_load(&a->refs), 2);
	/* once replaced only the reader holds it, and it is still whole. */
	snapshot_publish(b);
	assert_int_equal(atomic_load(&r->refs), 1);
	assert_non_null(snapshot_find_name(r, "wl-00002"));
	snapshot_put(r);	/* frees a: valgrind/ASan prove no leak and no double free */
	snapshot_publish(c);
	r = snapshot_get();
	assert_ptr_equal(r, c);
	assert_int_equal(atomic_load(&c->refs), 2);
	snapshot_put(r);
	assert_int_equal(atomic_load(&c->refs), 1);
}

static void release_all_drops_the_current_snapshot(void **state)
{
	struct snapshot *a = make(1, 1), *b = make(2, 1), *r;

	(void)state;
	snapshot_publish(a);
	snapshot_publish(b);
	r = snapshot_get();
	snapshot_release_all();
	assert_null(snapshot_get());
	/* A reader's reference survives the release. */
	assert_int_equal(atomic_load(&r->refs), 1);
	assert_non_null(snapshot_find_name(r, "wl-00001"));
	snapshot_put(r);
}

static void put_of_null_is_harmless(void **state)
{
	(void)state;
	snapshot_put(NULL);
}

static void class_names_cover_every_class(void **state)
{
	(void)state;
	assert_string_equal(class_name(CLASS_IDLE), "idle");
	assert_string_equal(class_name(CLASS_CPU), "cpu");
	assert_string_equal(class_name(CLASS_IO), "io");
	assert_string_equal(class_name(CLASS_NET), "net");
	assert_string_equal(class_name(CLASS_MEMORY), "memory");
	assert_string_equal(class_name(CLASS_COUNT), "idle");
}

/* The cgroup a container's processes are in: a managed workload's is its
 * runc container's while it runs as one; a VM has none. */
static void container_cgroups_of_each_kind(void **state)
{
	char buf[64], longkey[80];
	struct wl_view docker = { .key = "/docker/abc", .engine = engine_get("docker") };
	struct wl_view managed = { .key = "web", .engine = engine_get("adaptfs") };
	struct wl_view managed_vm = { .key = "web", .engine = engine_get("adaptfs"), .vm = true };
	struct wl_view qemu = { .key = "4242", .engine = engine_get("qemu"), .vm = true };
	struct wl_view toolong = { .key = longkey, .engine = engine_get("runc") };
	(void)state;

	assert_string_equal(wl_cgroup(&docker, buf, sizeof buf), "/docker/abc");
	assert_string_equal(wl_cgroup(&managed, buf, sizeof buf), "/adaptfs-web");
	assert_null(wl_cgroup(&managed_vm, buf, sizeof buf));
	assert_null(wl_cgroup(&qemu, buf, sizeof buf));
	/* never cut: a cut path could be another workload's cgroup */
	memset(longkey, 'x', sizeof longkey - 1);
	longkey[sizeof longkey - 1] = '\0';
	assert_null(wl_cgroup(&toolong, buf, sizeof buf));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(index_sorts_by_name),
		cmocka_unit_test(find_by_name_and_id_with_many_workloads),
		cmocka_unit_test(find_on_unindexed_snapshot_is_null),
		cmocka_unit_test(get_before_any_publish_is_null),
		cmocka_unit_test_setup_teardown(publish_calls_hook_with_old_and_new,
						hook_setup, hook_teardown),
		cmocka_unit_test_setup_teardown(get_takes_a_reference_that_outlives_the_snapshot,
						hook_setup, hook_teardown),
		cmocka_unit_test_setup_teardown(release_all_drops_the_current_snapshot,
						hook_setup, hook_teardown),
		cmocka_unit_test(put_of_null_is_harmless),
		cmocka_unit_test(class_names_cover_every_class),
		cmocka_unit_test(container_cgroups_of_each_kind),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
