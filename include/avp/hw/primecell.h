/* What every ARM PrimeCell peripheral (PL011, PL031, PL061, SP805) shares:
 * a 4 KiB window of 32-bit registers on the APB bus, and the eight
 * identification registers at its top that Linux's AMBA bus reads before
 * it binds a driver (drivers/amba/bus.c: the low byte of each of
 * 0xfe0-0xfec makes the peripheral ID, of 0xff0-0xffc the cell ID).
 *
 * The APB bus has no byte strobes for reads and these cells decode no
 * lanes: an access must fall inside one aligned 32-bit register. Anything
 * else (an 8-byte access, one straddling two registers, an offset past
 * the window) reads 0 and writes nothing. Narrower accesses inside a
 * register are allowed, as Linux's drivers use them (amba-pl011 reads and
 * writes 16 bits, its earlycon writes DR with 8). */
#ifndef AVP_HW_PRIMECELL_H
#define AVP_HW_PRIMECELL_H

#include <stdbool.h>
#include <stdint.h>

#define PRIMECELL_WINDOW 0x1000u
#define PRIMECELL_ID_BASE 0xfe0u
#define PRIMECELL_CELL_ID 0xb105f00du

struct primecell_regs {
	/* Offset of a 32-bit register below PRIMECELL_ID_BASE; reads may
	 * have side effects (popping a FIFO), so they run once per access. */
	uint32_t (*read)(void *dev, unsigned int reg);
	/* val in register position; mask has the bytes the access wrote.
	 * A register that keeps state merges them (primecell_merge). */
	void (*write)(void *dev, unsigned int reg, uint32_t val, uint32_t mask);
	uint32_t periph_id; /* e.g. 0x00041011 for the PL011 */
};

/* A register after a narrow write: the written bytes of val, the rest of
 * old. */
static inline uint32_t primecell_merge(uint32_t old, uint32_t val, uint32_t mask)
{
	return (old & ~mask) | (val & mask);
}

/* An io_handler_fn's access decoded for the cell: the caller holds its
 * device's lock. The ID registers read from regs->periph_id and
 * PRIMECELL_CELL_ID and ignore writes. */
void primecell_io(const struct primecell_regs *regs, void *dev, uint64_t offset, void *data,
		  uint32_t len, bool is_write);

#endif
