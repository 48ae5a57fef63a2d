/* libFuzzer target: the PL031 RTC (src/hw/pl031.c) on a fake clock, as a
 * hostile guest drives it.
 *
 * Input: u64 start time (ns), then operations until the input ends:
 *   0 access  u16 offset (most inside the window, some past it), u8
 *             width/direction, u32 value: one MMIO access
 *   1 time    u32: the clock moves on that many ms, then the timer tick
 *   2 check   the invariants below, now
 *
 * Beyond the sanitizers: the line changes only when its level does and
 * is exactly RIS & IMSC, which MIS reads; RIS and IMSC hold only bit 0;
 * the counter follows the clock (between two reads without a load it
 * moves on by the seconds that passed, modulo 2^32); reads write nothing
 * past their width; the IDs never change. */
#include <stdlib.h>
#include <string.h>

#include "avp/hw/pl031.h"
#include "fuzz_primecell.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct ctx {
	struct fz_clock clk; /* first: the ops' opaque is the context */
	struct pl031 *rtc;
};

FUZZ_LOG_ERRORS_ONLY()

static uint32_t rd(struct ctx *c, unsigned int reg)
{
	return fz_primecell_read(pl031_io, c->rtc, reg);
}

static void check(void *opaque)
{
	struct ctx *c = opaque;
	uint32_t ris = rd(c, PL031_RIS), imsc = rd(c, PL031_IMSC), mis = rd(c, PL031_MIS);

	FUZZ_CHECK(!(ris & ~1u) && !(imsc & ~1u));
	FUZZ_CHECK(mis == (ris & imsc));
	FUZZ_CHECK(c->clk.irq.level == (int)mis);
	fz_primecell_check_ids(pl031_io, c->rtc, PL031_PERIPH_ID);
}

static void op(void *opaque, struct fz *z, unsigned int which)
{
	struct ctx *c = opaque;
	uint64_t ms, s0;
	uint32_t before, after;

	if (which == 0) {
		fz_primecell_access(z, pl031_io, c->rtc, 0x24);
		return;
	}
	ms = fz_u32(z);
	before = rd(c, PL031_DR);
	s0 = c->clk.now / 1000000000ull;
	c->clk.now += ms * 1000000ull;
	pl031_tick(c->rtc);
	after = rd(c, PL031_DR);
	FUZZ_CHECK(after - before == (uint32_t)(c->clk.now / 1000000000ull - s0));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctx c = { 0 };
	struct fz z = { data, size };
	struct pl031_ops ops = { .set_irq = fz_irq_set, .now_ns = fz_clock_now, .opaque = &c };

	/* Any start, but far enough from the end that the run cannot wrap. */
	c.clk.now = fz_u64(&z) >> 2;
	if (pl031_create(&c.rtc, &ops))
		return 0;
	fz_primecell_run(&z, 3, op, check, &c);
	pl031_destroy(c.rtc);
	return 0;
}
