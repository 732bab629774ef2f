#include "links.h"
#include "cgroup.h"
#include "proc.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>

#define PROC_NET_MAX (8 << 20)	/* a namespace with ~50k sockets */

void link_addrs_free(struct link_addrs *l)
{
	free(l->v);
	*l = (struct link_addrs){0};
}

static bool has(const struct link_addrs *l, const struct link_addr *a)
{
	for (size_t i = 0; i < l->n; i++)
		if (memcmp(&l->v[i], a, sizeof *a) == 0)
			return true;
	return false;
}

static void put(struct link_addrs *l, const struct link_addr *a)
{
	if (has(l, a))
		return;
	GROW(l->v, l->cap, l->n + 1);
	l->v[l->n++] = *a;
}

static void v4(struct link_addr *a, const uint8_t q[4])
{
	*a = (struct link_addr){ .b = { [10] = 0xff, [11] = 0xff } };
	memcpy(a->b + 12, q, 4);
}

static bool loopback(const struct link_addr *a)
{
	static const uint8_t v6lo[16] = { [15] = 1 };

	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };

	return memcmp(a->b, v6lo, 16) == 0 || (memcmp(a->b, mapped, 12) == 0 && a->b[12] == 127);
}

/* The kernel prints each 32-bit word of the address as %08X of its value
 * in host byte order: the bytes are the word's memory. */
static int hex_addr(const char *s, size_t words, struct link_addr *a)
{
	uint8_t bytes[16];

	for (size_t w = 0; w < words; w++) {
		uint32_t x = 0;

		for (int k = 0; k < 8; k++) {
			char c = s[w * 8 + (size_t)k];
			int d = c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 :
				c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;

			if (d < 0)
				return -EINVAL;
			x = x << 4 | (uint32_t)d;
		}
		memcpy(bytes + 4 * w, &x, 4);
	}
	if (words == 1)
		v4(a, bytes);
	else
		memcpy(a->b, bytes, 16);
	return 0;
}

int links_parse_tcp(const char *text, bool v6, struct link_addrs *remote)
{
	size_t words = v6 ? 4 : 1, alen = words * 8;
	const char *line = strchr(text, '\n');	/* the header */

	while (line && *++line) {
		char local[40], rem[40];
		unsigned st;
		struct link_addr a;

		/* "  N: LOCAL:PORT REMOTE:PORT ST ..." */
		if (sscanf(line, "%*u: %39[0-9A-Fa-f:] %39[0-9A-Fa-f:] %x", local, rem, &st) != 3 ||
		    strlen(rem) != alen + 5 || rem[alen] != ':' || hex_addr(rem, words, &a) < 0)
			return -EINVAL;
		if ((st == 0x01 || st == 0x06) && !loopback(&a))
			put(remote, &a);
		line = strchr(line, '\n');
	}
	return 0;
}

int links_parse_fib_trie(const char *text, struct link_addrs *local)
{
	char last[64] = "";

	for (const char *line = text; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
		const char *p = line + strspn(line, " |+-");
		size_t len = strcspn(p, "\n");
		uint8_t q[4];
		struct link_addr a;

		if (startswith(line + strspn(line, " "), "|-- ")) {
			snprintf(last, sizeof last, "%.*s", (int)len, p);
		} else if (startswith(line + strspn(line, " "), "/32 host LOCAL") && last[0]) {
			if (inet_pton(AF_INET, last, q) != 1)
				return -EINVAL;
			v4(&a, q);
			if (!loopback(&a))
				put(local, &a);
		}
	}
	return 0;
}

int links_parse_if_inet6(const char *text, struct link_addrs *local)
{
	for (const char *line = text; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
		struct link_addr a;
		uint8_t bytes[16];

		if (strcspn(line, " \n") != 32)
			return -EINVAL;
		for (int i = 0; i < 16; i++) {
			unsigned x;

			if (sscanf(line + 2 * i, "%2x", &x) != 1)
				return -EINVAL;
			bytes[i] = (uint8_t)x;
		}
		memcpy(a.b, bytes, 16);
		if (!loopback(&a))
			put(local, &a);
	}
	return 0;
}

