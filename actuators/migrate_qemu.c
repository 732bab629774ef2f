/* QEMU live migration: the destination QEMU is started on the peer by
 * adaptfs-migrate with the source's command line and -incoming; the source
 * migrates over QMP and quits only once the destination runs. */
#include "migrate.h"
#include "events.h"
#include "journal.h"
#include "log.h"
#include "qemu.h"
#include "proc.h"
#include "qmp.h"
#include "spawn.h"
#include "transport.h"
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>

#define QMP_TIMEOUT_MS 2000
#define INCOMING_TIMEOUT_MS 30000
#define RUNNING_TIMEOUT_MS 15000
#define POLL_US 20000
#define OPEN_WAIT_MS 3000
#define POSTCOPY_WAIT_USEC (60 * USEC_PER_SEC)
#define ARGS_MAX (1 << 16)
/* No cap but the link's: QEMU's own default, 128 MiB/s, held moves to a
 * tenth of what loopback and 10 Gb/s links carry. */
#define UNLIMITED_BANDWIDTH (1LL << 40)

/* The bridge tap is a port of on this host, from `ip -o link`. */
static int tap_bridge(const char *tap, char *out, size_t size)
{
	const char *ip[] = { "ip", "-o", "link", "show", "dev", tap, NULL };
	char buf[1024], *p;

	if (spawn_wait(ip, -1, buf, sizeof buf, 5000) != 0 || !(p = strstr(buf, " master ")))
		return -ENOENT;
	p += 8;
	snprintf(out, size, "%.*s", (int)strcspn(p, " "), p);
	return 0;
}

/* The source's QMP socket may be held a moment by the collector. */
static int open_source(struct qmp *q, const char *path)
{
	return qmp_open_wait(q, path, QMP_TIMEOUT_MS, OPEN_WAIT_MS);
}

static void status_of(struct qmp *q, char *out, size_t size)
{
	json_t *ret = NULL;

	snprintf(out, size, "unknown");
	if (qmp_execute(q, "query-status", NULL, &ret, QMP_TIMEOUT_MS) == 0)
		snprintf(out, size, "%s", json_string_value(json_object_get(ret, "status")) ?: "unknown");
	json_decref(ret);
}

/* Cancel a started migration. false: it completed before the cancel
 * took, the source is paused for good and the peer's copy may run. */
static bool cancel_migration(struct qmp *q)
{
	bool completed = false;

	qmp_execute(q, "migrate_cancel", NULL, NULL, QMP_TIMEOUT_MS);
	for (int i = 0; i < 250; i++) {
		json_t *ret = NULL;
		const char *s = NULL;

		if (qmp_execute(q, "query-migrate", NULL, &ret, QMP_TIMEOUT_MS) == 0)
			s = json_string_value(json_object_get(ret, "status"));
		bool active = s && (strcmp(s, "active") == 0 || strcmp(s, "setup") == 0 ||
				    strcmp(s, "cancelling") == 0 || strcmp(s, "device") == 0);
		completed = s && strcmp(s, "completed") == 0;
		json_decref(ret);
		if (!active)
			break;
		usleep(POLL_US);
	}
	return !completed;
}

/* Let the source run again. */
static void resume_source(struct qmp *q)
{
	char status[64];

	status_of(q, status, sizeof status);
	if (strcmp(status, "running") != 0)
		qmp_execute(q, "cont", NULL, NULL, QMP_TIMEOUT_MS);
}

/* Quit the source, and wait until its process is gone. */
static void quit_source(struct qmp *q, const char *proc_root, pid_t pid)
{
	qmp_execute(q, "quit", NULL, NULL, QMP_TIMEOUT_MS);
	qmp_close(q);
	for (int i = 0; i < 250; i++) {
		if (proc_gone(proc_root, pid))
			return;
		usleep(POLL_US);
	}
	kill(pid, SIGKILL);
}

/* The stream completed but the receiver did not confirm: ask the peer
 * anew to drop its copy unless that copy runs. 0: it runs there (the
 * source goes); < 0: the source runs on, or stays paused when the peer
 * cannot be asked (two running copies would be worse than none). */
