#include "cpulist.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>

static int parse_cpu(const char **p, const char *end, unsigned *out)
{
	unsigned long v = 0;

	if (*p >= end || !isdigit((unsigned char)**p))
		return -EINVAL;
	for (; *p < end && isdigit((unsigned char)**p); (*p)++) {
		v = v * 10 + (unsigned long)(**p - '0');
		if (v >= CPU_SETSIZE)
			return -ERANGE;
	}
	*out = (unsigned)v;
	return 0;
}

int cpulist_parse(const char *s, size_t len, cpu_set_t *set)
{
	const char *p = s, *end = s + len;

	CPU_ZERO(set);
	if (len == 0)
		return -EINVAL;
	for (;;) {
		unsigned lo, hi;
		int r = parse_cpu(&p, end, &lo);

		if (r < 0)
			return r;
		hi = lo;
		if (p < end && *p == '-') {
			p++;
			r = parse_cpu(&p, end, &hi);
			if (r < 0)
				return r;
			if (hi < lo)
				return -EINVAL;
		}
		for (unsigned c = lo; c <= hi; c++)
			CPU_SET(c, set);
		if (p == end)
			return 0;
		if (*p++ != ',')
			return -EINVAL;
	}
}

void cpulist_format(const cpu_set_t *set, char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = '\0';
	for (unsigned c = 0; c < CPU_SETSIZE; c++) {
		unsigned hi = c;
		int n;

		if (!CPU_ISSET(c, set))
			continue;
		while (hi + 1 < CPU_SETSIZE && CPU_ISSET(hi + 1, set))
			hi++;
		n = hi == c ? snprintf(buf + len, size - len, "%s%u", len ? "," : "", c)
			    : snprintf(buf + len, size - len, "%s%u-%u", len ? "," : "", c, hi);
		if (n < 0 || (size_t)n >= size - len) {
			buf[len] = '\0';	/* truncated at a whole entry */
			return;
		}
		len += (size_t)n;
		c = hi;
	}
}
