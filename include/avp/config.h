/* What the user asked for: one VM's platform, independent of how it was
 * described (command line today, a bundle's config.json later). */
#ifndef AVP_CONFIG_H
#define AVP_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#define AVP_MAX_CPUS 64
#define AVP_MAX_DISKS 8
#define AVP_MAX_NETS 4
#define AVP_MIN_MEMORY_MIB 32
#define AVP_MAX_MEMORY_MIB (1024 * 1024)
#define AVP_MAX_CMDLINE 4095 /* the boot protocol's cmdline_size on 2.06+ */

enum avp_chardev_kind { AVP_CHR_NONE, AVP_CHR_STDIO, AVP_CHR_FILE };

struct avp_chardev_cfg {
	enum avp_chardev_kind kind;
	char *path; /* AVP_CHR_FILE */
};

struct avp_disk_cfg {
	char *path;
	bool read_only;
};

struct avp_net_cfg {
	char *tap;
	uint8_t mac[6];
	bool mac_set; /* otherwise derived from the tap name, stable per name */
};

enum avp_reboot_action { AVP_REBOOT_EXIT, AVP_REBOOT_RESTART };

struct avp_config {
	char *kernel;
	char *initrd;
	char *cmdline;
	unsigned int cpus;
	uint64_t memory_mib;
	struct avp_disk_cfg disks[AVP_MAX_DISKS];
	unsigned int ndisks;
	struct avp_net_cfg nets[AVP_MAX_NETS];
	unsigned int nnets;
	bool rng;
	struct avp_chardev_cfg serial;	/* 16550 at 0x3f8, default stdio */
	struct avp_chardev_cfg console; /* virtio-console hvc0, default none */
	enum avp_reboot_action on_reboot;
	bool describe; /* print the platform as JSON, do not boot */
	bool timing;   /* report start-up milestones on stderr */
	unsigned int verbose;
};

void avp_config_init(struct avp_config *cfg);
void avp_config_free(struct avp_config *cfg);

#endif
