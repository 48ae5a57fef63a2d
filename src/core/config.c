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
