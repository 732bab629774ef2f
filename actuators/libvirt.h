/* libvirt's guests, acted on through libvirt: virsh against [libvirt] uri,
 * so that libvirt knows what was done (its live XML shows it), keeps it,
 * and moves its guests with its own migration. */
#pragma once

#include "config.h"

#include <sched.h>
#include <sys/types.h>

/* Copy [libvirt] (at start and on SIGHUP). */
void libvirt_configure(const struct config *cfg);
void libvirt_fini(void);

/* virsh -q -c URI ARGS... (URI NULL: [libvirt] uri) run to its end, at
 * most timeout_ms: its exit status, or -errno; out holds what it printed. */
int libvirt_virsh(const char *uri, const char *const args[], char *out, size_t size, int timeout_ms);
/* The same started: its stdout and stderr to out_fd; its pid or -errno. */
pid_t libvirt_virsh_start(const char *uri, const char *const args[], int out_fd);
/* The libvirt domain whose QEMU is pid (its -name guest=NAME): 0 or -ESRCH. */
int libvirt_domain(const char *proc_root, pid_t pid, char dom[128]);
/* virsh's first line of output, for events and a failure's reason. */
void libvirt_first_line(const char *out, char *line, size_t size);

/* Pin every vCPU of the libvirt guest whose QEMU is pid to cpus (virsh
 * vcpupin --live). On a failure the vCPUs already pinned get their CPUs
 * back and virsh's reason goes to events under name. 0 or -errno:
 * EINVAL for CPUs libvirt refuses, ESRCH for a guest libvirt does not
 * know, EIO for anything else. */
int libvirt_pin(const char *proc_root, pid_t pid, const char *name, const cpu_set_t *cpus);
