/* The proc connector: the kernel multicasts an event for every fork, exec,
 * exit, rename... of every task to the sockets that listen. A socket filter
 * lets through only what can make a new QEMU guest (an exec, the fork of a
 * process, a process renaming itself), so a host busy with threads does not
 * fill the socket between two samples. */
#include "procwatch.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/filter.h>
#include <linux/netlink.h>
#include <poll.h>
#include <stddef.h>
#include <sys/socket.h>

/* The kernel doubles it and counts ~830 bytes an event: room for about
 * ten thousand between two samples (its default, ~200 KiB, holds 250). */
#define RCVBUF_BYTES (4 << 20)
/* The acknowledgement is queued while the subscription is sent; this only
 * bounds the wait where it never comes. */
#define ACK_TIMEOUT_MS 200

/* Where an event's field lies in a received datagram. */
#define EV_OFF(field) \
	(NLMSG_LENGTH(0) + offsetof(struct cn_msg, data) + offsetof(struct proc_event, field))
#define EV_MIN_LEN NLMSG_LENGTH(sizeof(struct cn_msg) + sizeof(struct proc_event))

/* The event lies 36 bytes into the datagram, where its 64-bit timestamp
 * is misaligned: read a copy. */
static struct proc_event event_of(const struct cn_msg *cn)
{
	struct proc_event ev;

	memcpy(&ev, cn->data, sizeof ev);
	return ev;
}

static int send_op(int fd, enum proc_cn_mcast_op op, uint32_t ack)
{
	char buf[NLMSG_SPACE(sizeof(struct cn_msg) + sizeof op)]
		__attribute__((aligned(NLMSG_ALIGNTO))) = {0};
	struct nlmsghdr *nl = (struct nlmsghdr *)buf;
	struct cn_msg *cn = NLMSG_DATA(nl);

	nl->nlmsg_len = NLMSG_LENGTH(sizeof *cn + sizeof op);
	nl->nlmsg_type = NLMSG_DONE;
	cn->id = (struct cb_id){ CN_IDX_PROC, CN_VAL_PROC };
	cn->ack = ack;
	cn->len = sizeof op;
	memcpy(cn->data, &op, sizeof op);
	return send(fd, buf, nl->nlmsg_len, 0) < 0 ? -errno : 0;
}

/* The acknowledgement is multicast too (other listeners see it): ours is
 * the one that answers our ack number. Returns its error, or -ETIMEDOUT. */
static int await_ack(int fd, uint32_t ack)
{
	uint64_t deadline = now_usec() + ACK_TIMEOUT_MS * 1000ULL;
	char buf[8192] __attribute__((aligned(NLMSG_ALIGNTO)));

	for (uint64_t now; (now = now_usec()) < deadline;) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		int n;

		if (poll(&pfd, 1, (int)((deadline - now + 999) / 1000)) <= 0)
			continue;
		n = (int)recv(fd, buf, sizeof buf, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR || errno == ENOBUFS)
				continue;
			return -errno;
		}
		for (struct nlmsghdr *nl = (struct nlmsghdr *)buf; NLMSG_OK(nl, n);
		     nl = NLMSG_NEXT(nl, n)) {
			const struct cn_msg *cn = NLMSG_DATA(nl);
			struct proc_event ev;

			if (nl->nlmsg_len < EV_MIN_LEN)
				continue;
			ev = event_of(cn);
			if (ev.what == PROC_EVENT_NONE && cn->ack == ack + 1)
				return -(int)ev.event_data.ack.err;
		}
	}
	return -ETIMEDOUT;
}

/* Keep exec; fork and rename only where pid == tgid (a process, not a
 * thread: QEMU names each of its threads). Classic BPF loads words in
 * network order, hence htonl on the constants; pid == tgid is order-free. */
