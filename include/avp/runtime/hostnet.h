/* Host side of the virtual networks between VMs: one Linux bridge per
 * network and one tap per VM network device, made with iproute2's `ip`
 * (the same tool an administrator would use, so what the runtime did can
 * be read back with `ip link`). */
#ifndef AVP_RUNTIME_HOSTNET_H
#define AVP_RUNTIME_HOSTNET_H

#include <stdbool.h>

#include "avp/runtime/jsoncheck.h"

/* A bridge that forwards at once (no STP delay) and floods multicast (no
 * snooping), so IPv6 neighbour discovery works between guests without a
 * multicast querier. */
int hostnet_bridge_add(const char *bridge, struct jc_err *e);
/* A persistent tap enslaved to bridge and up. */
int hostnet_tap_add(const char *tap, const char *bridge, struct jc_err *e);
/* Deletes a link; a missing one is fine. */
int hostnet_link_del(const char *name);
/* Makes vcan interface name (loading the vcan module when needed), CAN FD
 * capable (MTU 72) and up. A failure reports the ip(8) command in e. */
int hostnet_vcan_add(const char *name, struct jc_err *e);
bool hostnet_link_exists(const char *name);

/* Whether this process may make bridges and taps (CAP_NET_ADMIN in its
 * effective set, as root has). */
bool hostnet_can_admin(void);

#endif
