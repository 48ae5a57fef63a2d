/* The one owner of a VM's configuration: defaults, the typed adders with
 * every limit and duplicate check, and the declaration order of the
 * devices (include/avp/config.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avp/config.h"

void avp_config_init(struct avp_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->cpus = 1;
	cfg->memory_mib = 256;
	cfg->serial.kind = AVP_CHR_STDIO;
	cfg->console.kind = AVP_CHR_NONE;
	cfg->on_reboot = AVP_REBOOT_EXIT;
}

void avp_config_free(struct avp_config *cfg)
{
	free(cfg->kernel);
	free(cfg->initrd);
	free(cfg->cmdline);
	for (unsigned int i = 0; i < cfg->ndisks; i++)
		free(cfg->disks[i].path);
	for (unsigned int i = 0; i < cfg->nnets; i++)
		free(cfg->nets[i].tap);
	free(cfg->serial.path);
	free(cfg->console.path);
	free(cfg->sound.out_path);
	free(cfg->sound.in_path);
	free(cfg->api_sock);
	free(cfg->vsock.socket);
	for (unsigned int i = 0; i < cfg->vsock.npeers; i++)
		free(cfg->vsock.peers[i].socket);
	memset(cfg, 0, sizeof(*cfg));
}

int avp_config_fail(struct avp_config_err *e, const char *key, const char *fmt, ...)
{
	va_list ap;

	if (e) {
		e->key = key;
		va_start(ap, fmt);
		vsnprintf(e->text, sizeof(e->text), fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* Appends a device to the declaration order. */
static int declare(struct avp_config *cfg, enum avp_device_kind kind, unsigned int index,
		   struct avp_config_err *e)
{
	if (cfg->ndevices >= AVP_MAX_DEVICES)
		return avp_config_fail(e, NULL, "at most %d VIRTIO devices in all", AVP_MAX_DEVICES);
	cfg->devices[cfg->ndevices++] = (struct avp_device_ref){ .kind = kind, .index = index };
	return 0;
}

static void undeclare(struct avp_config *cfg, enum avp_device_kind kind)
{
	unsigned int out = 0;

	for (unsigned int i = 0; i < cfg->ndevices; i++)
		if (cfg->devices[i].kind != kind)
			cfg->devices[out++] = cfg->devices[i];
	cfg->ndevices = out;
}

/* Adders take over the device's strings either way: on failure, one is
 * freed here. Returns ret. */
static int drop_on_error(int ret, char **owned)
{
	if (ret) {
		free(*owned);
		*owned = NULL;
	}
	return ret;
}

static bool disk_used(const struct avp_config *cfg, const char *path)
{
	for (unsigned int i = 0; i < cfg->ndisks; i++)
		if (strcmp(cfg->disks[i].path, path) == 0)
			return true;
	return false;
}

int avp_config_add_disk(struct avp_config *cfg, struct avp_disk_cfg *disk,
			struct avp_config_err *e)
{
	int ret = 0;

	if (cfg->ndisks >= AVP_MAX_DISKS)
		ret = avp_config_fail(e, NULL, "at most %d disks", AVP_MAX_DISKS);
	else if (!disk->path || !*disk->path)
		ret = avp_config_fail(e, "path", "a disk needs the path of its image");
	else if (disk_used(cfg, disk->path))
		ret = avp_config_fail(e, "path", "\"%s\" is already used by another disk "
				      "(given twice)", disk->path);
	else
		ret = declare(cfg, AVP_DEV_DISK, cfg->ndisks, e);
	if (drop_on_error(ret, &disk->path))
		return ret;
	cfg->disks[cfg->ndisks++] = *disk;
	return 0;
}

