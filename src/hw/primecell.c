/* The register window shared by the PrimeCell models (include/avp/hw/
 * primecell.h). */
#include <string.h>

#include "avp/hw/primecell.h"

static uint32_t id_read(uint32_t periph_id, unsigned int reg)
{
	unsigned int i = (reg - PRIMECELL_ID_BASE) / 4;
	uint32_t id = i < 4 ? periph_id : PRIMECELL_CELL_ID;

	return (id >> (8 * (i % 4))) & 0xff;
}

void primecell_io(const struct primecell_regs *regs, void *dev, uint64_t offset, void *data,
		  uint32_t len, bool is_write)
{
	unsigned int reg, lane;
	uint32_t val = 0, mask;

	if (!regs || !data)
		return;
	if (offset >= PRIMECELL_WINDOW || (len != 1 && len != 2 && len != 4) ||
	    (offset & 3) + len > 4) {
		if (!is_write)
			memset(data, 0, len);
		return;
	}
	reg = (unsigned int)(offset & ~3ull);
	lane = (unsigned int)(offset & 3);
	mask = (len == 4 ? 0xffffffffu : (1u << (8 * len)) - 1) << (8 * lane);
	if (is_write) {
		/* The host and the guest are little-endian (x86-64, arm64 LE). */
		memcpy(&val, data, len);
		if (reg < PRIMECELL_ID_BASE)
			regs->write(dev, reg, val << (8 * lane), mask);
		return;
	}
	val = reg >= PRIMECELL_ID_BASE ? id_read(regs->periph_id, reg) : regs->read(dev, reg);
	val >>= 8 * lane;
	memcpy(data, &val, len);
}
