#include <string.h>

#include "avp/devices/virtio_blk.h"
#include "avp/devices/virtio_console.h"
#include "avp/devices/virtio_gpu.h"
#include "avp/devices/virtio_input.h"
#include "avp/devices/virtio_net.h"
#include "avp/devices/virtio_snd.h"
#include "avp/devices/virtio_vsock.h"
#include "avp/vmm/registry.h"
#include "fuzz_config.h"
#include "fuzz_guest.h"

/* What any key table promises of the values it let in. */
static void check_keys(const struct avp_config_type *t, const void *opts)
{
	for (const struct avp_key *k = t->keys; k && k->name; k++) {
		const void *slot = (const char *)opts + k->offset;
		const struct avp_chardev_cfg *chr = slot;
		const char *str;
		uint32_t u;
		int e;

		switch (k->type) {
		case AVP_KEY_STRING:
		case AVP_KEY_PATH:
			str = *(char *const *)slot;
			if (k->flags & AVP_KEY_REQUIRED)
				FUZZ_CHECK(str && str[0]);
			break;
		case AVP_KEY_UINT:
			/* 0: not given (a default the check filled in is in range). */
			u = *(const uint32_t *)slot;
			FUZZ_CHECK(u == 0 || (u >= k->min && u <= k->max));
			break;
		case AVP_KEY_ENUM:
			memcpy(&e, slot, sizeof(e));
			FUZZ_CHECK(e >= 0);
			for (int i = 0; i <= e; i++)
				FUZZ_CHECK(k->words[i]);
			break;
		case AVP_KEY_CHARDEV:
			/* A file or socket end has its path; the others none. */
			FUZZ_CHECK((chr->kind == AVP_CHR_FILE || chr->kind == AVP_CHR_SOCKET) ==
				   (chr->path && chr->path[0]));
			break;
		default:
			break;
		}
	}
}

/* The rules of today's devices, through their types' accessors. */
static void check_devices(const struct avp_config *cfg)
{
	const struct avp_disk_cfg *d, *d2;
	const struct avp_net_cfg *n, *n2;
	const struct avp_gpu_cfg *g = avp_config_device(cfg, &virtio_gpu_config, 0);
	const struct avp_input_cfg *in;
	const struct avp_vsock_cfg *vs = avp_config_device(cfg, &virtio_vsock_config, 0);
	const struct avp_sound_cfg *snd = avp_config_device(cfg, &virtio_snd_config, 0);

	for (unsigned int i = 0; (d = avp_config_device(cfg, &virtio_blk_config, i)); i++)
		for (unsigned int j = 0; j < i; j++) {
			d2 = avp_config_device(cfg, &virtio_blk_config, j);
			FUZZ_CHECK(strcmp(d->path, d2->path) != 0);
		}
	for (unsigned int i = 0; (n = avp_config_device(cfg, &virtio_net_config, i)); i++) {
		FUZZ_CHECK(n->tap && n->tap[0] && strlen(n->tap) <= 15);
		FUZZ_CHECK(!n->network || n->mac_set);
		for (unsigned int j = 0; j < i; j++) {
			n2 = avp_config_device(cfg, &virtio_net_config, j);
			FUZZ_CHECK(strcmp(n->tap, n2->tap) != 0);
		}
	}
	if (g)
		FUZZ_CHECK(g->width >= VIRTIO_GPU_MIN_DISPLAY_DIM &&
			   g->height >= VIRTIO_GPU_MIN_DISPLAY_DIM &&
			   (uint64_t)g->width * g->height <= VIRTIO_GPU_MAX_DISPLAY_PIXELS);
	for (unsigned int i = 0; (in = avp_config_device(cfg, &virtio_input_config, i)); i++)
		if (in->kind == AVP_INPUT_TOUCH)
			FUZZ_CHECK(in->width >= 1 && in->height >= 1 &&
				   in->width <= AVP_TOUCH_MAX_SIDE && in->height <= AVP_TOUCH_MAX_SIDE);
	if (vs)
		FUZZ_CHECK(vs->cid >= AVP_VSOCK_MIN_CID && vs->socket);
	if (snd)
		FUZZ_CHECK(snd->out_path || snd->in_path);
	FUZZ_CHECK(avp_config_count(cfg, &virtio_vsock_peer_config) <= AVP_VSOCK_MAX_PEERS);
}

void fuzz_check_config(const struct avp_config *cfg)
{
	unsigned int nvirtio = 0;

	FUZZ_CHECK(cfg->ndevices <= AVP_MAX_DEVICE_ENTRIES);
	for (unsigned int i = 0; i < cfg->ndevices; i++) {
		const struct avp_device_entry *d = &cfg->devices[i];

		FUZZ_CHECK(d->type && d->opts && avp_device_type_of(d->type));
		FUZZ_CHECK(avp_config_count(cfg, d->type) <= d->type->max);
		nvirtio += d->type->virtio;
		check_keys(d->type, d->opts);
	}
	FUZZ_CHECK(nvirtio <= AVP_MAX_DEVICES);
	check_devices(cfg);
}
