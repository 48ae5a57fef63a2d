/* A guest's kernel and initrd files (guest_files.h). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arch/guest_files.h"
#include "avp/fdio.h"
#include "avp/guest_mem.h"
#include "avp/log.h"

int guest_file_open(const char *what, const char *path, uint64_t *size)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	int err;

	if (fd < 0) {
		err = -errno;
		avp_err("%s %s: cannot open: %s", what, path, strerror(-err));
		return err;
	}
	if (fstat(fd, &st) < 0) {
		err = -errno;
		avp_err("%s %s: cannot stat: %s", what, path, strerror(-err));
		close(fd);
		return err;
	}
	if (!S_ISREG(st.st_mode)) {
		avp_err("%s %s: %s", what, path,
			S_ISDIR(st.st_mode) ? "is a directory, not a regular file"
					    : "not a regular file");
		close(fd);
		return -EINVAL;
	}
	*size = (uint64_t)st.st_size;
	return fd;
}

int guest_file_head(int fd, const char *what, const char *path, uint8_t *buf, size_t len,
		    uint64_t size, size_t *got)
{
	size_t n = size < len ? (size_t)size : len;
	int err;

	memset(buf, 0, len);
	err = avp_pread_all(fd, buf, n, 0);
	if (err) {
		avp_err("%s %s: read failed: %s", what, path, strerror(-err));
		return err;
	}
	*got = n;
	return 0;
}

int guest_file_load(const struct guest_mem *gm, uint64_t gpa, uint64_t len, const void *data,
		    int fd, off_t off, const char *what, const char *path)
{
	void *dst = gm_ptr(gm, gpa, len);
	int err = 0;

	if (!dst) {
		avp_err("%s %s: [0x%llx, +%llu) is not guest RAM", what, path,
			(unsigned long long)gpa, (unsigned long long)len);
		return -ENOMEM;
	}
	if (data)
		memcpy(dst, data, (size_t)len);
	else
		err = avp_pread_all(fd, dst, (size_t)len, off);
	if (err)
		avp_err("%s %s: read failed: %s", what, path, strerror(-err));
	return err;
}
