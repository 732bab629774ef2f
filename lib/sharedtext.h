/* Rendered text shared by reference: an open file holds its text alone,
 * never the snapshot it was rendered from. Immutable once made. */
#pragma once

#include "strbuf.h"

#include <stdatomic.h>
#include <stddef.h>

struct shared_text {
	atomic_uint refs;
	size_t len;
	char buf[];		/* len bytes and a NUL */
};

/* A text of exactly sb's length (sb is left as it was), one reference. */
struct shared_text *shared_text_new(const struct strbuf *sb);
struct shared_text *shared_text_get(struct shared_text *t);
/* Drop a reference; NULL is a no-op. */
void shared_text_put(struct shared_text *t);
