/* The size-bounded console.log (see console_log.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "avp/fdio.h"
#include "avp/runtime/console_log.h"
#include "avp/runtime/statedir.h"

static int open_log(struct rt_console_log *l, int extra_flags)
{
	struct stat st;
	int fd = rt_open_file(l->path, O_WRONLY | O_CREAT | O_APPEND | extra_flags,
			      RT_CONSOLE_LOG_MODE);

	if (fd < 0)
		return fd;
	/* A log left by an older avp may be world-readable. */
	if (fstat(fd, &st) || fchmod(fd, RT_CONSOLE_LOG_MODE)) {
		int err = errno;

		close(fd);
		return -err;
	}
	l->fd = fd;
	l->size = (uint64_t)st.st_size;
	return 0;
}

int rt_console_log_open(struct rt_console_log *l, const char *path, uint64_t max)
{
	memset(l, 0, sizeof(*l));
	l->fd = -1;
	l->max = max ? max : RT_CONSOLE_LOG_MAX;
	if (snprintf(l->path, sizeof(l->path), "%s", path) >= (int)sizeof(l->path))
		return -ENAMETOOLONG;
	snprintf(l->old_path, sizeof(l->old_path), "%s.1", path);
	return open_log(l, 0);
}

/* console.log -> console.log.1 (rename replaces a link there rather than
 * following it), then a fresh console.log. */
static int rotate(struct rt_console_log *l)
{
	int ret;

	close(l->fd);
	l->fd = -1;
	if (rename(l->path, l->old_path))
		return -errno;
	ret = open_log(l, O_EXCL);
	return ret;
}

int rt_console_log_write(struct rt_console_log *l, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		uint64_t room = l->max > l->size ? l->max - l->size : 0;
		size_t chunk = len;
		int ret;

		if (l->fd < 0)
			return -EBADF;
		if (chunk > room) {
			const char *nl = room ? memrchr(p, '\n', (size_t)room) : NULL;

			if (nl) {
				chunk = (size_t)(nl - p) + 1;
			} else if (l->size) {
				/* Nothing whole fits: the line starts the next file. */
				ret = rotate(l);
				if (ret)
					return ret;
				continue;
			} else {
				chunk = (size_t)room; /* one line longer than max */
			}
		}
		ret = avp_write_all(l->fd, p, chunk);
		if (ret)
			return ret;
		l->size += chunk;
		p += chunk;
		len -= chunk;
		if (len && l->size >= l->max) {
			ret = rotate(l);
			if (ret)
				return ret;
		}
	}
	return 0;
}

void rt_console_log_close(struct rt_console_log *l)
{
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
}