int avp_config_add_net(struct avp_config *cfg, struct avp_net_cfg *net, struct avp_config_err *e)
{
	int ret = 0;

	if (cfg->nnets >= AVP_MAX_NETS)
		ret = avp_config_fail(e, NULL, "at most %d network devices", AVP_MAX_NETS);
	/* IFNAMSIZ - 1: the kernel's limit for interface names. */
	else if (!net->tap || !*net->tap || strlen(net->tap) > 15 || strchr(net->tap, '/'))
		ret = avp_config_fail(e, "tap", "tap name \"%s\" is not an interface name (1-15 characters, "
				      "no '/')", net->tap ? net->tap : "");
	else if (net->mac_set && (net->mac[0] & 1))
		ret = avp_config_fail(e, "mac", "a multicast MAC cannot be a NIC's address");
	for (unsigned int i = 0; !ret && i < cfg->nnets; i++)
		if (strcmp(cfg->nets[i].tap, net->tap) == 0)
			ret = avp_config_fail(e, "tap", "tap \"%s\" is already used by another net "
					      "device (given twice)", net->tap);
	if (!ret)
		ret = declare(cfg, AVP_DEV_NET, cfg->nnets, e);
	if (drop_on_error(ret, &net->tap))
		return ret;
	cfg->nets[cfg->nnets++] = *net;
	return 0;
}

int avp_config_add_console(struct avp_config *cfg, struct avp_chardev_cfg *chr,
			   struct avp_config_err *e)
{
	int ret = 0;

	if (chr->kind == AVP_CHR_NONE) {
		undeclare(cfg, AVP_DEV_CONSOLE);
		free(cfg->console.path);
		cfg->console = (struct avp_chardev_cfg){ .kind = AVP_CHR_NONE };
		free(chr->path);
		chr->path = NULL;
		return 0;
	}
	if (cfg->console.kind != AVP_CHR_NONE)
		ret = avp_config_fail(e, NULL, "only one console device is supported (at most "
				      "one per VM)");
	else if (chr->kind == AVP_CHR_FILE && (!chr->path || !*chr->path))
		ret = avp_config_fail(e, "backend", "file: needs a path");
	else if (chr->kind == AVP_CHR_SOCKET && (!chr->path || !*chr->path))
		ret = avp_config_fail(e, "backend", "socket= needs a path");
	if (!ret)
		ret = declare(cfg, AVP_DEV_CONSOLE, 0, e);
	if (drop_on_error(ret, &chr->path))
		return ret;
	cfg->console = *chr;
	return 0;
}

int avp_config_add_rng(struct avp_config *cfg, struct avp_config_err *e)
{
	int ret;

	if (cfg->rng)
		return avp_config_fail(e, NULL, "only one rng device is supported (at most one "
				       "per VM)");
	ret = declare(cfg, AVP_DEV_RNG, 0, e);
	if (ret == 0)
		cfg->rng = true;
	return ret;
}

int avp_config_add_gpu(struct avp_config *cfg, const struct avp_gpu_cfg *gpu,
		       struct avp_config_err *e)
{
	struct avp_gpu_cfg g = *gpu;
	int ret;

	if (cfg->gpu.enabled)
		return avp_config_fail(e, NULL, "only one gpu device (at most one per VM)");
	ret = avp_config_gpu_size(&g, e);
	if (ret == 0)
		ret = declare(cfg, AVP_DEV_GPU, 0, e);
	if (ret)
		return ret;
	g.enabled = true;
	cfg->gpu = g;
	return 0;
}

int avp_config_gpu_size(struct avp_gpu_cfg *gpu, struct avp_config_err *e)
{
	/* One rule for --gpu, a bundle's gpu and the touch screen: a size
	 * left out takes its default (docs/devices.md). */
	uint32_t w = gpu->width ? gpu->width : VIRTIO_GPU_DEFAULT_WIDTH;
	uint32_t h = gpu->height ? gpu->height : VIRTIO_GPU_DEFAULT_HEIGHT;

	if (w < VIRTIO_GPU_MIN_DISPLAY_DIM || w > VIRTIO_GPU_MAX_DISPLAY_DIM ||
	    h < VIRTIO_GPU_MIN_DISPLAY_DIM || h > VIRTIO_GPU_MAX_DISPLAY_DIM ||
	    (uint64_t)w * h > VIRTIO_GPU_MAX_DISPLAY_PIXELS)
		return avp_config_fail(e, NULL, "display size out of range (each %u-%u, at most %u "
				       "pixels), got %ux%u", VIRTIO_GPU_MIN_DISPLAY_DIM,
				       VIRTIO_GPU_MAX_DISPLAY_DIM, VIRTIO_GPU_MAX_DISPLAY_PIXELS, w,
				       h);
	gpu->width = w;
	gpu->height = h;
	return 0;
}

