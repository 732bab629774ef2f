/* FUSE requests over io_uring (Linux 6.14+, fuse.enable_uring=1).
 *
 * The kernel hands each request to a queue of the CPU it was made on; one
 * thread per CPU, pinned there, answers it and fetches the next in one
 * io_uring_enter(2). A /dev/fuse round trip instead wakes whichever daemon
 * thread reads next, on any CPU, and costs a read(2) and a writev(2).
 *
 * libfuse 3.14 knows nothing of it, so this sits under libfuse as its custom
 * I/O: INIT's reply is where the ring is asked for, ring requests are handed
 * to fuse_session_process_buf() as if read from /dev/fuse, and a reply whose
 * request came from a ring goes back through it. /dev/fuse keeps serving
 * what never goes through a ring (INIT, FORGET, INTERRUPT, notifications). */
#include <errno.h>
#include <liburing.h>
#include <linux/fuse.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/sysinfo.h>
#include <sys/uio.h>
#include <unistd.h>

#include "cpulist.h"
#include "events.h"
#include "log.h"
#include "ops.h"
#include "uring.h"
#include "util.h"

/* The ABI 7.42 part of <linux/fuse.h> that Debian 12's headers predate. */
#ifndef FUSE_URING_IN_OUT_HEADER_SZ
#define FUSE_OVER_IO_URING (1ULL << 41)
#define FUSE_URING_IN_OUT_HEADER_SZ 128
#define FUSE_URING_OP_IN_OUT_SZ 128

struct fuse_uring_ent_in_out {
	uint64_t flags;
	uint64_t commit_id;
	uint32_t payload_sz;
	uint32_t padding;
	uint64_t reserved;
};

struct fuse_uring_req_header {
	char in_out[FUSE_URING_IN_OUT_HEADER_SZ];
	char op_in[FUSE_URING_OP_IN_OUT_SZ];
	struct fuse_uring_ent_in_out ring_ent_in_out;
};

enum fuse_uring_cmd {
	FUSE_IO_URING_CMD_REGISTER = 1,
	FUSE_IO_URING_CMD_COMMIT_AND_FETCH = 2,
};

struct fuse_uring_cmd_req {
	uint64_t flags;
	uint64_t commit_id;
	uint16_t qid;
	uint8_t padding[6];
};
#endif

/* Requests a CPU's queue holds at once: more wait in the kernel. */
#define QUEUE_DEPTH 8
#define STOP_TAG ((uint64_t)-1)

struct ring_queue;

struct ring_ent {
	struct ring_queue *q;
	struct fuse_uring_req_header *hdr;
	char *payload;
	uint64_t commit_id;	/* of the request it holds; 0: none */
	/* the last command sent for it, sent again if interrupted */
	enum fuse_uring_cmd last_cmd;
	uint64_t last_commit;
	struct iovec iov[2];
};

struct ring_queue {
	unsigned qid;
	pthread_t thread;
	bool running;
	struct io_uring ring;
	/* The ring thread and any thread replying late (a queued control
	 * write) both put commits on the submission queue. */
	pthread_mutex_t lock;
	int stop_fd;
	char *linear;		/* the request as libfuse reads it from /dev/fuse */
	struct ring_ent ent[QUEUE_DEPTH];
};

static struct {
	struct fuse_session *se;
	atomic_bool offered;	/* INIT asked about it */
	atomic_uint_fast64_t init_unique;
	size_t payload_size;
	/* Published once its queues are set up: /dev/fuse threads look
	 * replies up in it while the first ring threads start. */
	atomic_uint n_queues;
	struct ring_queue *queues;
	pthread_mutex_t start_lock;
	pthread_cond_t started;
	unsigned n_started, n_failed;
} U = {
	.start_lock = PTHREAD_MUTEX_INITIALIZER,
	.started = PTHREAD_COND_INITIALIZER,
};

/* The entry whose request this thread is answering. */
static __thread struct ring_ent *serving;

static void prep_cmd(struct io_uring_sqe *sqe, struct ring_ent *e, enum fuse_uring_cmd cmd,
		     uint64_t commit)
{
	struct fuse_uring_cmd_req *req = (struct fuse_uring_cmd_req *)sqe->cmd;

	memset(sqe, 0, 2 * sizeof *sqe);	/* SQE128 */
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = 0;
	sqe->flags = IOSQE_FIXED_FILE;
	sqe->cmd_op = cmd;
	io_uring_sqe_set_data(sqe, e);
	req->qid = (uint16_t)e->q->qid;
	if (cmd == FUSE_IO_URING_CMD_REGISTER) {
		sqe->addr = (uint64_t)(uintptr_t)e->iov;
		sqe->len = 2;
	} else {
		req->commit_id = commit;
	}
	e->last_cmd = cmd;
	e->last_commit = commit;
}

