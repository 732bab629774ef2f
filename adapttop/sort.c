#include "sort.h"

#include <stdlib.h>
#include <string.h>

static const struct {
	char ch;
	const char *name;
} keys[] = {
	[SORT_CPU] = { 'c', "cpu" },
	[SORT_PAR] = { 'p', "parallelism" },
	[SORT_WAIT] = { 'w', "wait" },
	[SORT_IO] = { 'i', "io" },
	[SORT_NET] = { 'n', "net" },
	[SORT_MAJFLT] = { 'f', "faults" },
	[SORT_MEM] = { 'm', "memory" },
	[SORT_NAME] = { 'N', "name" },
};

int sort_key_from_char(int ch)
{
	/* top's and htop's keys: P sorts by CPU, M by memory */
	if (ch == 'P')
		return SORT_CPU;
	if (ch == 'M')
		return SORT_MEM;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (keys[i].ch == ch)
			return (int)i;
	return -1;
}

const char *sort_key_name(enum sort_key k)
{
	return keys[k].name;
}

/* The figure a key sorts by; false when the row lacks it. I/O and net add both directions. */
static bool sort_value(const struct row *r, enum sort_key k, double *v)
{
	static const enum field single[] = {
		[SORT_CPU] = F_CPU, [SORT_PAR] = F_PAR, [SORT_WAIT] = F_WAIT,
		[SORT_MAJFLT] = F_MAJFLT, [SORT_MEM] = F_MEM,
	};
	enum field a, b;

	switch (k) {
	case SORT_IO:
		a = F_IO_R, b = F_IO_W;
		break;
	case SORT_NET:
		a = F_NET_RX, b = F_NET_TX;
		break;
	case SORT_NAME:
		return false;
	default:
		if (!row_has(r, single[k]))
			return false;
		*v = r->v[single[k]];
		return true;
	}
	if (!row_has(r, a) && !row_has(r, b))
		return false;
	*v = (row_has(r, a) ? r->v[a] : 0) + (row_has(r, b) ? r->v[b] : 0);
	return true;
}

struct sort_by {
	enum sort_key key;
	bool reverse;
};

static int cmp_rows(const void *pa, const void *pb, void *arg)
{
	const struct row *a = pa, *b = pb;
	const struct sort_by *by = arg;
	enum sort_key cmp_key = by->key;
	bool cmp_reverse = by->reverse;
	double va, vb;
	bool ha, hb;
	int c;

	if (cmp_key == SORT_NAME) {
		c = strcmp(a->name, b->name);
		return cmp_reverse ? -c : c;
	}
	ha = sort_value(a, cmp_key, &va);
	hb = sort_value(b, cmp_key, &vb);
	if (ha != hb)
		return ha ? -1 : 1;
	if (ha && va != vb) {
		c = va > vb ? -1 : 1;
		return cmp_reverse ? -c : c;
	}
	return strcmp(a->name, b->name);
}

void sort_rows(struct row *rows, size_t n, enum sort_key k, bool reverse)
{
	struct sort_by by = { k, reverse };

	if (n > 1)
		qsort_r(rows, n, sizeof(*rows), cmp_rows, &by);
}

void rows_filter(struct frame *f, const char *substr)
{
	size_t kept = 0;

	if (!substr || !*substr)
		return;
	for (size_t i = 0; i < f->n; i++)
		if (strstr(f->rows[i].name, substr))
			f->rows[kept++] = f->rows[i];
	f->n = kept;
}
