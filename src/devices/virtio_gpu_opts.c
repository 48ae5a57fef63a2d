/* --gpu on | width=W[,height=H]: the gpu's option keys. A size left out
 * takes its default, the one rule for every display and touch size
 * (avp_config_gpu_size). */
#include <errno.h>
#include <string.h>

#include "avp/config/options.h"
#include "avp/devices/virtio_gpu.h"

enum { K_ON, K_WIDTH, K_HEIGHT };
static const struct avp_opt_key gpu_keys[] = {
	[K_ON] = { "on", AVP_OPT_WORD, 0, 0 },
	[K_WIDTH] = { "width", AVP_OPT_U32, VIRTIO_GPU_MIN_DISPLAY_DIM, VIRTIO_GPU_MAX_DISPLAY_DIM },
	[K_HEIGHT] = { "height", AVP_OPT_U32, VIRTIO_GPU_MIN_DISPLAY_DIM,
		       VIRTIO_GPU_MAX_DISPLAY_DIM },
	{ NULL, 0, 0, 0 },
};

int virtio_gpu_parse_opt(const char *text, struct avp_gpu_cfg *cfg)
{
	struct avp_gpu_cfg c = { .enabled = true };
	struct avp_opts o;
	int ret = avp_opts_parse(&o, text, gpu_keys);

	/* "on" is the whole option or not there. */
	if (ret == 0 && o.v[K_ON].set == (o.v[K_WIDTH].set || o.v[K_HEIGHT].set))
		ret = -EINVAL;
	if (ret == 0) {
		c.width = o.v[K_WIDTH].u32;
		c.height = o.v[K_HEIGHT].u32;
		ret = avp_config_gpu_size(&c, NULL);
	}
	if (ret == 0)
		*cfg = c;
	avp_opts_free(&o);
	return ret;
}