/* Called with q->lock held. */
static int queue_cmd(struct ring_queue *q, struct ring_ent *e, enum fuse_uring_cmd cmd,
		     uint64_t commit)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&q->ring);

	if (!sqe)
		return -EBUSY;	/* one SQE per entry: cannot happen */
	prep_cmd(sqe, e, cmd, commit);
	return 0;
}

static struct ring_ent *find_ent(uint64_t unique)
{
	if (serving && serving->commit_id == unique)
		return serving;
	for (unsigned i = 0, n = atomic_load(&U.n_queues); i < n; i++) {
		struct ring_queue *q = &U.queues[i];
		struct ring_ent *found = NULL;

		pthread_mutex_lock(&q->lock);
		for (unsigned k = 0; k < QUEUE_DEPTH && !found; k++)
			if (q->ent[k].commit_id == unique)
				found = &q->ent[k];
		pthread_mutex_unlock(&q->lock);
		if (found)
			return found;
	}
	return NULL;
}

/* A reply to a ring request: into the entry's buffers, then commit it and
 * fetch the next request in the same command. */
static ssize_t commit_reply(struct ring_ent *e, const struct iovec *iov, int count)
{
	struct ring_queue *q = e->q;
	struct fuse_out_header *out = (struct fuse_out_header *)e->hdr->in_out;
	size_t len = 0, total = iov[0].iov_len;
	int r;

	*out = *(const struct fuse_out_header *)iov[0].iov_base;
	for (int i = 1; i < count; i++) {
		total += iov[i].iov_len;
		if (len + iov[i].iov_len > U.payload_size) {
			out->error = -EIO;
			len = 0;
			break;
		}
		memcpy_safe(e->payload + len, iov[i].iov_base, iov[i].iov_len);
		len += iov[i].iov_len;
	}
	out->len = (uint32_t)(sizeof *out + len);
	e->hdr->ring_ent_in_out.payload_sz = (uint32_t)len;
	pthread_mutex_lock(&q->lock);
	r = queue_cmd(q, e, FUSE_IO_URING_CMD_COMMIT_AND_FETCH, e->commit_id);
	e->commit_id = 0;
	/* The ring thread submits its own commits with its next wait. */
	if (r == 0 && serving != e)
		r = io_uring_submit(&q->ring) < 0 ? -EIO : 0;
	pthread_mutex_unlock(&q->lock);
	return r < 0 ? r : (ssize_t)total;
}

/* One request from the ring, laid out as /dev/fuse would have: header,
 * the op's fixed argument, then the rest (names, write data). */
static void serve_request(struct ring_ent *e)
{
	struct fuse_in_header *in = (struct fuse_in_header *)e->hdr->in_out;
	size_t payload, op_len;

	/* A late reply wrote this header before its commit fetched the
	 * request now in it: read it after the lock that commit was sent
	 * under (the kernel orders it too, but not where ThreadSanitizer
	 * can see). */
	pthread_mutex_lock(&e->q->lock);
	e->commit_id = e->hdr->ring_ent_in_out.commit_id;
	payload = e->hdr->ring_ent_in_out.payload_sz;
	pthread_mutex_unlock(&e->q->lock);
	if (in->len < sizeof *in + payload || in->len - sizeof *in - payload > FUSE_URING_OP_IN_OUT_SZ ||
	    payload > U.payload_size) {
		struct fuse_out_header out = { .len = sizeof out, .error = -EIO, .unique = in->unique };
		struct iovec iov = { &out, sizeof out };

		commit_reply(e, &iov, 1);
		return;
	}
	op_len = in->len - sizeof *in - payload;
	memcpy(e->q->linear, in, sizeof *in);
	memcpy(e->q->linear + sizeof *in, e->hdr->op_in, op_len);
	memcpy(e->q->linear + sizeof *in + op_len, e->payload, payload);
	serving = e;
	fuse_session_process_buf(U.se, &(struct fuse_buf){ .mem = e->q->linear, .size = in->len });
	serving = NULL;
}

