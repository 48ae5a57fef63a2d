/* ROOT/ID/console.log: what the VM process prints (serial console, avp's
 * messages) and the monitor's own lines. The monitor is its only writer,
 * so it can bound it: the file lives in RAM under /run and a guest could
 * otherwise print without end. Past max bytes console.log becomes
 * console.log.1 (replacing the previous one) and a new console.log
 * starts, so at most 2 * max bytes are kept. Mode 0640: a guest's console
 * may show what only its owner should read. */
#ifndef AVP_RUNTIME_CONSOLE_LOG_H
#define AVP_RUNTIME_CONSOLE_LOG_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#define RT_CONSOLE_LOG_MAX (1024 * 1024) /* the default cap */
/* What `avp create --console-max` accepts. */
#define RT_CONSOLE_LOG_MIN_CAP 4096ull
#define RT_CONSOLE_LOG_MAX_CAP (1024ull * 1024 * 1024)
#define RT_CONSOLE_LOG_MODE 0640

struct rt_console_log {
	char path[PATH_MAX];
	char old_path[PATH_MAX + 2]; /* path + ".1" */
	int fd;      /* -1: output is dropped (rotation failed) */
	uint64_t size, max;
};

/* Opens (creates) path for appending, never through a link and only as a
 * regular file; max 0 means RT_CONSOLE_LOG_MAX. */
int rt_console_log_open(struct rt_console_log *l, const char *path, uint64_t max);

/* Appends, rotating first when the data would take the file past max;
 * a rotation cuts after the last whole line that fits. */
int rt_console_log_write(struct rt_console_log *l, const void *buf, size_t len);

void rt_console_log_close(struct rt_console_log *l);

#endif
