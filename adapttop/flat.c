#include "flat.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int flat_get(const char *text, const char *key, double *out)
{
	size_t klen = strlen(key);
	const char *line = text;

	for (; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
		char *end;
		double v;

		if (strncmp(line, key, klen) != 0 || (line[klen] != ' ' && line[klen] != '\t'))
			continue;
		errno = 0;
		v = strtod(line + klen, &end);
		if (end == line + klen || errno == ERANGE || !isfinite(v) ||
		    (*end != '\n' && *end != '\0' && *end != ' ' && *end != '\t'))
			return -EINVAL;
		*out = v;
		return 0;
	}
	return -ENOENT;
}

static void copy_word(const char *s, size_t len, char *out, size_t size)
{
	if (len >= size)
		len = size - 1;
	memcpy(out, s, len);
	out[len] = '\0';
}

int flat_choice(const char *text, char *out, size_t size)
{
	const char *open = strchr(text, '['), *close;
	size_t n;

	if (size == 0)
		return -EINVAL;
	if (open && (close = strchr(open, ']')) && close > open + 1) {
		copy_word(open + 1, (size_t)(close - open - 1), out, size);
		return 0;
	}
	text += strspn(text, " \t\n");
	n = strcspn(text, " \t\n");
	if (n == 0)
		return -EINVAL;
	copy_word(text, n, out, size);
	return 0;
}

void flat_line(const char *text, char *out, size_t size)
{
	size_t n = strcspn(text, "\n");

	while (n > 0 && (text[n - 1] == ' ' || text[n - 1] == '\t' || text[n - 1] == '\r'))
		n--;
	if (size == 0)
		return;
	copy_word(text, n, out, size);
}
