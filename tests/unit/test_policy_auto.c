/* The auto setting of discovered workloads: by id, so that a workload that
 * takes the name of one that went does not inherit it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "policy_auto.h"
#include "util.h"

/* One workload named web, with id */
static struct snapshot *web(uint64_t id)
{
	struct snapshot *s = snapshot_new(1);

	s->wl[0].name = xstrdup("web");
	s->wl[0].id = id;
	s->wl[0].engine = engine_get("lxc");
	snapshot_index(s);
	return s;
}

static void set_and_clear_say_whether_it_changed(void **state)
{
	(void)state;
	assert_true(policy_set_auto(7, true));
	assert_false(policy_set_auto(7, true));
	assert_true(policy_auto(7));
	assert_true(policy_set_auto(7, false));
	assert_false(policy_set_auto(7, false));
	assert_false(policy_auto(7));
	policy_auto_clear();
}

static void a_new_workload_of_an_old_name_starts_without_auto(void **state)
{
	struct snapshot *old = web(7), *now = web(8);

	(void)state;
	assert_true(policy_set_auto(7, true));
	/* before the policy's next round has pruned: it is still not the new web's */
	assert_false(policy_auto(8));
	policy_auto_prune(old);
	assert_true(policy_auto(7));
	policy_auto_prune(now);
	assert_false(policy_auto(7));
	snapshot_put(old);
	snapshot_put(now);
	policy_auto_clear();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(set_and_clear_say_whether_it_changed),
		cmocka_unit_test(a_new_workload_of_an_old_name_starts_without_auto),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
