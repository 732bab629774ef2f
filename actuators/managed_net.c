/* The managed workloads' network: one bridge, a veth into the container's
 * network namespace or a tap for the VM, the same address and MAC in both
 * modes so that the host never needs a neighbour flush. Made with ip(8);
 * a switch's hand-over flips links with ioctls and sends its ARP itself. */
#include "managed_impl.h"
#include "spawn.h"
#include "strbuf.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <nftables/libnftables.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#define IP_TIMEOUT_MS 10000

int mrun(const char *const argv[], char *why, size_t n)
{
	char out[512];
	int r = spawn_run(argv, out, sizeof out, IP_TIMEOUT_MS);

	if (r == 0)
		return 0;
	out[strcspn(out, "\n")] = '\0';
	snprintf(why, n, "%s %s: %s", argv[0], argv[1],
		 r < 0 ? strerror(-r) : out[0] ? out : "failed");
	return r < 0 ? r : -EIO;
}

static bool link_exists(const char *ifname)
{
	return if_nametoindex(ifname) != 0;
}

int mnet_bridge(const struct managed_env *e, char *why, size_t n)
{
	const char *add[] = { "ip", "link", "add", e->bridge, "address", e->bridge_mac, "type", "bridge", NULL };
	const char *addr[] = { "ip", "addr", "add", e->bridge_address, "dev", e->bridge, NULL };
	const char *up[] = { "ip", "link", "set", e->bridge, "up", NULL };
	int r;

	if (link_exists(e->bridge))
		return 0;
	r = mrun(add, why, n);
	if (r == 0 && e->bridge_address[0])
		r = mrun(addr, why, n);
	return r < 0 ? r : mrun(up, why, n);
}

int mnet_veth(const struct managed_env *e, struct mw *w, bool up, char *why, size_t n)
{
	char peer[16], cidr[32];
	const char *ns = w->id;
	const char *del_ns[] = { "ip", "netns", "del", ns, NULL };
	const char *steps[][12] = {
		{ "ip", "netns", "add", ns },
		{ "ip", "link", "add", w->ifname, "type", "veth", "peer", "name", peer },
		{ "ip", "link", "set", w->ifname, "master", e->bridge, up ? "up" : "down" },
		{ "ip", "link", "set", peer, "netns", ns },
		{ "ip", "-n", ns, "link", "set", peer, "name", "eth0", "address", w->r.mac },
		{ "ip", "-n", ns, "addr", "add", cidr, "brd", "+", "dev", "eth0" },
		{ "ip", "-n", ns, "link", "set", "eth0", "up" },
		{ "ip", "-n", ns, "link", "set", "lo", "up" },
		{ "ip", "-n", ns, "route", "add", "default", "via", w->r.gateway },
	};
	size_t n_steps = ARRAY_SIZE(steps) - (w->r.gateway[0] ? 0 : 1);
	char ignore[64];

	snprintf(peer, sizeof peer, "%.13sp", w->ifname);
	snprintf(cidr, sizeof cidr, "%s/%u", w->r.address, w->r.prefix_len);
	mrun(del_ns, ignore, sizeof ignore);	/* a leftover of a killed daemon */
	for (size_t i = 0; i < n_steps; i++) {
		int r = mrun(steps[i], why, n);

		if (r < 0)
			return r;
	}
	return 0;
}

int mnet_tap(const struct managed_env *e, struct mw *w, bool up, char *why, size_t n)
{
	const char *add[] = { "ip", "tuntap", "add", "dev", w->tapname, "mode", "tap", NULL };
	const char *set[] = { "ip", "link", "set", w->tapname, "master", e->bridge,
			      up ? "up" : "down", NULL };
	int r = mrun(add, why, n);

	return r < 0 ? r : mrun(set, why, n);
}

/* An ioctl, not ip(8): a switch's hand-over waits for it. */
int mnet_link_up(const char *ifname, bool up)
{
	_cleanup_close_ int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct ifreq ifr = {0};

	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", ifname);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		return -errno;
	if (up)
		ifr.ifr_flags |= IFF_UP;
	else
		ifr.ifr_flags &= ~IFF_UP;
	return ioctl(fd, SIOCSIFFLAGS, &ifr) < 0 ? -errno : 0;
}

/* An ARP request for our own address (sender = target), to everyone. */
static void garp_frame(const struct mw *w, const unsigned char mac[6], unsigned char out[28])
{
	struct in_addr a;

	inet_pton(AF_INET, w->r.address, &a);
	memcpy(out, "\x00\x01\x08\x00\x06\x04\x00\x01", 8);
	memcpy(out + 8, mac, 6);
	memcpy(out + 14, &a, 4);
	memset(out + 18, 0, 6);
	memcpy(out + 24, &a, 4);
}

