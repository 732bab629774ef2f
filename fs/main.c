/* adaptfs(8): option parsing, mounting, signals, and the FUSE loop. */
#include "config.h"
#include "control.h"
#include "layout.h"
#include "libvirt.h"
#include "migrate.h"
#include "placement.h"
#include "events.h"
#include "policy_run.h"
#include "prefetch.h"
#include "log.h"
#include "ops.h"
#include "uring.h"
#include "keptdir.h"
#include "managed.h"
#include "sampler.h"
#include "snapshot.h"
#include "spawn.h"
#include "trust.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <malloc.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <grp.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#ifndef ADAPTFS_VERSION
#define ADAPTFS_VERSION "0.1"
#endif

struct options {
	char *mountpoint;	/* absolute paths, malloc'd */
	char *config;
	char *pidfile;
	char *state_dir;	/* --state-dir: overrides the config's */
	double interval;
	bool foreground, debug, single_thread;
	bool check_config;	/* --check-config: parse the config, mount nothing */
	bool stop_workloads;	/* --stop-workloads: stop the managed workloads, mount nothing */
	bool level_prefix;	/* --log-level-prefix */
	struct strbuf fuse_opts;
};

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: adaptfs [OPTIONS] MOUNTPOINT\n"
		"       adaptfs --check-config [FILE]\n"
		"       adaptfs [-c FILE] --stop-workloads\n"
		"Mount the adaptfs control filesystem: every container and VM a directory\n"
		"of live metric files.\n\n"
		"  -f, --foreground      stay in the foreground, log to stderr\n"
		"  -d, --debug           foreground and print every FUSE request\n"
		"  -s, --single-thread   serve requests on one thread\n"
		"  -o OPT[,OPT...]       mount options passed to FUSE\n"
		"  -c, --config FILE     configuration file (default " CONFIG_DEFAULT_PATH ")\n"
		"  -i, --interval SEC    seconds between snapshots (overrides the config)\n"
		"  -p, --pidfile FILE    write the daemon's pid to FILE\n"
		"      --state-dir DIR   keep journals and settings in DIR (overrides the config)\n"
		"      --log-level-prefix\n"
		"                        start each line on stderr with its syslog priority\n"
		"                        (<3> error, <4> warning, <6> info); by default only\n"
		"                        where stderr is the journal\n"
		"      --check-config[=FILE]\n"
		"                        check the configuration (or FILE) and exit,\n"
		"                        0 if the daemon would take it, else 1\n"
		"      --stop-workloads  stop the managed workloads that an adaptfs left\n"
		"                        running (none may run on their run_dir) and exit\n"
		"  -h, --help            show this help\n"
		"  -V, --version         show the version\n\n"
		"Signals: SIGTERM/SIGINT unmount and exit (managed workloads run on, for the\n"
		"next adaptfs to adopt), SIGHUP reloads the configuration.\n"
		"See adaptfs(8), adaptfs(5) and adaptfs.conf(5).\n");
}

/* The daemon runs in / after it forks: keep paths absolute. */
static char *absolute(const char *path)
{
	char cwd[PATH_MAX], *abs;

	if (path[0] == '/' || !getcwd(cwd, sizeof cwd) || asprintf(&abs, "%s/%s", cwd, path) < 0)
		return xstrdup(path);
	return abs;
}

