/* A managed workload's pin (placement cpus=): applied at once to every
 * instance of it that exists, the running one and its standby, and kept in
 * its state so that each instance started later has it from its start (the
 * container's bundle; QEMU's threads once QEMU is in its cgroup). A
 * container is pinned through its cpuset, as runc update sets it; a VM
 * through the CPU affinity of every QEMU thread, as a discovered QEMU
 * guest's vCPUs are. */
#include "managed_impl.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>

/* A QEMU that makes threads faster than this many rounds can follow. */
#define PIN_ROUNDS 100

int mpin_threads(pid_t pid, const cpu_set_t *cpus)
{
	char dir[64];

	snprintf(dir, sizeof dir, "/proc/%d/task", (int)pid);
	for (int round = 0; round < PIN_ROUNDS; round++) {
		_cleanup_closedir_ DIR *d = opendir(dir);
		struct dirent *de;
		size_t changed = 0;

		if (!d)
			return errno == ENOENT ? -ESRCH : -errno;
		while ((de = readdir(d))) {
			pid_t tid = (pid_t)atoi(de->d_name);
			cpu_set_t cur;

			/* one that exited meanwhile is no error */
			if (tid <= 0 || sched_getaffinity(tid, sizeof cur, &cur) < 0 || CPU_EQUAL(&cur, cpus))
				continue;
			if (sched_setaffinity(tid, sizeof *cpus, cpus) < 0) {
				if (errno == ESRCH)
					continue;
				return errno == EINVAL ? -ERANGE : -errno;
			}
			if (sched_getaffinity(tid, sizeof cur, &cur) == 0 && !CPU_EQUAL(&cur, cpus))
				return -ERANGE;
			changed++;
		}
		if (!changed)
			return 0;
	}
	return -EAGAIN;
}

/* A VM instance: its threads pinned, or as they were (*old, all of them
 * alike once adaptfs pinned them) on failure. */
static int pin_vm(pid_t pid, const cpu_set_t *cpus, cpu_set_t *old, char *why, size_t n)
{
	int r;

	if (sched_getaffinity(pid, sizeof *old, old) < 0) {
		r = -errno;
	} else {
		r = mpin_threads(pid, cpus);
		if (r < 0)
			mpin_threads(pid, old);
	}
	if (r < 0)
		snprintf(why, n, "cannot pin QEMU (pid %d): %s", (int)pid,
			 r == -ERANGE ? "its cpuset does not allow all of these CPUs" : strerror(-r));
	return r;
}

int mpin_apply(const struct managed_env *e, struct mw *w, const cpu_set_t *cpus, const char *list,
	       char *why, size_t n)
{
	const struct managed_standby *sb = &w->st.standby;
	pid_t vms[2];
	cpu_set_t old[2];
	size_t n_vm = 0, done = 0;
	bool container;
	int r = 0;

	if (w->st.running && w->st.vm)
		vms[n_vm++] = w->st.pid;
	if (sb->present && sb->vm)
		vms[n_vm++] = sb->pid;
	/* one runc container at most: the running one or the standby */
	container = (w->st.running && !w->st.vm) || (sb->present && !sb->vm);

	/* VMs first: their threads can be set back exactly if runc fails */
	for (; done < n_vm; done++) {
		r = pin_vm(vms[done], cpus, &old[done], why, n);
		if (r < 0)
			break;	/* this one is as it was */
	}
	if (r == 0 && container)
		r = mrunc_pin(e, w, list, why, n);
	if (r < 0)
		while (done-- > 0)
			mpin_threads(vms[done], &old[done]);
	return r;
}
