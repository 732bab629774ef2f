/* The managed workloads' network: one bridge, a veth into the container's
 * network namespace or a tap for the VM, the same address and MAC in both
 * modes so that the host never needs a neighbour flush. Done with ip(8). */
#include "managed_impl.h"
#include "spawn.h"
#include "util.h"

#include <errno.h>
#include <net/if.h>

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

int mnet_veth(const struct managed_env *e, struct mw *w, char *why, size_t n)
{
	char peer[16], cidr[32];
	const char *ns = w->id;
	const char *del_ns[] = { "ip", "netns", "del", ns, NULL };
	const char *steps[][12] = {
		{ "ip", "netns", "add", ns },
		{ "ip", "link", "add", w->ifname, "type", "veth", "peer", "name", peer },
		{ "ip", "link", "set", w->ifname, "master", e->bridge, "up" },
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

int mnet_tap(const struct managed_env *e, struct mw *w, char *why, size_t n)
{
	const char *add[] = { "ip", "tuntap", "add", "dev", w->ifname, "mode", "tap", NULL };
	const char *up[] = { "ip", "link", "set", w->ifname, "master", e->bridge, "up", NULL };
	int r = mrun(add, why, n);

	return r < 0 ? r : mrun(up, why, n);
}

/* Removing the namespace removes the veth pair with it. */
void mnet_down(struct mw *w)
{
	const char *del_ns[] = { "ip", "netns", "del", w->id, NULL };
	const char *del_link[] = { "ip", "link", "del", w->ifname, NULL };
	char ignore[64];

	mrun(del_ns, ignore, sizeof ignore);
	if (link_exists(w->ifname))
		mrun(del_link, ignore, sizeof ignore);
}
