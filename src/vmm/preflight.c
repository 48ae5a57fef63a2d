/* Pre-flight: every input a configuration names is checked before the VM
 * is built, before /dev/kvm is even opened, the same way for `run` and
 * `--describe`. A user with a typo learns about the typo (not about a
 * missing KVM), and a description is only given for a VM that could start.
 * Only reads: nothing is created, truncated or locked beyond the check. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>

#include "avp/arch.h"
#include "avp/audio/wav.h"
#include "avp/config.h"
#include "avp/devices/virtio_blk.h"
#include "avp/devices/virtio_can.h"
#include "avp/devices/virtio_console.h"
#include "avp/devices/virtio_net.h"
#include "avp/devices/virtio_snd.h"
#include "avp/devices/virtio_vsock.h"
#include "avp/disk.h"
#include "avp/jail.h"
#include "avp/log.h"
#include "avp/net/socketcan.h"
#include "avp/net/tap.h"
#include "avp/outfile.h"
#include "avp/vmm/preflight.h"

/* Two spellings of one image (disk.img, ./disk.img, a hard link) would
 * otherwise meet as "in use by another process" from the image lock. */
static int check_disks(const struct avp_config *cfg)
{
	struct disk_identity ids[AVP_MAX_DISKS];
	const struct avp_disk_cfg *d;

	for (unsigned int i = 0; i < AVP_MAX_DISKS && (d = avp_config_device(cfg, &virtio_blk_config, i));
	     i++) {
		/* A description only reads: it needs no write access and
		 * must work beside the running VM that holds the image. */
		int ret = cfg->describe ? disk_check(d->path, true, false, &ids[i])
					: disk_check(d->path, d->read_only, true, &ids[i]);

		if (ret)
			return ret;
		for (unsigned int j = 0; j < i; j++) {
			bool same = ids[i].rdev ? ids[i].rdev == ids[j].rdev
						: ids[i].dev == ids[j].dev && ids[i].ino == ids[j].ino;

			if (same) {
				avp_err("--disk: '%s' and '%s' are the same image, given twice: give each disk once",
					((const struct avp_disk_cfg *)avp_config_device(
						 cfg, &virtio_blk_config, j))->path, d->path);
				return -EINVAL;
			}
		}
	}
	return 0;
}

static int check_sound(const struct avp_config *cfg)
{
	const struct avp_sound_cfg *snd = avp_config_device(cfg, &virtio_snd_config, 0);
	struct wav_source *src;
	int ret;

	if (!snd)
		return 0;
	if (snd->in_path) {
		ret = wav_source_open(&src, snd->in_path); /* says why itself */
		if (ret)
			return ret;
		wav_source_close(src);
	}
	return snd->out_path ? avp_check_output("sound output", snd->out_path) : 0;
}

/* A chardev's host end: a file output or a socket path. Nothing is
 * created here; only what would fail (or write through a link) is said. */
static int check_chardev(const char *what, const struct avp_chardev_cfg *chr)
{
	char label[32];

	if (chr->kind == AVP_CHR_FILE) {
		snprintf(label, sizeof(label), "%s file", what);
		return avp_check_output(label, chr->path);
	}
	if (chr->kind == AVP_CHR_SOCKET) {
		snprintf(label, sizeof(label), "%s socket", what);
		return avp_check_socket_path(label, chr->path);
	}
	return 0;
}

int preflight_check(const struct avp_config *cfg)
{
	const struct avp_net_cfg *net;
	const struct avp_can_cfg *can;
	const struct avp_chardev_cfg *console = avp_config_device(cfg, &virtio_console_config, 0);
	const struct avp_vsock_cfg *vsock = avp_config_device(cfg, &virtio_vsock_config, 0);
	int ret = arch_check_guest(cfg);

	if (!ret)
		ret = check_disks(cfg);
	for (unsigned int i = 0; !ret && (net = avp_config_device(cfg, &virtio_net_config, i)); i++)
		ret = tap_check_name(net->tap);
	for (unsigned int i = 0; !ret && (can = avp_config_device(cfg, &virtio_can_config, i)); i++)
	{
		struct avp_can_cfg run;

		ret = virtio_can_resolve(cfg, can, &run);
		if (!ret)
			ret = socketcan_check_iface(run.ifname);
	}
	if (!ret)
		ret = check_sound(cfg);
	if (!ret)
		ret = check_chardev("serial", &cfg->serial);
	if (!ret && console)
		ret = check_chardev("console", console);
	/* Sockets avp listens on: a stale socket is replaced, anything else
	 * refused here rather than after KVM is open. */
	if (!ret && vsock && vsock->socket && !cfg->describe)
		ret = avp_check_socket_path("--vsock socket", vsock->socket);
	if (!ret && cfg->api_sock && !cfg->describe)
		ret = avp_check_socket_path("--api-sock", cfg->api_sock);
	/* The jail's directory (made here if missing, as before). */
	if (!ret && !cfg->describe)
		ret = jail_check(cfg);
	return ret;
}
