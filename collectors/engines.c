/* One rule per container engine: how its cgroups are named, and where its
 * own name for the container can be read. */
#include "discover.h"
#include "util.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>

static bool is_hex_id(const char *s, size_t len)
{
	if (len != 64)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return true;
}

/* dir is "<prefix><64 hex><suffix>": return a copy of the id, else NULL. */
static char *scope_id(const char *dir, const char *prefix, const char *suffix)
{
	size_t lp = strlen(prefix), ls = strlen(suffix), ld = strlen(dir);

	if (ld < lp + ls || !startswith(dir, prefix) || !endswith(dir, suffix) ||
	    !is_hex_id(dir + lp, ld - lp - ls))
		return NULL;
	return strndup(dir + lp, ld - lp - ls);
}

void systemd_unescape(char *s)
{
	char *w = s;

	for (char *r = s; *r; r++) {
		unsigned v;

		if (r[0] == '\\' && r[1] == 'x' && isxdigit((unsigned char)r[2]) &&
		    isxdigit((unsigned char)r[3]) && sscanf(r + 2, "%2x", &v) == 1 && v) {
			*w++ = (char)v;
			r += 3;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
}

static char *short_id(const char *id)
{
	return strndup(id, 12);
}

/* docker keeps "Name": "/web" in its container config. */
static char *docker_name(const char *id)
{
	char path[512];
	json_t *root, *name;
	char *res = NULL;

	snprintf(path, sizeof path, "/var/lib/docker/containers/%s/config.v2.json", id);
	root = json_load_file(path, 0, NULL);
	name = json_object_get(root, "Name");
	if (json_is_string(name)) {
		const char *n = json_string_value(name);

		res = xstrdup(n[0] == '/' ? n + 1 : n);
	}
	json_decref(root);
	return res && *res ? res : (free(res), short_id(id));
}

/* podman lists [{"id": ..., "names": [...]}] in its storage's containers.json. */
static char *podman_name(const char *id)
{
	static const char *const paths[] = {
		"/var/lib/containers/storage/overlay-containers/containers.json",
		"/var/lib/containers/storage/vfs-containers/containers.json",
	};
	char *res = NULL;

	for (size_t p = 0; p < ARRAY_SIZE(paths) && !res; p++) {
		json_t *root = json_load_file(paths[p], 0, NULL), *c;
		size_t i;

		json_array_foreach(root, i, c) {
			json_t *names = json_object_get(c, "names");
			const char *cid = json_string_value(json_object_get(c, "id"));

			if (cid && strcmp(cid, id) == 0 && json_is_string(json_array_get(names, 0))) {
				res = xstrdup(json_string_value(json_array_get(names, 0)));
				break;
			}
		}
		json_decref(root);
	}
	return res ? res : short_id(id);
}

static char *unit_name(const char *dir, const char *prefix, const char *suffix)
{
	size_t lp = strlen(prefix), ls = strlen(suffix), ld = strlen(dir);
	char *n;

	if (ld <= lp + ls || !startswith(dir, prefix) || !endswith(dir, suffix))
		return NULL;
	n = strndup(dir + lp, ld - lp - ls);
	systemd_unescape(n);
	return n;
}

/* libvirt names its guests' scopes machine-qemu\x2dN\x2dNAME.scope. */
static bool is_libvirt_qemu_scope(const char *dir)
{
	const char *p = dir + strlen("machine-qemu\\x2d");

	if (!startswith(dir, "machine-qemu\\x2d") || !isdigit((unsigned char)*p))
		return false;
	while (isdigit((unsigned char)*p))
		p++;
	return startswith(p, "\\x2d");
}

/* Hand n to *name, or drop it when the caller only classifies. */
static const struct engine *named(const char *engine, char **name, char *n)
{
	if (name)
		*name = n;
	else
		free(n);
	return engine_get(engine);
}

const struct engine *engine_match(const char *parent, const char *dir, char **name)
{
	char *id, *n;

	if (name)
		*name = NULL;
	if (startswith(dir, "lxc.payload.") && dir[12])
		return named("lxc", name, xstrdup(dir + 12));
	if (parent && strcmp(parent, "lxc") == 0 && !startswith(dir, "lxc."))
		return named("lxc", name, xstrdup(dir));	/* LXC before 4.0: /lxc/NAME */
	if ((id = scope_id(dir, "docker-", ".scope")) ||
	    (parent && strcmp(parent, "docker") == 0 && (id = scope_id(dir, "", "")))) {
		if (name)
			*name = docker_name(id);
		free(id);
		return engine_get("docker");
	}
	if ((id = scope_id(dir, "cri-containerd-", ".scope"))) {
		if (name)
			*name = short_id(id);
		free(id);
		return engine_get("containerd");
	}
	if ((id = scope_id(dir, "libpod-", ".scope")) ||
	    (parent && strcmp(parent, "libpod_parent") == 0 && (id = scope_id(dir, "libpod-", "")))) {
		if (name)
			*name = podman_name(id);
		free(id);
		return engine_get("podman");
	}
	if ((n = unit_name(dir, "systemd-nspawn@", ".service")))
		return named("systemd-nspawn", name, n);
	/* machine-qemu\x2d... scopes are libvirt guests, not containers. */
	if (!is_libvirt_qemu_scope(dir) && (n = unit_name(dir, "machine-", ".scope")))
		return named("systemd-nspawn", name, n);
	return NULL;
}
