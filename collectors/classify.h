/* The workload classifier: which demand dominates (cpu, io, net, memory or
 * none), smoothed and with hysteresis so that one spike does not flip it. */
#pragma once

#include "config.h"
#include "metrics.h"
#include "snapshot.h"

struct class_state {
	double smoothed[CLASS_COUNT];	/* EWMA of each class's score */
	unsigned samples;
	enum wl_class current;
	enum wl_class challenger;	/* class that beat current on the last samples ... */
	unsigned streak;		/* ... and on how many in a row */
};

/* Score of each class for one sample: the metric divided by its threshold,
 * so 1.0 means "at threshold". Idle always scores 1.0. */
void classify_scores(const struct class_config *c, const struct metric_set *m, double s[CLASS_COUNT]);
/* Switch only when a class's smoothed score beats the current one's by the
 * hysteresis factor. Pure: the decision for given smoothed scores. */
enum wl_class classify_decide(const struct class_config *c, enum wl_class cur,
			      const double smoothed[CLASS_COUNT]);
/* Feed one sample; returns the class after it. */
enum wl_class classify_update(struct class_state *st, const struct class_config *c,
			      const struct metric_set *m);
/* The first paper's rule: cpu -> vm where VMs run CPU work well, else container. */
bool classify_recommend_vm(const struct class_config *c, enum wl_class cls, bool kvm_usable);