static int settle_after_completion(struct migrate_ctx *c, struct qmp *q)
{
	char cmd[600], q_name[300], line[128] = "";

	shell_quote(c->m->name, q_name, sizeof q_name);
	snprintf(cmd, sizeof cmd, "adaptfs-migrate qemu-abort %s", q_name);
	transport_run(c->m->transport, cmd, line, sizeof line, 15000);
	if (startswith(line, "kept"))
		return 0;
	if (startswith(line, "aborted")) {
		resume_source(q);
		snprintf(c->why, sizeof c->why, "the guest did not run at the destination");
		return -EIO;
	}
	snprintf(c->why, sizeof c->why,
		 "the peer stopped answering after the guest was sent: it stays paused here until a restart of adaptfs settles it");
	c->keep_journal = true;
	return -EIO;
}

static int journal_phase(struct migrate_ctx *c, const struct qemu_cmdline *cmd, const char *phase)
{
	char text[4096];

	snprintf(text, sizeof text, "engine=qemu\nname=%s\npid=%s\nqmp=%s\nhost=%s\ntransport=%s\nphase=%s\n",
		 c->m->name, c->m->key, cmd->qmp, c->m->host, c->m->transport, phase);
	return journal_write(c->state_dir, c->id, text);
}

/* query-migrate's figures into c->progress. */
static void read_progress(struct migrate_ctx *c, json_t *ret, const char *status)
{
	struct migrate_progress *p = &c->progress;
	json_t *ram = json_object_get(ret, "ram");

	snprintf(p->phase, sizeof p->phase, "%s", status);
	/* reported only while auto-converge throttles the guest */
	p->throttle_percent = (unsigned)json_integer_value(json_object_get(ret, "cpu-throttle-percentage"));
	if (!ram)
		return;
	p->live = true;
	p->sent_bytes = (uint64_t)json_integer_value(json_object_get(ram, "transferred"));
	p->remaining_bytes = (uint64_t)json_integer_value(json_object_get(ram, "remaining"));
	p->total_bytes = (uint64_t)json_integer_value(json_object_get(ram, "total"));
	p->dirty_bytes_per_sec = (uint64_t)(json_integer_value(json_object_get(ram, "dirty-pages-rate")) *
					    json_integer_value(json_object_get(ram, "page-size")));
	p->bandwidth_bytes_per_sec = (uint64_t)(json_number_value(json_object_get(ram, "mbps")) * 1e6 / 8);
	p->passes = (uint64_t)json_integer_value(json_object_get(ram, "dirty-sync-count"));
	/* milliseconds, while QEMU can estimate it */
	p->expected_downtime_usec = (uint64_t)json_integer_value(json_object_get(ret, "expected-downtime")) * 1000;
}

/* After postcopy_after of pre-copy: the guest runs on at the peer from
 * here on, its pages pulled as it touches them. Journaled first: from
 * this point the source must never run again. */
static void start_postcopy(struct migrate_ctx *c, struct qmp *q, const struct qemu_cmdline *cmd)
{
	int r = journal_phase(c, cmd, "postcopy");

	if (r < 0) {
		events_add(c->m->name, "placement: moving to %s: no post-copy: cannot write the journal: %s",
			   c->m->host, strerror(-r));
		c->settings.converge = CONVERGE_NONE;
		return;
	}
	r = qmp_execute(q, "migrate-start-postcopy", NULL, NULL, QMP_TIMEOUT_MS);
	if (r < 0) {
		events_add(c->m->name, "placement: moving to %s: QEMU refused to switch to post-copy: %s",
			   c->m->host, strerror(-r));
		c->settings.converge = CONVERGE_NONE;
		return;
	}
	c->postcopy = true;
}

/* Poll query-migrate to its end, publishing its progress. 0 on
 * completed, with the downtime. In post-copy it runs past the timeout:
 * the guest is split between the hosts until the last page is sent. */
