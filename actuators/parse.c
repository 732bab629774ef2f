/* Pure parsers of what users write to control files. */
#include "control.h"
#include "cpulist.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>

int control_line(const char *buf, size_t len, char *out, size_t size)
{
	size_t b = 0, e = len;

	if (len > CONTROL_MAX_LINE || memchr(buf, '\0', len))
		return -EINVAL;
	while (b < e && isspace((unsigned char)buf[b]))
		b++;
	while (e > b && isspace((unsigned char)buf[e - 1]))
		e--;
	if (memchr(buf + b, '\n', e - b) || e - b >= size)
		return -EINVAL;
	memcpy(out, buf + b, e - b);
	out[e - b] = '\0';
	return 0;
}

int control_parse_prefetch(const char *line, bool *on)
{
	if (strcmp(line, "on") == 0 || strcmp(line, "1") == 0)
		*on = true;
	else if (strcmp(line, "off") == 0 || strcmp(line, "0") == 0)
		*on = false;
	else
		return -EINVAL;
	return 0;
}

int control_parse_mode(const char *line, enum mode *mode)
{
	static const char *const names[] = { [MODE_CONTAINER] = "container", [MODE_VM] = "vm",
					     [MODE_AUTO] = "auto" };

	for (unsigned i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strcmp(line, names[i]) == 0) {
			*mode = (enum mode)i;
			return 0;
		}
	return -EINVAL;
}

static bool valid_host_name(const char *s, size_t len)
{
	if (len == 0 || len >= sizeof(((struct placement_req *)0)->host))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("._-", s[i]))
			return false;
	return true;
}

/* "host=NAME cpus=LIST", either alone, in any order, each at most once. */
int control_parse_placement(const char *line, struct placement_req *req)
{
	const char *p = line;

	memset(req, 0, sizeof *req);
	if (!*p)
		return -EINVAL;
	while (*p) {
		size_t len = strcspn(p, " \t");
		const char *eq = memchr(p, '=', len);

		if (!eq)
			return -EINVAL;
		const char *v = eq + 1;
		size_t vlen = len - (size_t)(v - p);

		if ((size_t)(eq - p) == 4 && strncmp(p, "host", 4) == 0) {
			if (req->has_host || !valid_host_name(v, vlen))
				return -EINVAL;
			memcpy(req->host, v, vlen);
			req->host[vlen] = '\0';
			req->has_host = true;
		} else if ((size_t)(eq - p) == 4 && strncmp(p, "cpus", 4) == 0) {
			int r;

			if (req->has_cpus)
				return -EINVAL;
			r = cpulist_parse(v, vlen, &req->cpus);
			if (r < 0)
				return r;
			req->has_cpus = true;
		} else {
			return -EINVAL;
		}
		p += len;
		while (*p == ' ' || *p == '\t')
			p++;
	}
	return 0;
}
