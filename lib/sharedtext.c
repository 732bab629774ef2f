#include "sharedtext.h"
#include "util.h"

struct shared_text *shared_text_new(const struct strbuf *sb)
{
	struct shared_text *t = xmalloc(sizeof *t + sb->len + 1);

	atomic_init(&t->refs, 1);
	t->len = sb->len;
	if (sb->len)
		memcpy(t->buf, sb->buf, sb->len);
	t->buf[sb->len] = '\0';
	return t;
}

struct shared_text *shared_text_get(struct shared_text *t)
{
	atomic_fetch_add(&t->refs, 1);
	return t;
}

void shared_text_put(struct shared_text *t)
{
	if (t && atomic_fetch_sub(&t->refs, 1) == 1)
		free(t);
}
