/* Diagnostics. Library code reports through these and returns -errno;
 * only the CLI decides whether an error ends the process. */
#ifndef AVP_LOG_H
#define AVP_LOG_H

#include <stdarg.h>

enum avp_log_level { AVP_LOG_ERROR, AVP_LOG_WARN, AVP_LOG_INFO, AVP_LOG_DEBUG };

void avp_log_set_level(enum avp_log_level level);
void avp_log(enum avp_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define avp_err(...) avp_log(AVP_LOG_ERROR, __VA_ARGS__)
#define avp_warn(...) avp_log(AVP_LOG_WARN, __VA_ARGS__)
#define avp_info(...) avp_log(AVP_LOG_INFO, __VA_ARGS__)
#define avp_debug(...) avp_log(AVP_LOG_DEBUG, __VA_ARGS__)

#endif
