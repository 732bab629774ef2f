#include "policy.h"
#include "classify.h"
#include "util.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define USEC 1e6

double policy_wl_demand(const struct policy_wl *w)
{
	return w->parallelism + w->wait;
}

static double over(double demand, double cores)
{
	return demand > cores ? demand - cores : 0.0;
}

static bool cooled(const struct policy_input *in, const struct policy_wl *w)
{
	return !w->last_action_usec ||
	       (double)(in->now_usec - w->last_action_usec) >= in->cfg->cooldown * USEC;
}

static bool add(struct policy_decision *out, size_t max, size_t *n, const struct policy_decision *d)
{
	if (*n >= max)
		return false;
	out[(*n)++] = *d;
	return true;
}

/* class cpu -> vm where a VM runs CPU work well ([class] cpu_mode, the KVM
 * probe), else container; class net -> container; other classes: no rule. */
static bool mode_target(const struct policy_input *in, const struct policy_wl *w, bool *vm,
			const char **why)
{
	if (w->class == CLASS_CPU) {
		*vm = classify_recommend_vm(in->class_cfg, CLASS_CPU, in->kvm);
		*why = *vm ? (in->kvm ? "hardware virtualization runs guests here: a VM runs CPU work best"
				      : "[class] cpu_mode = vm")
			   : (in->kvm ? "[class] cpu_mode = container"
				      : "no usable hardware virtualization: a TCG VM runs CPU work 8-18x slower");
		return true;
	}
	if (w->class == CLASS_NET) {
		*vm = false;
		*why = "a container serves network I/O best";
		return true;
	}
	return false;
}

bool policy_switch_ahead(const struct policy_input *in, const struct policy_wl *w)
{
	const char *why;
	bool vm;

	return w->is_auto && w->switchable && mode_target(in, w, &vm, &why) && vm != w->vm;
}

static void decide_modes(const struct policy_input *in, struct policy_decision *out, size_t max,
			 size_t *n, bool *acted)
{
	for (size_t i = 0; i < in->n; i++) {
		const struct policy_wl *w = &in->wl[i];
		double stable_s = (double)(in->now_usec - w->class_since_usec) / USEC;
		const char *why;
		bool vm;

		if (!w->is_auto || !w->switchable || !cooled(in, w) || stable_s < in->cfg->stable ||
		    !mode_target(in, w, &vm, &why) || vm == w->vm)
			continue;
		struct policy_decision d = { .verb = POLICY_MODE, .wl = i, .vm = vm };

		snprintf(d.reason, sizeof d.reason, "class %s for %.0f s: %s", class_name(w->class),
			 stable_s, why);
		if (add(out, max, n, &d))
			acted[i] = true;
	}
}

/* A unit moves whole: one workload, or a group of workloads that talk. */
struct unit {
	size_t first;		/* index of a member: the group id's first workload */
	size_t members;
	double demand;
	bool movable;
};

static bool same_unit(const struct policy_input *in, bool split, size_t a, size_t b)
{
	if (a == b)
		return true;
	return !split && in->wl[a].group >= 0 && in->wl[a].group == in->wl[b].group;
}

/* The group's demand exceeds this host alone: its members move one by one. */
static bool group_split(const struct policy_input *in, size_t i)
{
	double d = 0;

	if (in->wl[i].group < 0)
		return true;
	for (size_t k = 0; k < in->n; k++)
		if (in->wl[k].group == in->wl[i].group)
			d += policy_wl_demand(&in->wl[k]);
	return d > in->cores * in->cfg->overload;
}

static void member_names(const struct policy_input *in, size_t first, bool split, char *buf,
			 size_t size)
{
	size_t o = 0;

	buf[0] = '\0';
	for (size_t k = 0; k < in->n && o < size; k++)
		if (same_unit(in, split, first, k))
			o += (size_t)snprintf(buf + o, size - o, " %s", in->wl[k].name);
}

