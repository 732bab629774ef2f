#include "inifile.h"
#include "trust.h"
#include "util.h"

#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdbool.h>
#include <sys/stat.h>

struct ini_ctx {
	FILE *f;
	ini_set_fn set;
	void *user;
	int lineno;		/* of the line inih is handling */
	int err_line;		/* of the first key refused */
	char reason[200];
};

/* inih's reader, counting lines so that a refused key names its own line
 * even after an earlier syntax error. */
static char *read_line(char *str, int num, void *stream)
{
	struct ini_ctx *ctx = stream;

	ctx->lineno++;
	return fgets(str, num, ctx->f);
}

static int on_key(void *user, const char *section, const char *name, const char *value)
{
	struct ini_ctx *ctx = user;
	int r;

	if (!name)	/* a section header alone */
		return 1;
	r = ctx->set(ctx->user, section, name, value);
	if (r == 0)
		return 1;
	if (!ctx->reason[0]) {
		ctx->err_line = ctx->lineno;
		snprintf(ctx->reason, sizeof ctx->reason,
			 r == -ENOENT ? "unknown key '%s' in section [%s]"
				      : "bad value for key '%s' in section [%s]",
			 name, section);
	}
	return 0;
}

int ini_file_parse(FILE *f, const char *path, ini_set_fn set, void *user, char *err, size_t errlen)
{
	struct ini_ctx ctx = { .f = f, .set = set, .user = user };
	struct stat st;
	int line;

	/* It says what root will do: only root may be able to change it. */
	if (fstat(fileno(f), &st) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -errno;
	}
	if (trust_check_stat(path, &st, err, errlen) < 0 || trust_check_parents(path, err, errlen) < 0)
		return -EPERM;
	line = ini_parse_stream(read_line, &ctx, on_key, &ctx);
	if (line == 0 && ferror(f)) {
		int e = errno ? errno : EIO;

		snprintf(err, errlen, "%s: %s", path, strerror(e));
		return -e;
	}
	if (line != 0) {
		bool ours = ctx.reason[0] && ctx.err_line <= line;

		snprintf(err, errlen, "%s:%d: %s", path, ours ? ctx.err_line : line,
			 ours ? ctx.reason : "syntax error");
		return -EINVAL;
	}
	return 0;
}

int ini_parse_double(const char *s, double min, double max, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int ini_parse_yes_no(const char *s, bool *out)
{
	if (strcmp(s, "yes") != 0 && strcmp(s, "no") != 0)
		return -EINVAL;
	*out = strcmp(s, "yes") == 0;
	return 0;
}

int ini_parse_uint(const char *s, unsigned min, unsigned max, unsigned *out)
{
	double d;

	if (ini_parse_double(s, min, max, &d) < 0 || d != floor(d))
		return -ERANGE;
	*out = (unsigned)d;
	return 0;
}

void ini_set_str(char **dst, const char *v)
{
	free(*dst);
	*dst = xstrdup(v);
}

int ini_set_path(char **dst, const char *v)
{
	if (*v != '/')
		return -EINVAL;
	ini_set_str(dst, v);
	return 0;
}