static int parse_args(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "foreground", no_argument, NULL, 'f' },
		{ "debug", no_argument, NULL, 'd' },
		{ "single-thread", no_argument, NULL, 's' },
		{ "config", required_argument, NULL, 'c' },
		{ "interval", required_argument, NULL, 'i' },
		{ "pidfile", required_argument, NULL, 'p' },
		{ "state-dir", required_argument, NULL, 'S' },
		{ "check-config", optional_argument, NULL, 'C' },
		{ "log-level-prefix", no_argument, NULL, 'L' },
		{ "stop-workloads", no_argument, NULL, 'W' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 }
	};
	int c;

	while ((c = getopt_long(argc, argv, "fdso:c:i:p:hV", longopts, NULL)) != -1) {
		char *end;

		switch (c) {
		case 'f':
			o->foreground = true;
			break;
		case 'd':
			o->foreground = o->debug = true;
			break;
		case 's':
			o->single_thread = true;
			break;
		case 'o':
			strbuf_printf(&o->fuse_opts, ",%s", optarg);
			break;
		case 'c':
			free(o->config);
			o->config = absolute(optarg);
			break;
		case 'i':
			o->interval = strtod(optarg, &end);
			if (*end || end == optarg || !(o->interval >= 0.05 && o->interval <= 3600)) {
				log_err("--interval: '%s' is not a number of seconds between 0.05 and 3600",
					optarg);
				return -1;
			}
			break;
		case 'p':
			free(o->pidfile);
			o->pidfile = absolute(optarg);
			break;
		case 'S':
			free(o->state_dir);
			o->state_dir = absolute(optarg);
			break;
		case 'C':
			o->check_config = true;
			if (optarg) {	/* named as given: its errors say FILE:LINE */
				free(o->config);
				o->config = xstrdup(optarg);
			}
			break;
		case 'L':
			o->level_prefix = true;
			break;
		case 'W':
			o->stop_workloads = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'V':
			printf("adaptfs %s\n", ADAPTFS_VERSION);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (o->check_config) {
		/* "--check-config FILE" as well as "--check-config=FILE" */
		if (optind < argc - 1) {
			log_err("--check-config: too many arguments");
			return -1;
		}
		if (optind == argc - 1) {
			free(o->config);
			o->config = xstrdup(argv[optind]);
		}
		return 0;
	}
	if (o->stop_workloads) {
		if (optind != argc) {
			log_err("--stop-workloads: too many arguments");
			return -1;
		}
		return 0;
	}
	if (optind != argc - 1) {
		log_err("%s", optind >= argc ? "missing MOUNTPOINT" : "too many arguments");
		usage(stderr);
		return -1;
	}
	o->mountpoint = absolute(argv[optind]);
	return 0;
}

/* Refuse a second instance on a mount point an adaptfs already serves. */
static bool already_mounted(const char *mountpoint)
{
	char real[PATH_MAX], line[4096];
	_cleanup_fclose_ FILE *f = fopen("/proc/self/mounts", "re");

	if (!f || !realpath(mountpoint, real))
		return false;
	while (fgets(line, sizeof line, f)) {
		char dev[256], dir[PATH_MAX], type[64];

		if (sscanf(line, "%255s %4095s %63s", dev, dir, type) == 3 &&
		    strcmp(dir, real) == 0 && strcmp(type, "fuse.adaptfs") == 0)
			return true;
	}
	return false;
}

/* Is there a FUSE mount on mp (as written, absolute) in the mount table? */
static bool fuse_mounted_at(const char *mp)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/mounts", "re");
	char line[4096];

	while (f && fgets(line, sizeof line, f)) {
		char dev[256], dir[PATH_MAX], type[64];

		if (sscanf(line, "%255s %4095s %63s", dev, dir, type) == 3 &&
		    strcmp(dir, mp) == 0 && (strcmp(type, "fuse") == 0 || startswith(type, "fuse.")))
			return true;
	}
	return false;
}

/* A daemon killed with SIGKILL leaves its FUSE mount behind, dead: every
 * access fails with ENOTCONN (ECONNABORTED once aborted), so nothing could
 * mount there. Detach it (lazily: a process may still hold it), as
 * fusermount -uz would. Tried with open(2): stat(2) may still answer from
 * the attributes the kernel cached for the root. */
static void detach_stale_mount(const char *mp)
{
	int fd = open(mp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd >= 0) {
		close(fd);
		return;
	}
	if ((errno != ENOTCONN && errno != ECONNABORTED) || !fuse_mounted_at(mp))
		return;
	if (umount2(mp, MNT_DETACH) < 0)
		log_warn("mount point %s: a stale FUSE mount (its daemon is gone) that cannot be "
			 "detached: %s", mp, strerror(errno));
	else
		log_warn("mount point %s: detached a stale FUSE mount (its daemon is gone)", mp);
}

