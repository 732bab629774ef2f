/* The kept prefetch settings: the lines a former adaptfs wrote, and the
 * name a workload has in them. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "engine.h"
#include "prefetch_keep.h"

static void settings_are_read_and_anything_else_left_out(void **state)
{
	struct prefetch_kept *v;
	size_t n = prefetch_keep_parse("on docker /docker/abc\n"
				       "off lxc /lxc/my box\n"
				       "\n"
				       "maybe docker /x\n"
				       "on\n"
				       "on docker\n"
				       "on docker \n"
				       "off  /x\n"
				       "on adaptfs web", &v);

	(void)state;
	assert_int_equal(n, 3);
	assert_true(v[0].on);
	assert_string_equal(v[0].ident, "docker /docker/abc");
	/* the ID is the rest of the line, spaces and all */
	assert_false(v[1].on);
	assert_string_equal(v[1].ident, "lxc /lxc/my box");
	/* the last line needs no newline */
	assert_true(v[2].on);
	assert_string_equal(v[2].ident, "adaptfs web");
	prefetch_kept_free(v, n);
}

static void nothing_kept_is_no_setting(void **state)
{
	struct prefetch_kept *v;

	(void)state;
	assert_int_equal(prefetch_keep_parse("", &v), 0);
	prefetch_kept_free(v, 0);
}

static void a_container_is_named_by_its_cgroup_a_managed_workload_by_its_recipe(void **state)
{
	char buf[64];
	struct wl_view docker = { .name = "0123456789ab", .engine = engine_get("docker"),
				  .key = "/docker/0123456789abcdef" };
	/* shown as web.adaptfs while a container named web runs too */
	struct wl_view managed = { .name = "web.adaptfs", .engine = engine_get("adaptfs"), .key = "web" };
	struct wl_view keyless = { .name = "x", .engine = engine_get("docker") };
	struct wl_view newline = { .name = "x", .engine = engine_get("docker"), .key = "/a\nb" };

	(void)state;
	assert_int_equal(prefetch_keep_ident(&docker, buf, sizeof buf), 0);
	assert_string_equal(buf, "docker /docker/0123456789abcdef");
	/* its key is its recipe name, whatever its directory is called */
	assert_int_equal(prefetch_keep_ident(&managed, buf, sizeof buf), 0);
	assert_string_equal(buf, "adaptfs web");
	assert_int_equal(prefetch_keep_ident(&keyless, buf, sizeof buf), -EINVAL);
	assert_int_equal(prefetch_keep_ident(&newline, buf, sizeof buf), -EINVAL);
	assert_int_equal(prefetch_keep_ident(&docker, buf, 8), -ENAMETOOLONG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(settings_are_read_and_anything_else_left_out),
		cmocka_unit_test(nothing_kept_is_no_setting),
		cmocka_unit_test(a_container_is_named_by_its_cgroup_a_managed_workload_by_its_recipe),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
