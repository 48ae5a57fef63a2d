#include <stdio.h>

#include "avp/log.h"

/* The one piece of process-wide state: a log threshold is a property of the
 * process's stderr, not of any VM. */
static enum avp_log_level log_threshold = AVP_LOG_WARN;

void avp_log_set_level(enum avp_log_level level)
{
	log_threshold = level;
}

void avp_log(enum avp_log_level level, const char *fmt, ...)
{
	static const char *const prefix[] = {
		[AVP_LOG_ERROR] = "error",
		[AVP_LOG_WARN] = "warning",
		[AVP_LOG_INFO] = "info",
		[AVP_LOG_DEBUG] = "debug",
	};
	char line[1024];
	va_list ap;

	if (level > log_threshold)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* One fprintf per line so lines from different threads do not mix;
	 * \r\n because the terminal may be in raw mode while a guest runs. */
	fprintf(stderr, "avp: %s: %s\r\n", prefix[level], line);
}
