/* Host end of a virtio-can device: a raw SocketCAN socket bound to one
 * interface (vcan0, can0), and a route netlink socket that tells when the
 * interface goes down or away.
 *
 * The frame fd carries one struct can_frame (16 bytes, CAN_MTU) or struct
 * canfd_frame (72 bytes, CANFD_MTU) per read and per write, as a raw CAN
 * socket does with CAN_RAW_FD_FRAMES on; a SOCK_SEQPACKET socketpair
 * behaves the same, which is how the device is tested without a CAN
 * interface. Error frames (CAN_ERR_FLAG) are asked for bus-off only. */
#ifndef AVP_NET_SOCKETCAN_H
#define AVP_NET_SOCKETCAN_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>

struct socketcan {
	int fd;		 /* frames, non-blocking */
	int link_fd;	 /* route netlink (RTMGRP_LINK), non-blocking; -1: none */
	int ifindex;
	bool up;	 /* IFF_UP and IFF_RUNNING, as last heard */
	bool gone;	 /* the interface was deleted: never up again */
	bool fd_capable; /* the interface's MTU carries CAN FD frames */
	char name[IFNAMSIZ];
};

/* Checks an interface name as the kernel would take it. 0 or -EINVAL. */
int socketcan_check_name(const char *name);

/* Whether the interface exists (read-only: for the pre-flight checks).
 * 0, or -ENODEV with an error naming it and how to make one. */
int socketcan_check_iface(const char *name);

/* Opens both sockets on interface name. Reports an error naming the
 * interface and what to do about it, and returns -errno, on failure. */
int socketcan_open(const char *name, struct socketcan *sc);
/* Closes what is open (fds < 0 are skipped). */
void socketcan_close(struct socketcan *sc);

/* Reads what the link socket has and updates sc->up / sc->gone.
 * 1: the link state changed; 0: nothing new (or nothing to read); -errno
 * on a failure other than EAGAIN. */
int socketcan_link_update(struct socketcan *sc);

/* The parser behind it, on one buffer of netlink messages (no I/O; for
 * tests and fuzzing): updates *up / *gone for messages about ifindex.
 * Returns 1 when a message about ifindex was seen, 0 otherwise. Malformed
 * messages end the walk. */
int socketcan_link_parse(const void *buf, size_t len, int ifindex, bool *up, bool *gone);

/* Whether a frame read from the socket (its bytes, len long) is an error
 * frame reporting bus-off. */
bool socketcan_is_busoff(const void *frame, size_t len);

#endif
