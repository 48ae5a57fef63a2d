/* --gpu on | width=W[,height=H], a bundle's {"type": "gpu", "width",
 * "height"}: the gpu's keys and rules. A size left out takes its default,
 * the one rule for every display and touch size
 * (virtio_gpu_display_size). */
#include <errno.h>
#include <stddef.h>

#include "avp/devices/virtio_gpu.h"

/* Its lines in avp run --help. */
static const char gpu_help[] = "virtio-gpu 2D, one display (default 1280x720, also\n"
	"for a size left out); the control socket's\n"
	"screenshot command saves it as PNG";

enum { K_ON, K_WIDTH, K_HEIGHT };
static const struct avp_key gpu_keys[] = {
	[K_ON] = { .name = "on", .type = AVP_KEY_BOOL, .offset = offsetof(struct avp_gpu_cfg, on),
		   .flags = AVP_KEY_CLI_ONLY },
	/* The display limits are the check's, one message for both front ends. */
	[K_WIDTH] = { .name = "width", .type = AVP_KEY_UINT,
		      .offset = offsetof(struct avp_gpu_cfg, width), .min = 1, .max = 65535 },
	[K_HEIGHT] = { .name = "height", .type = AVP_KEY_UINT,
		       .offset = offsetof(struct avp_gpu_cfg, height), .min = 1, .max = 65535 },
	{ 0 },
};

int virtio_gpu_display_size(struct avp_gpu_cfg *gpu, struct avp_config_err *e)
{
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

static int gpu_check(void *opts, uint32_t given, struct avp_config_err *e)
{
	/* "on" is the whole option or not there: the syntax says so. */
	if ((given & AVP_KEY_BIT(K_ON)) && (given & (AVP_KEY_BIT(K_WIDTH) | AVP_KEY_BIT(K_HEIGHT))))
		return -EINVAL;
	return virtio_gpu_display_size(opts, e);
}

const struct avp_config_type virtio_gpu_config = {
	.name = "gpu", .syntax = "on|width=W,height=H", .help = gpu_help, .keys = gpu_keys,
	.opts_size = sizeof(struct avp_gpu_cfg), .virtio = true, .max = 1,
	.too_many = "only one gpu device (at most one per VM)", .check = gpu_check,
};
