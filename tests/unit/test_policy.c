/* The auto policy as a pure function over recorded metric traces: hosts run
 * the policy every interval on what they see, moves are applied, and the
 * tests check where every workload ends and how often it moved. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "policy.h"

#include <string.h>

#define TICK_USEC (5 * 1000000ULL)
#define T0 (1000 * 1000000ULL)
#define MAX_WL 8
#define MAX_HOSTS 3

static const struct policy_config cfg = {
	.enabled = true, .interval = 5, .stable = 30, .cooldown = 60,
	.overload = 1.25, .min_gain = 0.25, .settle = 60,
};
static const struct class_config class_auto = { .cpu_mode = CPU_MODE_AUTO };

/* A workload of a trace: its demand (CPUs used + waited for) on even and on
 * odd ticks, the host it starts on, its group. */
struct trace_wl {
	const char *name;
	double even, odd;
	int host;
	int group;
	bool fixed;		/* not auto: counts, never moves */
};

struct trace {
	const char *name;
	int cores[MAX_HOSTS];
	size_t n_hosts;
	struct trace_wl wl[MAX_WL];
	size_t n;
	unsigned ticks;
	struct policy_config cfg;
};

struct sim {
	int host[MAX_WL];
	uint64_t arrived[MAX_WL];
	unsigned moves[MAX_WL];
	bool returned[MAX_WL];		/* moved back to a host it left */
	int left[MAX_WL];
	unsigned total_moves;
};

static double demand_at(const struct trace_wl *w, unsigned t)
{
	return t % 2 ? w->odd : w->even;
}

static double host_demand(const struct trace *tr, const struct sim *s, int h, unsigned t)
{
	double d = 0;

	for (size_t i = 0; i < tr->n; i++)
		if (s->host[i] == h)
			d += demand_at(&tr->wl[i], t);
	return d;
}

static const char *const host_names[MAX_HOSTS] = { "hA", "hB", "hC" };

/* Every host decides on what it sees, in turn; moves land at once. */
static void run(const struct trace *tr, struct sim *s)
{
	memset(s, 0, sizeof *s);
	for (size_t i = 0; i < tr->n; i++) {
		s->host[i] = tr->wl[i].host;
		s->left[i] = -1;
	}
	for (unsigned t = 0; t < tr->ticks; t++) {
		uint64_t now = T0 + t * TICK_USEC;

		for (int h = 0; h < (int)tr->n_hosts; h++) {
			struct policy_wl wl[MAX_WL];
			struct policy_peer peers[MAX_HOSTS];
			size_t map[MAX_WL], n = 0, np = 0, peer_host[MAX_HOSTS];
			struct policy_decision out[16];

			for (size_t i = 0; i < tr->n; i++) {
				const struct trace_wl *w = &tr->wl[i];
				double d = demand_at(w, t);

				if (s->host[i] != h)
					continue;
				map[n] = i;
				wl[n++] = (struct policy_wl){
					.name = w->name, .parallelism = d * 0.6, .wait = d * 0.4,
					.is_auto = !w->fixed, .can_move = true, .class = CLASS_CPU,
					.class_since_usec = T0, .last_action_usec = s->arrived[i],
					.group = w->group,
				};
			}
			for (int p = 0; p < (int)tr->n_hosts; p++)
				if (p != h) {
					peer_host[np] = (size_t)p;
					peers[np++] = (struct policy_peer){
						.name = host_names[p], .reachable = true,
						.cores = tr->cores[p], .demand = host_demand(tr, s, p, t),
					};
				}
			struct policy_input in = {
				.cfg = &tr->cfg, .class_cfg = &class_auto, .now_usec = now,
				.cores = tr->cores[h], .wl = wl, .n = n, .peers = peers, .n_peers = np,
			};
			size_t k = policy_decide(&in, out, 16);

			for (size_t j = 0; j < k; j++) {
				size_t i = map[out[j].wl];

				assert_int_equal(out[j].verb, POLICY_MOVE);
				assert_non_null(strstr(out[j].reason, "cores"));
				if (s->left[i] == (int)peer_host[out[j].peer])
					s->returned[i] = true;
				s->left[i] = h;
				s->host[i] = (int)peer_host[out[j].peer];
				s->arrived[i] = now;
				s->moves[i]++;
				s->total_moves++;
			}
		}
	}
}

