/* Host end of a virtio-net device: a Linux tap interface.
 *
 * The fd carries whole Ethernet frames, each preceded by a 12-byte
 * virtio_net_hdr (the VERSION_1 layout with num_buffers, VIRTIO 1.2
 * 5.1.6), in both directions: one read() returns one frame, one write()
 * sends one. */
#ifndef AVP_NET_TAP_H
#define AVP_NET_TAP_H

#include <net/if.h>

/* Size of the header on every frame of a tap opened by tap_open(). */
#define TAP_VNET_HDR_LEN 12

/* Attaches to tap `name`, creating it when it does not exist (which needs
 * CAP_NET_ADMIN), non-blocking and close-on-exec, with offloads off so the
 * kernel hands us only plain, fully checksummed frames. A name with "%d"
 * lets the kernel choose the number. On success returns the fd and, when
 * ifname is not NULL, the interface's actual name. On failure reports an
 * error naming the tap (and what to do about it) and returns -errno. */
int tap_open(const char *name, char ifname[IFNAMSIZ]);

#endif