static int root(int *parent, int i)
{
	while (parent[i] != i)
		i = parent[i] = parent[parent[i]];
	return i;
}

void links_group(size_t n, const struct link_addrs *local, const struct link_addrs *remote,
		 int *group)
{
	_cleanup_free_ int *parent = xcalloc(n ? n : 1, sizeof *parent);
	_cleanup_free_ bool *linked = xcalloc(n ? n : 1, sizeof *linked);

	for (size_t i = 0; i < n; i++)
		parent[i] = (int)i;
	for (size_t i = 0; i < n; i++)
		for (size_t r = 0; r < remote[i].n; r++)
			for (size_t j = 0; j < n; j++) {
				int a, b;

				if (j == i || !has(&local[j], &remote[i].v[r]))
					continue;
				linked[i] = linked[j] = true;
				a = root(parent, (int)i);
				b = root(parent, (int)j);
				/* the smaller index is the root: group ids are stable */
				parent[a > b ? a : b] = a > b ? b : a;
			}
	for (size_t i = 0; i < n; i++)
		group[i] = linked[i] ? root(parent, (int)i) : -1;
}

/* The whole of a proc file, or NULL. */
static char *read_all(const char *path)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t len = 0, cap = 0, got;

	if (!f)
		return NULL;
	do {
		if (cap - len < 4096) {
			cap = cap ? 2 * cap : 16384;
			if (cap > PROC_NET_MAX) {
				free(buf);
				return NULL;
			}
			buf = xreallocarray(buf, cap, 1);
		}
		got = fread(buf + len, 1, cap - len - 1, f);
		len += got;
	} while (got > 0);
	buf[len] = '\0';
	return buf;
}

typedef int (*parse_fn)(const char *text, struct link_addrs *out);

static int parse_tcp4(const char *t, struct link_addrs *o) { return links_parse_tcp(t, false, o); }
static int parse_tcp6(const char *t, struct link_addrs *o) { return links_parse_tcp(t, true, o); }

static void read_net(const char *proc_root, pid_t pid, const char *file, parse_fn parse,
		     struct link_addrs *out)
{
	char path[PATH_MAX];
	_cleanup_free_ char *text = NULL;

	snprintf(path, sizeof path, "%s/%d/net/%s", proc_root, (int)pid, file);
	text = read_all(path);
	if (text)
		parse(text, out);	/* what parsed before a bad line still counts */
}

void links_collect(const struct cgroup_layout *L, const char *proc_root, const struct snapshot *s,
		   int *group)
{
	struct link_addrs *local = xcalloc(s->n ? s->n : 1, sizeof *local);
	struct link_addrs *remote = xcalloc(s->n ? s->n : 1, sizeof *remote);
	ino_t host_ns = proc_netns_inode(proc_root, 0);

	for (size_t i = 0; i < s->n && L; i++) {
		const struct wl_view *w = &s->wl[i];
		struct pid_list tids = {0}, pids = {0};
		char buf[PATH_MAX];
		const char *cg = wl_cgroup(w, buf, sizeof buf);
		pid_t pid = 0;

		if (!cg || cgroup_list_tasks(L, NULL, cg, &tids, &pids) < 0)
			goto next;
		for (size_t k = 0; k < pids.n && !pid; k++) {
			ino_t ns = proc_netns_inode(proc_root, pids.v[k]);

			if (ns && ns != host_ns)
				pid = pids.v[k];
		}
		if (!pid)
			goto next;
		read_net(proc_root, pid, "fib_trie", links_parse_fib_trie, &local[i]);
		read_net(proc_root, pid, "if_inet6", links_parse_if_inet6, &local[i]);
		read_net(proc_root, pid, "tcp", parse_tcp4, &remote[i]);
		read_net(proc_root, pid, "tcp6", parse_tcp6, &remote[i]);
next:
		pid_list_free(&tids);
		pid_list_free(&pids);
	}
	links_group(s->n, local, remote, group);
	for (size_t i = 0; i < s->n; i++) {
		link_addrs_free(&local[i]);
		link_addrs_free(&remote[i]);
	}
	free(local);
	free(remote);
}
