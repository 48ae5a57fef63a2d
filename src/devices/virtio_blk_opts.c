/* --disk PATH[,ro|rw], a bundle's {"type": "disk", "path", "read_only"}:
 * the disk's keys and rules (include/avp/config/options.h). */
#include <stddef.h>
#include <string.h>

#include "avp/devices/virtio_blk.h"

static const char *const rw_words[] = { "rw", "ro", NULL };

static const struct avp_key disk_keys[] = {
	{ .name = "path", .type = AVP_KEY_PATH, .offset = offsetof(struct avp_disk_cfg, path),
	  .flags = AVP_KEY_POSITIONAL | AVP_KEY_REQUIRED | AVP_KEY_INPUT },
	{ .name = "read_only", .type = AVP_KEY_BOOL,
	  .offset = offsetof(struct avp_disk_cfg, read_only), .words = rw_words },
	{ 0 },
};

static int disk_check(const struct avp_config *cfg, void *opts, uint32_t given,
		      struct avp_config_err *e)
{
	const struct avp_disk_cfg *d = opts;
	const struct avp_disk_cfg *other;

	(void)given;
	if (!d->path || !*d->path)
		return avp_config_fail(e, "path", "a disk needs the path of its image");
	for (unsigned int i = 0; (other = avp_config_device(cfg, &virtio_blk_config, i)); i++)
		if (strcmp(other->path, d->path) == 0)
			return avp_config_fail(e, "path", "\"%s\" is already used by another disk "
					       "(given twice)", d->path);
	return 0;
}

const struct avp_config_type virtio_blk_config = {
	.name = "disk",
	.keys = disk_keys,
	.opts_size = sizeof(struct avp_disk_cfg),
	.max = AVP_MAX_DISKS,
	.too_many = "at most 8 disks",
	.virtio = true,
	.syntax = "PATH[,ro]",
	.help = "virtio-blk on a raw image; repeat for more (up to 8);\n"
		",, is a comma in PATH",
	.check = disk_check,
};
_Static_assert(AVP_MAX_DISKS == 8, "the too_many and help texts say 8");
