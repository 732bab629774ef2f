#include "config.h"
#include "inifile.h"
#include "trust.h"
#include "util.h"

#include <errno.h>
#include <grp.h>

static int set_class(struct class_config *c, const char *name, const char *v)
{
	if (strcmp(name, "cpu_mode") == 0) {
		if (strcmp(v, "auto") == 0)
			c->cpu_mode = CPU_MODE_AUTO;
		else if (strcmp(v, "vm") == 0)
			c->cpu_mode = CPU_MODE_VM;
		else if (strcmp(v, "container") == 0)
			c->cpu_mode = CPU_MODE_CONTAINER;
		else
			return -EINVAL;
		return 0;
	}
	if (strcmp(name, "window") == 0)
		return ini_parse_uint(v, 1, 600, &c->window);
	static const struct { const char *key; size_t off; double min, max; } keys[] = {
		{ "hysteresis", offsetof(struct class_config, hysteresis), 1.0, 10.0 },
		{ "cpu_percent", offsetof(struct class_config, cpu_percent), 0.01, 1e6 },
		{ "io_bytes_per_sec", offsetof(struct class_config, io_bytes_per_sec), 1, 1e15 },
		{ "io_wait_percent", offsetof(struct class_config, io_wait_percent), 0.01, 1e6 },
		{ "net_bytes_per_sec", offsetof(struct class_config, net_bytes_per_sec), 1, 1e15 },
		{ "major_faults_per_sec", offsetof(struct class_config, major_faults_per_sec), 0.01, 1e12 },
	};
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		if (strcmp(name, keys[i].key) == 0)
			return ini_parse_double(v, keys[i].min, keys[i].max,
					    (double *)((char *)c + keys[i].off));
	return -ENOENT;
}

static void add_pattern(char ***list, size_t *n, const char *v)
{
	*list = xreallocarray(*list, *n + 1, sizeof **list);
	(*list)[(*n)++] = xstrdup(v);
}

static int set_prefetch(struct prefetch_config *p, const char *name, const char *v)
{
	static const struct { const char *key; size_t off; double min, max; } keys[] = {
		{ "margin_bytes", offsetof(struct prefetch_config, margin_bytes), 0, 1e15 },
		{ "cooldown_ms", offsetof(struct prefetch_config, cooldown_ms), 0, 3600e3 },
		{ "max_bytes_per_sec", offsetof(struct prefetch_config, max_bytes_per_sec), 4096, 1e15 },
		{ "max_bytes_per_trigger", offsetof(struct prefetch_config, max_bytes_per_trigger), 0, 1e15 },
		{ "defer_ms", offsetof(struct prefetch_config, defer_ms), 0, 600e3 },
		{ "poll_ms", offsetof(struct prefetch_config, poll_ms), 1, 10000 },
		{ "window_ms", offsetof(struct prefetch_config, window_ms), 1, 600e3 },
		{ "min_faults", offsetof(struct prefetch_config, min_faults), 1, 1e9 },
		{ "thrash_full_avg10", offsetof(struct prefetch_config, thrash_full_avg10), 0, 100 },
	};

	if (strcmp(name, "default") == 0) {
		if (strcmp(v, "on") == 0)
			p->enabled = true;
		else if (strcmp(v, "off") == 0)
			p->enabled = false;
		else
			return -EINVAL;
		return 0;
	}
	if (strcmp(name, "pattern") == 0) {
		if (!*v)
			return -EINVAL;
		add_pattern(&p->patterns, &p->n_patterns, v);
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		if (strcmp(name, keys[i].key) == 0)
			return ini_parse_double(v, keys[i].min, keys[i].max, (double *)((char *)p + keys[i].off));
	return -ENOENT;
}

static bool valid_name(const char *s)
{
	size_t n = strlen(s);

	return n && n < 64 && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				    "0123456789._-") == n;
}

static int set_peer(struct config *cfg, const char *host, const char *name, const char *v)
{
	struct peer *p = NULL;

	if (!valid_name(host))
		return -EINVAL;
	for (size_t i = 0; i < cfg->n_peers; i++)
		if (strcmp(cfg->peers[i].name, host) == 0)
			p = &cfg->peers[i];
	if (!p) {
		cfg->peers = xreallocarray(cfg->peers, cfg->n_peers + 1, sizeof *cfg->peers);
		p = &cfg->peers[cfg->n_peers++];
		*p = (struct peer){ .name = xstrdup(host) };
	}
	if (strcmp(name, "address") == 0 && *v) {
		ini_set_str(&p->address, v);
		return 0;
	}
	if (strcmp(name, "transport") == 0 && *v) {
		ini_set_str(&p->transport, v);
		return 0;
	}
	if (strcmp(name, "libvirt_uri") == 0 && *v) {
		ini_set_str(&p->libvirt_uri, v);
		return 0;
	}
	return *v ? -ENOENT : -EINVAL;
}

