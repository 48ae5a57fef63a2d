#include <errno.h>
#include <string.h>

#include "avp/guest_mem.h"

static const struct guest_region *find_region(const struct guest_mem *gm, uint64_t gpa,
					      uint64_t len)
{
	for (unsigned int i = 0; i < gm->nregions; i++) {
		const struct guest_region *r = &gm->regions[i];

		if (gpa < r->gpa || gpa - r->gpa >= r->size)
			continue;
		/* Written as a subtraction so that a huge len cannot wrap. */
		if (len > r->size - (gpa - r->gpa))
			return NULL;
		return r;
	}
	return NULL;
}

void *gm_ptr(const struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
	const struct guest_region *r = find_region(gm, gpa, len);

	return r ? r->hva + (gpa - r->gpa) : NULL;
}

int gm_read(const struct guest_mem *gm, uint64_t gpa, void *dst, size_t len)
{
	const void *src = gm_ptr(gm, gpa, len);

	if (!src)
		return -EFAULT;
	memcpy(dst, src, len);
	return 0;
}

int gm_write(const struct guest_mem *gm, uint64_t gpa, const void *src, size_t len)
{
	void *dst = gm_ptr(gm, gpa, len);

	if (!dst)
		return -EFAULT;
	memcpy(dst, src, len);
	return 0;
}

int gm_add_region(struct guest_mem *gm, uint64_t gpa, uint64_t size, void *hva)
{
	if (size == 0 || gpa + size < gpa || !hva)
		return -EINVAL;
	if (gm->nregions >= AVP_MAX_MEM_REGIONS)
		return -E2BIG;
	for (unsigned int i = 0; i < gm->nregions; i++) {
		const struct guest_region *r = &gm->regions[i];

		if (gpa < r->gpa + r->size && r->gpa < gpa + size)
			return -EINVAL;
	}
	gm->regions[gm->nregions++] = (struct guest_region){ .gpa = gpa, .size = size, .hva = hva };
	gm->total_bytes += size;
	return 0;
}
