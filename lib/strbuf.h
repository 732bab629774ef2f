/* Growable text buffer: every rendered file is built in one of these. */
#pragma once

#include <stddef.h>

struct strbuf {
	char *buf;
	size_t len;
	size_t cap;
};

void strbuf_printf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void strbuf_append(struct strbuf *sb, const char *s, size_t n);
void strbuf_reset(struct strbuf *sb);
void strbuf_free(struct strbuf *sb);
