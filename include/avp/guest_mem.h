/* Guest physical memory and the one checked accessor for it.
 *
 * Guest memory is untrusted input: every address and length a guest hands
 * us (descriptor tables, buffers, boot structures) goes through gm_ptr(),
 * gm_read() or gm_write(). They refuse any range that is not wholly inside
 * one RAM region, so device code never computes a host pointer itself. */
#ifndef AVP_GUEST_MEM_H
#define AVP_GUEST_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AVP_MAX_MEM_REGIONS 4

struct guest_region {
	uint64_t gpa;
	uint64_t size;
	uint8_t *hva;
};

struct guest_mem {
	struct guest_region regions[AVP_MAX_MEM_REGIONS];
	unsigned int nregions;
	uint64_t total_bytes;
};

/* Host pointer to [gpa, gpa+len) or NULL when any byte of it is outside
 * guest RAM (or the range wraps). len 0 asks only whether gpa is RAM. */
void *gm_ptr(const struct guest_mem *gm, uint64_t gpa, uint64_t len);

/* Copy helpers: 0 or -EFAULT when the range is not guest RAM. */
int gm_read(const struct guest_mem *gm, uint64_t gpa, void *dst, size_t len);
int gm_write(const struct guest_mem *gm, uint64_t gpa, const void *src, size_t len);

/* Adds a region backed by hva (caller owns the mapping). -E2BIG when full,
 * -EINVAL when it overlaps an existing region. */
int gm_add_region(struct guest_mem *gm, uint64_t gpa, uint64_t size, void *hva);

#endif