static int queue_setup(struct ring_queue *q, int dev_fd)
{
	struct io_uring_params p = {
		.flags = IORING_SETUP_SQE128 | IORING_SETUP_CQSIZE,
		.cq_entries = 2 * (QUEUE_DEPTH + 1),
	};
	struct io_uring_sqe *sqe;
	int r = io_uring_queue_init_params(QUEUE_DEPTH + 1, &q->ring, &p);

	if (r < 0)
		return r;
	r = io_uring_register_files(&q->ring, &dev_fd, 1);
	if (r < 0)
		return r;
	q->linear = xmalloc(sizeof(struct fuse_in_header) + FUSE_URING_OP_IN_OUT_SZ + U.payload_size);
	for (unsigned k = 0; k < QUEUE_DEPTH; k++) {
		struct ring_ent *e = &q->ent[k];

		e->q = q;
		e->hdr = xcalloc(1, sizeof *e->hdr);
		/* zeroed: what the kernel writes there is invisible to valgrind */
		e->payload = xcalloc(1, U.payload_size);
		e->iov[0] = (struct iovec){ e->hdr, sizeof *e->hdr };
		e->iov[1] = (struct iovec){ e->payload, U.payload_size };
		queue_cmd(q, e, FUSE_IO_URING_CMD_REGISTER, 0);
	}
	sqe = io_uring_get_sqe(&q->ring);
	io_uring_prep_poll_add(sqe, q->stop_fd, POLLIN);
	io_uring_sqe_set_data64(sqe, STOP_TAG);
	r = io_uring_submit(&q->ring);
	return r < 0 ? r : 0;
}

/* A queue that stops while mounted leaves its CPU's requests unanswered:
 * stop the daemon (and unmount) rather than hang those readers. */
static void queue_fail(const struct ring_queue *q, int err)
{
	log_err("io_uring queue %u: %s: stopping", q->qid, strerror(-err));
	kill(getpid(), SIGTERM);
}

/* Handles what the ring completed; false when the queue is done. */
static bool queue_reap(struct ring_queue *q)
{
	struct io_uring_cqe *cqe;
	bool go_on = true;

	while (go_on && io_uring_peek_cqe(&q->ring, &cqe) == 0) {
		struct ring_ent *e = io_uring_cqe_get_data(cqe);
		bool stop = cqe->user_data == STOP_TAG;
		int res = cqe->res;

		io_uring_cqe_seen(&q->ring, cqe);	/* the kernel may reuse it now */
		if (stop) {
			go_on = false;
		} else if (res == -EINTR || res == -EAGAIN) {
			pthread_mutex_lock(&q->lock);
			queue_cmd(q, e, e->last_cmd, e->last_commit);
			pthread_mutex_unlock(&q->lock);
		} else if (res < 0) {
			/* -ENOTCONN: unmounted. A refused registration leaves
			 * the ring unready: requests stay on /dev/fuse. */
			if (res != -ENOTCONN && e->last_cmd == FUSE_IO_URING_CMD_REGISTER)
				log_err("io_uring queue %u: registering: %s", q->qid, strerror(-res));
			else if (res != -ENOTCONN)
				queue_fail(q, res);
			go_on = false;
		} else {
			serve_request(e);
		}
	}
	return go_on;
}

static void *queue_thread(void *arg)
{
	struct ring_queue *q = arg;
	char name[16];
	cpu_set_t cpu;
	sigset_t all;
	int r;

	snprintf(name, sizeof name, "adapt-ring%u", q->qid);
	pthread_setname_np(pthread_self(), name);
	/* SIGTERM must reach a thread blocked on /dev/fuse to end the loop. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	/* A queue gets the requests made on its CPU: answer them there. */
	CPU_ZERO(&cpu);
	CPU_SET(q->qid, &cpu);
	sched_setaffinity(0, sizeof cpu, &cpu);
	r = queue_setup(q, fuse_session_fd(U.se));
	pthread_mutex_lock(&U.start_lock);
	U.n_started++;
	U.n_failed += r < 0;
	pthread_cond_broadcast(&U.started);
	pthread_mutex_unlock(&U.start_lock);
	if (r < 0) {
		log_err("io_uring queue %u: %s", q->qid, strerror(-r));
		return NULL;
	}
	for (;;) {
		pthread_mutex_lock(&q->lock);
		r = io_uring_submit(&q->ring);
		pthread_mutex_unlock(&q->lock);
		if (r >= 0 || r == -EINTR || r == -EAGAIN)
			r = io_uring_wait_cqe(&q->ring, &(struct io_uring_cqe *){ NULL });
		if (r < 0 && r != -EINTR && r != -EAGAIN) {
			queue_fail(q, r);
			break;
		}
		if (!queue_reap(q))
			break;
	}
	return NULL;
}

/* The kernel has a queue for every possible CPU (nr_cpu_ids), online or not. */
static unsigned possible_cpus(void)
{
	char buf[1024];
	cpu_set_t set;
	unsigned n = 0;

	if (read_file("/sys/devices/system/cpu/possible", buf, sizeof buf) <= 0 ||
	    cpulist_parse(buf, strcspn(buf, "\n"), &set) < 0)
		return (unsigned)get_nprocs_conf();
	for (unsigned c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &set))
			n = c + 1;
	return n;
}

/* After INIT's reply: one queue per possible CPU, each must hold entries
 * before the kernel uses the ring. */