/* A cgroup path: absolute, no "." or ".." components, no trailing '/'
 * ("/" alone is the whole tree, stored as ""). */
static int set_scope(struct config *cfg, const char *v)
{
	char *copy, *s;
	size_t n = strlen(v);

	if (*v != '/' || strstr(v, "/./") || strstr(v, "/../") || strstr(v, "//") ||
	    endswith(v, "/.") || endswith(v, "/..") || n >= 256)
		return -EINVAL;
	copy = xstrdup(v);
	for (s = copy + strlen(copy); s > copy && s[-1] == '/'; s--)
		s[-1] = '\0';
	free(cfg->scope);
	cfg->scope = copy;
	return 0;
}

static int set_migration(struct migration_config *m, const char *name, const char *v)
{
	if (strcmp(name, "lxc_path") == 0)
		return ini_set_path(&m->lxc_path, v);
	if (strcmp(name, "timeout") == 0)
		return ini_parse_double(v, 1, 86400, &m->timeout);
	if (strcmp(name, "downtime_ms") == 0)
		return ini_parse_double(v, 1, 60000, &m->downtime_ms);
	if (strcmp(name, "max_bandwidth") == 0)
		return ini_parse_double(v, 0, 1e12, &m->max_bandwidth);
	if (strcmp(name, "postcopy_after") == 0)
		return ini_parse_double(v, 0.1, 3600, &m->postcopy_after);
	if (strcmp(name, "converge") == 0) {
		static const char *const names[] = { [CONVERGE_NONE] = "none",
						     [CONVERGE_AUTO] = "auto-converge",
						     [CONVERGE_POSTCOPY] = "postcopy" };

		for (size_t i = 0; i < ARRAY_SIZE(names); i++)
			if (strcmp(v, names[i]) == 0) {
				m->converge = (enum converge)i;
				return 0;
			}
		return -EINVAL;
	}
	return -ENOENT;
}

