/* libFuzzer target: the PL011 UART (src/hw/pl011.c) as a hostile guest
 * drives it, with host input arriving between its accesses.
 *
 * Input: operations until the input ends:
 *   0 access  u16 offset (most inside the 4 KiB window, some past it),
 *             u8 width/direction, u32 value: one MMIO access
 *   1 input   u8 n, n bytes: host input offered to the receive FIFO
 *   2 check   the invariants below, now
 *
 * Beyond the sanitizers: the interrupt line changes only when its level
 * does and is exactly (RIS & IMSC) != 0, which MIS reads; FR never says
 * empty and full at once; no register holds bits beyond its width; a
 * read returns nothing beyond the access width; the ID registers never
 * change.
 */
#include <stdlib.h>
#include <string.h>

#include "avp/hw/pl011.h"
#include "fuzz_primecell.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct ctx {
	struct fz_irq irq; /* first: the ops' opaque is the context */
	struct pl011 *s;
};

FUZZ_LOG_ERRORS_ONLY()

static uint32_t rd(struct ctx *c, unsigned int reg)
{
	return fz_primecell_read(pl011_io, c->s, reg);
}

static void check(void *opaque)
{
	struct ctx *c = opaque;
	uint32_t ris = rd(c, PL011_RIS), imsc = rd(c, PL011_IMSC), mis = rd(c, PL011_MIS);
	uint32_t fr = rd(c, PL011_FR);

	FUZZ_CHECK(mis == (ris & imsc));
	FUZZ_CHECK(c->irq.level == (mis != 0));
	FUZZ_CHECK(!(ris & ~PL011_INT_ALL) && !(imsc & ~PL011_INT_ALL));
	FUZZ_CHECK(!((fr & PL011_FR_RXFE) && (fr & PL011_FR_RXFF)));
	FUZZ_CHECK(!((fr & PL011_FR_TXFE) && (fr & PL011_FR_TXFF)));
	fz_primecell_check_ids(pl011_io, c->s, PL011_PERIPH_ID);
}

static void op(void *opaque, struct fz *z, unsigned int which)
{
	struct ctx *c = opaque;
	uint8_t buf[32];
	size_t n, took;

	if (which == 0) {
		fz_primecell_access(z, pl011_io, c->s, 0x50);
		return;
	}
	n = fz_bytes(z, buf, fz_u8(z) % sizeof(buf));
	took = pl011_receive(c->s, buf, n);
	FUZZ_CHECK(took <= n && took <= PL011_FIFO_SIZE);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctx c = { 0 };
	struct fz z = { data, size };
	struct pl011_ops ops = { .set_irq = fz_irq_set, .opaque = &c };

	if (pl011_create(&c.s, NULL, &ops))
		return 0;
	fz_primecell_run(&z, 3, op, check, &c);
	pl011_destroy(c.s);
	return 0;
}