static struct trace base(const char *name)
{
	return (struct trace){ .name = name, .cores = { 1, 1 }, .n_hosts = 2, .ticks = 40, .cfg = cfg };
}

static void over_packed_host_spreads(void **state)
{
	struct trace tr = base("two CPU-bound guests on one core");
	struct sim s;

	(void)state;
	/* Recorded: two spinning guests sharing one core, each 0.5 used + 0.5 waited. */
	tr.wl[0] = (struct trace_wl){ "g1", 1.0, 1.02, 0, -1, false };
	tr.wl[1] = (struct trace_wl){ "g2", 1.01, 0.98, 0, -1, false };
	tr.n = 2;
	run(&tr, &s);
	assert_int_equal(s.total_moves, 1);
	assert_int_not_equal(s.host[0], s.host[1]);
}

/* A client and its server next to a spinning guest, on two cores: moving
 * the client, the server or the guest relieves as much. */
static struct trace pair_and_guest(int group)
{
	struct trace tr = base("a client and its server, and a spinning guest");

	tr.cores[0] = tr.cores[1] = 2;
	tr.wl[0] = (struct trace_wl){ "client", 0.8, 0.85, 0, group, false };
	tr.wl[1] = (struct trace_wl){ "server", 0.8, 0.75, 0, group, false };
	tr.wl[2] = (struct trace_wl){ "guest", 1.2, 1.2, 0, -1, false };
	tr.n = 3;
	return tr;
}

static void communicating_pair_stays(void **state)
{
	struct trace tr = pair_and_guest(7);
	struct sim s;

	(void)state;
	run(&tr, &s);
	assert_int_equal(s.host[0], 0);
	assert_int_equal(s.host[1], 0);
	assert_int_equal(s.host[2], 1);
	assert_int_equal(s.total_moves, 1);
}

static void ungrouped_pair_would_be_split(void **state)
{
	struct trace tr = pair_and_guest(-1);
	struct sim s;

	(void)state;
	/* Proves the group matters: alone, the smaller client is the pick. */
	run(&tr, &s);
	assert_int_not_equal(s.host[0], s.host[1]);
	assert_int_equal(s.host[2], 0);
}

static void group_larger_than_a_host_is_split(void **state)
{
	struct trace tr = base("two talking workloads that alone exceed a host");
	struct sim s;

	(void)state;
	tr.wl[0] = (struct trace_wl){ "a", 1.0, 1.0, 0, 3, false };
	tr.wl[1] = (struct trace_wl){ "b", 1.0, 1.0, 0, 3, false };
	tr.n = 2;
	run(&tr, &s);
	assert_int_equal(s.total_moves, 1);
	assert_int_not_equal(s.host[0], s.host[1]);
}

static void fixed_workloads_count_but_stay(void **state)
{
	struct trace tr = base("a workload not set to auto over-packs the host");
	struct sim s;

	(void)state;
	tr.wl[0] = (struct trace_wl){ "manual", 1.0, 1.0, 0, -1, true };
	tr.wl[1] = (struct trace_wl){ "auto", 0.6, 0.6, 0, -1, false };
	tr.n = 2;
	run(&tr, &s);
	assert_int_equal(s.host[0], 0);
	assert_int_equal(s.host[1], 1);
}

/* Load that swings across the threshold every interval on both hosts. */
static struct trace oscillating(void)
{
	struct trace tr = base("demand swinging across the threshold on both hosts");

	tr.cores[0] = tr.cores[1] = 2;
	tr.wl[0] = (struct trace_wl){ "a1", 0.9, 0.3, 0, -1, false };
	tr.wl[1] = (struct trace_wl){ "a2", 0.9, 0.3, 0, -1, false };
	tr.wl[2] = (struct trace_wl){ "a3", 0.9, 0.3, 0, -1, false };
	tr.wl[3] = (struct trace_wl){ "b1", 0.3, 0.9, 1, -1, false };
	tr.wl[4] = (struct trace_wl){ "b2", 0.3, 0.9, 1, -1, false };
	tr.wl[5] = (struct trace_wl){ "b3", 0.3, 0.9, 1, -1, false };
	tr.n = 6;
	return tr;
}

