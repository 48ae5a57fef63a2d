/* --disk PATH[,ro|rw]: the disk's option keys (include/avp/config/options.h
 * has the shared grammar). */
#include <errno.h>
#include <stdlib.h>

#include "avp/config/options.h"
#include "avp/devices/virtio_blk.h"

int virtio_blk_parse_opt(const char *text, struct avp_disk_cfg *disk)
{
	/* PATH first, then at most one of ro and rw. */
	enum { K_PATH, K_RO, K_RW };
	static const struct avp_opt_key disk_keys[] = {
		{ "path", AVP_OPT_LEAD, 0, 0 }, { "ro", AVP_OPT_WORD, 0, 0 },
		{ "rw", AVP_OPT_WORD, 0, 0 },	{ NULL, 0, 0, 0 },
	};
	struct avp_opts o;
	char *path = NULL;
	int ret = avp_opts_parse(&o, text, disk_keys);

	if (ret == 0 && (!o.v[K_PATH].set || (o.v[K_RO].set && o.v[K_RW].set)))
		ret = -EINVAL;
	if (ret == 0)
		ret = avp_opts_strdup(&o, K_PATH, &path);
	if (ret == 0)
		*disk = (struct avp_disk_cfg){ .path = path, .read_only = o.v[K_RO].set };
	avp_opts_free(&o);
	return ret;
}
