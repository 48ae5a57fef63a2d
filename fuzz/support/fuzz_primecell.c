/* The PrimeCell fuzzers' shared parts (fuzz_primecell.h). */
#include "avp/hw/primecell.h"
#include "fuzz_primecell.h"

void fz_irq_set(void *opaque, int level)
{
	struct fz_irq *irq = opaque;

	FUZZ_CHECK(level == 0 || level == 1);
	FUZZ_CHECK(level != irq->level);
	irq->level = level;
}

uint64_t fz_clock_now(void *opaque)
{
	return ((struct fz_clock *)opaque)->now;
}

void fz_primecell_run(struct fz *z, unsigned int nops,
		      void (*op)(void *ctx, struct fz *z, unsigned int which),
		      void (*check)(void *ctx), void *ctx)
{
	for (unsigned int i = 0; i < 4096 && !fz_empty(z); i++) {
		unsigned int which = fz_u8(z) % nops;

		if (which == nops - 1)
			check(ctx);
		else
			op(ctx, z, which);
	}
	check(ctx);
}

struct fz_access fz_primecell_access(struct fz *z, io_handler_fn io, void *dev,
				     uint32_t regs_span)
{
	struct fz_access a;
	uint8_t how;

	a.off = fz_u16(z);
	how = fz_u8(z);
	a.value = fz_u32(z);
	a.len = 1u << (how & 3);
	a.write = how & 4;
	if (!(how & 0x80))
		a.off = (uint16_t)((how & 0x40) ? PRIMECELL_ID_BASE + a.off % 0x20
						: a.off % regs_span);
	if (!a.write)
		a.value = 0;
	io(dev, a.off, &a.value, a.len, a.write);
	if (!a.write && a.len < 8)
		FUZZ_CHECK(!(a.value >> (8 * a.len)));
	return a;
}

uint32_t fz_primecell_read(io_handler_fn io, void *dev, unsigned int reg)
{
	uint32_t v = 0;

	io(dev, reg, &v, 4, false);
	return v;
}

void fz_primecell_check_ids(io_handler_fn io, void *dev, uint32_t periph_id)
{
	uint32_t periph = 0, cell = 0;

	for (unsigned int i = 0; i < 4; i++) {
		periph |= (fz_primecell_read(io, dev, PRIMECELL_ID_BASE + 4 * i) & 0xff) << (8 * i);
		cell |= (fz_primecell_read(io, dev, PRIMECELL_ID_BASE + 0x10 + 4 * i) & 0xff)
			<< (8 * i);
	}
	FUZZ_CHECK(periph == periph_id);
	FUZZ_CHECK(cell == PRIMECELL_CELL_ID);
}
