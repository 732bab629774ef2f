/* A test double of the libxenstat API, linked in place of the real library
 * (its definitions take precedence over libxenstat.so's): these machines have
 * no Xen hypervisor, so xenstat_init() of the real library returns NULL.
 * It serves dom0 and two guests whose counters grow on every node read. */
#pragma once

#include <stdlib.h>
#include <string.h>
#include <xenstat.h>

struct xenstat_handle { int calls; };
struct xenstat_network { unsigned long long rb, tb, rp, tp; };
struct xenstat_vbd { unsigned long long rr, wr, rs, ws; };
struct xenstat_domain {
	unsigned id;
	char name[32];
	unsigned long long cpu_ns, mem;
	unsigned vcpus;
	struct xenstat_network net;
	struct xenstat_vbd vbd;
};
struct xenstat_node { struct xenstat_domain dom[3]; };

static struct xenstat_handle double_handle;
int xenstat_double_available = 1;
int xenstat_double_inits;

xenstat_handle *xenstat_init(void)
{
	xenstat_double_inits++;
	double_handle.calls = 0;
	return xenstat_double_available ? &double_handle : NULL;
}

void xenstat_uninit(xenstat_handle *h) { (void)h; }

/* Guest k (1, 2) at call c: cpu k*c seconds, k vCPUs, growing I/O. */
xenstat_node *xenstat_get_node(xenstat_handle *h, unsigned int flags)
{
	struct xenstat_node *n = calloc(1, sizeof *n);
	unsigned long long c = (unsigned long long)++h->calls;

	(void)flags;
	strcpy(n->dom[0].name, "Domain-0");
	for (unsigned k = 1; k <= 2; k++) {
		struct xenstat_domain *d = &n->dom[k];

		d->id = k * 10;
		snprintf(d->name, sizeof d->name, "guest%u", k);
		d->cpu_ns = k * c * 1000000000ULL;
		d->mem = k * 256ULL << 20;
		d->vcpus = k;
		d->net = (struct xenstat_network){ 1000 * c * k, 500 * c * k, 10 * c, 5 * c };
		d->vbd = (struct xenstat_vbd){ 3 * c, 4 * c, 8 * c, 16 * c };
	}
	return n;
}

void xenstat_free_node(xenstat_node *n) { free(n); }
unsigned int xenstat_node_num_domains(xenstat_node *n) { (void)n; return 3; }
xenstat_domain *xenstat_node_domain_by_index(xenstat_node *n, unsigned i) { return i < 3 ? &n->dom[i] : NULL; }
unsigned xenstat_domain_id(xenstat_domain *d) { return d->id; }
char *xenstat_domain_name(xenstat_domain *d) { return d->name; }
unsigned long long xenstat_domain_cpu_ns(xenstat_domain *d) { return d->cpu_ns; }
unsigned int xenstat_domain_num_vcpus(xenstat_domain *d) { return d->vcpus; }
unsigned long long xenstat_domain_cur_mem(xenstat_domain *d) { return d->mem; }
unsigned int xenstat_domain_num_networks(xenstat_domain *d) { (void)d; return 1; }
xenstat_network *xenstat_domain_network(xenstat_domain *d, unsigned i) { (void)i; return &d->net; }
unsigned int xenstat_domain_num_vbds(xenstat_domain *d) { (void)d; return 1; }
xenstat_vbd *xenstat_domain_vbd(xenstat_domain *d, unsigned i) { (void)i; return &d->vbd; }
unsigned long long xenstat_network_rbytes(xenstat_network *n) { return n->rb; }
unsigned long long xenstat_network_tbytes(xenstat_network *n) { return n->tb; }
unsigned long long xenstat_network_rpackets(xenstat_network *n) { return n->rp; }
unsigned long long xenstat_network_tpackets(xenstat_network *n) { return n->tp; }
unsigned long long xenstat_vbd_rd_reqs(xenstat_vbd *v) { return v->rr; }
unsigned long long xenstat_vbd_wr_reqs(xenstat_vbd *v) { return v->wr; }
unsigned long long xenstat_vbd_rd_sects(xenstat_vbd *v) { return v->rs; }
unsigned long long xenstat_vbd_wr_sects(xenstat_vbd *v) { return v->ws; }
