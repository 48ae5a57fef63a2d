/* libFuzzer target: the SP805 watchdog (src/hw/sp805.c) on a fake clock,
 * as a hostile guest drives it.
 *
 * Input: u8 clock choice, then operations until the input ends:
 *   0 access  u16 offset (most on the registers or the IDs, the lock
 *             and the rest anywhere), u8 width/direction, u32 value
 *   1 unlock  the key written to LOCK, as sp805_wdt does before a write
 *   2 time    u32: the clock moves on that many microseconds, then a tick
 *   3 check   the invariants below, now
 *
 * Beyond the sanitizers: the line changes only when its level does and is
 * exactly RIS while INTEN is set, which MIS reads; the action never runs
 * twice without a reload in between; while stopped, VALUE holds; LOCK
 * reads 0 or 1; reads write nothing past their width; the IDs hold. */
#include <stdlib.h>
#include <string.h>

#include "avp/hw/sp805.h"
#include "fuzz_primecell.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct ctx {
	struct fz_clock clk; /* first: the ops' opaque is the context */
	struct sp805 *s;
	unsigned int expiries;
	unsigned int reloads_at_expiry; /* reloads seen at the last expiry */
	unsigned int reloads;		/* LOAD / INTCLR / INTEN writes so far */
};

FUZZ_LOG_ERRORS_ONLY()

static void expired(void *opaque, uint32_t count)
{
	struct ctx *c = opaque;

	(void)count;
	/* Once per reload at most (the first expiry needs none). */
	FUZZ_CHECK(!c->expiries || c->reloads > c->reloads_at_expiry);
	c->expiries++;
	c->reloads_at_expiry = c->reloads;
}

static uint32_t rd(struct ctx *c, unsigned int reg)
{
	return fz_primecell_read(sp805_io, c->s, reg);
}

static void check(void *opaque)
{
	struct ctx *c = opaque;
	uint32_t ctl = rd(c, SP805_CONTROL), ris = rd(c, SP805_RIS), mis = rd(c, SP805_MIS);

	FUZZ_CHECK(!(ctl & ~3u) && ris <= 1 && rd(c, SP805_LOCK) <= 1);
	FUZZ_CHECK(mis == (ris && (ctl & SP805_CTL_INTEN)));
	FUZZ_CHECK(c->clk.irq.level == (int)mis);
	fz_primecell_check_ids(sp805_io, c->s, SP805_PERIPH_ID);
}

static void access_op(struct ctx *c, struct fz *z)
{
	bool locked = rd(c, SP805_LOCK);
	struct fz_access a = fz_primecell_access(z, sp805_io, c->s, SP805_MIS + 4);

	/* A write that may have reloaded the counter. */
	if (a.write && !locked && a.off < SP805_RIS)
		c->reloads++;
}

static void op(void *opaque, struct fz *z, unsigned int which)
{
	struct ctx *c = opaque;

	switch (which) {
	case 0:
		access_op(c, z);
		break;
	case 1: {
		uint32_t key = SP805_UNLOCK_KEY;

		sp805_io(c->s, SP805_LOCK, &key, 4, true);
		FUZZ_CHECK(rd(c, SP805_LOCK) == 0);
		break;
	}
	default: {
		bool stopped = !(rd(c, SP805_CONTROL) & SP805_CTL_INTEN);
		uint32_t before = rd(c, SP805_VALUE);

		c->clk.now += (uint64_t)fz_u32(z) * 1000;
		sp805_tick(c->s);
		if (stopped)
			FUZZ_CHECK(rd(c, SP805_VALUE) == before);
		break;
	}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t clocks[] = { 1, 1000, SP805_DEFAULT_HZ, 24000000, 1000000000 };
	struct ctx c = { 0 };
	struct fz z = { data, size };
	struct sp805_ops ops = { .set_irq = fz_irq_set, .now_ns = fz_clock_now, .opaque = &c };
	struct watchdog_ops w = { .expired = expired, .opaque = &c };
	uint64_t hz = clocks[fz_u8(&z) % 5];

	c.clk.now = 1000000000ull;
	if (sp805_create(&c.s, hz, &ops, &w))
		return 0;
	fz_primecell_run(&z, 4, op, check, &c);
	sp805_destroy(c.s);
	return 0;
}
