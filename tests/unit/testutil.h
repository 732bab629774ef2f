/* Helpers shared by the unit tests: scratch directories that are removed
 * again whatever the test did, and small file writers. Header-only so that
 * every test_*.c stays one translation unit. */
#pragma once

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A fresh directory under $TMPDIR (or /tmp); malloc'd path. */
static inline char *tu_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char *p = NULL;

	if (asprintf(&p, "%s/adaptfs-test-XXXXXX", base && *base ? base : "/tmp") < 0)
		abort();
	if (!mkdtemp(p))
		abort();
	return p;
}

static inline int tu_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static inline void tu_rm_rf(const char *path)
{
	if (path)
		nftw(path, tu_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* mkdir -p of every parent of path (path itself is a file). */
static inline void tu_mkparents(const char *path)
{
	char p[PATH_MAX];

	snprintf(p, sizeof p, "%s", path);
	for (char *s = p + 1; (s = strchr(s, '/')); s++) {
		*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			abort();
		*s = '/';
	}
}

static inline void tu_mkdirs(const char *fmt, ...)
{
	char p[PATH_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p, sizeof p - 2, fmt, ap);
	va_end(ap);
	strcat(p, "/x");
	tu_mkparents(p);
}

/* Write text to the file at the printf-formatted path, creating parents. */
static inline void tu_write(const char *text, const char *fmt, ...)
{
	char p[PATH_MAX];
	va_list ap;
	FILE *f;

	va_start(ap, fmt);
	vsnprintf(p, sizeof p, fmt, ap);
	va_end(ap);
	tu_mkparents(p);
	f = fopen(p, "w");
	if (!f)
		abort();
	fputs(text, f);
	fclose(f);
}

/* Copy a small text file to the printf-formatted path, creating parents. */
static inline void tu_copy(const char *from, const char *fmt, ...)
{
	char p[PATH_MAX], buf[16384];
	va_list ap;
	size_t n;
	FILE *f = fopen(from, "r");

	if (!f)
		abort();
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	va_start(ap, fmt);
	vsnprintf(p, sizeof p, fmt, ap);
	va_end(ap);
	tu_write(buf, "%s", p);
}
