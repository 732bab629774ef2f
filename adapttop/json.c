#include "json.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Integers as integers (counts, bytes, microseconds), the rest as reals. */
static json_t *number(double v)
{
	if (v == floor(v) && fabs(v) < 9007199254740992.0)	/* 2^53: exact in a double */
		return json_integer((json_int_t)v);
	return json_real(v);
}

/* A string as JSON; bytes that are not UTF-8 (a name is bytes) become '?'. */
static json_t *text(const char *s)
{
	json_t *j = json_string(s);
	char *copy;

	if (j)
		return j;
	copy = strdup(s);
	if (!copy)
		return NULL;
	for (char *p = copy; *p; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	j = json_string(copy);
	free(copy);
	return j;
}

/* Set KEY to the text S, left out when S is empty (no such file, as "-" in the columns). */
static void set_text(json_t *o, const char *key, const char *s)
{
	if (*s)
		json_object_set_new(o, key, text(s));
}

static json_t *row_object(const struct row *r, long iteration, uint64_t timestamp_usec)
{
	json_t *o = json_object();
	char kind[sizeof(r->kind_text)], *engine;

	if (!o)
		return NULL;
	json_object_set_new(o, "timestamp_usec", json_integer((json_int_t)timestamp_usec));
	json_object_set_new(o, "iteration", json_integer(iteration));
	json_object_set_new(o, "name", text(r->name));
	/* "container docker" -> kind "container", engine "docker" */
	snprintf(kind, sizeof(kind), "%s", r->kind_text);
	engine = strchr(kind, ' ');
	if (engine)
		*engine++ = '\0';
	set_text(o, "kind", kind);
	if (engine)
		set_text(o, "engine", engine);
	for (int f = 0; f < F_COUNT; f++)
		if (row_has(r, f))
			/* under its stat key; the snapshot's time apart from the frame's */
			json_object_set_new(o, f == F_STAMP ? "stat_timestamp_usec" : field_keys[f],
					    number(r->v[f]));
	set_text(o, "class", r->class);
	set_text(o, "mode", r->mode);
	set_text(o, "placement", r->placement_text);
	set_text(o, "prefetch", r->prefetch);
	return o;
}

int json_print_frame(const struct frame *f, long iteration, uint64_t timestamp_usec, FILE *out)
{
	for (size_t i = 0; i < f->n; i++) {
		json_t *o = row_object(&f->rows[i], iteration, timestamp_usec);
		char *line = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER |
						JSON_REAL_PRECISION(15)) : NULL;

		json_decref(o);
		if (!line)
			return -ENOMEM;
		fputs(line, out);
		fputc('\n', out);
		free(line);
	}
	fflush(out);
	return 0;
}
