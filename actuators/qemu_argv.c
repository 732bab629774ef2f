#include "qemu_argv.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>

void argv_list_add(struct argv_list *l, const char *s)
{
	GROW(l->v, l->cap, l->n + 2);	/* and the NULL after the last */
	l->v[l->n++] = xstrdup(s);
	l->v[l->n] = NULL;
}

void argv_list_free(struct argv_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	*l = (struct argv_list){0};
}

/* In "opt,key=PATH,..." give key the value path; other keys unchanged. */
static char *replace_key(const char *opts, const char *key, const char *path)
{
	size_t kl = strlen(key);
	const char *p = opts;
	char *out;

	for (;;) {
		const char *comma = strchr(p, ',');

		if (strncmp(p, key, kl) == 0 && p[kl] == '=') {
			const char *end = p + kl + 1;

			/* ",," is an escaped comma inside a value */
			while (*end && !(end[0] == ',' && end[1] != ','))
				end += end[0] == ',' ? 2 : 1;
			if (asprintf(&out, "%.*s%s=%s%s", (int)(p - opts), opts, key, path, end) < 0)
				abort();
			return out;
		}
		if (!comma)
			return xstrdup(opts);
		while (comma && comma[1] == ',')
			comma = strchr(comma + 2, ',');
		if (!comma)
			return xstrdup(opts);
		p = comma + 1;
	}
}

/* "unix:PATH,server..." for -qmp, -monitor, -serial and friends. */
static char *replace_unix(const char *v, const char *path)
{
	const char *comma = strchr(v, ',');
	char *out;

	if (asprintf(&out, "unix:%s%s", path, comma ? comma : "") < 0)
		abort();
	return out;
}

static bool takes_value(const char *o)
{
	/* options of QEMU without an argument that may sit between ours */
	static const char *const flags[] = {
		"-daemonize", "-S", "-nographic", "-nodefaults", "-no-user-config",
		"-no-reboot", "-no-shutdown", "-enable-kvm", "-snapshot", "-no-hpet",
	};

	for (size_t i = 0; i < ARRAY_SIZE(flags); i++)
		if (strcmp(o, flags[i]) == 0)
			return false;
	return true;
}

static bool is_ctl_socket(const char *v)
{
	const char *comma = strchr(v, ',');
	size_t n = comma ? (size_t)(comma - v) : strlen(v);

	return n >= strlen(QEMU_CTL_SOCKET) + 1 && v[n - strlen(QEMU_CTL_SOCKET) - 1] == '/' &&
	       strncmp(v + n - strlen(QEMU_CTL_SOCKET), QEMU_CTL_SOCKET, strlen(QEMU_CTL_SOCKET)) == 0;
}

int qemu_argv_incoming(const struct argv_list *in, const char *run_dir, const char *uri,
		       struct argv_list *out)
{
	char path[4096];
	unsigned n_files = 0;

	*out = (struct argv_list){0};
	if (in->n == 0)
		return -EINVAL;
	argv_list_add(out, in->v[0]);
	for (size_t i = 1; i < in->n; i++) {
		const char *o = in->v[i], *v = i + 1 < in->n ? in->v[i + 1] : NULL;
		char *nv = NULL;

		/* "--opt" is the same option as "-opt" */
		if (o[0] == '-' && o[1] == '-')
			o++;
		if (strcmp(o, "-daemonize") == 0)
			continue;
		if (!takes_value(o) || !v || o[0] != '-') {
			argv_list_add(out, in->v[i]);
			continue;
		}
		i++;
		if (strcmp(o, "-incoming") == 0 || strcmp(o, "-pidfile") == 0)
			continue;
		snprintf(path, sizeof path, "%s/f%u", run_dir, n_files);
		if ((strcmp(o, "-qmp") == 0 || strcmp(o, "-monitor") == 0 ||
		     strcmp(o, "-serial") == 0) && startswith(v, "unix:")) {
			if (strcmp(o, "-qmp") == 0 && is_ctl_socket(v))
				continue;	/* an earlier hop's, replaced below */
			nv = replace_unix(v, path);
			n_files++;
		} else if (strcmp(o, "-serial") == 0 && startswith(v, "file:")) {
			if (asprintf(&nv, "file:%s", path) < 0)
				abort();
			n_files++;
		} else if (strcmp(o, "-chardev") == 0 &&
			   (startswith(v, "socket,") || startswith(v, "file,") ||
			    startswith(v, "pipe,"))) {
			nv = replace_key(v, "path", path);
			n_files++;
		} else if (strcmp(o, "-D") == 0) {
			nv = xstrdup(path);
			n_files++;
		}
		argv_list_add(out, in->v[i - 1]);
		argv_list_add(out, nv ? nv : v);
		free(nv);
	}
	argv_list_add(out, "-daemonize");
	snprintf(path, sizeof path, "%s/qemu.pid", run_dir);
	argv_list_add(out, "-pidfile");
	argv_list_add(out, path);
	argv_list_add(out, "-incoming");
	argv_list_add(out, uri);
	/* a monitor of the receiver's own: the guest's QMP socket may be busy
	 * with its manager or a collector */
	snprintf(path, sizeof path, "unix:%s/%s,server=on,wait=off", run_dir, QEMU_CTL_SOCKET);
	argv_list_add(out, "-qmp");
	argv_list_add(out, path);
	return 0;
}