static int follow(struct migrate_ctx *c, struct qmp *q, const struct qemu_cmdline *cmd)
{
	uint64_t start = now_usec(), end = start + (uint64_t)(c->settings.timeout * USEC_PER_SEC);

	while (c->postcopy || now_usec() < end) {
		json_t *ret = NULL;
		const char *s;
		int r = qmp_execute(q, "query-migrate", NULL, &ret, QMP_TIMEOUT_MS);

		if (r < 0) {
			snprintf(c->why, sizeof c->why, "the source QEMU stopped answering QMP");
			return -EIO;
		}
		s = json_string_value(json_object_get(ret, "status")) ?: "";
		read_progress(c, ret, s);
		migrate_publish(c);
		if (strcmp(s, "completed") == 0) {
			/* QEMU reports it in milliseconds */
			c->downtime_usec = (uint64_t)json_integer_value(json_object_get(ret, "downtime")) * 1000;
			json_decref(ret);
			return 0;
		}
		if (strcmp(s, "failed") == 0 || strcmp(s, "cancelled") == 0 || strcmp(s, "postcopy-paused") == 0) {
			const char *d = json_string_value(json_object_get(ret, "error-desc"));

			snprintf(c->why, sizeof c->why, "QEMU: migration %s%s%s", s, d ? ": " : "", d ?: "");
			json_decref(ret);
			return -EIO;
		}
		if (c->settings.converge == CONVERGE_POSTCOPY && !c->postcopy && strcmp(s, "active") == 0 &&
		    now_usec() - start >= (uint64_t)(c->settings.postcopy_after * USEC_PER_SEC))
			start_postcopy(c, q, cmd);
		json_decref(ret);	/* s is its text */
		usleep(POLL_US);
	}
	snprintf(c->why, sizeof c->why, "not done within %.0f s", c->settings.timeout);
	return -ETIMEDOUT;
}

/* Whether the guest runs on KVM; false under TCG, or if QEMU cannot say. */
static bool on_kvm(struct qmp *q)
{
	json_t *ret = NULL;
	bool kvm = qmp_execute(q, "query-kvm", NULL, &ret, QMP_TIMEOUT_MS) == 0 &&
		   json_is_true(json_object_get(ret, "enabled"));

	json_decref(ret);
	return kvm;
}

/* Under TCG, QEMU 7.2's throttled moves broke the guest at the peer in 3 of
 * 6 tries, bare QMP ones (bench/migrate/results-tcg-autoconverge.md):
 * the move goes as plain pre-copy, which fails at timeout with the guest
 * running on here, whole. */
static void auto_converge_check(struct migrate_ctx *c, struct qmp *q)
{
	if (c->settings.converge != CONVERGE_AUTO || on_kvm(q))
		return;
	events_add(c->m->name, "placement: moving to %s: auto-converge left off: the guest runs under TCG, "
		   "where throttled moves corrupted guest memory (adaptfs.conf(5), BUGS)", c->m->host);
	c->settings.converge = CONVERGE_NONE;
}

/* Bandwidth, downtime and capabilities of the move (the peer got
 * postcopy-ram from its receiver). Every capability is set either way:
 * an earlier move's may still be on. */
static int set_parameters(const struct migrate_ctx *c, struct qmp *q)
{
	/* QEMU caps post-copy apart (its 0: no cap) */
	json_t *params = json_pack("{s:I,s:I,s:I}", "downtime-limit", (json_int_t)c->settings.downtime_ms, "max-bandwidth",
				   (json_int_t)(c->settings.max_bandwidth > 0 ? c->settings.max_bandwidth : UNLIMITED_BANDWIDTH),
				   "max-postcopy-bandwidth", (json_int_t)c->settings.max_bandwidth);
	json_t *caps = json_pack("{s:[{s:s,s:b},{s:s,s:b}]}", "capabilities",
				 "capability", "auto-converge", "state", c->settings.converge == CONVERGE_AUTO,
				 "capability", "postcopy-ram", "state", c->settings.converge == CONVERGE_POSTCOPY);
	int r = qmp_execute(q, "migrate-set-parameters", params, NULL, QMP_TIMEOUT_MS);

	if (r == 0)
		r = qmp_execute(q, "migrate-set-capabilities", caps, NULL, QMP_TIMEOUT_MS);
	json_decref(params);
	json_decref(caps);
	return r;
}

