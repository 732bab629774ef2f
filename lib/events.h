/* The /adapt/events log: a bounded ring of one-line events, newest last. */
#pragma once

#include "strbuf.h"

#include <stdarg.h>
#include <stdint.h>

#define EVENTS_MAX 512

/* Append "TIMESTAMP SUBJECT: message". Thread-safe; also logged. */
void events_add(const char *subject, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void events_vadd(const char *subject, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
void events_render(struct strbuf *sb);
/* Bytes of every event since start (newlines included): events' size. The
 * file is this stream of lines, of which the last EVENTS_MAX are kept. */
uint64_t events_size(void);
/* Copy up to size bytes of the stream from offset *pos into buf; returns how
 * many (0 at the end). A *pos before the kept lines is first moved to the
 * oldest kept line's start, so a reader that fell behind skips what it lost. */
size_t events_read(uint64_t *pos, char *buf, size_t size);
/* Wall time of the newest event, 0 before the first. */
uint64_t events_last_usec(void);
/* Called (outside the events lock) after each event, e.g. to wake poll()ers. */
void events_set_hook(void (*hook)(void));
