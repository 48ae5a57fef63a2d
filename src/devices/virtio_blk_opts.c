/* --disk PATH[,ro|rw], a bundle's {"type": "disk", "path", "read_only"}:
 * the disk's keys and rules (include/avp/config/options.h). */
#include <stddef.h>

#include "avp/devices/virtio_blk.h"

/* Its lines in avp run --help. */
static const char disk_help[] = "virtio-blk on a raw image; repeat for more (up to 8);\n"
	",, is a comma in PATH";

static const char *const rw_words[] = { "rw", "ro", NULL };

static const struct avp_key disk_keys[] = {
	{ .name = "path", .type = AVP_KEY_PATH, .offset = offsetof(struct avp_disk_cfg, path),
	  .flags = AVP_KEY_POSITIONAL | AVP_KEY_REQUIRED | AVP_KEY_INPUT,
	  .twice = "\"%s\" is already used by another disk (given twice)" },
	{ .name = "read_only", .type = AVP_KEY_BOOL,
	  .offset = offsetof(struct avp_disk_cfg, read_only), .words = rw_words },
	{ 0 },
};

const struct avp_config_type virtio_blk_config = {
	.name = "disk", .syntax = "PATH[,ro]", .help = disk_help, .keys = disk_keys,
	.opts_size = sizeof(struct avp_disk_cfg), .virtio = true, .max = AVP_MAX_DISKS,
	.too_many = "at most 8 disks",
};
_Static_assert(AVP_MAX_DISKS == 8, "the too_many and help texts say 8");
