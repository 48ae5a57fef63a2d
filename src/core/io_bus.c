#include <errno.h>
#include <string.h>

#include "avp/io_bus.h"

int io_bus_register(struct io_bus *bus, uint64_t base, uint64_t len, io_handler_fn fn,
		    void *opaque, const char *name)
{
	if (len == 0 || base + len < base || !fn)
		return -EINVAL;
	for (unsigned int i = 0; i < bus->nranges; i++) {
		const struct io_range *r = &bus->ranges[i];

		if (base < r->base + r->len && r->base < base + len)
			return -EEXIST;
	}
	if (bus->nranges >= AVP_IO_BUS_MAX_RANGES)
		return -ENOSPC;
	bus->ranges[bus->nranges++] = (struct io_range){
		.base = base, .len = len, .fn = fn, .opaque = opaque, .name = name,
	};
	return 0;
}

bool io_bus_dispatch(struct io_bus *bus, uint64_t addr, void *data, uint32_t len, bool is_write)
{
	for (unsigned int i = 0; i < bus->nranges; i++) {
		const struct io_range *r = &bus->ranges[i];

		if (addr < r->base || addr - r->base >= r->len)
			continue;
		/* An access straddling the end of a range is the guest's
		 * mistake; the handler sees only accesses wholly inside. */
		if (len > r->len - (addr - r->base))
			break;
		r->fn(r->opaque, addr - r->base, data, len, is_write);
		return true;
	}
	if (!is_write)
		memset(data, 0xff, len);
	return false;
}
