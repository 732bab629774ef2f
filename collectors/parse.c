#include "parse.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The value after "key<sep>" at the start of a line, or NULL. */
static const char *line_value(const char *text, const char *key, char sep)
{
	size_t klen = strlen(key);

	for (const char *p = text; p && *p;) {
		if (strncmp(p, key, klen) == 0) {
			const char *v = p + klen;
			bool ok = sep == ':' ? *v == ':' : (*v == ' ' || *v == '\t');

			if (ok) {
				v++;
				while (*v == ' ' || *v == '\t')
					v++;
				return v;
			}
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return NULL;
}

static bool token_end(const char *e)
{
	return *e == '\0' || *e == '\n' || *e == ' ';
}

static int parse_u64(const char *s, const char **end, uint64_t *out)
{
	char *e;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	*out = strtoull(s, &e, 10);
	if (errno)
		return -EINVAL;
	if (end)
		*end = e;
	return 0;
}

/* n unsigned decimals separated by blanks, each ending at a blank, newline or
 * NUL: sscanf's %llu would take "-5" and overflow silently. */
static int scan_u64s(const char *s, uint64_t *v, int n)
{
	for (int i = 0; i < n; i++) {
		const char *e;

		while (*s == ' ' || *s == '\t')
			s++;
		if (parse_u64(s, &e, &v[i]) < 0 || !(token_end(e) || *e == '\t'))
			return -EINVAL;
		s = e;
	}
	return 0;
}

int kv_get_u64(const char *text, const char *key, uint64_t *out)
{
	const char *v = line_value(text, key, ' '), *e;

	if (!v || parse_u64(v, &e, out) < 0 || !token_end(e))
		return -EINVAL;
	return 0;
}

int kv_get_double(const char *text, const char *key, double *out)
{
	const char *v = line_value(text, key, ' ');
	char *e;

	if (!v || !(isdigit((unsigned char)*v) || *v == '-'))
		return -EINVAL;
	*out = strtod(v, &e);
	return token_end(e) ? 0 : -EINVAL;
}

int meminfo_get_bytes(const char *text, const char *key, uint64_t *out)
{
	const char *v = line_value(text, key, ':'), *e;
	uint64_t n;

	if (!v || parse_u64(v, &e, &n) < 0)
		return -EINVAL;
	*out = strncmp(e, " kB", 3) == 0 ? n * 1024 : n;
	return 0;
}

int proc_stat_parse(const char *text, struct proc_stat *out)
{
	const char *p = strrchr(text, ')');
	uint64_t f[40];
	int n = 0;

	if (!p || p[1] != ' ' || !isalpha((unsigned char)p[2]))
		return -EINVAL;
	*out = (struct proc_stat){ .state = p[2] };
	p += 3;
	/* Fields 4.. are numbers (a few may be negative: take their magnitude). */
	while (n < (int)(sizeof f / sizeof f[0]) && *p == ' ') {
		char *e;

		p++;
		if (*p == '-')
			p++;
		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		f[n++] = strtoull(p, &e, 10);
		p = e;
	}
	/* f[0] is field 4 (ppid): majflt is 12, utime 14, stime 15, num_threads 20,
	 * starttime 22, blkio 42. */
	if (n < 20 - 3)
		return -EINVAL;
	out->ppid = (pid_t)f[0];
	out->majflt = f[12 - 4];
	out->utime = f[14 - 4];
	out->stime = f[15 - 4];
	out->num_threads = f[20 - 4];
	if (n > 22 - 4)
		out->starttime = f[22 - 4];
	if (n > 42 - 4) {
		out->blkio_ticks = f[42 - 4];
		out->have_blkio = 1;
	}
	return 0;
}

int schedstat_parse(const char *text, uint64_t *run_ns, uint64_t *wait_ns)
{
	const char *e;

	if (parse_u64(text, &e, run_ns) < 0 || *e != ' ' || parse_u64(e + 1, NULL, wait_ns) < 0)
		return -EINVAL;
	return 0;
}

/* Iterate lines; fn returns <0 to abort. */
static int for_each_line(const char *text, int (*fn)(const char *line, size_t len, void *ud), void *ud)
{
	for (const char *p = text; *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		int r = len ? fn(p, len, ud) : 0;

		if (r < 0)
			return r;
		if (!nl)
			break;
		p = nl + 1;
	}
	return 0;
}

struct rw_sum {
	uint64_t read, write;
};

static int blkio_line(const char *line, size_t len, void *ud)
{
	struct rw_sum *s = ud;
	char buf[128], op[16];
	uint64_t v;
	unsigned maj, min;
	int off = 0;

	if (len >= sizeof buf)
		return -EINVAL;
	memcpy(buf, line, len);
	buf[len] = '\0';
	if (strncmp(buf, "Total ", 6) == 0)
		return scan_u64s(buf + 6, &v, 1);
	if (sscanf(buf, "%u:%u %15s%n", &maj, &min, op, &off) != 3 || scan_u64s(buf + off, &v, 1) < 0)
		return -EINVAL;
	if (strcmp(op, "Read") == 0)
		s->read += v;
	else if (strcmp(op, "Write") == 0)
		s->write += v;
	return 0;
}

int blkio_v1_parse(const char *text, uint64_t *read, uint64_t *write)
{
	struct rw_sum s = {0};
	int r = for_each_line(text, blkio_line, &s);

	if (r < 0)
		return r;
	*read = s.read;
	*write = s.write;
	return 0;
}

static int iostat_line(const char *line, size_t len, void *ud)
{
	struct blk_counters *c = ud;
	static const struct { const char *key; size_t off; } keys[] = {
		{ "rbytes=", offsetof(struct blk_counters, read_bytes) },
		{ "wbytes=", offsetof(struct blk_counters, write_bytes) },
		{ "rios=", offsetof(struct blk_counters, read_ops) },
		{ "wios=", offsetof(struct blk_counters, write_ops) },
	};
	const char *end = line + len;
	const char *p = memchr(line, ' ', len);

	if (!p || !memchr(line, ':', (size_t)(p - line)))
		return -EINVAL;
	while (p < end) {
		p++;
		for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
			size_t kl = strlen(keys[i].key);
			uint64_t v;

			if ((size_t)(end - p) >= kl && strncmp(p, keys[i].key, kl) == 0) {
				const char *e;

				/* "rbytes=" with no number: a line cut short. */
				if (parse_u64(p + kl, &e, &v) < 0 || !token_end(e))
					return -EINVAL;
				*(uint64_t *)((char *)c + keys[i].off) += v;
			}
		}
		p = memchr(p, ' ', (size_t)(end - p));
		if (!p)
			break;
	}
	return 0;
}

int iostat_v2_parse(const char *text, struct blk_counters *out)
{
	*out = (struct blk_counters){0};
	return for_each_line(text, iostat_line, out);
}

int netdev_parse(const char *text, uint64_t *rx, uint64_t *tx)
{
	return netdev_parse_iface(text, NULL, rx, tx);
}

int netdev_parse_iface(const char *text, const char *only, uint64_t *rx, uint64_t *tx)
{
	const char *p = text;
	int header = 0, seen = 0;

	*rx = *tx = 0;
	while (*p) {
		const char *nl = strchr(p, '\n');
		char buf[512], ifname[64];
		uint64_t f[9];
		int off = 0;
		size_t len = nl ? (size_t)(nl - p) : strlen(p);

		if (len >= sizeof buf)
			return -EINVAL;
		memcpy(buf, p, len);
		buf[len] = '\0';
		if (header < 2) {
			header++;
		} else if (len) {
			char *colon = strchr(buf, ':');

			if (!colon)
				return -EINVAL;
			*colon = ' ';
			if (sscanf(buf, "%63s%n", ifname, &off) != 1 || scan_u64s(buf + off, f, 9) < 0)
				return -EINVAL;
			if (only ? strcmp(ifname, only) == 0 : strcmp(ifname, "lo") != 0) {
				*rx += f[0];
				*tx += f[8];
				seen++;
			}
		}
		if (!nl)
			break;
		p = nl + 1;
	}
	if (header != 2)
		return -EINVAL;
	return only && !seen ? -ENOENT : 0;
}

int psi_parse(const char *text, const char *which, double *avg10, uint64_t *total_usec)
{
	const char *v = line_value(text, which, ' ');
	char *e;

	if (!v || strncmp(v, "avg10=", 6) != 0)
		return -EINVAL;
	*avg10 = strtod(v + 6, &e);
	if (e == v + 6)
		return -EINVAL;
	const char *t = strstr(e, "total=");
	const char *nl = strchr(v, '\n');
	if (!t || (nl && t > nl) || parse_u64(t + 6, NULL, total_usec) < 0)
		return -EINVAL;
	return 0;
}

int proc_cpu_parse(const char *text, struct proc_cpu *c)
{
	uint64_t f[8];

	if (strncmp(text, "cpu ", 4) != 0 || scan_u64s(text + 4, f, 8) < 0)
		return -EINVAL;
	*c = (struct proc_cpu){ f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7] };
	return 0;
}

int loadavg_parse(const char *text, struct loadavg *l)
{
	uint64_t running, threads;
	const char *e;
	int off = 0;

	if (sscanf(text, "%lf %lf %lf %n", &l->load1, &l->load5, &l->load15, &off) != 3 || !off ||
	    parse_u64(text + off, &e, &running) < 0 || *e != '/' ||
	    parse_u64(e + 1, &e, &threads) < 0 || !token_end(e))
		return -EINVAL;
	l->running = running;
	l->threads = threads;
	return 0;
}