int migrate_qemu(struct migrate_ctx *c)
{
	const struct migration *m = c->m;
	_cleanup_free_ char *args = xmalloc(ARGS_MAX);	/* jobs run side by side */
	char path[PATH_MAX], cmd[4096], q_name[300], line[512], bridge[32];
	struct transport_proc peer = { .pid = -1, .in = -1, .out = -1 };
	struct qemu_cmdline qc;
	struct qmp q = QMP_INIT;
	json_t *uri;
	pid_t pid = m->pid;
	ssize_t n;
	int r, argc = 0;

	snprintf(path, sizeof path, "%s/%d/cmdline", c->proc_root, pid);
	n = read_file(path, args, ARGS_MAX);
	if (n <= 0 || qemu_cmdline_parse(args, (size_t)n, &qc) < 0 || !qc.qmp[0]) {
		snprintf(c->why, sizeof c->why, "the guest has no QMP socket on its command line");
		return -EOPNOTSUPP;
	}
	snprintf(c->how, sizeof c->how, "live");
	r = journal_phase(c, &qc, "start");
	if (r < 0) {
		snprintf(c->why, sizeof c->why, "cannot write the journal: %s", strerror(-r));
		return r;
	}
	shell_quote(m->name, q_name, sizeof q_name);
	snprintf(cmd, sizeof cmd, "adaptfs-migrate qemu-incoming %s %s%s", q_name, m->address,
		 c->settings.converge == CONVERGE_POSTCOPY ? " postcopy" : "");
	for (size_t i = 0; i < qc.n_taps; i++)
		if (tap_bridge(qc.taps[i], bridge, sizeof bridge) == 0)
			snprintf(cmd + strlen(cmd), sizeof cmd - strlen(cmd), " %s=%s", qc.taps[i], bridge);
	r = transport_spawn(m->transport, cmd, -1, &peer);
	if (r < 0)
		goto out;
	for (ssize_t i = 0; i < n; i++)
		argc += args[i] == '\0';
	snprintf(line, sizeof line, "ARGC %d\n", argc);
	if (transport_write(&peer, line, strlen(line)) < 0 || transport_write(&peer, args, (size_t)n) < 0 ||
	    transport_read_line(&peer, line, sizeof line, INCOMING_TIMEOUT_MS) < 0 ||
	    !startswith(line, "incoming ")) {
		snprintf(c->why, sizeof c->why, "the peer did not start the guest: %s",
			 startswith(line, "error ") ? line + 6 : "no answer through the transport");
		r = -EHOSTUNREACH;
		goto out;
	}
	r = open_source(&q, qc.qmp);
	if (r < 0) {
		snprintf(c->why, sizeof c->why, "cannot reach the guest's QMP socket");
		goto out;
	}
	auto_converge_check(c, &q);
	r = set_parameters(c, &q);
	if (r < 0) {
		snprintf(c->why, sizeof c->why, "QEMU refused the migration's parameters");
		goto out;
	}
	r = journal_phase(c, &qc, "migrating");
	if (r < 0) {
		snprintf(c->why, sizeof c->why, "cannot write the journal: %s", strerror(-r));
		goto out;
	}
	uri = json_pack("{s:s}", "uri", line + 9);
	r = qmp_execute(&q, "migrate", uri, NULL, QMP_TIMEOUT_MS);
	json_decref(uri);
	if (r < 0) {
		snprintf(c->why, sizeof c->why, "QEMU refused to migrate to %s", line + 9);
		goto out;
	}
	/* From here the source QEMU's own state tells a restart how far the
	 * move got (recover_qemu): the journal needs no later phase. */
	r = follow(c, &q, &qc);
	if (r < 0 && c->postcopy) {
		/* Its memory is split between the hosts: neither half may go. */
		snprintf(c->why + strlen(c->why), sizeof c->why - strlen(c->why),
			 "; cut in post-copy: the guest stays paused here and waits at the peer (see adaptfs(5))");
		c->keep_journal = true;
		goto out;
	}
	if (r < 0 && cancel_migration(&q)) {
		resume_source(&q);
		goto out;
	}
	if (transport_write(&peer, "check\n", 6) < 0 ||
	    transport_read_line(&peer, line, sizeof line, RUNNING_TIMEOUT_MS) < 0 ||
	    strcmp(line, "running") != 0) {
		/* Both ends hold the guest now: exactly one may run on. */
		r = settle_after_completion(c, &q);
		if (r < 0)
			goto out;
	}
	quit_source(&q, c->proc_root, pid);
	transport_write(&peer, "done\n", 5);
	transport_finish(&peer, 5000);
	journal_remove(c->state_dir, c->id);
	return 0;
out:
	qmp_close(&q);
	if (peer.pid > 0)
		transport_finish(&peer, 10000);	/* end of input: the peer discards its copy */
	if (!c->keep_journal)
		journal_remove(c->state_dir, c->id);
	return r;
}