int avp_config_add_sound(struct avp_config *cfg, struct avp_sound_cfg *snd,
			 struct avp_config_err *e)
{
	int ret = 0;

	if (cfg->sound.enabled)
		ret = avp_config_fail(e, NULL, "only one sound device (at most one per VM)");
	else if (!snd->out_path && !snd->in_path)
		ret = avp_config_fail(e, NULL, "give \"out\" (a WAV the guest plays into), \"in\" "
				      "(a WAV it records from), or both");
	else if (snd->out_path && snd->in_path && strcmp(snd->out_path, snd->in_path) == 0)
		ret = avp_config_fail(e, NULL, "\"out\" and \"in\" must be different files");
	if (!ret)
		ret = declare(cfg, AVP_DEV_SOUND, 0, e);
	if (ret) {
		free(snd->out_path);
		free(snd->in_path);
		snd->out_path = snd->in_path = NULL;
		return ret;
	}
	cfg->sound = (struct avp_sound_cfg){
		.enabled = true, .out_path = snd->out_path, .in_path = snd->in_path
	};
	return 0;
}

int avp_config_add_vsock(struct avp_config *cfg, struct avp_vsock_cfg *vsock,
			 struct avp_config_err *e)
{
	int ret = 0;

	if (cfg->vsock.cid)
		ret = avp_config_fail(e, NULL, "only one vsock device (at most one: one CID per "
				      "VM)");
	else if (vsock->cid < AVP_VSOCK_MIN_CID || vsock->cid > AVP_VSOCK_MAX_CID)
		ret = avp_config_fail(e, "cid", "CID %u is reserved (use %d to %u)", vsock->cid,
				      AVP_VSOCK_MIN_CID, AVP_VSOCK_MAX_CID);
	else if (!vsock->socket || !*vsock->socket)
		ret = avp_config_fail(e, "socket", "a vsock device needs the path of its socket");
	if (!ret)
		ret = declare(cfg, AVP_DEV_VSOCK, 0, e);
	if (drop_on_error(ret, &vsock->socket))
		return ret;
	cfg->vsock.cid = vsock->cid;
	cfg->vsock.socket = vsock->socket;
	return 0;
}

int avp_config_add_vsock_peer(struct avp_config *cfg, struct avp_vsock_peer *peer,
			      struct avp_config_err *e)
{
	int ret = 0;

	if (cfg->vsock.npeers >= AVP_VSOCK_MAX_PEERS)
		ret = avp_config_fail(e, NULL, "at most %d peers", AVP_VSOCK_MAX_PEERS);
	else if (peer->cid < AVP_VSOCK_MIN_CID || peer->cid > AVP_VSOCK_MAX_CID)
		ret = avp_config_fail(e, "cid", "CID %u is reserved (use %d to %u)", peer->cid,
				      AVP_VSOCK_MIN_CID, AVP_VSOCK_MAX_CID);
	for (unsigned int i = 0; !ret && i < cfg->vsock.npeers; i++)
		if (cfg->vsock.peers[i].cid == peer->cid)
			ret = avp_config_fail(e, "cid", "CID %u is given twice", peer->cid);
	if (drop_on_error(ret, &peer->socket))
		return ret;
	cfg->vsock.peers[cfg->vsock.npeers++] = *peer;
	return 0;
}

int avp_config_add_input(struct avp_config *cfg, const struct avp_input_cfg *input,
			 struct avp_config_err *e)
{
	struct avp_input_cfg in = *input;
	int ret;

