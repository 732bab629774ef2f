/* Small helpers shared by every module: cleanup attributes, time, string checks. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <dirent.h>

static inline void freep(void *p) { free(*(void **)p); }
static inline void closep(int *fd) { if (*fd >= 0) close(*fd); }
static inline void fclosep(FILE **f) { if (*f) fclose(*f); }
static inline void closedirp(DIR **d) { if (*d) closedir(*d); }

#define _cleanup_free_ __attribute__((cleanup(freep)))
#define _cleanup_close_ __attribute__((cleanup(closep)))
#define _cleanup_fclose_ __attribute__((cleanup(fclosep)))
#define _cleanup_closedir_ __attribute__((cleanup(closedirp)))

/* qsort(3) and memcpy(3) require non-NULL pointers even for no elements
 * (UBSan aborts on qsort(NULL, 0, ...)): an empty list may have none. */
static inline void qsort_safe(void *base, size_t n, size_t size,
			      int (*cmp)(const void *, const void *))
{
	if (n > 1)
		qsort(base, n, size, cmp);
}

static inline void *memcpy_safe(void *dst, const void *src, size_t n)
{
	return n ? memcpy(dst, src, n) : dst;
}

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define USEC_PER_SEC 1000000ULL

/* CLOCK_MONOTONIC in microseconds: the sampler's time base for rates. */
uint64_t now_usec(void);
/* The CLOCK_REALTIME time usec from now: a pthread_cond_timedwait deadline. */
void timespec_after(struct timespec *ts, uint64_t usec);
/* CLOCK_REALTIME in microseconds: for timestamps users read. */
uint64_t wall_usec(void);

/* Read a whole small file into buf (NUL-terminated). Returns length or -errno.
 * A file longer than the buffer is -EFBIG: callers size buffers for the format. */
ssize_t read_file(const char *path, char *buf, size_t size);
ssize_t read_file_at(int dirfd, const char *path, char *buf, size_t size);
/* The same with one read(2), for kernel files whose text is made whole for
 * each read (a cgroup interface file, /proc/PID/stat, schedstat, io: one
 * seq_file record): the second read that would only see EOF is spared. */
ssize_t read_file_once_at(int dirfd, const char *path, char *buf, size_t size);

bool startswith(const char *s, const char *prefix);
bool endswith(const char *s, const char *suffix);
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
char *xstrdup(const char *s);
/* realloc to n elements of size bytes; aborts on overflow or no memory */
void *xreallocarray(void *p, size_t n, size_t size);
/* p, holding *cap elements of size bytes, grown by doubling to hold at
 * least need (from 16): appending n elements one by one copies O(n) */
void *grow_array(void *p, size_t *cap, size_t need, size_t size);
#define GROW(p, cap, need) ((p) = grow_array((p), &(cap), (need), sizeof *(p)))
/* FNV-1a, 64 bits: of n bytes at p, or of the text s. Stable across
 * builds and runs: it names journal files. */
uint64_t fnv1a(const void *p, size_t n);
static inline uint64_t fnv1a_str(const char *s) { return fnv1a(s, strlen(s)); }
/* Copy in to out (size > 0) with control bytes, DEL, C1 controls and bytes
 * that are not valid UTF-8 written as \xNN, as systemd's journal shows them,
 * so that text from outside cannot drive a terminal. A text too long for
 * out is cut between characters. Returns the length written. */
size_t str_escape(const char *in, char *out, size_t size);
/* snprintf that refuses to cut: 0, or -ENAMETOOLONG (buf then "") if the
 * text does not fit. For paths and names, where a cut one can name another
 * object (two cgroups that share a long prefix). */
int path_printf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
