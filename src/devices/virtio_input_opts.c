/* --input keyboard | touch[,width=W][,height=H]: the input devices'
 * option keys. */
#include <errno.h>

#include "avp/config/options.h"
#include "avp/devices/virtio_input.h"

enum { K_KEYBOARD, K_TOUCH, K_WIDTH, K_HEIGHT };
static const struct avp_opt_key input_keys[] = {
	[K_KEYBOARD] = { "keyboard", AVP_OPT_WORD, 0, 0 },
	[K_TOUCH] = { "touch", AVP_OPT_WORD, 0, 0 },
	[K_WIDTH] = { "width", AVP_OPT_U32, 1, AVP_TOUCH_MAX_SIDE },
	[K_HEIGHT] = { "height", AVP_OPT_U32, 1, AVP_TOUCH_MAX_SIDE },
	{ NULL, 0, 0, 0 },
};

int virtio_input_parse_opt(const char *text, struct avp_input_cfg *input)
{
	struct avp_opts o;
	int ret = avp_opts_parse(&o, text, input_keys);
	bool touch = o.v[K_TOUCH].set;

	if (ret == 0 && o.v[K_KEYBOARD].set == touch)
		ret = -EINVAL; /* one kind, exactly */
	if (ret == 0 && !touch && (o.v[K_WIDTH].set || o.v[K_HEIGHT].set))
		ret = -EINVAL;
	if (ret == 0) {
		/* The rule of every display size: one left out is the default. */
		*input = (struct avp_input_cfg){
			.kind = touch ? AVP_INPUT_TOUCH : AVP_INPUT_KEYBOARD,
			.width = !touch ? 0 : o.v[K_WIDTH].set ? o.v[K_WIDTH].u32
							       : AVP_TOUCH_DEFAULT_WIDTH,
			.height = !touch ? 0 : o.v[K_HEIGHT].set ? o.v[K_HEIGHT].u32
								 : AVP_TOUCH_DEFAULT_HEIGHT,
		};
	}
	avp_opts_free(&o);
	return ret;
}