/* In a child: setns() changes the network namespace of the calling thread
 * only, and the daemon's threads must stay in the host's. */
static int garp_in_netns(const struct mw *w)
{
	char path[PATH_MAX];
	unsigned char mac[6], frame[28];
	struct sockaddr_ll to = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ARP),
				  .sll_halen = 6, .sll_addr = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff } };
	struct ifreq ifr = {0};
	int ns, fd;

	snprintf(path, sizeof path, "/run/netns/%s", w->id);
	ns = open(path, O_RDONLY | O_CLOEXEC);
	if (ns < 0 || setns(ns, CLONE_NEWNET) < 0)
		return 1;
	fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(ETH_P_ARP));
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "eth0");
	if (fd < 0 || ioctl(fd, SIOCGIFINDEX, &ifr) < 0)
		return 1;
	to.sll_ifindex = ifr.ifr_ifindex;
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0)
		return 1;
	memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	garp_frame(w, mac, frame);
	return sendto(fd, frame, sizeof frame, 0, (struct sockaddr *)&to, sizeof to) < 0;
}

int mnet_garp(const struct mw *w)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0)
		_exit(garp_in_netns(w));
	if (waitpid(pid, &status, 0) < 0)
		return -errno;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

/* Whether the kernel rejects on a bridge (nft_reject_bridge): asked once. */
static int bridge_reject = -1;

/* One nft transaction (all or nothing) on w's tables, with libnftables (the
 * nft program takes 20-30 ms to start: the switch waits for it): removed,
 * and when chains > 0 made again with the refusing rule in the first chains. */
static int nft_refuse(const struct mw *w, size_t chains, char *why, size_t n)
{
	static const struct { const char *family, *hook; } chain[] = {
		{ "inet", "output" }, { "inet", "forward" }, { "bridge", "prerouting" },
	};
	struct nft_ctx *nft = nft_ctx_new(NFT_CTX_DEFAULT);
	struct strbuf sb = {0};
	char table[32];
	int r;

	if (!nft) {
		snprintf(why, n, "nft: cannot make a context");
		return -ENOMEM;
	}
	nft_ctx_buffer_output(nft);
	nft_ctx_buffer_error(nft);
	snprintf(table, sizeof table, "adaptfs_%s", w->ifname + strlen("adapt"));
	/* "add" first: a delete of a missing table would fail the transaction */
	strbuf_printf(&sb, "add table inet %s\ndelete table inet %s\n", table, table);
	strbuf_printf(&sb, "add table bridge %s\ndelete table bridge %s\n", table, table);
	for (size_t i = 0; i < chains && i < ARRAY_SIZE(chain); i++)
		strbuf_printf(&sb, "add table %s %s\nadd chain %s %s %s { type filter hook %s priority 0; }\n"
			      "add rule %s %s %s ip daddr %s tcp flags & (syn | ack) == syn "
			      "reject with tcp reset\n",
			      chain[i].family, table, chain[i].family, table, chain[i].hook, chain[i].hook,
			      chain[i].family, table, chain[i].hook, w->r.address);
	r = nft_run_cmd_from_buffer(nft, sb.buf) == 0 ? 0 : -EIO;
	if (r < 0) {
		const char *err = nft_ctx_get_error_buffer(nft);

		snprintf(why, n, "nft: %.*s", (int)strcspn(err, "\n"), err);
	}
	strbuf_free(&sb);
	nft_ctx_free(nft);
	return r;
}

/* While a switch drains the old instance, new TCP connections to the
 * workload's address are refused with a reset on this host (from the host
 * itself, routed, and where the kernel can reject on a bridge, bridged from
 * another port), so the client tries again at once; established ones go on. */
int mnet_refuse_new(const struct mw *w, bool on, char *why, size_t n)
{
	int r;

	if (!on)
		return nft_refuse(w, 0, why, n);
	if (bridge_reject != 0) {
		r = nft_refuse(w, 3, why, n);
		if (bridge_reject < 0)
			bridge_reject = r == 0;
		if (r == 0)
			return 0;
	}
	return nft_refuse(w, 2, why, n);
}

static void link_del(const char *ifname)
{
	const char *del_link[] = { "ip", "link", "del", ifname, NULL };
	char ignore[64];

	if (link_exists(ifname))
		mrun(del_link, ignore, sizeof ignore);
}

/* Removing the namespace removes the veth pair with it. */
void mnet_veth_down(struct mw *w)
{
	const char *del_ns[] = { "ip", "netns", "del", w->id, NULL };
	char ignore[64];

	mrun(del_ns, ignore, sizeof ignore);
	link_del(w->ifname);
}

void mnet_tap_down(struct mw *w)
{
	link_del(w->tapname);
}
