/* Shared by the PrimeCell fuzzers (fuzz_pl011, fuzz_pl031, fuzz_sp805,
 * fuzz_pl061): the interrupt line as a model drives it, the access
 * operation of their input grammar, and the identification registers. */
#ifndef AVP_FUZZ_PRIMECELL_H
#define AVP_FUZZ_PRIMECELL_H

#include <stdbool.h>
#include <stdint.h>

#include "avp/io_bus.h"
#include "fuzz_guest.h"

/* The interrupt line. A target's context starts with one, so that the
 * context is the opaque of every callback of the model's ops. */
struct fz_irq {
	int level;
};

/* The model's set_irq: levels 0 and 1 only, and only changes. */
void fz_irq_set(void *opaque, int level);

/* The head of a context on a fake clock (PL031, SP805): the line, then the
 * time the model's now_ns reads. */
struct fz_clock {
	struct fz_irq irq; /* first: fz_irq_set takes the context too */
	uint64_t now;	   /* ns */
};

/* The model's now_ns. */
uint64_t fz_clock_now(void *opaque);

/* The targets' operation loop: up to 4096 operations, each a u8 choosing
 * one of nops, the last of which is check; check runs once more at the
 * end. op runs the others (which < nops - 1). */
void fz_primecell_run(struct fz *z, unsigned int nops,
		      void (*op)(void *ctx, struct fz *z, unsigned int which),
		      void (*check)(void *ctx), void *ctx);

/* One access from the input: u16 offset, u8 how, u32 value. how bits 0-1:
 * width 1/2/4/8; bit 2: write; bit 7: the offset as given (anywhere);
 * else bit 6: an ID register, else the offset modulo regs_span. Checks
 * that a read fills nothing past its width; returns what it did. */
struct fz_access {
	uint16_t off;
	uint32_t len;
	bool write;
	uint64_t value; /* written, or read */
};
struct fz_access fz_primecell_access(struct fz *z, io_handler_fn io, void *dev,
				     uint32_t regs_span);

/* A 32-bit read of register reg. */
uint32_t fz_primecell_read(io_handler_fn io, void *dev, unsigned int reg);

/* Checks the identification registers: periph_id and the PrimeCell ID. */
void fz_primecell_check_ids(io_handler_fn io, void *dev, uint32_t periph_id);

#endif
