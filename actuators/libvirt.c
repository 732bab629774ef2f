/* libvirt's guests through virsh. See libvirt.h. */
#include "libvirt.h"
#include "cpulist.h"
#include "events.h"
#include "qemu.h"
#include "spawn.h"
#include "util.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define VIRSH_TIMEOUT_MS 30000
#define MAX_VCPUS 512
#define VIRSH_MAX_ARGS 40	/* virsh, -q, -c, URI and a command's words */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char *conn_uri, *virsh;

void libvirt_configure(const struct config *cfg)
{
	pthread_mutex_lock(&lock);
	free(conn_uri);
	free(virsh);
	conn_uri = xstrdup(cfg->libvirt.uri);
	virsh = xstrdup(cfg->libvirt.virsh);
	pthread_mutex_unlock(&lock);
}

void libvirt_fini(void)
{
	pthread_mutex_lock(&lock);
	free(conn_uri);
	free(virsh);
	conn_uri = virsh = NULL;
	pthread_mutex_unlock(&lock);
}

/* argv for virsh -q -c URI ARGS...; u and v hold the copies it points to.
 * -E2BIG for more words than VIRSH_MAX_ARGS: never a cut command. */
static int virsh_argv(const char *uri, const char *const args[], const char *argv[VIRSH_MAX_ARGS],
		      char **u, char **v)
{
	size_t n = 4;

	pthread_mutex_lock(&lock);
	*u = xstrdup(uri ? uri : conn_uri ? conn_uri : "qemu:///system");
	*v = xstrdup(virsh ? virsh : "virsh");
	pthread_mutex_unlock(&lock);
	argv[0] = *v;
	argv[1] = "-q";
	argv[2] = "-c";
	argv[3] = *u;
	for (; *args; args++) {
		if (n == VIRSH_MAX_ARGS - 1)
			return -E2BIG;
		argv[n++] = *args;
	}
	argv[n] = NULL;
	return 0;
}

int libvirt_virsh(const char *uri, const char *const args[], char *out, size_t size, int timeout_ms)
{
	const char *argv[VIRSH_MAX_ARGS];
	_cleanup_free_ char *u = NULL, *v = NULL;
	int r = virsh_argv(uri, args, argv, &u, &v);

	if (r < 0) {
		snprintf(out, size, "too many arguments for virsh");
		return r;
	}
	return spawn_run(argv, out, size, timeout_ms);
}

pid_t libvirt_virsh_start(const char *uri, const char *const args[], int out_fd)
{
	const char *argv[VIRSH_MAX_ARGS];
	_cleanup_free_ char *u = NULL, *v = NULL;
	int r = virsh_argv(uri, args, argv, &u, &v);

	return r < 0 ? r : spawn_start_log(argv, out_fd);
}

void libvirt_first_line(const char *out, char *line, size_t size)
{
	size_t n = strcspn(out, "\n");

	snprintf(line, size, "%.*s", (int)n, out);
}

/* virsh's reason, as errno: what libvirt refuses, a guest it does not know,
 * or something else. */
static int virsh_errno(const char *out)
{
	if (strstr(out, "invalid argument") || strstr(out, "Invalid value"))
		return -EINVAL;
	if (strstr(out, "Domain not found") || strstr(out, "failed to get domain"))
		return -ESRCH;
	return -EIO;
}

static void say(const char *name, const char *what, const char *out)
{
	char line[512];

	libvirt_first_line(out, line, sizeof line);
	events_add(name, "placement: virsh %s failed: %s", what, line);
}

int libvirt_domain(const char *proc_root, pid_t pid, char dom[128])
{
	struct qemu_cmdline qc;

	if (qemu_cmdline_of(proc_root, pid, &qc) < 0 || !qc.libvirt || !qc.name[0])
		return -ESRCH;
	memcpy(dom, qc.name, sizeof qc.name);
	return 0;
}

struct vcpu_pin {
	unsigned vcpu;
	char cpus[256];
};

/* "virsh vcpupin DOM --live" lists "VCPU CPULIST" per vCPU. */
static size_t parse_pins(const char *out, struct vcpu_pin *pins, size_t max)
{
	size_t n = 0;

	for (const char *l = out; l && *l && n < max; l = strchr(l, '\n'), l = l ? l + 1 : NULL)
		if (sscanf(l, " %u %255s", &pins[n].vcpu, pins[n].cpus) == 2)
			n++;
	return n;
}

static int pin_one(const char *dom, unsigned vcpu, const char *list, char *out, size_t size)
{
	char v[16];

	snprintf(v, sizeof v, "%u", vcpu);
	return libvirt_virsh(NULL, (const char *[]){ "vcpupin", dom, v, list, "--live", NULL }, out, size,
			     VIRSH_TIMEOUT_MS);
}

int libvirt_pin(const char *proc_root, pid_t pid, const char *name, const cpu_set_t *cpus)
{
	_cleanup_free_ struct vcpu_pin *was = xcalloc(MAX_VCPUS, sizeof *was);
	char dom[128], list[1024], out[4096];
	size_t n, done;
	int r;

	if (libvirt_domain(proc_root, pid, dom) < 0)
		return -ESRCH;
	cpulist_format(cpus, list, sizeof list);
	if (libvirt_virsh(NULL, (const char *[]){ "vcpupin", dom, "--live", NULL }, out, sizeof out,
			  VIRSH_TIMEOUT_MS) != 0) {
		say(name, "vcpupin", out);
		return virsh_errno(out);
	}
	n = parse_pins(out, was, MAX_VCPUS);
	if (!n)
		return -ESRCH;
	for (done = 0; done < n; done++)
		if (pin_one(dom, was[done].vcpu, list, out, sizeof out) != 0)
			break;
	if (done == n)
		return 0;
	say(name, "vcpupin", out);
	r = virsh_errno(out);
	while (done-- > 0) {
		char ignored[1024];

		pin_one(dom, was[done].vcpu, was[done].cpus, ignored, sizeof ignored);
	}
	return r;
}
