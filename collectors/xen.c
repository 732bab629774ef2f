/* The Xen backend: every guest domain (not dom0, the host itself) is a VM
 * workload "vm xen", figures from libxenstat. Empty where pkg-config does
 * not find xenstat (the Makefile asks it at build time, after make deps); a
 * host without a running hypervisor skips it at start. */
#ifdef HAVE_XENSTAT
#include "backend.h"
#include "log.h"
#include "util.h"

#include <limits.h>
#include <unistd.h>
#include <xenstat.h>

static xenstat_handle *handle;
static xenstat_node *node;	/* from the latest discovery, sampled from until the next */

/* Where libxenctrl reaches the hypervisor, the device first (as it does).
 * Without either, xenstat_init() can only fail, complaining on stderr:
 * never called then, as the whole process's stderr is not ours to
 * silence while other threads log. */
static bool has_privcmd(const char *proc_root)
{
	char path[PATH_MAX];

	if (access("/dev/xen/privcmd", F_OK) == 0)
		return true;
	return path_printf(path, sizeof path, "%s/xen/privcmd", proc_root) == 0 &&
	       access(path, F_OK) == 0;
}

static int xen_init(const struct backend_env *env)
{
	if (!handle && has_privcmd(env->cfg->proc_root))
		handle = xenstat_init();
	if (!handle) {
		log_info("xen: no Xen hypervisor here, skipped");
		return -1;
	}
	return 0;
}

static void xen_fini(void)
{
	if (node)
		xenstat_free_node(node);
	node = NULL;
	if (handle)
		xenstat_uninit(handle);
	handle = NULL;
}

static void xen_discover(const struct backend_env *env, struct found_list *out)
{
	(void)env;
	if (node)
		xenstat_free_node(node);
	node = xenstat_get_node(handle, XENSTAT_ALL);
	if (!node)
		return;
	for (unsigned i = 0; i < xenstat_node_num_domains(node); i++) {
		xenstat_domain *d = xenstat_node_domain_by_index(node, i);
		const char *name = d ? xenstat_domain_name(d) : NULL;
		char key[16];

		if (!d || xenstat_domain_id(d) == 0)
			continue;
		snprintf(key, sizeof key, "%u", xenstat_domain_id(d));
		found_add(out, key, xstrdup(name && *name ? name : key), engine_get("xen"), true);
	}
}

static xenstat_domain *find_domain(unsigned id)
{
	for (unsigned i = 0; node && i < xenstat_node_num_domains(node); i++) {
		xenstat_domain *d = xenstat_node_domain_by_index(node, i);

		if (d && xenstat_domain_id(d) == id)
			return d;
	}
	return NULL;
}

static void xen_sample(const struct backend_env *env, const struct found *w, void **state,
		       struct metric_set *m)
{
	xenstat_domain *d = find_domain((unsigned)strtoul(w->key, NULL, 10));
	double cpu_usec;

	(void)env, (void)state;
	if (!d)
		return;
	cpu_usec = (double)(xenstat_domain_cpu_ns(d) / 1000);
	metric_set(m, M_CPU_USAGE_USEC, cpu_usec);
	metric_set(m, M_PARALLEL_USEC, cpu_usec);
	metric_set(m, M_THREADS_TOTAL, xenstat_domain_num_vcpus(d));
	metric_set(m, M_MEM_CURRENT_BYTES, (double)xenstat_domain_cur_mem(d));
	/* Block figures: requests and 512-byte sectors per virtual block device. */
	for (unsigned i = 0; i < xenstat_domain_num_vbds(d); i++) {
		xenstat_vbd *v = xenstat_domain_vbd(d, i);

		metric_add(m, M_IO_READ_OPS, (double)xenstat_vbd_rd_reqs(v));
		metric_add(m, M_IO_WRITE_OPS, (double)xenstat_vbd_wr_reqs(v));
		metric_add(m, M_IO_READ_BYTES, (double)xenstat_vbd_rd_sects(v) * 512);
		metric_add(m, M_IO_WRITE_BYTES, (double)xenstat_vbd_wr_sects(v) * 512);
	}
	/* xenstat counts on the guest's interfaces: rx is what the guest received. */
	for (unsigned i = 0; i < xenstat_domain_num_networks(d); i++) {
		xenstat_network *n = xenstat_domain_network(d, i);

		metric_add(m, M_IO_NET_RX_BYTES, (double)xenstat_network_rbytes(n));
		metric_add(m, M_IO_NET_TX_BYTES, (double)xenstat_network_tbytes(n));
		metric_add(m, M_IO_NET_RX_PACKETS, (double)xenstat_network_rpackets(n));
		metric_add(m, M_IO_NET_TX_PACKETS, (double)xenstat_network_tpackets(n));
	}
}

static void xen_state_free(void *state)
{
	(void)state;
}

const struct backend xen_backend = {
	.name = "xen",
	.init = xen_init,
	.fini = xen_fini,
	.discover = xen_discover,
	.discover_every_sweep = true,
	.sample = xen_sample,
	.state_free = xen_state_free,
};
#endif /* HAVE_XENSTAT */
