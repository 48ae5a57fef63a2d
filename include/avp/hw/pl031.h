/* ARM PrimeCell Real Time Clock (PL031, ARM DDI 0224). The counter is the
 * host's UTC clock in seconds plus an offset the guest sets by writing
 * the load register, so it never drifts from the host; the match
 * register raises a level interrupt (RTCINTR) when the counter reaches
 * it, woken by a timer thread (avp/hw/hw_timer.h). Independent of the VM:
 * the interrupt line is a callback, and so is the clock, for tests. */
#ifndef AVP_HW_PL031_H
#define AVP_HW_PL031_H

#include <stdbool.h>
#include <stdint.h>

struct pl031;

#define PL031_MMIO_SIZE 0x1000u
#define PL031_PERIPH_ID 0x00041031u

/* Register offsets (TRM table 3-1). */
#define PL031_DR 0x00	/* counter, read-only */
#define PL031_MR 0x04	/* match */
#define PL031_LR 0x08	/* load: sets the counter */
#define PL031_CR 0x0c	/* bit 0 start */
#define PL031_IMSC 0x10 /* bit 0: the match interrupt is enabled */
#define PL031_RIS 0x14
#define PL031_MIS 0x18
#define PL031_ICR 0x1c
#define PL031_CR_START 1u
#define PL031_INT 1u

struct pl031_ops {
	/* Drives RTCINTR; with the device lock held, only on changes. */
	void (*set_irq)(void *opaque, int level);
	/* The host's UTC time in nanoseconds. NULL: CLOCK_REALTIME and a
	 * timer thread that raises the match interrupt on time. Given (a
	 * test's fake clock): no thread; call pl031_tick after moving it. */
	uint64_t (*now_ns)(void *opaque);
	/* Runs first on the timer thread (optional). */
	int (*thread_start)(void *opaque);
	void *opaque;
};

int pl031_create(struct pl031 **out, const struct pl031_ops *ops);
/* Stops the timer thread, then frees the device. */
void pl031_destroy(struct pl031 *rtc);

/* io_handler_fn for the PL031_MMIO_SIZE window; opaque is the device. */
void pl031_io(void *opaque, uint64_t offset, void *data, uint32_t len, bool is_write);

/* Brings the match interrupt up to date with the clock (what the timer
 * thread does when it fires). */
void pl031_tick(struct pl031 *rtc);

/* Seconds the guest moved its clock away from host UTC (0 until it
 * writes the load register). */
int64_t pl031_offset(struct pl031 *rtc);

#endif
