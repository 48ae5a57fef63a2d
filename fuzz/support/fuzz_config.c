#include <string.h>

#include "fuzz_config.h"
#include "fuzz_guest.h"

static unsigned int count_of(const struct avp_config *cfg, enum avp_device_kind kind)
{
	switch (kind) {
	case AVP_DEV_DISK:
		return cfg->ndisks;
	case AVP_DEV_NET:
		return cfg->nnets;
	case AVP_DEV_INPUT:
		return cfg->ninputs;
	case AVP_DEV_WATCHDOG:
		return 0; /* a platform device: never in devices[] */
	default:
		return avp_config_has(cfg, kind) ? 1 : 0;
	}
}

void fuzz_check_config(const struct avp_config *cfg)
{
	unsigned int seen[AVP_DEV_NKINDS] = { 0 };

	FUZZ_CHECK(cfg->ndisks <= AVP_MAX_DISKS && cfg->nnets <= AVP_MAX_NETS);
	FUZZ_CHECK(cfg->ninputs <= AVP_MAX_INPUTS && cfg->ndevices <= AVP_MAX_DEVICES);
	FUZZ_CHECK(cfg->vsock.npeers <= AVP_VSOCK_MAX_PEERS);
	for (unsigned int i = 0; i < cfg->ndevices; i++) {
		const struct avp_device_ref *r = &cfg->devices[i];

		FUZZ_CHECK((unsigned int)r->kind < AVP_DEV_NKINDS);
		/* Each kind's devices appear in index order 0, 1, ... */
		FUZZ_CHECK(r->index == seen[r->kind]);
		seen[r->kind]++;
	}
	for (unsigned int k = 0; k < AVP_DEV_NKINDS; k++)
		FUZZ_CHECK(seen[k] == count_of(cfg, (enum avp_device_kind)k));
	for (unsigned int i = 0; i < cfg->ndisks; i++) {
		FUZZ_CHECK(cfg->disks[i].path && cfg->disks[i].path[0]);
		for (unsigned int j = 0; j < i; j++)
			FUZZ_CHECK(strcmp(cfg->disks[i].path, cfg->disks[j].path) != 0);
	}
	for (unsigned int i = 0; i < cfg->nnets; i++) {
		FUZZ_CHECK(cfg->nets[i].tap && strlen(cfg->nets[i].tap) <= 15);
		for (unsigned int j = 0; j < i; j++)
			FUZZ_CHECK(strcmp(cfg->nets[i].tap, cfg->nets[j].tap) != 0);
	}
	/* A file or socket end has its path; stdio, pty and none have none. */
	FUZZ_CHECK((cfg->console.kind == AVP_CHR_FILE || cfg->console.kind == AVP_CHR_SOCKET) ==
		   (cfg->console.path && cfg->console.path[0]));
	if (cfg->gpu.enabled)
		FUZZ_CHECK(cfg->gpu.width >= VIRTIO_GPU_MIN_DISPLAY_DIM &&
			   cfg->gpu.height >= VIRTIO_GPU_MIN_DISPLAY_DIM &&
			   (uint64_t)cfg->gpu.width * cfg->gpu.height <= VIRTIO_GPU_MAX_DISPLAY_PIXELS);
	for (unsigned int i = 0; i < cfg->ninputs; i++)
		if (cfg->inputs[i].kind == AVP_INPUT_TOUCH)
			FUZZ_CHECK(cfg->inputs[i].width >= 1 && cfg->inputs[i].height >= 1 &&
				   cfg->inputs[i].width <= AVP_TOUCH_MAX_SIDE &&
				   cfg->inputs[i].height <= AVP_TOUCH_MAX_SIDE);
	if (cfg->vsock.cid)
		FUZZ_CHECK(cfg->vsock.cid >= AVP_VSOCK_MIN_CID && cfg->vsock.socket);
	if (cfg->sound.enabled)
		FUZZ_CHECK(cfg->sound.out_path || cfg->sound.in_path);
}
