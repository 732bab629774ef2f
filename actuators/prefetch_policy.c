#include "prefetch_policy.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int learn_index(struct prefetch_learn *l, const char *comm)
{
	for (unsigned i = 0; i < l->n; i++)
		if (strncmp(l->names[i], comm, COMM_LEN) == 0)
			return (int)i;
	if (l->n == LEARN_NAMES)
		return -1;
	snprintf(l->names[l->n], COMM_LEN, "%s", comm);
	return (int)l->n++;
}

void learn_follow(struct prefetch_learn *l, const char *trigger, const char *follower)
{
	int a = learn_index(l, trigger), b = learn_index(l, follower);

	if (a >= 0 && b >= 0 && a != b)
		l->follows[a][b]++;
}

static const struct prefetch_learn *order_learn;
static int order_trigger;

static unsigned follow_score(const char *comm)
{
	if (order_trigger < 0)
		return 0;
	for (unsigned i = 0; i < order_learn->n; i++)
		if (strncmp(order_learn->names[i], comm, COMM_LEN) == 0)
			return order_learn->follows[order_trigger][i];
	return 0;
}

static int cmp_target(const void *a, const void *b)
{
	const struct prefetch_target *x = a, *y = b;
	unsigned sx = follow_score(x->comm), sy = follow_score(y->comm);

	if (sx != sy)
		return sx > sy ? -1 : 1;
	if (x->faulter != y->faulter)
		return x->faulter ? -1 : 1;
	if (x->swap_bytes != y->swap_bytes)
		return x->swap_bytes > y->swap_bytes ? -1 : 1;
	return (x->pid > y->pid) - (x->pid < y->pid);
}

void prefetch_order(const struct prefetch_learn *l, const char *trigger,
		    struct prefetch_target *t, size_t n)
{
	/* qsort has no context argument; callers are the one engine thread. */
	order_learn = l;
	order_trigger = -1;
	for (unsigned i = 0; i < l->n; i++)
		if (strncmp(l->names[i], trigger, COMM_LEN) == 0)
			order_trigger = (int)i;
	qsort_safe(t, n, sizeof *t, cmp_target);
}

uint64_t prefetch_budget(uint64_t limit, uint64_t usage, uint64_t available, uint64_t margin,
			 uint64_t tokens)
{
	uint64_t room = limit ? (usage < limit ? limit - usage : 0) : available;

	room = room > margin ? room - margin : 0;
	return room < tokens ? room : tokens;
}

double prefetch_tokens(double tokens, double rate, uint64_t dt_usec)
{
	tokens += rate * (double)dt_usec / 1e6;
	return tokens > rate ? rate : tokens;
}

static bool special_mapping(const char *line)
{
	return strstr(line, "[vsyscall]") || strstr(line, "[vvar]") || strstr(line, "[vdso]");
}

int smaps_swapped(const char *text, struct swapped_range *out, size_t max)
{
	struct swapped_range cur = {0};
	bool have = false, skip = false;
	size_t n = 0;

	for (const char *p = text; *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		char line[512];
		unsigned long a, b, kb;

		if (len >= sizeof line)
			len = sizeof line - 1;	/* only the start of a long path matters */
		memcpy(line, p, len);
		line[len] = '\0';
		if (sscanf(line, "%lx-%lx ", &a, &b) == 2 && strchr(line, ' ') &&
		    (size_t)(strchr(line, '-') - line) < strcspn(line, " ")) {
			if (b <= a)
				return -EINVAL;
			cur = (struct swapped_range){ a, b, 0 };
			have = true;
			skip = special_mapping(line);
		} else if (strncmp(line, "Swap:", 5) == 0) {
			if (!have || sscanf(line + 5, "%lu kB", &kb) != 1)
				return -EINVAL;
			if (kb && !skip && n < max) {
				cur.swap_bytes = (uint64_t)kb * 1024;
				out[n++] = cur;
			}
		}
		if (!nl)
			break;
		p = nl + 1;
	}
	return (int)n;
}