static void no_flapping_on_an_oscillating_trace(void **state)
{
	struct trace tr = oscillating();
	struct sim s;

	(void)state;
	run(&tr, &s);
	for (size_t i = 0; i < tr.n; i++) {
		assert_false(s.returned[i]);
		assert_true(s.moves[i] <= 1);
	}
	assert_true(s.total_moves <= 2);
}

static void without_cooldown_and_hysteresis_the_trace_flaps(void **state)
{
	struct trace tr = oscillating();
	struct sim s;
	bool returned = false;

	(void)state;
	/* The same trace with the guards off: proves the test above can fail. */
	tr.cfg.cooldown = 0;
	tr.cfg.overload = 1.0;
	tr.cfg.min_gain = 0.01;
	run(&tr, &s);
	for (size_t i = 0; i < tr.n; i++)
		returned |= s.returned[i];
	assert_true(returned);
	assert_true(s.total_moves > 10);
}

static void unreachable_or_full_peers_take_nothing(void **state)
{
	static const struct policy_wl wl[] = {
		{ .name = "g1", .parallelism = 0.5, .wait = 0.5, .is_auto = true, .can_move = true, .group = -1 },
		{ .name = "g2", .parallelism = 0.5, .wait = 0.5, .is_auto = true, .can_move = true, .group = -1 },
	};
	static const struct policy_peer peers[] = {
		{ .name = "down", .reachable = false, .cores = 8 },
		{ .name = "full", .reachable = true, .cores = 1, .demand = 0.9 },
		{ .name = "unknown", .reachable = true, .cores = 0 },
	};
	struct policy_input in = {
		.cfg = &cfg, .class_cfg = &class_auto, .now_usec = T0, .cores = 1,
		.wl = wl, .n = 2, .peers = peers, .n_peers = 3,
	};
	struct policy_decision out[4];

	(void)state;
	assert_int_equal(policy_decide(&in, out, 4), 0);
}

static void the_peer_with_most_spare_cores_is_chosen(void **state)
{
	static const struct policy_wl wl[] = {
		{ .name = "g1", .parallelism = 0.5, .wait = 0.5, .is_auto = true, .can_move = true, .group = -1 },
		{ .name = "g2", .parallelism = 0.5, .wait = 0.5, .is_auto = true, .can_move = true, .group = -1 },
		{ .name = "g3", .parallelism = 0.5, .wait = 0.5, .is_auto = true, .can_move = true, .group = -1 },
	};
	static const struct policy_peer peers[] = {
		{ .name = "small", .reachable = true, .cores = 2, .demand = 0.5 },
		{ .name = "big", .reachable = true, .cores = 4, .demand = 1.0 },
	};
	struct policy_input in = {
		.cfg = &cfg, .class_cfg = &class_auto, .now_usec = T0, .cores = 2,
		.wl = wl, .n = 3, .peers = peers, .n_peers = 2,
	};
	struct policy_decision out[4];

	(void)state;
	assert_int_equal(policy_decide(&in, out, 4), 1);
	assert_int_equal(out[0].verb, POLICY_MOVE);
	assert_int_equal(out[0].wl, 0);
	assert_string_equal(peers[out[0].peer].name, "big");
	assert_string_equal(out[0].reason, "demand 3.00 > 2 cores x 1.25: moving demand 1.00 to big "
					   "(4 cores, demand 1.00) relieves 1.00 of 1.00 cores");
}

/* Mode rules: one switchable auto workload with a class, after some time. */
struct mode_case {
	const char *what;
	bool kvm;
	enum cpu_mode cpu_mode;
	bool vm;			/* its mode now */
	enum wl_class class;
	double stable_s;		/* class held for */
	double since_action_s;		/* 0: never acted on */
	bool is_auto, switchable;
	int want;			/* -1: no decision; else the mode: 0 container, 1 vm */
	const char *reason;		/* a part of the reason */
};

