/* --input keyboard | touch[,width=W][,height=H], a bundle's
 * {"type": "input", "kind", "width", "height"}: the input devices' keys
 * and rules. */
#include <stddef.h>

#include "avp/devices/virtio_input.h"

/* Its lines in avp run --help. */
static const char input_help[] = "virtio-input keyboard or multi-touch screen (default\n"
	"1280x720, also for a size left out), fed through\n"
	"the control socket's input command; one of each";

static const char *const kinds[] = { [AVP_INPUT_KEYBOARD] = "keyboard",
				     [AVP_INPUT_TOUCH] = "touch", NULL };

enum { K_KIND, K_WIDTH, K_HEIGHT };
static const struct avp_key input_keys[] = {
	[K_KIND] = { .name = "kind", .type = AVP_KEY_ENUM, .offset = offsetof(struct avp_input_cfg, kind),
		     .flags = AVP_KEY_POSITIONAL | AVP_KEY_REQUIRED, .words = kinds,
		     .twice = "a second %s" },
	[K_WIDTH] = { .name = "width", .type = AVP_KEY_UINT,
		      .offset = offsetof(struct avp_input_cfg, width), .min = 1,
		      .max = AVP_TOUCH_MAX_SIDE },
	[K_HEIGHT] = { .name = "height", .type = AVP_KEY_UINT,
		       .offset = offsetof(struct avp_input_cfg, height), .min = 1,
		       .max = AVP_TOUCH_MAX_SIDE },
	{ 0 },
};
_Static_assert(sizeof(enum avp_input_kind) == sizeof(int), "an enum key is int-sized");

static int input_check(void *opts, uint32_t given, struct avp_config_err *e)
{
	struct avp_input_cfg *in = opts;

	(void)given;
	if (in->kind != AVP_INPUT_TOUCH && (in->width || in->height))
		return avp_config_fail(e, NULL, "width and height are for touch only");
	if (in->kind == AVP_INPUT_TOUCH) {
		/* The rule of every display size: one left out is the default. */
		if (!in->width)
			in->width = AVP_TOUCH_DEFAULT_WIDTH;
		if (!in->height)
			in->height = AVP_TOUCH_DEFAULT_HEIGHT;
		if (in->width > AVP_TOUCH_MAX_SIDE || in->height > AVP_TOUCH_MAX_SIDE)
			return avp_config_fail(e, NULL, "touch size out of range (each 1-%u)",
					       AVP_TOUCH_MAX_SIDE);
	}
	return 0;
}

const struct avp_config_type virtio_input_config = {
	.name = "input", .syntax = "keyboard | touch[,width=W,height=H]", .help = input_help,
	.keys = input_keys, .opts_size = sizeof(struct avp_input_cfg), .virtio = true,
	.max = AVP_MAX_INPUTS, .too_many = "at most 2 input devices (one keyboard, one touch)",
	.check = input_check,
};
_Static_assert(AVP_MAX_INPUTS == 2, "the too_many text says 2");
