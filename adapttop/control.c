#include "control.h"

#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>

int control_write(const char *mount, const char *name, const char *file, const char *value)
{
	char path[PATH_MAX], line[64];
	int fd, n, r = 0;
	ssize_t w;

	if (path_printf(path, sizeof(path), "%s/%s/%s", mount, name, file) < 0)
		return -ENAMETOOLONG;
	n = snprintf(line, sizeof(line), "%s\n", value);
	if (n < 0 || (size_t)n >= sizeof(line))
		return -EINVAL;
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	do
		w = write(fd, line, (size_t)n);
	while (w < 0 && errno == EINTR);
	if (w < 0)
		r = -errno;
	else if (w != n)
		r = -EIO;
	if (close(fd) < 0 && r == 0 && errno != EINTR)
		r = -errno;
	return r;
}

const char *control_next_mode(const char *current)
{
	if (strcmp(current, "container") == 0)
		return "vm";
	if (strcmp(current, "vm") == 0)
		return "auto";
	return "container";
}

const char *control_toggle_prefetch(const char *current)
{
	return strcmp(current, "on") == 0 ? "off" : "on";
}

static void *control_run(void *arg)
{
	struct control_job *j = arg;

	j->err = control_write(j->mount, j->name, j->file, j->value);
	atomic_store(&j->state, CONTROL_DONE);
	return NULL;
}

int control_start(struct control_job *j, const char *mount, const char *name, const char *file,
		  const char *value)
{
	int r;

	if (atomic_load(&j->state) != CONTROL_IDLE)
		return -EBUSY;
	snprintf(j->mount, sizeof(j->mount), "%s", mount);
	snprintf(j->name, sizeof(j->name), "%s", name);
	snprintf(j->file, sizeof(j->file), "%s", file);
	snprintf(j->value, sizeof(j->value), "%s", value);
	j->err = 0;
	atomic_store(&j->state, CONTROL_RUNNING);
	r = pthread_create(&j->thread, NULL, control_run, j);
	if (r != 0) {
		atomic_store(&j->state, CONTROL_IDLE);
		return -r;
	}
	return 0;
}

bool control_poll(struct control_job *j, int *err)
{
	if (atomic_load(&j->state) != CONTROL_DONE)
		return false;
	pthread_join(j->thread, NULL);
	*err = j->err;
	atomic_store(&j->state, CONTROL_IDLE);
	return true;
}
