#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <time.h>

static uint64_t clock_usec(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / 1000;
}

uint64_t now_usec(void) { return clock_usec(CLOCK_MONOTONIC); }

void timespec_after(struct timespec *ts, uint64_t usec)
{
	uint64_t ns;

	clock_gettime(CLOCK_REALTIME, ts);
	ns = (uint64_t)ts->tv_nsec + (usec % USEC_PER_SEC) * 1000;
	ts->tv_sec += (time_t)(usec / USEC_PER_SEC + ns / 1000000000u);
	ts->tv_nsec = (long)(ns % 1000000000u);
}
uint64_t wall_usec(void) { return clock_usec(CLOCK_REALTIME); }

ssize_t read_file_at(int dirfd, const char *path, char *buf, size_t size)
{
	_cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	size_t len = 0;

	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t n;

		if (len + 1 >= size)
			return -EFBIG;
		n = read(fd, buf + len, size - 1 - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	return (ssize_t)len;
}

ssize_t read_file_once_at(int dirfd, const char *path, char *buf, size_t size)
{
	_cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	do
		n = read(fd, buf, size - 1);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if ((size_t)n == size - 1)
		return -EFBIG;
	buf[n] = '\0';
	return n;
}

ssize_t read_file(const char *path, char *buf, size_t size)
{
	return read_file_at(AT_FDCWD, path, buf, size);
}

bool startswith(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool endswith(const char *s, const char *suffix)
{
	size_t ls = strlen(s), lx = strlen(suffix);

	return ls >= lx && strcmp(s + ls - lx, suffix) == 0;
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		abort();
	return p;
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		abort();
	return p;
}

char *xstrdup(const char *s)
{
	char *p = strdup(s);

	if (!p)
		abort();
	return p;
}

void *xreallocarray(void *p, size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size)
		abort();
	p = realloc(p, n && size ? n * size : 1);
	if (!p)
		abort();
	return p;
}

void *grow_array(void *p, size_t *cap, size_t need, size_t size)
{
	size_t c = *cap ? *cap : 16;

	if (need <= *cap)
		return p;
	while (c < need) {
		if (c > SIZE_MAX / 2)
			abort();
		c *= 2;
	}
	*cap = c;
	return xreallocarray(p, c, size);
}

uint64_t fnv1a(const void *p, size_t n)
{
	const unsigned char *b = p;
	uint64_t h = 0xcbf29ce484222325ULL;

	while (n--)
		h = (h ^ *b++) * 0x100000001b3ULL;
	return h;
}

int path_printf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size) {
		if (size)
			buf[0] = '\0';
		return -ENAMETOOLONG;
	}
	return 0;
}

static bool utf8_cont(unsigned char c) { return c >= 0x80 && c <= 0xbf; }

/* Length of the printable character at p (1 to 4 bytes), 0 if it is a
 * control or not valid UTF-8 (overlong, surrogate, above U+10FFFF). The
 * checks stop at the first byte that fails, so never read past a NUL. */
static size_t utf8_printable_len(const unsigned char *p)
{
	unsigned char c = p[0];

	if (c < 0x80)
		return c >= 0x20 && c != 0x7f;
	if (c >= 0xc2 && c <= 0xdf)
		return utf8_cont(p[1]) && !(c == 0xc2 && p[1] < 0xa0) ? 2 : 0;	/* C1 */
	if (c >= 0xe0 && c <= 0xef)
		return utf8_cont(p[1]) && utf8_cont(p[2]) && !(c == 0xe0 && p[1] < 0xa0) &&
			       !(c == 0xed && p[1] > 0x9f) ? 3 : 0;
	if (c >= 0xf0 && c <= 0xf4)
		return utf8_cont(p[1]) && utf8_cont(p[2]) && utf8_cont(p[3]) &&
			       !(c == 0xf0 && p[1] < 0x90) && !(c == 0xf4 && p[1] > 0x8f) ? 4 : 0;
	return 0;
}

size_t str_escape(const char *in, char *out, size_t size)
{
	const unsigned char *p = (const unsigned char *)in;
	size_t o = 0;

	while (*p) {
		size_t n = utf8_printable_len(p);

		if (n) {
			if (o + n >= size)
				break;
			memcpy(out + o, p, n);
			o += n;
			p += n;
		} else {
			if (o + 4 >= size)
				break;
			snprintf(out + o, 5, "\\x%02x", *p++);
			o += 4;
		}
	}
	out[o] = '\0';
	return o;
}