static void decide_move(const struct policy_input *in, struct policy_decision *out, size_t max,
			size_t *n, const bool *acted)
{
	double demand = 0, excess;
	size_t best_peer = 0, best = 0;
	struct unit best_u = { 0 };
	double best_gain = 0;
	long best_rank = -1;
	bool found = false;

	for (size_t i = 0; i < in->n; i++)
		demand += policy_wl_demand(&in->wl[i]);
	if (in->cores <= 0 || demand <= in->cores * in->cfg->overload)
		return;
	excess = demand - in->cores;

	for (size_t i = 0; i < in->n; i++) {
		bool split = group_split(in, i);
		struct unit u = { .first = i, .movable = true };
		bool seen = false;

		for (size_t k = 0; k < i && !seen; k++)
			seen = same_unit(in, split, i, k);
		if (seen)
			continue;	/* the unit was looked at from its first member */
		for (size_t k = 0; k < in->n; k++) {
			const struct policy_wl *w = &in->wl[k];

			if (!same_unit(in, split, i, k))
				continue;
			u.members++;
			u.demand += policy_wl_demand(w);
			u.movable &= w->is_auto && w->can_move && cooled(in, w) && !acted[k];
		}
		if (!u.movable)
			continue;
		/* The peer with the most spare cores that it fits on. */
		double spare = 0;
		size_t peer = SIZE_MAX;
		for (size_t p = 0; p < in->n_peers; p++) {
			const struct policy_peer *pp = &in->peers[p];
			double s = pp->cores - pp->demand;

			if (!pp->reachable || pp->cores <= 0 ||
			    pp->demand + u.demand > pp->cores * in->cfg->overload ||
			    (peer != SIZE_MAX && s <= spare))
				continue;
			spare = s;
			peer = p;
		}
		if (peer == SIZE_MAX)
			continue;
		const struct policy_peer *pp = &in->peers[peer];
		double gain = over(demand, in->cores) + over(pp->demand, pp->cores) -
			      over(demand - u.demand, in->cores) - over(pp->demand + u.demand, pp->cores);
		if (gain < in->cfg->min_gain)
			continue;
		/* Most relief first (in steps of a tenth of a core, so that noise
		 * does not pick), then fewer members, then the smaller demand. */
		long rank = (long)(gain * 10 + 0.5);
		if (found && (rank < best_rank ||
			      (rank == best_rank && (u.members > best_u.members ||
						     (u.members == best_u.members &&
						      u.demand >= best_u.demand)))))
			continue;
		found = true;
		best_rank = rank;
		best_gain = gain;
		best_u = u;
		best = i;
		best_peer = peer;
	}
	if (!found)
		return;

	bool split = group_split(in, best);
	const struct policy_peer *pp = &in->peers[best_peer];
	char with[160];

	if (best_u.members > 1)
		member_names(in, best, split, with, sizeof with);
	else
		with[0] = '\0';
	for (size_t k = 0; k < in->n; k++) {
		struct policy_decision d = { .verb = POLICY_MOVE, .wl = k, .peer = best_peer };

		if (!same_unit(in, split, best, k))
			continue;
		snprintf(d.reason, sizeof d.reason,
			 "demand %.2f > %d cores x %.2f: moving demand %.2f%s%s%s to %s "
			 "(%d cores, demand %.2f) relieves %.2f of %.2f cores",
			 demand, in->cores, in->cfg->overload, best_u.demand,
			 with[0] ? " (a group that talks:" : "", with, with[0] ? ")" : "", pp->name,
			 pp->cores, pp->demand, best_gain, excess);
		add(out, max, n, &d);
	}
}

size_t policy_decide(const struct policy_input *in, struct policy_decision *out, size_t max)
{
	_cleanup_free_ bool *acted = xcalloc(in->n ? in->n : 1, sizeof *acted);
	size_t n = 0;

	decide_modes(in, out, max, &n, acted);
	decide_move(in, out, max, &n, acted);
	return n;
}
