/* See include/avp/fdio.h. */
#include <errno.h>
#include <stdint.h>
#include <unistd.h>

#include "avp/fdio.h"

enum op { WRITE, PWRITE, PREAD };

static int transfer_all(enum op op, int fd, void *buf, size_t len, off_t off)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = op == WRITE	 ? write(fd, p, len)
			    : op == PWRITE ? pwrite(fd, p, len, off)
					   : pread(fd, p, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

int avp_write_all(int fd, const void *buf, size_t len)
{
	return transfer_all(WRITE, fd, (void *)buf, len, 0);
}

int avp_pwrite_all(int fd, const void *buf, size_t len, off_t off)
{
	return transfer_all(PWRITE, fd, (void *)buf, len, off);
}

int avp_pread_all(int fd, void *buf, size_t len, off_t off)
{
	return transfer_all(PREAD, fd, buf, len, off);
}
