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
#include "avp/log.h"
#include "fuzz_guest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

struct ctx {
	struct pl011 *s;
	int level;
	unsigned int changes;
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	avp_log_set_level(AVP_LOG_ERROR);
	return 0;
}

static void set_irq(void *opaque, int level)
{
	struct ctx *c = opaque;

	FUZZ_CHECK(level == 0 || level == 1);
	FUZZ_CHECK(level != c->level); /* changes only */
	c->level = level;
	c->changes++;
}

static uint32_t rd(struct ctx *c, unsigned int reg)
{
	uint32_t v = 0;

	pl011_io(c->s, reg, &v, 4, false);
	return v;
}

static void check(struct ctx *c)
{
	uint32_t ris = rd(c, PL011_RIS), imsc = rd(c, PL011_IMSC), mis = rd(c, PL011_MIS);
	uint32_t fr = rd(c, PL011_FR), id = 0;

	FUZZ_CHECK(mis == (ris & imsc));
	FUZZ_CHECK(c->level == (mis != 0));
	FUZZ_CHECK(!(ris & ~PL011_INT_ALL) && !(imsc & ~PL011_INT_ALL));
	FUZZ_CHECK(!((fr & PL011_FR_RXFE) && (fr & PL011_FR_RXFF)));
	FUZZ_CHECK(!((fr & PL011_FR_TXFE) && (fr & PL011_FR_TXFF)));
	for (unsigned int i = 0; i < 4; i++)
		id |= (rd(c, 0xfe0 + 4 * i) & 0xff) << (8 * i);
	FUZZ_CHECK(id == PL011_PERIPH_ID);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctx c = { 0 };
	struct fz z = { data, size };
	struct pl011_ops ops = { .set_irq = set_irq, .opaque = &c };

	if (pl011_create(&c.s, NULL, &ops))
		return 0;
	for (unsigned int i = 0; i < 4096 && !fz_empty(&z); i++) {
		switch (fz_u8(&z) % 3) {
		case 0: {
			uint16_t off = fz_u16(&z);
			uint8_t how = fz_u8(&z);
			uint64_t v = fz_u32(&z);
			uint32_t len = 1u << (how & 3);

			/* Mostly the registers and IDs, sometimes anywhere. */
			if (!(how & 0x80))
				off = (how & 0x40) ? 0xfe0 + off % 0x20 : off % 0x50;
			if (!(how & 4))
				v = 0; /* a read must not write past its width */
			pl011_io(c.s, off, &v, len, how & 4);
			if (!(how & 4) && len < 8)
				FUZZ_CHECK(!(v >> (8 * len)));
			break;
		}
		case 1: {
			uint8_t buf[32];
			size_t n = fz_bytes(&z, buf, fz_u8(&z) % sizeof(buf));
			size_t took = pl011_receive(c.s, buf, n);

			FUZZ_CHECK(took <= n && took <= PL011_FIFO_SIZE);
			break;
		}
		default:
			check(&c);
			break;
		}
	}
	check(&c);
	pl011_destroy(c.s);
	return 0;
}
