/* QEMU guests seen from the host: discovery from the process table, and
 * what a QEMU command line says about a guest. */
#pragma once

#include <stddef.h>

#define QEMU_MAX_TAPS 8

struct qemu_cmdline {
	char name[128];		/* -name NAME or guest=NAME; "" if none */
	char qmp[256];		/* QMP unix socket path; "" if none */
	char balloon[64];	/* id of a virtio-balloon device; "" if none */
	char taps[QEMU_MAX_TAPS][16];	/* host tap interfaces */
	size_t n_taps;
	int libvirt;		/* started by libvirt (-name guest=...) */
};

#include "cgroup.h"

/* A guest's vCPU threads into out: those named "CPU n/KVM" or "CPU n/TCG"
 * (QEMU with debug-threads=on), else every thread of it stands in. */
void qemu_vcpu_threads(const char *proc_root, pid_t pid, struct pid_list *out);

/* argv as in /proc/PID/cmdline: NUL-separated, len bytes. Pure. */
int qemu_cmdline_parse(const char *argv, size_t len, struct qemu_cmdline *out);
/* The command line of process pid, read and parsed: 0, or -errno. */
int qemu_cmdline_of(const char *proc_root, pid_t pid, struct qemu_cmdline *out);
