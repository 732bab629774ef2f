#include "recipe.h"
#include "inifile.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>

static const char *const mode_names[] = {
	[RECIPE_CONTAINER] = "container", [RECIPE_VM] = "vm", [RECIPE_AUTO] = "auto",
};

const char *recipe_mode_name(enum recipe_mode m)
{
	return mode_names[m];
}

int recipe_mode_parse(const char *s, enum recipe_mode *m)
{
	for (size_t i = 0; i < ARRAY_SIZE(mode_names); i++)
		if (strcmp(s, mode_names[i]) == 0) {
			*m = (enum recipe_mode)i;
			return 0;
		}
	return -EINVAL;
}

static const char *const standby_names[] = {
	[STANDBY_AUTO] = "auto", [STANDBY_YES] = "yes", [STANDBY_NO] = "no",
};

const char *recipe_standby_name(enum recipe_standby s)
{
	return standby_names[s];
}

static int standby_parse(const char *s, enum recipe_standby *out)
{
	for (size_t i = 0; i < ARRAY_SIZE(standby_names); i++)
		if (strcmp(s, standby_names[i]) == 0) {
			*out = (enum recipe_standby)i;
			return 0;
		}
	return -EINVAL;
}

void recipe_free_words(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void push(char ***v, size_t *n, char *s)
{
	*v = xreallocarray(*v, *n + 2, sizeof **v);
	(*v)[(*n)++] = s;
	(*v)[*n] = NULL;	/* an argv for execv */
}

int recipe_split_command(const char *s, char ***argv, size_t *argc)
{
	char *word = xmalloc(strlen(s) + 1);
	char **v = NULL;
	size_t n = 0, len = 0;
	bool in_word = false;

	for (const char *p = s;; p++) {
		if (*p == '\0' || *p == ' ' || *p == '\t') {
			if (in_word) {
				word[len] = '\0';
				push(&v, &n, xstrdup(word));
			}
			in_word = false;
			len = 0;
			if (*p == '\0')
				break;
			continue;
		}
		in_word = true;
		if (*p == '\'') {
			const char *end = strchr(p + 1, '\'');

			if (!end)
				goto bad;
			memcpy(word + len, p + 1, (size_t)(end - p - 1));
			len += (size_t)(end - p - 1);
			p = end;
		} else if (*p == '"') {
			for (p++; *p && *p != '"'; p++) {
				/* inside "...", a backslash escapes only these, as in sh */
				if (*p == '\\' && p[1] && strchr("\"\\$`", p[1]))
					p++;
				word[len++] = *p;
			}
			if (!*p)
				goto bad;
		} else if (*p == '\\') {
			if (!p[1])
				goto bad;
			word[len++] = *++p;
		} else {
			word[len++] = *p;
		}
	}
	free(word);
	if (n == 0) {
		free(v);
		return -EINVAL;
	}
	*argv = v;
	*argc = n;
	return 0;
bad:
	free(word);
	recipe_free_words(v, n);
	return -EINVAL;
}

/* 64M, 1G, 131072K or bytes; at least 16 MiB (a guest kernel needs it). */
static int parse_memory(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-')
		return -ERANGE;
	if (*end && end[1] == '\0')
		shift = *end == 'K' ? 10 : *end == 'M' ? 20 : *end == 'G' ? 30 : 99;
	else if (*end)
		shift = 99;
	if (shift == 99 || v > (1ULL << 40) >> shift || (v << shift) < (16ULL << 20))
		return -ERANGE;
	*out = (uint64_t)v << shift;
	return 0;
}

static int parse_ipv4(const char *s, char out[16])
{
	struct in_addr a;

	if (strlen(s) > 15 || inet_pton(AF_INET, s, &a) != 1)
		return -EINVAL;
	strcpy(out, s);
	return 0;
}

/* A.B.C.D/LEN; LEN defaults to 24. */
static int parse_address(struct recipe *r, const char *v)
{
	char ip[32];
	const char *slash = strchr(v, '/');
	unsigned len = 24;

	if (slash && ini_parse_uint(slash + 1, 1, 32, &len) < 0)
		return -EINVAL;
	snprintf(ip, sizeof ip, "%.*s", slash ? (int)(slash - v) : (int)strlen(v), v);
	if (parse_ipv4(ip, r->address) < 0)
		return -EINVAL;
	r->prefix_len = len;
	return 0;
}

static int parse_mac(const char *v, char out[18])
{
	unsigned char b[6];
	char tail;

	if (sscanf(v, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
		   &tail) != 6 || strlen(v) != 17 || (b[0] & 1))
		return -EINVAL;	/* six hex bytes, not multicast */
	snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4], b[5]);
	return 0;
}

