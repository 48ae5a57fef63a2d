/* --gpio lines=N[,names=A:B::D], a bundle's {"type": "gpio", "lines": N,
 * "names": "A:B::D"}: the simulated GPIO controller's keys and rules. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>

#include "avp/devices/virtio_gpio.h"

static const char gpio_help[] = "virtio-gpio controller of N simulated lines (1-256),\n"
	"named in line order (colon separated, empty: no\n"
	"name); driven through the control socket's gpio command";

enum { K_LINES, K_NAMES };
static const struct avp_key gpio_keys[] = {
	[K_LINES] = { .name = "lines", .type = AVP_KEY_UINT,
		      .offset = offsetof(struct avp_gpio_cfg, lines), .flags = AVP_KEY_REQUIRED,
		      .min = 1, .max = AVP_GPIO_MAX_LINES },
	[K_NAMES] = { .name = "names", .type = AVP_KEY_STRING,
		      .offset = offsetof(struct avp_gpio_cfg, names) },
	{ 0 },
};

static int gpio_check(void *opts, uint32_t given, struct avp_config_err *e)
{
	const struct avp_gpio_cfg *g = opts;
	const char *why = NULL;
	uint32_t len;
	char *block;
	int ret;

	(void)given;
	if (!g->names)
		return 0;
	block = malloc(AVP_GPIO_NAMES_MAX);
	if (!block)
		return -ENOMEM;
	ret = virtio_gpio_names_block(g->names, g->lines, block, &len, &why);
	free(block);
	if (ret)
		return avp_config_fail(e, "names", "%s", why);
	return 0;
}

const struct avp_config_type virtio_gpio_config = {
	.name = "gpio", .syntax = "lines=N[,names=A:B::D]", .help = gpio_help,
	.keys = gpio_keys, .opts_size = sizeof(struct avp_gpio_cfg), .virtio = true,
	.max = 1, .too_many = "only one gpio device is supported (at most one per VM)",
	.check = gpio_check,
};
