/* A container moved here cold: unpack the source's container directory
 * (config and rootfs) from standard input, start it with LXC. */
#include "receive.h"
#include "spawn.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>

#define START_TIMEOUT_MS 30000
/* Present while a container here is still the unfinished copy of one
 * elsewhere: only such a copy may be removed by lxc-abort. */
#define MARKER ".adaptfs-incoming"

static int rm_rf(const char *path)
{
	const char *rm[] = { "rm", "-rf", "--one-file-system", "--", path, NULL };

	return spawn_wait(rm, -1, NULL, 0, 60000);
}

/* The source's paths in the container's config become this host's. */
static int rebase_config(const char *config, const char *from, const char *to)
{
	_cleanup_free_ char *text = NULL;
	_cleanup_fclose_ FILE *in = fopen(config, "re");
	FILE *out;
	char tmp[PATH_MAX + 64];
	size_t n = 0, fl = strlen(from);
	int r = 0;

	if (!in || getdelim(&text, &n, '\0', in) < 0)
		return -EIO;
	snprintf(tmp, sizeof tmp, "%s.new", config);
	out = fopen(tmp, "we");
	if (!out)
		return -errno;
	for (const char *p = text, *hit; *p; p = hit + fl) {
		hit = strstr(p, from);
		if (!hit) {
			fputs(p, out);
			break;
		}
		fprintf(out, "%.*s%s", (int)(hit - p), p, to);
	}
	if (fclose(out) != 0 || rename(tmp, config) < 0)
		r = -errno;
	return r;
}

static void lxc_state(const char *path, const char *name, char *out, size_t size)
{
	const char *info[] = { "lxc-info", "-P", path, "-n", name, "-sH", NULL };

	if (spawn_wait(info, -1, out, size, 10000) != 0 || !*out)
		snprintf(out, size, "gone");
	out[strcspn(out, "\n")] = '\0';
}

/* The stream: "D LEN\n" and LEN bytes of a tar archive, repeated, then
 * "E\n"; a stream cut short (the source died) is not unpacked whole. */
static int unpack(FILE *in, const char *dir, int timeout_ms)
{
	const char *untar[] = { "tar", "-x", "-p", "--numeric-owner", "-C", dir, "-f", "-", NULL };
	static char buf[1 << 16];
	char head[64];
	bool whole = false;
	int fds[2], r;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	pid = spawn_start(untar, fds[0], -1);
	close(fds[0]);
	while (pid > 0 && fgets(head, sizeof head, in)) {
		size_t len, off = 0;

		if (strcmp(head, "E\n") == 0) {
			whole = true;
			break;
		}
		if (sscanf(head, "D %zu", &len) != 1 || len > sizeof buf || fread(buf, 1, len, in) != len)
			break;
		while (off < len) {
			ssize_t n = write(fds[1], buf + off, len - off);

			if (n <= 0)
				break;
			off += (size_t)n;
		}
		if (off < len)
			break;
	}
	close(fds[1]);
	r = pid > 0 ? spawn_reap(pid, timeout_ms) : pid;
	return whole && r == 0 ? 0 : -EIO;
}

int criu_check(void)
{
	const char *check[] = { "criu", "check", NULL };
	int r = spawn_wait(check, -1, NULL, 0, 30000);

	if (r == 0)
		say("ok");
	else
		say("error criu check failed here (status %d)", r);
	return r == 0 ? 0 : 1;
}

int lxc_receive(const struct config *cfg, const char *name, const char *src_path, bool restore)
{
	const char *path = cfg->migration.lxc_path;
	char dir[PATH_MAX], tmp[PATH_MAX], from[PATH_MAX], file[PATH_MAX + 32];
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;
	int r;

	snprintf(dir, sizeof dir, "%s/%s", path, name);
	snprintf(tmp, sizeof tmp, "%s/.%s.incoming", path, name);
	snprintf(from, sizeof from, "%s/%s", src_path, name);
	if (access(dir, F_OK) == 0) {
		say("error a container named %s exists here", name);
		return 1;
	}
	mkdir(path, 0755);
	rm_rf(tmp);
	if (mkdir(tmp, 0700) < 0) {
		say("error %s: %s", tmp, strerror(errno));
		return 1;
	}
	r = unpack(stdin, tmp, (int)(cfg->migration.timeout * 1000));
	snprintf(file, sizeof file, "%s/%s/config", tmp, name);
	if (r != 0 || access(file, F_OK) < 0) {
		say("error the transfer did not arrive whole (tar status %d)", r);
		rm_rf(tmp);
		return 1;
	}
	snprintf(file, sizeof file, "%s/%s/%s", tmp, name, MARKER);
	close(open(file, O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
	snprintf(file, sizeof file, "%s/%s/config", tmp, name);
	snprintf(tmp + strlen(tmp), sizeof tmp - strlen(tmp), "/%s", name);
	if (rebase_config(file, from, dir) < 0 || rename(tmp, dir) < 0) {
		say("error cannot install the container here: %s", strerror(errno));
		*strrchr(tmp, '/') = '\0';
		rm_rf(tmp);
		return 1;
	}
	*strrchr(tmp, '/') = '\0';
	rmdir(tmp);
	/* Unpacked, not started: the source decides, and if it goes away
	 * before saying so, this copy goes. */
	say("unpacked");
	if (!getline(&line, &cap, stdin) || strcmp(line, "start\n") != 0) {
		lxc_abort(cfg, name);
		return 1;
	}

	char images[PATH_MAX + 32];
	const char *start[] = { "lxc-start", "-P", path, "-n", name, "-d", NULL };
	const char *resume[] = { "lxc-checkpoint", "-r", "-P", path, "-n", name, "-D", images, NULL };
	const char *wait[] = { "lxc-wait", "-P", path, "-n", name, "-s", "RUNNING", "-t", "30", NULL };

	/* restore: the stream carries CRIU images of the running container */
	snprintf(images, sizeof images, "%s/" LXC_CHECKPOINT_DIR, dir);
	if (spawn_wait(restore ? resume : start, -1, NULL, 0, START_TIMEOUT_MS) != 0 ||
	    spawn_wait(wait, -1, NULL, 0, START_TIMEOUT_MS + 5000) != 0) {
		say("error the container did not start here");
		lxc_abort(cfg, name);
		return 1;
	}
	snprintf(file, sizeof file, "%s/%s", dir, MARKER);
	unlink(file);
	if (restore)
		rm_rf(images);
	say("running");
	return 0;
}

int lxc_status(const struct config *cfg, const char *name)
{
	char state[64];

	lxc_state(cfg->migration.lxc_path, name, state, sizeof state);
	say("%s", state);
	return 0;
}

int lxc_abort(const struct config *cfg, const char *name)
{
	const char *path = cfg->migration.lxc_path;
	char dir[PATH_MAX], file[PATH_MAX + 32], tmp[PATH_MAX];

	snprintf(dir, sizeof dir, "%s/%s", path, name);
	snprintf(file, sizeof file, "%s/%s", dir, MARKER);
	snprintf(tmp, sizeof tmp, "%s/.%s.incoming", path, name);
	rm_rf(tmp);
	if (access(dir, F_OK) == 0 && access(file, F_OK) < 0) {
		say("kept: %s is not an unfinished copy", name);
		return 1;
	}
	const char *stop[] = { "lxc-stop", "-P", path, "-n", name, "-k", NULL };

	spawn_wait(stop, -1, NULL, 0, 15000);
	rm_rf(dir);
	say("aborted");
	return 0;
}