static int set_workload(struct recipe *r, const char *name, const char *v)
{
	if (strcmp(name, "rootfs") == 0)
		return ini_set_path(&r->rootfs, v);
	if (strcmp(name, "command") == 0) {
		char **argv;
		size_t argc;

		if (recipe_split_command(v, &argv, &argc) < 0)
			return -EINVAL;
		recipe_free_words(r->argv, r->argc);
		r->argv = argv;
		r->argc = argc;
		return 0;
	}
	if (strcmp(name, "env") == 0) {
		const char *eq = strchr(v, '=');

		if (!eq || eq == v)
			return -EINVAL;
		push(&r->env, &r->n_env, xstrdup(v));
		return 0;
	}
	if (strcmp(name, "cpus") == 0)
		return ini_parse_uint(v, 1, 64, &r->cpus);
	if (strcmp(name, "memory") == 0)
		return parse_memory(v, &r->memory_bytes);
	if (strcmp(name, "address") == 0)
		return parse_address(r, v);
	if (strcmp(name, "gateway") == 0)
		return parse_ipv4(v, r->gateway);
	if (strcmp(name, "mac") == 0)
		return parse_mac(v, r->mac);
	if (strcmp(name, "data") == 0)
		return ini_set_path(&r->data, v);
	if (strcmp(name, "data_mount") == 0) {
		if (strcmp(v, "/") == 0 || strstr(v, ".."))
			return -EINVAL;
		return ini_set_path(&r->data_mount, v);
	}
	if (strcmp(name, "ready_port") == 0)
		return ini_parse_uint(v, 1, 65535, &r->ready_port);
	if (strcmp(name, "ready_command") == 0) {
		if (!*v)
			return -EINVAL;
		ini_set_str(&r->ready_command, v);
		return 0;
	}
	if (strcmp(name, "ready_timeout") == 0)
		return ini_parse_double(v, 0.1, 3600, &r->ready_timeout);
	if (strcmp(name, "stop_timeout") == 0)
		return ini_parse_double(v, 0, 3600, &r->stop_timeout);
	if (strcmp(name, "mode") == 0)
		return recipe_mode_parse(v, &r->mode);
	if (strcmp(name, "standby") == 0)
		return standby_parse(v, &r->standby);
	return -ENOENT;
}

static int set_vm(struct recipe *r, const char *name, const char *v)
{
	if (strcmp(name, "kernel") == 0)
		return ini_set_path(&r->kernel, v);
	if (strcmp(name, "initrd") == 0)
		return ini_set_path(&r->initrd, v);
	if (strcmp(name, "append") == 0) {
		ini_set_str(&r->append, v);
		return 0;
	}
	return -ENOENT;
}

static int recipe_set(void *user, const char *section, const char *name, const char *value)
{
	if (strcmp(section, "workload") == 0)
		return set_workload(user, name, value);
	if (strcmp(section, "vm") == 0)
		return set_vm(user, name, value);
	return -ENOENT;
}

/* Locally administered, unicast, stable for a name: FNV-1a of it. */
static void derive_mac(const char *name, char out[18])
{
	uint32_t h = 2166136261u;

	for (const char *p = name; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	snprintf(out, 18, "02:ad:%02x:%02x:%02x:%02x", h >> 24, (h >> 16) & 0xff, (h >> 8) & 0xff,
		 h & 0xff);
}

/* NAME.conf: the name becomes a directory, a runc id and a QEMU -name. */
static int name_from_path(const char *path, char out[RECIPE_NAME_MAX + 1])
{
	const char *base = strrchr(path, '/');
	size_t n;

	base = base ? base + 1 : path;
	if (!endswith(base, ".conf"))
		return -EINVAL;
	n = strlen(base) - 5;
	if (n == 0 || n > RECIPE_NAME_MAX || base[0] == '.' ||
	    strspn(base, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") < n)
		return -EINVAL;
	memcpy(out, base, n);
	out[n] = '\0';
	return 0;
}

static const char *missing_key(const struct recipe *r)
{
	if (!r->rootfs)
		return "rootfs";
	if (!r->argv)
		return "command";
	if (!r->address[0])
		return "address";
	return NULL;
}

int recipe_load(const char *path, struct recipe *r, char *err, size_t errlen)
{
	_cleanup_fclose_ FILE *f = NULL;
	const char *missing;
	int e;

	*r = (struct recipe){
		.path = xstrdup(path),
		.cpus = 1,
		.memory_bytes = 128ULL << 20,
		.ready_timeout = 60,
		.stop_timeout = 10,
		.mode = RECIPE_CONTAINER,
	};
	if (name_from_path(path, r->name) < 0) {
		snprintf(err, errlen, "%s: the name must be NAME.conf, NAME of 1-%d characters of "
			 "A-Z a-z 0-9 . _ - not starting with .", path, RECIPE_NAME_MAX);
		recipe_free(r);
		return -EINVAL;
	}
	f = fopen(path, "re");
	if (!f) {
		e = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(-e));
		recipe_free(r);
		return e;
	}
	e = ini_file_parse(f, path, recipe_set, r, err, errlen);
	if (e < 0) {
		recipe_free(r);
		return e;
	}
	missing = missing_key(r);
	if (missing) {
		snprintf(err, errlen, "%s: missing key '%s' in section [workload]", path, missing);
		recipe_free(r);
		return -EINVAL;
	}
	if (!r->data_mount)
		r->data_mount = xstrdup("/data");
	if (!r->mac[0])
		derive_mac(r->name, r->mac);
	return 0;
}

void recipe_free(struct recipe *r)
{
	free(r->path);
	free(r->rootfs);
	recipe_free_words(r->argv, r->argc);
	recipe_free_words(r->env, r->n_env);
	free(r->data);
	free(r->data_mount);
	free(r->ready_command);
	free(r->kernel);
	free(r->initrd);
	free(r->append);
	*r = (struct recipe){0};
}