/* A post-copy move goes on without the daemon: wait for its end.
 * true once the peer has every page. */
static bool postcopy_completes(struct qmp *q)
{
	for (uint64_t end = now_usec() + POSTCOPY_WAIT_USEC; now_usec() < end; usleep(POLL_US)) {
		json_t *ret = NULL;
		char s[32] = "";

		if (qmp_execute(q, "query-migrate", NULL, &ret, QMP_TIMEOUT_MS) == 0)
			snprintf(s, sizeof s, "%s", json_string_value(json_object_get(ret, "status")) ?: "");
		json_decref(ret);
		/* A query that got no status (QMP slow to answer under load) says
		 * nothing about the move: ask again. */
		if (s[0] && strcmp(s, "postcopy-active") != 0)
			return strcmp(s, "completed") == 0;
	}
	return false;
}

/* A daemon killed mid-migration. A source still migrating or running
 * runs on (the peer drops its copy). A source that sent it all:
 * the peer keeps its copy if that runs, and its answer decides; if it
 * cannot be asked, the source stays paused and the entry stays for the
 * next start. A move cut in post-copy has half the guest on each side:
 * both stay, and so does the entry. Returns whether it is settled. */
bool recover_qemu(const char *text, const char *proc_root)
{
	char name[256], qmp[256], transport[1024], host[64], pid_s[16], status[64], q_name[300];
	char cmd[600], there[64] = "", phase[32] = "";
	struct qmp q = QMP_INIT;
	bool sent_all;

	journal_get(text, "phase", phase, sizeof phase);
	if (journal_get(text, "name", name, sizeof name) < 0 || journal_get(text, "qmp", qmp, sizeof qmp) < 0 ||
	    journal_get(text, "transport", transport, sizeof transport) < 0 ||
	    journal_get(text, "host", host, sizeof host) < 0 || journal_get(text, "pid", pid_s, sizeof pid_s) < 0)
		return true;
	shell_quote(name, q_name, sizeof q_name);
	snprintf(cmd, sizeof cmd, "adaptfs-migrate qemu-abort %s", q_name);
	if (open_source(&q, qmp) < 0) {
		transport_run(transport, cmd, there, sizeof there, 15000);
		events_add(name, "placement: an interrupted move to %s found the guest gone here (there: %s)",
			   host, there[0] ? there : "no answer");
		return true;
	}
	/* Journaled before the switch: a source still running never switched
	 * (the daemon died first, or the peer dropped its copy in pre-copy),
	 * and is settled as a pre-copy move is. */
	status_of(&q, status, sizeof status);
	sent_all = strcmp(status, "postmigrate") == 0;
	if (strcmp(phase, "postcopy") == 0 && strcmp(status, "running") != 0) {
		if (!postcopy_completes(&q)) {
			qmp_close(&q);
			events_add(name, "placement: an interrupted move to %s was cut in post-copy: the guest's memory is split between here and there; both halves are kept, paused here", host);
			return false;
		}
		sent_all = true;	/* the peer has every page */
	}
	/* A migration still under way may complete before the cancel takes:
	 * then it is one that sent it all. */
	if (!sent_all && cancel_migration(&q)) {
		resume_source(&q);
		qmp_close(&q);
		transport_run(transport, cmd, NULL, 0, 15000);
		events_add(name, "placement: an interrupted move to %s was rolled back: it runs here", host);
		return true;
	}
	transport_run(transport, cmd, there, sizeof there, 15000);
	if (startswith(there, "kept")) {
		quit_source(&q, proc_root, (pid_t)atoi(pid_s));
		events_add(name, "placement: an interrupted move to %s was finished: it runs there", host);
		return true;
	}
	if (startswith(there, "aborted")) {
		resume_source(&q);
		qmp_close(&q);
		events_add(name, "placement: an interrupted move to %s was rolled back: it runs here", host);
		return true;
	}
	qmp_close(&q);
	events_add(name, "placement: an interrupted move to %s cannot be settled: the peer does not answer; the guest stays paused here", host);
	return false;
}
