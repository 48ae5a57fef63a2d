/* Whole transfers on blocking file descriptors: the loops every caller of
 * write(2) and pread(2) otherwise writes again. (src/core/fdio.c) */
#ifndef AVP_FDIO_H
#define AVP_FDIO_H

#include <stddef.h>
#include <sys/types.h>

/* All len bytes, retrying short transfers and EINTR: 0, or -errno (-EIO
 * when the fd takes or gives nothing more: a full device, a file that
 * ends early). */
int avp_write_all(int fd, const void *buf, size_t len);
int avp_pwrite_all(int fd, const void *buf, size_t len, off_t off);
int avp_pread_all(int fd, void *buf, size_t len, off_t off);

#endif
