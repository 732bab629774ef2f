#include "classify.h"

static double get(const struct metric_set *m, int k)
{
	return metric_has(m, k) ? m->v[k] : 0.0;
}

static double max2(double a, double b)
{
	return a > b ? a : b;
}

void classify_scores(const struct class_config *c, const struct metric_set *m, double s[CLASS_COUNT])
{
	s[CLASS_IDLE] = 1.0;
	/* CPU demand is the CPU used and the CPU waited for: a starved
	 * workload (a VM sharing a core with others) is not idle. */
	s[CLASS_CPU] = (get(m, M_CPU_USAGE_PERCENT) + get(m, M_SCHED_WAIT_PERCENT)) / c->cpu_percent;
	s[CLASS_NET] = (get(m, M_IO_NET_RX_BYTES_PER_SEC) + get(m, M_IO_NET_TX_BYTES_PER_SEC)) /
		       c->net_bytes_per_sec;
	s[CLASS_MEMORY] = get(m, M_MAJFLT_PER_SEC) / c->major_faults_per_sec;
	s[CLASS_IO] = max2((get(m, M_IO_READ_BYTES_PER_SEC) + get(m, M_IO_WRITE_BYTES_PER_SEC)) /
			   c->io_bytes_per_sec,
			   get(m, M_IO_WAIT_PERCENT) / c->io_wait_percent);
	/* Page-ins are block I/O too: a workload faulting from swap is memory-bound,
	 * and its swap traffic must not make it look io-bound. */
	if (s[CLASS_MEMORY] >= 1.0)
		s[CLASS_IO] = 0.0;
}

enum wl_class classify_decide(const struct class_config *c, enum wl_class cur,
			      const double smoothed[CLASS_COUNT])
{
	enum wl_class best = cur;

	for (int k = 0; k < CLASS_COUNT; k++)
		if (smoothed[k] > smoothed[best])
			best = (enum wl_class)k;
	if (best != cur && smoothed[best] > c->hysteresis * smoothed[cur])
		return best;
	return cur;
}

enum wl_class classify_update(struct class_state *st, const struct class_config *c,
			      const struct metric_set *m)
{
	/* EWMA with the span of the configured window (alpha = 2 / (window + 1)). */
	double alpha = 2.0 / (c->window + 1.0), s[CLASS_COUNT];

	classify_scores(c, m, s);
	for (int k = 0; k < CLASS_COUNT; k++)
		st->smoothed[k] = st->samples ? st->smoothed[k] + alpha * (s[k] - st->smoothed[k]) : s[k];
	st->samples++;
	/* One outlier sample can move the EWMA past any threshold; a switch
	 * also needs the same winner on half a window of samples in a row. */
	enum wl_class next = classify_decide(c, st->current, st->smoothed);
	if (next == st->current) {
		st->streak = 0;
	} else {
		st->streak = next == st->challenger ? st->streak + 1 : 1;
		st->challenger = next;
		if (st->streak >= (c->window + 1) / 2) {
			st->current = next;
			st->streak = 0;
		}
	}
	return st->current;
}

bool classify_recommend_vm(const struct class_config *c, enum wl_class cls, bool kvm_usable)
{
	if (cls != CLASS_CPU)
		return false;
	switch (c->cpu_mode) {
	case CPU_MODE_VM:
		return true;
	case CPU_MODE_CONTAINER:
		return false;
	default:
		return kvm_usable;
	}
}
