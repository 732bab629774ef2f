#include "host.h"
#include "parse.h"
#include "util.h"

#include <limits.h>

static void sample_cpu(const char *proc_root, struct metric_set *m)
{
	char path[PATH_MAX], buf[512];
	_cleanup_fclose_ FILE *f = NULL;
	struct proc_cpu c;
	double tick = 1e6 / (double)sysconf(_SC_CLK_TCK);

	/* Only the first line of /proc/stat is needed; it can be huge on big hosts. */
	snprintf(path, sizeof path, "%s/stat", proc_root);
	f = fopen(path, "re");
	if (!f || !fgets(buf, sizeof buf, f) || proc_cpu_parse(buf, &c) < 0)
		return;
	metric_set(m, H_CPU_USER_USEC, (double)(c.user + c.nice) * tick);
	metric_set(m, H_CPU_SYSTEM_USEC, (double)(c.system + c.irq + c.softirq) * tick);
	metric_set(m, H_CPU_IOWAIT_USEC, (double)c.iowait * tick);
	metric_set(m, H_CPU_STEAL_USEC, (double)c.steal * tick);
	/* Steal is time the hypervisor gave to others: not this host's use. */
	metric_set(m, H_CPU_USAGE_USEC,
		   (double)(c.user + c.nice + c.system + c.irq + c.softirq) * tick);
}

static void sample_load(const char *proc_root, struct metric_set *m)
{
	char path[PATH_MAX], buf[256];
	struct loadavg l;

	snprintf(path, sizeof path, "%s/loadavg", proc_root);
	if (read_file(path, buf, sizeof buf) < 0 || loadavg_parse(buf, &l) < 0)
		return;
	metric_set(m, H_LOAD1, l.load1);
	metric_set(m, H_LOAD5, l.load5);
	metric_set(m, H_LOAD15, l.load15);
	metric_set(m, H_LOAD_RUNNING, (double)l.running);
	metric_set(m, H_LOAD_THREADS, (double)l.threads);
}

static void sample_memory(const char *proc_root, struct metric_set *m)
{
	static const struct { const char *key; int metric; } keys[] = {
		{ "MemTotal", H_MEM_TOTAL_BYTES },
		{ "MemFree", H_MEM_FREE_BYTES },
		{ "MemAvailable", H_MEM_AVAILABLE_BYTES },
		{ "Cached", H_MEM_CACHED_BYTES },
		{ "SwapTotal", H_MEM_SWAP_TOTAL_BYTES },
		{ "SwapFree", H_MEM_SWAP_FREE_BYTES },
	};
	char path[PATH_MAX], buf[8192];
	uint64_t v;

	snprintf(path, sizeof path, "%s/meminfo", proc_root);
	if (read_file(path, buf, sizeof buf) < 0)
		return;
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		if (meminfo_get_bytes(buf, keys[i].key, &v) == 0)
			metric_set(m, keys[i].metric, (double)v);
}

static void sample_pressure(const char *proc_root, struct metric_set *m)
{
	static const struct { const char *file, *which; int metric; } psi[] = {
		{ "cpu", "some", H_PSI_CPU_SOME_AVG10 },
		{ "io", "some", H_PSI_IO_SOME_AVG10 },
		{ "io", "full", H_PSI_IO_FULL_AVG10 },
		{ "memory", "some", H_PSI_MEMORY_SOME_AVG10 },
		{ "memory", "full", H_PSI_MEMORY_FULL_AVG10 },
	};
	char path[PATH_MAX], buf[512];
	double avg10;
	uint64_t total;

	for (size_t i = 0; i < ARRAY_SIZE(psi); i++) {
		snprintf(path, sizeof path, "%s/pressure/%s", proc_root, psi[i].file);
		if (read_file(path, buf, sizeof buf) >= 0 &&
		    psi_parse(buf, psi[i].which, &avg10, &total) == 0)
			metric_set(m, psi[i].metric, avg10);
	}
}

void host_sample(const char *proc_root, struct metric_set *m)
{
	long cores = sysconf(_SC_NPROCESSORS_ONLN);

	if (cores > 0)
		metric_set(m, H_CORES, (double)cores);
	sample_cpu(proc_root, m);
	sample_load(proc_root, m);
	sample_memory(proc_root, m);
	sample_pressure(proc_root, m);
}
