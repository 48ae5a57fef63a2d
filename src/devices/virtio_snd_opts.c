/* --sound out=OUT.wav[,in=IN.wav]: the sound device's option keys. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "avp/config/options.h"
#include "avp/devices/virtio_snd.h"

enum { K_OUT, K_IN };
static const struct avp_opt_key sound_keys[] = {
	[K_OUT] = { "out", AVP_OPT_STR, 0, 0 },
	[K_IN] = { "in", AVP_OPT_STR, 0, 0 },
	{ NULL, 0, 0, 0 },
};

int virtio_snd_parse_opt(const char *text, struct avp_sound_cfg *snd)
{
	struct avp_sound_cfg s = { .enabled = true };
	struct avp_opts o;
	int ret = avp_opts_parse(&o, text, sound_keys);

	/* At least one of them, never the same file (we would read what we
	 * are writing); the adder says so again for bundles. */
	if (ret == 0 && !o.v[K_OUT].set && !o.v[K_IN].set)
		ret = -EINVAL;
	if (ret == 0 && o.v[K_OUT].set && o.v[K_IN].set &&
	    strcmp(o.v[K_OUT].str, o.v[K_IN].str) == 0)
		ret = -EINVAL;
	if (ret == 0 && (ret = avp_opts_strdup(&o, K_OUT, &s.out_path)) == 0 &&
	    (ret = avp_opts_strdup(&o, K_IN, &s.in_path)) != 0)
		free(s.out_path);
	if (ret == 0)
		*snd = s;
	avp_opts_free(&o);
	return ret;
}
