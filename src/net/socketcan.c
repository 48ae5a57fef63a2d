/* A raw SocketCAN socket on one host interface, and the link monitor
 * beside it (Linux Documentation/networking/can.rst; rtnetlink(7)). */
#include <errno.h>
#include <linux/can.h>
#include <linux/can/error.h>
#include <linux/can/raw.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "avp/log.h"
#include "avp/net/socketcan.h"

int socketcan_check_name(const char *name)
{
	/* IFNAMSIZ - 1 characters; '/' and whitespace the kernel refuses. */
	if (!name || !*name || strlen(name) >= IFNAMSIZ || strchr(name, '/') ||
	    strpbrk(name, " \t\n:"))
		return -EINVAL;
	return 0;
}

int socketcan_check_iface(const char *name)
{
	if (if_nametoindex(name))
		return 0;
	avp_err("can %s: no such host interface (create it, e.g. `ip link add dev %s type vcan && "
		"ip link set %s up`, or name an existing CAN interface)", name, name, name);
	return -ENODEV;
}

static int fail(struct socketcan *sc, const char *what, int err, const char *hint)
{
	avp_err("can %s: %s: %s%s", sc->name, what, strerror(err), hint ? hint : "");
	socketcan_close(sc);
	return -err;
}

static bool flags_up(unsigned int flags)
{
	return (flags & IFF_UP) && (flags & IFF_RUNNING);
}

int socketcan_open(const char *name, struct socketcan *sc)
{
	/* Bus-off is the one error frame the device acts on. */
	const can_err_mask_t errs = CAN_ERR_BUSOFF;
	const int on = 1;
	struct sockaddr_can addr = { .can_family = AF_CAN };
	struct sockaddr_nl nl = { .nl_family = AF_NETLINK, .nl_groups = RTMGRP_LINK };
	struct ifreq ifr;

	memset(sc, 0, sizeof(*sc));
	sc->fd = sc->link_fd = -1;
	snprintf(sc->name, sizeof(sc->name), "%s", name ? name : "");
	if (socketcan_check_name(name))
		return fail(sc, "interface name", EINVAL, " (1-15 characters, no '/', ':' or spaces)");
	sc->fd = socket(PF_CAN, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, CAN_RAW);
	if (sc->fd < 0)
		return fail(sc, "raw CAN socket", errno,
			    errno == EAFNOSUPPORT || errno == EPROTONOSUPPORT
				    ? " (the host kernel lacks CAN: `modprobe can-raw`)" : NULL);
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(sc->fd, SIOCGIFINDEX, &ifr) < 0)
		return fail(sc, "no such interface", errno,
			    " (create it first, e.g. `ip link add dev NAME type vcan && ip link "
			    "set NAME up`, or name an existing CAN interface)");
	sc->ifindex = ifr.ifr_ifindex;
	/* Frames larger than CAN_MTU only where the interface carries them. */
	if (ioctl(sc->fd, SIOCGIFMTU, &ifr) == 0)
		sc->fd_capable = ifr.ifr_mtu >= (int)CANFD_MTU;
	if (ioctl(sc->fd, SIOCGIFFLAGS, &ifr) == 0)
		sc->up = flags_up((unsigned int)ifr.ifr_flags);
	/* Set here, before seccomp: the device never calls setsockopt. FD
	 * frames are taken whenever the interface has them; the device drops
	 * those a driver without CAN_FD must not see. */
	if (sc->fd_capable &&
	    setsockopt(sc->fd, SOL_CAN_RAW, CAN_RAW_FD_FRAMES, &on, sizeof(on)) < 0)
		return fail(sc, "CAN_RAW_FD_FRAMES", errno, NULL);
	if (setsockopt(sc->fd, SOL_CAN_RAW, CAN_RAW_ERR_FILTER, &errs, sizeof(errs)) < 0)
		return fail(sc, "CAN_RAW_ERR_FILTER", errno, NULL);
	/* The kernel counts what it drops while the guest posts no buffers. */
	if (setsockopt(sc->fd, SOL_SOCKET, SO_RXQ_OVFL, &on, sizeof(on)) < 0)
		return fail(sc, "SO_RXQ_OVFL", errno, NULL);
	addr.can_ifindex = sc->ifindex;
	if (bind(sc->fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		return fail(sc, "bind", errno, NULL);

	sc->link_fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (sc->link_fd < 0)
		return fail(sc, "route netlink socket", errno, NULL);
	if (bind(sc->link_fd, (struct sockaddr *)&nl, sizeof(nl)) < 0)
		return fail(sc, "route netlink bind", errno, NULL);
	return 0;
}

void socketcan_close(struct socketcan *sc)
{
	if (sc->fd >= 0)
		close(sc->fd);
	if (sc->link_fd >= 0)
		close(sc->link_fd);
	sc->fd = sc->link_fd = -1;
}

int socketcan_link_parse(const void *buf, size_t len, int ifindex, bool *up, bool *gone)
{
	const uint8_t *p = buf;
	int seen = 0;

	/* Walked by hand with bounds checked at each step: the buffer is
	 * the kernel's, but the parser is fuzzed as if it were anyone's. */
	while (len >= sizeof(struct nlmsghdr)) {
		struct nlmsghdr h;
		struct ifinfomsg ifi;
		size_t step;

		memcpy(&h, p, sizeof(h));
		if (h.nlmsg_len < sizeof(h) || h.nlmsg_len > len)
			break;
		if ((h.nlmsg_type == RTM_NEWLINK || h.nlmsg_type == RTM_DELLINK) &&
		    h.nlmsg_len >= sizeof(h) + sizeof(ifi)) {
			memcpy(&ifi, p + NLMSG_HDRLEN, sizeof(ifi));
			if (ifi.ifi_index == ifindex) {
				seen = 1;
				if (h.nlmsg_type == RTM_DELLINK) {
					*gone = true;
					*up = false;
				} else {
					*up = !*gone && flags_up(ifi.ifi_flags);
				}
			}
		}
		step = NLMSG_ALIGN(h.nlmsg_len);
		if (step >= len)
			break;
		p += step;
		len -= step;
	}
	return seen;
}

int socketcan_link_update(struct socketcan *sc)
{
	/* Link messages are a few hundred bytes to a few KiB each. */
	static _Thread_local uint8_t buf[16384] __attribute__((aligned(4)));
	bool was = sc->up;

	if (sc->link_fd < 0)
		return 0;
	for (int i = 0; i < 64; i++) {
		ssize_t n = read(sc->link_fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == ENOBUFS)
			continue; /* overrun: later messages still tell the state */
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EPIPE;
		socketcan_link_parse(buf, (size_t)n, sc->ifindex, &sc->up, &sc->gone);
	}
	return sc->up != was;
}

bool socketcan_is_busoff(const void *frame, size_t len)
{
	uint32_t id;

	if (len < sizeof(id))
		return false;
	memcpy(&id, frame, sizeof(id));
	/* linux/can/error.h: the class is in can_id, bus-off in its bits. */
	return (id & CAN_ERR_FLAG) && (id & CAN_ERR_BUSOFF);
}
