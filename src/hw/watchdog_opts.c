/* --watchdog [action=exit|reset], a bundle's {"type": "watchdog",
 * "action"}: the watchdog's keys. Not a VIRTIO device: the platform
 * builds it (arch) when the config has one. */
#include <stddef.h>

#include "avp/hw/watchdog.h"

/* Its lines in avp run --help. */
static const char watchdog_help[] = "a watchdog the guest's standard driver (Linux\n"
	"wdat_wdt) arms and feeds; when it expires avp ends\n"
	"with status 6 (exit, the default) or resets the VM";

static const char *const actions[] = { [AVP_WATCHDOG_EXIT] = "exit",
				       [AVP_WATCHDOG_RESET] = "reset", NULL };

static const struct avp_key watchdog_keys[] = {
	{ .name = "action", .type = AVP_KEY_ENUM, .offset = offsetof(struct avp_watchdog_cfg, action),
	  .words = actions, .def = "exit" },
	{ 0 },
};
_Static_assert(sizeof(enum avp_watchdog_action) == sizeof(int), "an enum key is int-sized");

const struct avp_config_type watchdog_config = {
	.name = "watchdog", .syntax = "[action=exit|reset]", .help = watchdog_help,
	.keys = watchdog_keys, .opts_size = sizeof(struct avp_watchdog_cfg),
	.flags = AVP_TYPE_OPTIONAL_VALUE, .max = 1,
	.too_many = "only one watchdog device (at most one per VM)",
};