static const struct mode_case mode_cases[] = {
	{ "TCG host keeps cpu work in a container", false, CPU_MODE_AUTO, false, CLASS_CPU, 60, 0,
	  true, true, -1, NULL },
	{ "TCG host brings cpu work back from a VM", false, CPU_MODE_AUTO, true, CLASS_CPU, 60, 0,
	  true, true, 0, "no usable hardware virtualization: a TCG VM runs CPU work 8-18x slower" },
	{ "TCG host with cpu_mode = vm configured", false, CPU_MODE_VM, false, CLASS_CPU, 60, 0,
	  true, true, 1, "[class] cpu_mode = vm" },
	{ "KVM host recommends vm for cpu", true, CPU_MODE_AUTO, false, CLASS_CPU, 60, 0, true, true,
	  1, "class cpu for 60 s: hardware virtualization runs guests here" },
	{ "KVM host with cpu_mode = container", true, CPU_MODE_CONTAINER, true, CLASS_CPU, 60, 0,
	  true, true, 0, "[class] cpu_mode = container" },
	{ "net goes to a container", true, CPU_MODE_AUTO, true, CLASS_NET, 60, 0, true, true, 0,
	  "class net for 60 s: a container serves network I/O best" },
	{ "class not stable for the window yet", true, CPU_MODE_AUTO, false, CLASS_CPU, 29, 0, true,
	  true, -1, NULL },
	{ "in its cooldown", true, CPU_MODE_AUTO, false, CLASS_CPU, 60, 59, true, true, -1, NULL },
	{ "after its cooldown", true, CPU_MODE_AUTO, false, CLASS_CPU, 60, 61, true, true, 1, NULL },
	{ "not auto", true, CPU_MODE_AUTO, false, CLASS_CPU, 60, 0, false, true, -1, NULL },
	{ "discovered: no other mode", true, CPU_MODE_AUTO, false, CLASS_CPU, 60, 0, true, false, -1,
	  NULL },
	{ "io has no rule", true, CPU_MODE_AUTO, true, CLASS_IO, 60, 0, true, true, -1, NULL },
	{ "already in the mode", true, CPU_MODE_AUTO, true, CLASS_CPU, 60, 0, true, true, -1, NULL },
};

static void mode_rules_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof mode_cases / sizeof mode_cases[0]; i++) {
		const struct mode_case *c = &mode_cases[i];
		uint64_t now = T0 + 3600 * 1000000ULL;
		struct class_config cc = { .cpu_mode = c->cpu_mode };
		struct policy_wl w = {
			.name = "w", .parallelism = 1, .is_auto = c->is_auto, .switchable = c->switchable,
			.vm = c->vm, .class = c->class, .group = -1,
			.class_since_usec = now - (uint64_t)(c->stable_s * 1e6),
			.last_action_usec = c->since_action_s ? now - (uint64_t)(c->since_action_s * 1e6) : 0,
		};
		struct policy_input in = { .cfg = &cfg, .class_cfg = &cc, .kvm = c->kvm, .now_usec = now,
					   .cores = 4, .wl = &w, .n = 1 };
		struct policy_decision out[2];
		size_t n = policy_decide(&in, out, 2);

		print_message("%s\n", c->what);
		if (c->want < 0) {
			assert_int_equal(n, 0);
			continue;
		}
		assert_int_equal(n, 1);
		assert_int_equal(out[0].verb, POLICY_MODE);
		assert_int_equal(out[0].vm, c->want == 1);
		if (c->reason)
			assert_non_null(strstr(out[0].reason, c->reason));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(over_packed_host_spreads),
		cmocka_unit_test(communicating_pair_stays),
		cmocka_unit_test(ungrouped_pair_would_be_split),
		cmocka_unit_test(group_larger_than_a_host_is_split),
		cmocka_unit_test(fixed_workloads_count_but_stay),
		cmocka_unit_test(no_flapping_on_an_oscillating_trace),
		cmocka_unit_test(without_cooldown_and_hysteresis_the_trace_flaps),
		cmocka_unit_test(unreachable_or_full_peers_take_nothing),
		cmocka_unit_test(the_peer_with_most_spare_cores_is_chosen),
		cmocka_unit_test(mode_rules_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
