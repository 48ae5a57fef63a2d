/* --watchdog [action=exit|reset]: the watchdog's option keys. */
#include <errno.h>
#include <string.h>

#include "avp/config/options.h"
#include "avp/hw/watchdog.h"

static const struct avp_opt_key watchdog_keys[] = {
	{ "action", AVP_OPT_STR, 0, 0 },
	{ NULL, 0, 0, 0 },
};

int watchdog_parse_opt(const char *text, struct avp_watchdog_cfg *wdt)
{
	struct avp_opts o;
	int ret;

	if (!text) { /* --watchdog alone */
		*wdt = (struct avp_watchdog_cfg){ .enabled = true, .action = AVP_WATCHDOG_EXIT };
		return 0;
	}
	ret = avp_opts_parse(&o, text, watchdog_keys);
	if (ret == 0 && !o.v[0].set)
		ret = -EINVAL;
	if (ret == 0 && strcmp(o.v[0].str, "exit") == 0)
		*wdt = (struct avp_watchdog_cfg){ .enabled = true, .action = AVP_WATCHDOG_EXIT };
	else if (ret == 0 && strcmp(o.v[0].str, "reset") == 0)
		*wdt = (struct avp_watchdog_cfg){ .enabled = true, .action = AVP_WATCHDOG_RESET };
	else if (ret == 0)
		ret = -EINVAL;
	avp_opts_free(&o);
	return ret;
}
