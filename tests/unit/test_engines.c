/* Engine naming rules (engine_match, systemd_unescape), the engine table's
 * capabilities, and the directory names made from them
 * (workload_name_sanitize). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "discover.h"
#include "sampler.h"

#define ID64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define N(a) (sizeof(a) / sizeof((a)[0]))

/* docker and podman names come from their state under /var/lib: absent on a
 * test machine, so the name falls back to the short id. */
static void engine_match_recognises_each_engine_layout(void **state)
{
	static const struct { const char *parent, *dir, *engine, *name; } cases[] = {
		{ NULL, "lxc.payload.web", "lxc", "web" },
		{ "machine.slice", "lxc.payload.db-1", "lxc", "db-1" },
		{ "lxc", "web", "lxc", "web" },
		{ "docker", ID64, "docker", "0123456789ab" },
		{ "system.slice", "docker-" ID64 ".scope", "docker", "0123456789ab" },
		{ "kubepods-burstable-pod1.slice", "cri-containerd-" ID64 ".scope", "containerd",
		  "0123456789ab" },
		{ "machine.slice", "libpod-" ID64 ".scope", "podman", "0123456789ab" },
		{ "libpod_parent", "libpod-" ID64, "podman", "0123456789ab" },
		{ "machine.slice", "systemd-nspawn@db.service", "systemd-nspawn", "db" },
		{ "machine.slice", "systemd-nspawn@a\\x2db.service", "systemd-nspawn", "a-b" },
		{ "machine.slice", "machine-web.scope", "systemd-nspawn", "web" },
		{ "machine.slice", "machine-my\\x2dbox.scope", "systemd-nspawn", "my-box" },
	};

	(void)state;
	for (size_t i = 0; i < N(cases); i++) {
		char *name = NULL;
		const struct engine *engine = engine_match(cases[i].parent, cases[i].dir, &name);

		assert_non_null(engine);
		assert_string_equal(engine->name, cases[i].engine);
		assert_non_null(name);
		assert_string_equal(name, cases[i].name);
		free(name);
	}
}