static void attach_filter(int fd)
{
	enum { ACCEPT = 12, DROP = 13 };
	struct sock_filter code[] = {
		/* 0 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, EV_OFF(what)),
		/* 1 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, htonl(PROC_EVENT_EXEC), ACCEPT - 2, 0),
		/* 2 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, htonl(PROC_EVENT_FORK), 0, 7 - 3),
		/* 3 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, EV_OFF(event_data.fork.child_pid)),
		/* 4 */ BPF_STMT(BPF_MISC | BPF_TAX, 0),
		/* 5 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, EV_OFF(event_data.fork.child_tgid)),
		/* 6 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_X, 0, ACCEPT - 7, DROP - 7),
		/* 7 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, htonl(PROC_EVENT_COMM), 0, DROP - 8),
		/* 8 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, EV_OFF(event_data.comm.process_pid)),
		/* 9 */ BPF_STMT(BPF_MISC | BPF_TAX, 0),
		/* 10 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, EV_OFF(event_data.comm.process_tgid)),
		/* 11 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_X, 0, ACCEPT - 12, DROP - 12),
		/* ACCEPT */ BPF_STMT(BPF_RET | BPF_K, 0xffffffff),
		/* DROP */ BPF_STMT(BPF_RET | BPF_K, 0),
	};
	struct sock_fprog prog = { ARRAY_SIZE(code), code };

	/* Without it every event arrives; procwatch_drain sorts them out too. */
	(void)setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog);
}

int procwatch_open(void)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = CN_IDX_PROC };
	int size = RCVBUF_BYTES, fd, r;
	uint32_t ack = (uint32_t)getpid() << 8;

	fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_CONNECTOR);
	if (fd < 0)
		return -errno;
	/* FORCE passes net.core.rmem_max (root); else as much as it allows */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
	r = bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 ? -errno : 0;
	if (r == 0)
		r = send_op(fd, PROC_CN_MCAST_LISTEN, ack);
	if (r == 0)
		r = await_ack(fd, ack);
	if (r < 0) {
		close(fd);
		return r;
	}
	attach_filter(fd);
	return fd;
}

static void report(const struct cn_msg *cn, procwatch_fn fn, void *userdata)
{
	struct proc_event ev = event_of(cn);
	struct procwatch_event out;

	switch (ev.what) {
	case PROC_EVENT_EXEC:
		out = (struct procwatch_event){ PROCWATCH_EXEC, ev.event_data.exec.process_tgid, 0 };
		break;
	case PROC_EVENT_FORK:
		if (ev.event_data.fork.child_pid != ev.event_data.fork.child_tgid)
			return;
		out = (struct procwatch_event){ PROCWATCH_FORK, ev.event_data.fork.child_tgid,
						ev.event_data.fork.parent_tgid };
		break;
	case PROC_EVENT_COMM:
		if (ev.event_data.comm.process_pid != ev.event_data.comm.process_tgid)
			return;
		out = (struct procwatch_event){ PROCWATCH_COMM, ev.event_data.comm.process_tgid, 0 };
		break;
	default:
		return;
	}
	fn(&out, userdata);
}

int procwatch_drain(int fd, procwatch_fn fn, void *userdata)
{
	/* an event is 76 bytes: one recvmmsg takes a batch of them */
	enum { BATCH = 64, SLOT = 256 };
	char buf[BATCH][SLOT] __attribute__((aligned(NLMSG_ALIGNTO)));
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	bool lost = false;

	for (;;) {
		int n;

		for (int i = 0; i < BATCH; i++) {
			iov[i] = (struct iovec){ buf[i], SLOT };
			msgs[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iov[i], .msg_iovlen = 1 } };
		}
		n = recvmmsg(fd, msgs, BATCH, MSG_DONTWAIT, NULL);
		if (n < 0 && errno == ENOBUFS) {
			lost = true;	/* reported once; what is queued after it still counts */
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? (lost ? -ENOBUFS : 0) : -errno;
		for (int i = 0; i < n; i++) {
			int len = (int)msgs[i].msg_len;

			for (struct nlmsghdr *nl = (struct nlmsghdr *)buf[i]; NLMSG_OK(nl, len);
			     nl = NLMSG_NEXT(nl, len)) {
				const struct cn_msg *cn = NLMSG_DATA(nl);

				if (nl->nlmsg_len >= EV_MIN_LEN)
					report(cn, fn, userdata);
			}
		}
	}
}

void procwatch_close(int fd)
{
	if (fd < 0)
		return;
	/* The kernel makes events only while someone listens: say we stopped. */
	(void)send_op(fd, PROC_CN_MCAST_IGNORE, 0);
	close(fd);
}
