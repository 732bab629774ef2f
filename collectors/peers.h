/* Peer hosts from the config ([host NAME]): whether each answers through its
 * transport, and how many cores it has. Probed on a thread of its own, so a
 * dead transport never stalls the sampler. */
#pragma once

#include "config.h"
#include "snapshot.h"

/* Start probing cfg's peers, or switch to a new list (SIGHUP). */
void peers_configure(const struct config *cfg);
void peers_stop(void);
/* The configured peer called name: its address and transport command.
 * -ENOENT if the configuration has no such [host] section. */
int peers_find(const char *name, char *address, size_t address_size, char *transport,
	       size_t transport_size);
/* The configured peer's libvirt_uri; -ENOENT if it has none (or no such
 * [host] section). */
int peers_libvirt_uri(const char *name, char *uri, size_t size);
/* Copy of the latest results into out (malloc'd array); returns the count. */
size_t peers_get(struct peer_view **out);
