/* The files a guest boots from (its kernel and initrd), opened, probed and
 * read into guest RAM alike by every architecture's loader (x86's
 * boot.c, arm64's boot.c); what the bytes mean is the loaders' own. Each
 * failure is one error line naming the file: "kernel PATH: ...". */
#ifndef AVP_ARCH_GUEST_FILES_H
#define AVP_ARCH_GUEST_FILES_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct guest_mem;

/* Opens a regular file for reading (O_NONBLOCK, so that a FIFO given by
 * mistake is refused instead of hanging the open): the fd and its size
 * in *size, or -errno. what is "kernel", "initrd". */
int guest_file_open(const char *what, const char *path, uint64_t *size);

/* The file's first bytes for a format probe: min(len, size) of them into
 * buf, the rest of buf zeroed, their count in *got. 0 or -errno. */
int guest_file_head(int fd, const char *what, const char *path, uint8_t *buf, size_t len,
		    uint64_t size, size_t *got);

/* len bytes into guest RAM at gpa, through the checked accessor: from
 * data when it is not NULL (a kernel the loader unpacked), else from the
 * file at offset off. 0 or -errno (-ENOMEM: not all of it is guest RAM). */
int guest_file_load(const struct guest_mem *gm, uint64_t gpa, uint64_t len, const void *data,
		    int fd, off_t off, const char *what, const char *path);

#endif