static int set_managed(struct managed_config *m, const char *name, const char *v)
{
	static const struct { const char *key; size_t off; bool path; } keys[] = {
		{ "recipes", offsetof(struct managed_config, recipes), true },
		{ "run_dir", offsetof(struct managed_config, run_dir), true },
		{ "kernel", offsetof(struct managed_config, kernel), true },
		{ "initrd", offsetof(struct managed_config, initrd), true },
		{ "qemu", offsetof(struct managed_config, qemu), false },
		{ "runc", offsetof(struct managed_config, runc), false },
	};
	unsigned char b[6];
	unsigned a[4], len;
	char tail;

	if (strcmp(name, "bridge") == 0) {
		/* an interface name: 1-15 characters, no '/' or blanks */
		if (!*v || strlen(v) > 15 || strpbrk(v, "/ \t:"))
			return -EINVAL;
		ini_set_str(&m->bridge, v);
		return 0;
	}
	if (strcmp(name, "bridge_address") == 0) {
		if (*v && (sscanf(v, "%u.%u.%u.%u/%u%c", &a[0], &a[1], &a[2], &a[3], &len, &tail) != 5 ||
			   a[0] > 255 || a[1] > 255 || a[2] > 255 || a[3] > 255 || len < 1 || len > 32))
			return -EINVAL;
		ini_set_str(&m->bridge_address, v);
		return 0;
	}
	if (strcmp(name, "bridge_mac") == 0) {
		if (strlen(v) != 17 || sscanf(v, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx%c", &b[0], &b[1], &b[2],
					      &b[3], &b[4], &b[5], &tail) != 6 || (b[0] & 1))
			return -EINVAL;
		ini_set_str(&m->bridge_mac, v);
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		if (strcmp(name, keys[i].key) == 0) {
			if (!*v || (keys[i].path && *v != '/') || strlen(v) > 200)
				return -EINVAL;
			ini_set_str((char **)((char *)m + keys[i].off), v);
			return 0;
		}
	return -ENOENT;
}

static int set_policy(struct policy_config *p, const char *name, const char *v)
{
	static const struct { const char *key; size_t off; double min, max; } keys[] = {
		{ "interval", offsetof(struct policy_config, interval), 0.1, 3600 },
		{ "stable", offsetof(struct policy_config, stable), 0, 86400 },
		{ "cooldown", offsetof(struct policy_config, cooldown), 0, 86400 },
		{ "overload", offsetof(struct policy_config, overload), 1.0, 10.0 },
		{ "min_gain", offsetof(struct policy_config, min_gain), 0.01, 1024 },
		{ "settle", offsetof(struct policy_config, settle), 0, 86400 },
	};

	if (strcmp(name, "enabled") == 0)
		return ini_parse_yes_no(v, &p->enabled);
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		if (strcmp(name, keys[i].key) == 0)
			return ini_parse_double(v, keys[i].min, keys[i].max, (double *)((char *)p + keys[i].off));
	return -ENOENT;
}

static int set_key(struct config *cfg, const char *section, const char *name, const char *v)
{
	if (strncmp(section, "host ", 5) == 0)
		return set_peer(cfg, section + 5, name, v);
	if (strcmp(section, "adaptfs") == 0) {
		if (strcmp(name, "interval") == 0)
			return ini_parse_double(v, 0.05, 3600, &cfg->interval);
		if (strcmp(name, "state_dir") == 0)
			return ini_set_path(&cfg->state_dir, v);
		if (strcmp(name, "io_uring") == 0)
			return ini_parse_yes_no(v, &cfg->io_uring);
		if (strcmp(name, "group") == 0) {
			if (!getgrnam(v))
				return -EINVAL;	/* a group that does not exist */
			ini_set_str(&cfg->group, v);
			return 0;
		}
		if (strcmp(name, "host_name") == 0) {
			if (!*v || strlen(v) > 63 || strspn(v, "abcdefghijklmnopqrstuvwxyz"
					"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != strlen(v))
				return -EINVAL;
			ini_set_str(&cfg->host_name, v);
			return 0;
		}
		return -ENOENT;
	}
	if (strcmp(section, "discovery") == 0) {
		if (strcmp(name, "rescan_interval") == 0)
			return ini_parse_double(v, 0.1, 86400, &cfg->rescan_interval);
		if (strcmp(name, "pattern") == 0) {
			if (*v != '/')
				return -EINVAL;
			add_pattern(&cfg->patterns, &cfg->n_patterns, v);
			return 0;
		}
		if (strcmp(name, "scope") == 0)
			return set_scope(cfg, v);
		static const struct { const char *key; size_t off; } paths[] = {
			{ "cgroup_root", offsetof(struct config, cgroup_root) },
			{ "proc_root", offsetof(struct config, proc_root) },
			{ "run_root", offsetof(struct config, run_root) },
		};
		for (size_t i = 0; i < ARRAY_SIZE(paths); i++)
			if (strcmp(name, paths[i].key) == 0)
				return ini_set_path((char **)((char *)cfg + paths[i].off), v);
		return -ENOENT;
	}
	if (strcmp(section, "migration") == 0)
		return set_migration(&cfg->migration, name, v);
	if (strcmp(section, "managed") == 0)
		return set_managed(&cfg->managed, name, v);
	if (strcmp(section, "class") == 0)
		return set_class(&cfg->class, name, v);
	if (strcmp(section, "prefetch") == 0)
		return set_prefetch(&cfg->prefetch, name, v);
	if (strcmp(section, "policy") == 0)
		return set_policy(&cfg->policy, name, v);
	if (strcmp(section, "libvirt") == 0) {
		if (!*v || strlen(v) > 1000)
			return -EINVAL;
		if (strcmp(name, "uri") == 0)
			ini_set_str(&cfg->libvirt.uri, v);
		else if (strcmp(name, "virsh") == 0)
			ini_set_str(&cfg->libvirt.virsh, v);
		else
			return -ENOENT;
		return 0;
	}
	return -ENOENT;
}

static int config_set(void *user, const char *section, const char *name, const char *value)
{
	return set_key(user, section, name, value);
}

static void config_defaults(struct config *cfg)
{
	char host[64] = "localhost";

	gethostname(host, sizeof host - 1);
	*cfg = (struct config){
		.interval = 1.0,
		.io_uring = true,
		.rescan_interval = 10.0,
		.cgroup_root = xstrdup("/sys/fs/cgroup"),
		.proc_root = xstrdup("/proc"),
		.run_root = xstrdup("/run"),
		.state_dir = xstrdup("/var/lib/adaptfs"),
		.scope = xstrdup(""),
		.migration = {
			.lxc_path = xstrdup("/var/lib/lxc"),
			.timeout = 120,
			.downtime_ms = 30,
			.converge = CONVERGE_NONE,
			.postcopy_after = 2,
		},
		.managed = {
			.recipes = xstrdup("/etc/adaptfs/workloads.d"),
			.run_dir = xstrdup("/run/adaptfs"),
			.bridge = xstrdup("adaptbr0"),
			.bridge_address = xstrdup(""),
			.bridge_mac = xstrdup("02:ad:00:00:00:01"),
			.kernel = xstrdup("/var/lib/adaptfs/vm/vmlinux"),
			.initrd = xstrdup("/var/lib/adaptfs/vm/initramfs.cpio"),
			.qemu = xstrdup("qemu-system-x86_64"),
			.runc = xstrdup("runc"),
		},
		.host_name = xstrdup(host),
		.libvirt = {
			.uri = xstrdup("qemu:///system"),
			.virsh = xstrdup("virsh"),
		},
		.policy = {
			.enabled = true,
			.interval = 5,
			.stable = 30,
			.cooldown = 60,
			.overload = 1.25,
			.min_gain = 0.25,
			.settle = 60,
		},
		.prefetch = {
			.margin_bytes = 16 << 20,
			.cooldown_ms = 200,
			.max_bytes_per_sec = 1024.0 * 1024 * 1024,
			.poll_ms = 10,
			.window_ms = 2000,
			.min_faults = 256,
			.defer_ms = 10000,
			.thrash_full_avg10 = 20,
		},
		.class = {
			.window = 5,
			.hysteresis = 1.2,
			.cpu_percent = 50.0,
			.io_bytes_per_sec = 1048576,
			.io_wait_percent = 20.0,
			.net_bytes_per_sec = 1048576,
			.major_faults_per_sec = 50.0,
			.cpu_mode = CPU_MODE_AUTO,
		},
	};
}

/* The journal in the state directory says what to run at start; the run
 * directory holds what managed workloads run as. */
static int check_dirs(struct config *cfg, char *err, size_t errlen)
{
	if (trust_check_dir(cfg->state_dir, err, errlen) < 0 ||
	    trust_check_dir(cfg->managed.run_dir, err, errlen) < 0) {
		config_free(cfg);
		return -EPERM;
	}
	return 0;
}

int config_load(struct config *cfg, const char *path, bool required, char *err, size_t errlen)
{
	_cleanup_fclose_ FILE *f = NULL;
	int r;

	config_defaults(cfg);
	if (!path)
		return check_dirs(cfg, err, errlen);
	cfg->path = xstrdup(path);
	f = fopen(path, "re");
	if (!f) {
		int e = errno;

		if (e == ENOENT && !required)
			return check_dirs(cfg, err, errlen);
		snprintf(err, errlen, "%s: %s", path, strerror(e));
		config_free(cfg);
		return -e;
	}
	/* It says which cgroups are acted on and who may act: anyone able to
	 * rewrite it could act as root (ini_file_parse refuses it then). */
	r = ini_file_parse(f, path, config_set, cfg, err, errlen);
	if (r < 0) {
		config_free(cfg);
		return r;
	}
	for (size_t i = 0; i < cfg->n_peers; i++)
		if (!cfg->peers[i].address || !cfg->peers[i].transport) {
			snprintf(err, errlen, "%s: [host %s] needs both address and transport", path,
				 cfg->peers[i].name);
			config_free(cfg);
			return -EINVAL;
		}
	return check_dirs(cfg, err, errlen);
}

void config_free(struct config *cfg)
{
	free(cfg->path);
	free(cfg->cgroup_root);
	free(cfg->proc_root);
	free(cfg->run_root);
	free(cfg->state_dir);
	free(cfg->scope);
	free(cfg->migration.lxc_path);
	free(cfg->managed.recipes);
	free(cfg->managed.run_dir);
	free(cfg->managed.bridge);
	free(cfg->managed.bridge_address);
	free(cfg->managed.bridge_mac);
	free(cfg->managed.kernel);
	free(cfg->managed.initrd);
	free(cfg->managed.qemu);
	free(cfg->managed.runc);
	free(cfg->host_name);
	free(cfg->group);
	free(cfg->libvirt.uri);
	free(cfg->libvirt.virsh);
	for (size_t i = 0; i < cfg->n_peers; i++) {
		free(cfg->peers[i].name);
		free(cfg->peers[i].address);
		free(cfg->peers[i].transport);
		free(cfg->peers[i].libvirt_uri);
	}
	free(cfg->peers);
	for (size_t i = 0; i < cfg->prefetch.n_patterns; i++)
		free(cfg->prefetch.patterns[i]);
	free(cfg->prefetch.patterns);
	for (size_t i = 0; i < cfg->n_patterns; i++)
		free(cfg->patterns[i]);
	free(cfg->patterns);
	*cfg = (struct config){0};
}