	if (cfg->ninputs >= AVP_MAX_INPUTS)
		return avp_config_fail(e, NULL, "at most %d input devices (one keyboard, one touch)",
				       AVP_MAX_INPUTS);
	if (in.kind != AVP_INPUT_TOUCH && (in.width || in.height))
		return avp_config_fail(e, NULL, "width and height are for touch only");
	if (in.kind == AVP_INPUT_TOUCH) {
		/* The rule of avp_config_add_gpu: a size left out is the default. */
		if (!in.width)
			in.width = AVP_TOUCH_DEFAULT_WIDTH;
		if (!in.height)
			in.height = AVP_TOUCH_DEFAULT_HEIGHT;
		if (in.width > AVP_TOUCH_MAX_SIDE || in.height > AVP_TOUCH_MAX_SIDE)
			return avp_config_fail(e, NULL, "touch size out of range (each 1-%u)",
					       AVP_TOUCH_MAX_SIDE);
	}
	for (unsigned int i = 0; i < cfg->ninputs; i++)
		if (cfg->inputs[i].kind == in.kind)
			return avp_config_fail(e, "kind", "a second %s",
					       in.kind == AVP_INPUT_TOUCH ? "touch" : "keyboard");
	ret = declare(cfg, AVP_DEV_INPUT, cfg->ninputs, e);
	if (ret)
		return ret;
	cfg->inputs[cfg->ninputs++] = in;
	return 0;
}

int avp_config_add_watchdog(struct avp_config *cfg, const struct avp_watchdog_cfg *wdt,
			    struct avp_config_err *e)
{
	if (cfg->watchdog.enabled)
		return avp_config_fail(e, NULL, "only one watchdog device (at most one per VM)");
	cfg->watchdog = (struct avp_watchdog_cfg){ .enabled = true, .action = wdt->action };
	return 0;
}

bool avp_config_has(const struct avp_config *cfg, enum avp_device_kind kind)
{
	/* From the typed fields, not devices[]: a config built by hand (tests,
	 * fuzzers) has no declaration order but is still what runs. */
	switch (kind) {
	case AVP_DEV_DISK:
		return cfg->ndisks > 0;
	case AVP_DEV_NET:
		return cfg->nnets > 0;
	case AVP_DEV_CONSOLE:
		return cfg->console.kind != AVP_CHR_NONE;
	case AVP_DEV_RNG:
		return cfg->rng;
	case AVP_DEV_GPU:
		return cfg->gpu.enabled;
	case AVP_DEV_SOUND:
		return cfg->sound.enabled;
	case AVP_DEV_VSOCK:
		return cfg->vsock.cid != 0;
	case AVP_DEV_INPUT:
		return cfg->ninputs > 0;
	case AVP_DEV_WATCHDOG:
		return cfg->watchdog.enabled;
	default:
		return false;
	}
}

int avp_config_check(const struct avp_config *cfg, struct avp_config_err *e)
{
	if (cfg->console.kind == AVP_CHR_FILE && cfg->serial.kind == AVP_CHR_FILE &&
	    strcmp(cfg->serial.path, cfg->console.path) == 0)
		return avp_config_fail(e, "serial", "the serial port and the console cannot write "
				       "the same file");
	if (cfg->console.kind == AVP_CHR_SOCKET && cfg->serial.kind == AVP_CHR_SOCKET &&
	    strcmp(cfg->serial.path, cfg->console.path) == 0)
		return avp_config_fail(e, "serial", "the serial port and the console cannot listen "
				       "on the same socket");
	if (cfg->vsock.npeers && !cfg->vsock.cid)
		return avp_config_fail(e, "vsock-peer", "--vsock-peer needs a vsock device of this "
				       "VM's own (--vsock cid=N,socket=PATH)");
	for (unsigned int i = 0; i < cfg->vsock.npeers; i++)
		if (cfg->vsock.peers[i].cid == cfg->vsock.cid)
			return avp_config_fail(e, "vsock-peer", "CID %u is this VM's own (--vsock "
					       "cid=%u)", cfg->vsock.cid, cfg->vsock.cid);
	if (cfg->jail.enabled && (!cfg->jail.uid_set || !cfg->jail.gid_set))
		return avp_config_fail(e, "jail", "--jail needs --uid and --gid: the user and "
				       "group the VM runs as");
	if (!cfg->jail.enabled && (cfg->jail.uid_set || cfg->jail.gid_set))
		return avp_config_fail(e, "uid", "--uid and --gid only apply with --jail DIR");
	return 0;
}
