/* Host end of a virtio-net device: a Linux tap interface.
 *
 * The fd carries whole Ethernet frames, each preceded by a 12-byte
 * virtio_net_hdr (the VERSION_1 layout with num_buffers, VIRTIO 1.2
 * 5.1.6), in both directions: one read() returns one frame, one write()
 * sends one. */
#ifndef AVP_NET_TAP_H
#define AVP_NET_TAP_H

#include <net/if.h>
#include <stdbool.h>

/* Size of the header on every frame of a tap opened by tap_open(). */
#define TAP_VNET_HDR_LEN 12

/* Attaches to tap `name`, creating it when it does not exist (which needs
 * CAP_NET_ADMIN), non-blocking and close-on-exec, with offloads off so the
 * kernel hands us only plain, fully checksummed frames until
 * tap_set_offload says otherwise. A name with "%d"
 * lets the kernel choose the number. On success returns the fd and, when
 * ifname is not NULL, the interface's actual name. On failure reports an
 * error naming the tap (and what to do about it) and returns -errno. */
int tap_open(const char *name, char ifname[IFNAMSIZ]);

/* tap_open for n queues: n fds on one multi-queue tap (IFF_MULTI_QUEUE),
 * each its own queue, the kernel spreading received flows over them. An
 * existing tap made without multi_queue gives one fd (the caller says
 * so); one made with it serves n == 1 too. Returns how many fds are in
 * fds (1..n) or -errno, reported. */
int tap_open_queues(const char *name, char ifname[IFNAMSIZ], int *fds, unsigned int n);

/* Whether multi-queue tap fd gets frames (TUNSETQUEUE): a detached queue
 * gets none and loses its waiting ones, an attached one gets its share of
 * the flows. 0 or -errno. */
int tap_set_queue(int fd, bool attach);

/* The name checks tap_open makes before touching anything (same
 * messages). 0 or -errno. */
int tap_check_name(const char *name);

/* Offloads the kernel may use in the frames it hands us (TUNSETOFFLOAD):
 * partial checksums (the header's NEEDS_CSUM), TCP segmentation (GSO
 * frames up to 64 KiB) over IPv4 and IPv6, and TSO with ECN. The TSO ones
 * need CSUM (the kernel refuses them alone). Values are the kernel's
 * TUN_F_*. */
#define TAP_OFFLOAD_CSUM 0x01
#define TAP_OFFLOAD_TSO4 0x02
#define TAP_OFFLOAD_TSO6 0x04
#define TAP_OFFLOAD_TSO_ECN 0x08

/* Sets the offloads of tap fd (an OR of TAP_OFFLOAD_*, 0 for none).
 * 0 or -errno. What the tap accepts from us is not affected: it takes GSO
 * and partial-checksum frames whatever this says. */
int tap_set_offload(int fd, unsigned int offloads);

#endif
