/* libFuzzer target: the PL061 GPIO (src/hw/pl061.c) as a hostile guest
 * drives it, with the platform moving its input lines in between.
 *
 * Input: operations until the input ends:
 *   0 access  u16 offset (GPIODATA with any mask, the control registers,
 *             the IDs, sometimes anywhere), u8 width/direction, u32 value
 *   1 input   u8 line (some out of range), u8 level: the platform drives
 *   2 check   the invariants below, now
 *
 * Beyond the sanitizers: the line changes only when its level does and is
 * exactly GPIORIS & GPIOIE, which GPIOMIS reads; a GPIODATA read returns
 * only the lines its address unmasks, and an input line reads what the
 * platform drives; level-sensitive lines show in GPIORIS exactly when
 * their pin is at the GPIOIEV level; registers hold 8 bits; reads write
 * nothing past their width; the IDs hold. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "avp/hw/pl061.h"
#include "fuzz_primecell.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct ctx {
	struct fz_irq irq; /* first: the ops' opaque is the context */
	struct pl061 *g;
	uint8_t in; /* what the platform drives */
};

FUZZ_LOG_ERRORS_ONLY()

static uint32_t rd(struct ctx *c, unsigned int reg)
{
	return fz_primecell_read(pl061_io, c->g, reg);
}

static void check(void *opaque)
{
	struct ctx *c = opaque;
	uint32_t ris = rd(c, PL061_RIS), ie = rd(c, PL061_IE), mis = rd(c, PL061_MIS);
	uint32_t dir = rd(c, PL061_DIR), is = rd(c, PL061_IS), iev = rd(c, PL061_IEV);
	uint32_t pins = rd(c, PL061_DATA + (0xff << 2));

	FUZZ_CHECK(ris <= 0xff && ie <= 0xff && dir <= 0xff && is <= 0xff && iev <= 0xff);
	FUZZ_CHECK(mis == (ris & ie));
	FUZZ_CHECK(c->irq.level == (mis != 0));
	FUZZ_CHECK((pins & ~dir & 0xff) == (c->in & ~dir & 0xff));
	FUZZ_CHECK((ris & is) == (is & ~(pins ^ iev) & 0xff));
	for (unsigned int m = 0; m < 256; m += 37)
		FUZZ_CHECK(rd(c, PL061_DATA + (m << 2)) == (pins & m));
	fz_primecell_check_ids(pl061_io, c->g, PL061_PERIPH_ID);
}

static void op(void *opaque, struct fz *z, unsigned int which)
{
	struct ctx *c = opaque;
	unsigned int line;
	int level, ret;

	if (which == 0) {
		/* GPIODATA under every mask, then the control registers. */
		fz_primecell_access(z, pl061_io, c->g, PL061_AFSEL + 4);
		return;
	}
	line = fz_u8(z) % (PL061_NLINES + 2);
	level = fz_u8(z) & 1;
	ret = pl061_set_input(c->g, line, level);
	FUZZ_CHECK(line < PL061_NLINES ? ret == 0 : ret == -EINVAL);
	if (!ret)
		c->in = (uint8_t)((c->in & ~(1u << line)) | ((unsigned int)level << line));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctx c = { 0 };
	struct fz z = { data, size };
	struct pl061_ops ops = { .set_irq = fz_irq_set, .opaque = &c };

	if (pl061_create(&c.g, &ops))
		return 0;
	fz_primecell_run(&z, 3, op, check, &c);
	pl061_destroy(c.g);
	return 0;
}
