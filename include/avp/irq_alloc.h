/* Hands out device interrupts from the ranges the architecture lends:
 * I/O APIC inputs (GSIs) on x86 today, SPIs on arm64 and MSI vectors for
 * virtio-pci next. Numbers go out in range order, lowest first, so the
 * same devices in the same order always get the same interrupts. */
#ifndef AVP_IRQ_ALLOC_H
#define AVP_IRQ_ALLOC_H

#include <stddef.h>
#include <stdint.h>

enum irq_kind {
	IRQ_KIND_GSI, /* an I/O APIC input */
	IRQ_KIND_SPI, /* a GIC shared peripheral interrupt */
	IRQ_KIND_MSI, /* a message-signalled vector */
};

struct irq_range {
	uint32_t first;
	uint32_t count;
};

#define IRQ_ALLOC_MAX_RANGES 8

struct irq_alloc {
	enum irq_kind kind;
	struct irq_range ranges[IRQ_ALLOC_MAX_RANGES];
	unsigned int nranges;
	unsigned int cur;   /* the range the next block comes from */
	uint32_t cur_used;  /* taken from ranges[cur] so far */
	uint32_t capacity;  /* sum of the counts */
	uint32_t allocated; /* handed out so far */
};

/* 0, or -EINVAL for no ranges, more than IRQ_ALLOC_MAX_RANGES, an empty
 * or wrapping range, or ranges that overlap. */
int irq_alloc_init(struct irq_alloc *a, enum irq_kind kind, const struct irq_range *ranges,
		   unsigned int n);
/* count consecutive numbers inside one range; the first in *first. 0,
 * -EINVAL for count 0, -ENOSPC when no range has that many left. A range
 * too short for a block is passed over, and its rest stays unused. */
int irq_alloc_get(struct irq_alloc *a, uint32_t count, uint32_t *first);
/* "I/O APIC input", "SPI", "MSI vector": for messages. */
const char *irq_kind_name(enum irq_kind kind);
/* The ranges as text ("5-7, 9-11, 14-23") for messages; the length
 * snprintf would write. */
int irq_alloc_format(const struct irq_alloc *a, char *buf, size_t len);

#endif