static int check_mountpoint(const char *mp)
{
	struct stat st;

	if (stat(mp, &st) < 0) {
		log_err("mount point %s: %s", mp, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		log_err("mount point %s: %s", mp, strerror(ENOTDIR));
		return -1;
	}
	if (already_mounted(mp)) {
		log_err("%s is already served by another adaptfs", mp);
		return -1;
	}
	return 0;
}

static int load_config(const struct options *o, struct config *cfg, char *err, size_t errlen)
{
	if (config_load(cfg, o->config ? o->config : CONFIG_DEFAULT_PATH, o->config != NULL,
			err, errlen) < 0) {
		log_err("%s", err);
		return -1;
	}
	if (o->interval > 0)
		cfg->interval = o->interval;
	if (o->state_dir) {
		if (trust_check_dir(o->state_dir, err, errlen) < 0) {
			log_err("--state-dir: %s", err);
			config_free(cfg);
			return -1;
		}
		free(cfg->state_dir);
		cfg->state_dir = xstrdup(o->state_dir);
	}
	return 0;
}

/* --check-config: the daemon's own parser, so that ExecReload can refuse a
 * file before SIGHUP (which would log the error and keep the old one).
 * Errors are FILE:LINE: REASON alone, as compilers write them. */
static int check_config(const struct options *o)
{
	struct config cfg;
	char err[512], line[512];

	if (config_load(&cfg, o->config ? o->config : CONFIG_DEFAULT_PATH, o->config != NULL,
			err, sizeof err) < 0) {
		str_escape(err, line, sizeof line);
		fprintf(stderr, "%s\n", line);
		return -EINVAL;
	}
	config_free(&cfg);
	return 0;
}

#ifdef HAVE_SYSTEMD
/* WATCHDOG=1 twice per WatchdogSec=, but only while the sampler keeps to its
 * schedule: a hung sampler serves stale files for ever while the FUSE
 * threads still answer, and systemd should see (and restart) that. */
static void *watchdog_thread(void *arg)
{
	uint64_t half = *(const uint64_t *)arg / 2;
	struct timespec ts = { .tv_sec = half / 1000000, .tv_nsec = half % 1000000 * 1000 };

	for (;;) {
		if (sampler_on_schedule(half))
			sd_notify(0, "WATCHDOG=1");
		nanosleep(&ts, NULL);	/* a signal only shortens one wait */
	}
	return NULL;
}

/* Takes WATCHDOG_USEC (and WATCHDOG_PID) out of the environment, so that
 * the engines adaptfs starts do not think the watchdog is theirs: call it
 * before the other threads start, as unsetenv is not thread-safe. */
static uint64_t watchdog_usec(void)
{
	uint64_t usec = 0;

	return sd_watchdog_enabled(1, &usec) > 0 ? usec : 0;
}

static void watchdog_start(const uint64_t *usec)
{
	pthread_t t;

	if (!*usec || pthread_create(&t, NULL, watchdog_thread, (void *)usec) != 0)
		return;
	pthread_setname_np(t, "adapt-watchdog");
	pthread_detach(t);
	log_info("watchdog: WATCHDOG=1 every %.2f s while the sampler keeps to its schedule",
		 (double)*usec / 2e6);
}
#endif

/* SIGHUP is blocked everywhere and taken here, so reloading never runs in
 * signal context. A bad file keeps the running configuration. */
static void *reload_thread(void *arg)
{
	const struct options *o = arg;
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	for (;;) {
		struct config cfg;
		char err[512];

		if (sigwait(&set, &sig) != 0)
			continue;
		if (load_config(o, &cfg, err, sizeof err) < 0) {
			events_add("adaptfs", "configuration reload failed: %s; keeping the running one", err);
			continue;
		}
#ifdef HAVE_SYSTEMD
		sd_notify(0, "RELOADING=1");
#endif
		migrate_configure(&cfg);
		libvirt_configure(&cfg);
		placement_set_state_dir(cfg.state_dir);
		managed_reload(&cfg);
		policy_configure(&cfg);
		sampler_reload(&cfg);
#ifdef HAVE_SYSTEMD
		sd_notify(0, "READY=1");
#endif
	}
	return NULL;
}

static void write_pidfile(const char *path)
{
	_cleanup_fclose_ FILE *f = fopen(path, "we");

	if (!f || fprintf(f, "%d\n", (int)getpid()) < 0)
		log_warn("cannot write pid file %s: %s", path, strerror(errno));
}

static struct fuse_session *session_create(struct options *o)
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct fuse_session *se;
	char opts[1024];

	snprintf(opts, sizeof opts, "allow_other,default_permissions,fsname=adaptfs,subtype=adaptfs%s",
		 o->fuse_opts.buf ? o->fuse_opts.buf : "");
	if (fuse_opt_add_arg(&args, "adaptfs") < 0 || fuse_opt_add_arg(&args, "-o") < 0 ||
	    fuse_opt_add_arg(&args, opts) < 0 || (o->debug && fuse_opt_add_arg(&args, "-d") < 0))
		return NULL;
	se = fuse_session_new(&args, &adaptfs_ops, sizeof adaptfs_ops, NULL);
	fuse_opt_free_args(&args);
	return se;
}