static void start_queues(void)
{
	unsigned n = possible_cpus();

	U.queues = xcalloc(n, sizeof *U.queues);
	for (unsigned i = 0; i < n; i++) {
		struct ring_queue *q = &U.queues[i];

		q->qid = i;
		q->ring.ring_fd = -1;
		pthread_mutex_init(&q->lock, NULL);
		q->stop_fd = eventfd(0, EFD_CLOEXEC);
	}
	atomic_store(&U.n_queues, n);
	for (unsigned i = 0; i < n; i++) {
		struct ring_queue *q = &U.queues[i];

		q->running = pthread_create(&q->thread, NULL, queue_thread, q) == 0;
		if (!q->running) {
			pthread_mutex_lock(&U.start_lock);
			U.n_started++;
			U.n_failed++;
			pthread_mutex_unlock(&U.start_lock);
		}
	}
	pthread_mutex_lock(&U.start_lock);
	while (U.n_started < n)
		pthread_cond_wait(&U.started, &U.start_lock);
	pthread_mutex_unlock(&U.start_lock);
	if (U.n_failed == 0)
		events_add("adaptfs", "serving requests over io_uring (%u queues)", n);
	else
		events_add("adaptfs", "io_uring unusable (%u of %u queues failed): serving over /dev/fuse",
			   U.n_failed, n);
}

/* INIT's reply: take the ring the kernel offered. */
static ssize_t init_reply(int fd, struct iovec *iov, int count)
{
	struct fuse_init_out *o = count > 1 && iov[1].iov_len >= sizeof *o ? iov[1].iov_base : NULL;
	const struct fuse_out_header *h = iov[0].iov_base;
	ssize_t n;

	if (o && h->error == 0) {
		size_t pages = o->flags & FUSE_MAX_PAGES ? o->max_pages : 32;
		size_t page = (size_t)sysconf(_SC_PAGESIZE);

		o->flags |= FUSE_INIT_EXT;
		o->flags2 |= (uint32_t)(FUSE_OVER_IO_URING >> 32);
		/* what the kernel asks an entry's payload to hold */
		U.payload_size = pages * page;
		if (U.payload_size < o->max_write)
			U.payload_size = o->max_write;
		if (U.payload_size < 8192)
			U.payload_size = 8192;
	}
	n = writev(fd, iov, count);
	if (n >= 0 && o && h->error == 0)
		start_queues();
	return n;
}

static ssize_t io_read(int fd, void *buf, size_t len, void *userdata)
{
	const struct fuse_in_header *in = buf;
	ssize_t n = read(fd, buf, len);

	(void)userdata;
	if (n > 0 && (size_t)n >= sizeof *in + sizeof(struct fuse_init_in) && in->opcode == FUSE_INIT) {
		const struct fuse_init_in *a = (const void *)(in + 1);

		atomic_store(&U.offered, (a->flags & FUSE_INIT_EXT) &&
					 (((uint64_t)a->flags2 << 32) & FUSE_OVER_IO_URING));
		atomic_store(&U.init_unique, in->unique);
	}
	return n;
}

static ssize_t io_writev(int fd, struct iovec *iov, int count, void *userdata)
{
	const struct fuse_out_header *out = iov[0].iov_base;
	struct ring_ent *e;
	ssize_t n;

	(void)userdata;
	if (out->unique != 0 && out->unique == atomic_load(&U.init_unique) && atomic_load(&U.offered))
		return init_reply(fd, iov, count);
	/* A ring thread may answer its first request before start_queues()
	 * has heard from every queue: look the entry up all the same. */
	e = out->unique != 0 ? find_ent(out->unique) : NULL;
	if (!e)
		return writev(fd, iov, count);
	n = commit_reply(e, iov, count);
	if (n < 0) {
		errno = (int)-n;
		return -1;
	}
	return n;
}

int uring_attach(struct fuse_session *se, bool want)
{
	static const struct fuse_custom_io io = { .read = io_read, .writev = io_writev };

	/* io_uring = no: libfuse reads and writes /dev/fuse itself */
	if (!want)
		return 0;
	U.se = se;
	return fuse_session_custom_io(se, &io, fuse_session_fd(se));
}

void uring_stop(void)
{
	unsigned n = atomic_exchange(&U.n_queues, 0);

	for (unsigned i = 0; i < n; i++) {
		struct ring_queue *q = &U.queues[i];

		if (q->running) {
			eventfd_write(q->stop_fd, 1);
			pthread_join(q->thread, NULL);
		}
		if (q->ring.ring_fd >= 0)
			io_uring_queue_exit(&q->ring);
		for (unsigned k = 0; k < QUEUE_DEPTH; k++) {
			free(q->ent[k].hdr);
			free(q->ent[k].payload);
		}
		free(q->linear);
		close(q->stop_fd);
		pthread_mutex_destroy(&q->lock);
	}
	free(U.queues);
	U.queues = NULL;
}
