/* Port-I/O and MMIO dispatch: each emulated device claims a range and gets
 * called with the offset inside it. One bus per address space per VM. */
#ifndef AVP_IO_BUS_H
#define AVP_IO_BUS_H

#include <stdbool.h>
#include <stdint.h>

#define AVP_IO_BUS_MAX_RANGES 64

/* data points to len bytes (1, 2, 4 or 8); on a read the handler fills it.
 * Handlers run on vCPU threads and must take their device's own lock. */
typedef void (*io_handler_fn)(void *opaque, uint64_t offset, void *data,
			      uint32_t len, bool is_write);

struct io_range {
	uint64_t base;
	uint64_t len;
	io_handler_fn fn;
	void *opaque;
	const char *name;
};

struct io_bus {
	struct io_range ranges[AVP_IO_BUS_MAX_RANGES];
	unsigned int nranges;
};

/* 0, -EEXIST on overlap with a registered range, -ENOSPC when full,
 * -EINVAL for an empty or wrapping range. Not thread-safe: register
 * everything before the vCPUs start. */
int io_bus_register(struct io_bus *bus, uint64_t base, uint64_t len,
		    io_handler_fn fn, void *opaque, const char *name);

/* true when a range took the access. An unclaimed read returns all ones,
 * as an absent device on a real bus does. */
bool io_bus_dispatch(struct io_bus *bus, uint64_t addr, void *data,
		     uint32_t len, bool is_write);

#endif