static int serve(struct fuse_session *se, const struct options *o)
{
	struct fuse_loop_config *lc;
	long threads;
	int r;

	if (o->single_thread)
		return fuse_session_loop(se);
	lc = fuse_loop_cfg_create();
	if (!lc)
		return -ENOMEM;
	/* Requests only render from a snapshot or queue an action: a thread per
	 * CPU keeps every CPU answering, and more only add context switches
	 * (8 readers, 2 CPUs, the daemon in a session of its own: 16 threads
	 * doubled the p99; bench/README.md, scale). Two at least, so that one
	 * long metrics.prom render never stalls the rest. */
	threads = sysconf(_SC_NPROCESSORS_ONLN);
	threads = threads < 2 ? 2 : threads;
	fuse_loop_cfg_set_max_threads(lc, (unsigned)threads);
	fuse_loop_cfg_set_idle_threads(lc, (unsigned)threads);
	r = fuse_session_loop_mt(se, lc);
	fuse_loop_cfg_destroy(lc);
	return r;
}

int main(int argc, char **argv)
{
	struct options o = {0};
	struct fuse_session *se = NULL;
	struct config cfg;
	bool have_cfg = false;	/* until the sampler owns it */
	int lock_fd = -1;
	pthread_t reloader;
	sigset_t hup, stop;
#ifdef HAVE_SYSTEMD
	static uint64_t wd_usec;	/* the watchdog thread reads it until exit */
#endif
	char err[512];
	int r = 1;

	/* Each thread's malloc arena holds on to freed memory: with a dozen
	 * threads the RSS crept up by 0.7 MB/min in the soak. Two suffice. */
	mallopt(M_ARENA_MAX, 2);
	log_open(false, false);
	if (parse_args(argc, argv, &o) < 0)
		goto out_options;
	log_open(false, o.level_prefix);
	if (o.check_config) {
		r = check_config(&o) < 0 ? 1 : 0;
		goto out_options;
	}
	if (load_config(&o, &cfg, err, sizeof err) < 0)
		goto out_options;
	have_cfg = true;
	if (o.stop_workloads) {
		r = managed_stop_workloads(&cfg) < 0 ? 1 : 0;
		goto out_options;
	}
	detach_stale_mount(o.mountpoint);
	/* Two daemons started at once both pass the mounts check: the first to
	 * lock the mount point goes on. The lock lives as long as the process. */
	lock_fd = open(o.mountpoint, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (lock_fd >= 0 && flock(lock_fd, LOCK_EX | LOCK_NB) < 0) {
		log_err("another adaptfs is starting on %s", o.mountpoint);
		goto out_options;
	}
	if (check_mountpoint(o.mountpoint) < 0)
		goto out_options;
	/* Before any new action, and before the tree is mounted (so that no
	 * reader waits on a slow peer): finish or undo the moves a killed
	 * daemon left half done. */
	migrate_configure(&cfg);
	libvirt_configure(&cfg);
	migrate_recover();
	se = session_create(&o);
	if (!se)
		goto out_options;
	if (fuse_set_signal_handlers(se) < 0 || fuse_session_mount(se, o.mountpoint) < 0) {
		log_err("cannot mount %s", o.mountpoint);
		goto out_destroy;
	}
	if (uring_attach(se, cfg.io_uring) < 0)
		goto out_unmount;
	if (fuse_daemonize(o.foreground) < 0)
		goto out_unmount;
	log_open(!o.foreground, o.level_prefix);
#ifdef HAVE_SYSTEMD
	wd_usec = watchdog_usec();
#endif
	if (o.pidfile)
		write_pidfile(o.pidfile);
	/* Half the files for held directories, half for everything else. */
	kept_dir_set_budget(spawn_raise_fd_limit() / 2);

	/* Our threads never take signals: SIGHUP goes to the reloader (sigwait),
	 * SIGTERM/SIGINT to FUSE's threads, whose blocked read() the signal must
	 * interrupt for the loop to notice the exit. So block all three before
	 * any thread exists, and unblock TERM/INT again just for the FUSE loop. */
	sigemptyset(&hup);
	sigaddset(&hup, SIGHUP);
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	pthread_sigmask(SIG_BLOCK, &hup, NULL);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	ops_attach_session(se);
	if (cfg.group) {
		struct group *g = getgrnam(cfg.group);

		if (!g) {
			log_err("group %s no longer exists", cfg.group);
			goto out_unmount;
		}
		ops_set_control_group(g->gr_gid);
	}
	/* none found: prefetch says so in events, the containers backend in the log */
	actuator_layout_init(cfg.cgroup_root);
	if (control_start(&cfg) < 0 ||
	    prefetch_start(&cfg) < 0) {
		log_err("cannot start the actuators");
		goto out_unmount;
	}
	policy_configure(&cfg);
	if (sampler_start(&cfg) < 0) {
		log_err("cannot start the sampler");
		goto out_unmount;
	}
	have_cfg = false;
	if (policy_start() < 0) {
		log_err("cannot start the policy");
		goto out_unmount;
	}
	if (pthread_create(&reloader, NULL, reload_thread, &o) != 0) {
		log_err("cannot start the reload thread");
		goto out_unmount;
	}
	pthread_setname_np(reloader, "adapt-reload");
	pthread_detach(reloader);
	events_add("adaptfs", "mounted at %s", o.mountpoint);
#ifdef HAVE_SYSTEMD
	/* The first snapshot is published and the mount is up: ready. */
	sd_notify(0, "READY=1");
	watchdog_start(&wd_usec);
#endif
	pthread_sigmask(SIG_UNBLOCK, &stop, NULL);
	/* The loop returns the signal number after SIGTERM/SIGINT: a clean exit. */
	r = serve(se, &o) < 0 ? 1 : 0;
	policy_stop();
	control_stop();
	/* after the last late reply (control writes) */
	uring_stop();
	prefetch_stop();
	libvirt_fini();
	actuator_layout_fini();
	sampler_stop();
	snapshot_release_all();
	ops_detach_session();
	ops_free_open_files();
out_unmount:
	fuse_session_unmount(se);
out_destroy:
	fuse_remove_signal_handlers(se);
	if (o.pidfile)
		unlink(o.pidfile);
out_options:
	if (se)
		fuse_session_destroy(se);
	if (have_cfg)
		config_free(&cfg);
	strbuf_free(&o.fuse_opts);
	free(o.mountpoint);
	free(o.config);
	free(o.pidfile);
	free(o.state_dir);
	if (lock_fd >= 0)
		close(lock_fd);
	return r;
}
