/* Opening a tap interface through /dev/net/tun (Linux
 * Documentation/networking/tuntap.rst). */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "avp/log.h"
#include "avp/net/tap.h"

#define TUN_PATH "/dev/net/tun"

_Static_assert(TAP_OFFLOAD_CSUM == TUN_F_CSUM && TAP_OFFLOAD_TSO4 == TUN_F_TSO4 &&
		       TAP_OFFLOAD_TSO6 == TUN_F_TSO6 && TAP_OFFLOAD_TSO_ECN == TUN_F_TSO_ECN,
	       "TAP_OFFLOAD_* are the kernel's TUN_F_*");

/* TUNSETIFF failures are the ones users meet (no permission, interface
 * of the wrong kind or busy): say what to do about them. */
static void report_setiff(const char *name, int err)
{
	const char *msg = strerror(err);

	switch (err) {
	case EPERM:
		if (strchr(name, '%'))
			avp_err("tap %s: TUNSETIFF: %s (creating a tap needs CAP_NET_ADMIN: run as "
				"root, or name one made with `ip tuntap add NAME mode tap user $USER`)",
				name, msg);
		else
			avp_err("tap %s: TUNSETIFF: %s (create it first with `ip tuntap add %s mode "
				"tap user $USER`, or run as root)", name, msg, name);
		break;
	case EBUSY:
		avp_err("tap %s: TUNSETIFF: %s (is another process attached to it?)", name, msg);
		break;
	case EINVAL:
		avp_err("tap %s: TUNSETIFF: %s (is it a tun or multi-queue interface, or an "
			"invalid name?)", name, msg);
		break;
	default:
		avp_err("tap %s: TUNSETIFF: %s", name, msg);
		break;
	}
}

static int tap_fail(const char *name, const char *what, int err, int fd)
{
	if (fd >= 0)
		close(fd);
	avp_err("tap %s: %s: %s", name, what, strerror(err));
	return -err;
}

int tap_check_name(const char *name)
{
	if (!name || !name[0]) {
		avp_err("tap: no interface name given");
		return -EINVAL;
	}
	if (strlen(name) >= IFNAMSIZ) {
		avp_err("tap %s: interface names are at most %d characters", name, IFNAMSIZ - 1);
		return -ENAMETOOLONG;
	}
	return 0;
}

/* One fd on tap name with TUNSETIFF flags mq (0 or IFF_MULTI_QUEUE); on
 * success ifr holds the interface's name. The fd, or -errno: reported,
 * but for TUNSETIFF's (then *setiff is set), the caller's to judge. */
static int open_queue(const char *name, short mq, struct ifreq *ifr, bool *setiff)
{
	/* VIRTIO 1.2 5.1.6: with VERSION_1 the header always has num_buffers,
	 * so the tap reserves those two bytes too. */
	int hdr_len = TAP_VNET_HDR_LEN;
	int fd = open(TUN_PATH, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	int ret;

	*setiff = false;
	if (fd < 0) {
		int err = errno;

		avp_err("tap %s: cannot open " TUN_PATH ": %s", name, strerror(err));
		return -err;
	}
	memset(ifr, 0, sizeof(*ifr));
	memcpy(ifr->ifr_name, name, strlen(name)); /* NUL from memset */
	/* IFF_NO_PI: no 4-byte packet-information prefix; IFF_VNET_HDR: the
	 * virtio-net header instead, so the guest's header maps onto it. */
	ifr->ifr_flags = (short)(IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | mq);
	if (ioctl(fd, TUNSETIFF, ifr) < 0) {
		int err = errno;

		close(fd);
		*setiff = true;
		return -err;
	}
	if (ioctl(fd, TUNSETVNETHDRSZ, &hdr_len) < 0)
		return tap_fail(name, "TUNSETVNETHDRSZ", errno, fd);
	/* Offload settings outlive us on a persistent tap, so a previous user
	 * (another VMM) may have left GSO or partial checksums on. Until the
	 * guest's driver has accepted offloads (it may not, 5.1.6.4) ask the
	 * kernel for plain frames. */
	ret = tap_set_offload(fd, 0);
	if (ret < 0)
		return tap_fail(name, "TUNSETOFFLOAD", -ret, fd);
	return fd;
}

int tap_open_queues(const char *name, char ifname[IFNAMSIZ], int *fds, unsigned int n)
{
	struct ifreq ifr;
	char first[IFNAMSIZ];
	short mq = n > 1 ? IFF_MULTI_QUEUE : 0;
	unsigned int got;
	bool setiff;
	int ret;

	ret = tap_check_name(name);
	if (ret)
		return ret;
	if (n < 1)
		return -EINVAL;
	ret = open_queue(name, mq, &ifr, &setiff);
	/* An existing tap answers EINVAL when its multi_queue flag is not
	 * ours (drivers/net/tun.c tun_set_iff). Take it as it is: a
	 * single-queue tap gives one pair, a multi-queue one serves one
	 * pair as well as many. A second EINVAL is the first one's story. */
	if (ret == -EINVAL && setiff) {
		int again = open_queue(name, mq ^ IFF_MULTI_QUEUE, &ifr, &setiff);

		if (again != -EINVAL || !setiff)
			ret = again;
		if (ret >= 0 && mq)
			n = 1;
	}
	if (ret < 0) {
		if (setiff)
			report_setiff(name, -ret);
		return ret;
	}
	fds[0] = ret;
	/* The rest attach to the interface the first one named (the kernel
	 * picked the number for a "%d" name); a copy, as open_queue clears
	 * ifr. */
	memcpy(first, ifr.ifr_name, IFNAMSIZ);
	first[IFNAMSIZ - 1] = '\0';
	for (got = 1; got < n; got++) {
		ret = open_queue(first, IFF_MULTI_QUEUE, &ifr, &setiff);
		if (ret < 0) {
			if (setiff)
				report_setiff(first, -ret);
			while (got)
				close(fds[--got]);
			return ret;
		}
		fds[got] = ret;
	}
	if (ifname)
		memcpy(ifname, first, IFNAMSIZ);
	return (int)n;
}

int tap_open(const char *name, char ifname[IFNAMSIZ])
{
	int fd;
	int ret = tap_open_queues(name, ifname, &fd, 1);

	return ret < 0 ? ret : fd;
}

int tap_set_queue(int fd, bool attach)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = attach ? IFF_ATTACH_QUEUE : IFF_DETACH_QUEUE;
	return ioctl(fd, TUNSETQUEUE, &ifr) < 0 ? -errno : 0;
}

int tap_set_offload(int fd, unsigned int offloads)
{
	/* The argument is the flag word itself, not a pointer to it. */
	return ioctl(fd, TUNSETOFFLOAD, (unsigned long)offloads) < 0 ? -errno : 0;
}