static void engine_match_ignores_non_containers(void **state)
{
	static const struct { const char *parent, *dir; } cases[] = {
		{ NULL, "system.slice" },
		{ NULL, "init.scope" },
		{ NULL, "lxc.payload." },			/* no name */
		{ NULL, "lxc.monitor.web" },
		{ "lxc", "lxc.pivot" },
		{ NULL, "lxc" },
		{ NULL, "docker" },
		{ "docker", "0123456789ab" },			/* not a full id */
		{ "docker", ID64 "0" },
		{ "docker", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeg" },
		{ "system.slice", ID64 },			/* bare id outside docker/ */
		{ "system.slice", "docker-" ID64 },		/* no .scope */
		{ "system.slice", "docker-1234.scope" },
		{ "system.slice", "docker.service" },
		{ "system.slice", "containerd.service" },
		{ "machine.slice", "libpod-conmon-" ID64 ".scope" },
		{ "libpod_parent", "conmon" },
		{ "machine.slice", "machine-qemu\\x2d1\\x2dvm1.scope" },
		{ "machine.slice", "machine-qemu\\x2d12\\x2dwin10.scope" },
		{ "machine.slice", "machine-.scope" },
		{ "machine.slice", "systemd-nspawn@.service" },
		{ "machine.slice", "machine.slice" },
		{ "user.slice", "user-1000.slice" },
	};

	(void)state;
	for (size_t i = 0; i < N(cases); i++) {
		char *name = (char *)"sentinel";
		const struct engine *engine = engine_match(cases[i].parent, cases[i].dir, &name);

		if (engine)
			fail_msg("%s/%s matched as %s", cases[i].parent ? cases[i].parent : "",
				 cases[i].dir, engine->name);
		assert_null(name);
	}
}

static void systemd_unescape_decodes_hex_escapes(void **state)
{
	static const struct { const char *in, *out; } cases[] = {
		{ "plain", "plain" },
		{ "a\\x2db", "a-b" },
		{ "\\x2d\\x2d", "--" },
		{ "x\\x2Fy", "x/y" },
		{ "tail\\x2", "tail\\x2" },		/* truncated escape kept */
		{ "tail\\x", "tail\\x" },
		{ "tail\\", "tail\\" },
		{ "bad\\xzz", "bad\\xzz" },
		{ "nul\\x00x", "nul\\x00x" },		/* never cut a name short */
		{ "", "" },
	};

	(void)state;
	for (size_t i = 0; i < N(cases); i++) {
		char *s = strdup(cases[i].in);

		systemd_unescape(s);
		assert_string_equal(s, cases[i].out);
		free(s);
	}
}

static void sanitized_names_are_one_safe_path_component(void **state)
{
	static const struct { const char *in, *out; } cases[] = {
		{ "web", "web" },
		{ "db-1.example_com", "db-1.example_com" },
		{ "a/b", "a_b" },
		{ "../../etc", "_.._.._etc" },
		{ "..", "_.." },
		{ ".", "_." },
		{ ".hidden", "_.hidden" },
		{ "", "_" },
		{ "line\nbreak", "line_break" },
		{ "tab\there", "tab_here" },
		{ "$(rm -rf /)", "__rm_-rf___" },
		{ "a;b|c&d`e'f\"g*h?i<j>k\\l", "a_b_c_d_e_f_g_h_i_j_k_l" },
		{ "user@host:1=2+3", "user@host:1=2+3" },
		{ "caf\xc3\xa9", "caf__" },
	};

	(void)state;
	for (size_t i = 0; i < N(cases); i++) {
		char out[64];

		workload_name_sanitize(cases[i].in, out, sizeof out);
		assert_string_equal(out, cases[i].out);
		assert_null(strchr(out, '/'));
		assert_true(strcmp(out, ".") != 0 && strcmp(out, "..") != 0);
	}
}

static void sanitized_names_are_truncated_to_the_buffer(void **state)
{
	char out[8], big[300];

	(void)state;
	workload_name_sanitize("abcdefghijkl", out, sizeof out);
	assert_string_equal(out, "abcdefg");
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	workload_name_sanitize(big, out, sizeof out);
	assert_int_equal(strlen(out), sizeof out - 1);
	workload_name_sanitize(".abcdefghij", out, sizeof out);
	assert_string_equal(out, "_.abcde");
}

/* What each engine can do decides what control files accept: the table
 * must say what the actuators do (control.bats drives them for real). */
static void engines_say_what_they_can_do(void **state)
{
	static const char *const containers[] = {
		"lxc", "docker", "containerd", "podman", "systemd-nspawn", "runc", "crun", "cgroup",
	};
	const struct engine *qemu = engine_get("qemu"), *libvirt = engine_get("libvirt");
	const struct engine *xen = engine_get("xen"), *managed = engine_get("adaptfs");

	(void)state;
	for (size_t i = 0; i < N(containers); i++) {
		const struct engine *e = engine_get(containers[i]);

		assert_non_null(e);
		assert_int_equal(e->key, ENGINE_KEY_CGROUP);
		assert_true(engine_can(e, ENGINE_PIN_CPUSET));
		assert_false(engine_can(e, ENGINE_PIN_VCPUS | ENGINE_MANAGED));
		assert_true(engine_can_move(e) == (strcmp(e->name, "lxc") == 0));
		assert_true(engine_can_move(e) || e->no_move);
	}
	assert_true(engine_can(qemu, ENGINE_MOVE_LIVE) && engine_can(qemu, ENGINE_PIN_VCPUS));
	assert_int_equal(qemu->key, ENGINE_KEY_PID);
	/* libvirt's guests: pinned and moved through libvirt, not behind its back */
	assert_true(engine_can(libvirt, ENGINE_VIA_LIBVIRT) && engine_can(libvirt, ENGINE_MOVE_LIBVIRT));
	assert_false(engine_can(libvirt, ENGINE_MOVE_LIVE));
	assert_false(engine_can(xen, ENGINE_PIN_CPUSET | ENGINE_PIN_VCPUS) || engine_can_move(xen));
	assert_true(engine_can(managed, ENGINE_MANAGED) && !engine_can_move(managed));
	assert_null(engine_get("vmware"));
	assert_false(engine_can(NULL, ENGINE_PIN_CPUSET));
}

/* A VM's key is its pid, parsed once when it is found. */
static void found_vms_carry_their_pid(void **state)
{
	struct found_list l = {0};

	(void)state;
	found_add(&l, "4242", strdup("guest"), engine_get("qemu"), true);
	found_add(&l, "/lxc.payload.web", strdup("web"), engine_get("lxc"), false);
	assert_int_equal(l.v[0].pid, 4242);
	assert_int_equal(l.v[1].pid, 0);
	found_list_free(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(engine_match_recognises_each_engine_layout),
		cmocka_unit_test(engine_match_ignores_non_containers),
		cmocka_unit_test(engines_say_what_they_can_do),
		cmocka_unit_test(found_vms_carry_their_pid),
		cmocka_unit_test(systemd_unescape_decodes_hex_escapes),
		cmocka_unit_test(sanitized_names_are_one_safe_path_component),
		cmocka_unit_test(sanitized_names_are_truncated_to_the_buffer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
