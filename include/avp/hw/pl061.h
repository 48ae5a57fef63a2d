/* ARM PrimeCell GPIO (PL061, ARM DDI 0190): eight lines, each an output
 * the guest drives or an input the platform drives, with edge or level
 * interrupts combined into one level line (GPIOINTR). On the arm64
 * platform it carries the power button: a gpio-keys node in the device
 * tree binds line PL061_POWER_LINE to KEY_POWER, so a guest's standard
 * drivers (pl061 + gpio-keys, as on QEMU's virt) see a button press and
 * shut down (AVP-PM-1). Independent of the VM: the interrupt is a
 * callback. */
#ifndef AVP_HW_PL061_H
#define AVP_HW_PL061_H

#include <stdbool.h>
#include <stdint.h>

struct pl061;

#define PL061_MMIO_SIZE 0x1000u
#define PL061_PERIPH_ID 0x00041061u
#define PL061_NLINES 8

/* The power button's line. 3, as QEMU's virt machine has it, so that a
 * guest's device tree for either machine reads the same; any free line
 * would do. Active high: pressed is 1. A press must last longer than
 * gpio-keys' debounce interval (5 ms unless the node says otherwise), or
 * the driver reads the line back released and reports nothing:
 * pl061_press holds it PL061_PRESS_MS. */
#define PL061_POWER_LINE 3
#define PL061_PRESS_MS 100u
/* Linux's input event code for the power key (linux-event-codes.h). */
#define PL061_KEY_POWER 116

/* Register offsets (TRM table 3-1). GPIODATA spans 0x000-0x3fc: address
 * bits 9:2 mask the lines an access reads or writes. */
#define PL061_DATA 0x000
#define PL061_DIR 0x400
#define PL061_IS 0x404
#define PL061_IBE 0x408
#define PL061_IEV 0x40c
#define PL061_IE 0x410
#define PL061_RIS 0x414
#define PL061_MIS 0x418
#define PL061_IC 0x41c
#define PL061_AFSEL 0x420

struct pl061_ops {
	/* Drives GPIOINTR; with the device lock held, only on changes. */
	void (*set_irq)(void *opaque, int level);
	/* pl061_press is used: start the thread that releases pressed
	 * buttons. Without it (tests, fuzzing) the device has no thread. */
	bool buttons;
	/* Runs first on that thread (the platform confines it there);
	 * nonzero ends the thread, and a press then stays down. Optional. */
	int (*thread_start)(void *opaque);
	void *opaque;
};

int pl061_create(struct pl061 **out, const struct pl061_ops *ops);
/* Stops the thread first: a pressed button stays as it is. */
void pl061_destroy(struct pl061 *g);

/* io_handler_fn for the PL061_MMIO_SIZE window; opaque is the device. */
void pl061_io(void *opaque, uint64_t offset, void *data, uint32_t len, bool is_write);

/* The platform drives input line (0-7) to level (0 or 1). Any thread.
 * -EINVAL for a line that does not exist. */
int pl061_set_input(struct pl061 *g, unsigned int line, int level);

/* A button press on input line: 1 now, 0 again PL061_PRESS_MS later, on
 * the device's thread. A press while the button is down extends it. Any
 * thread. 0, -EINVAL for a line that does not exist, -ENOTSUP for a
 * device created without ops->buttons. */
int pl061_press(struct pl061 *g, unsigned int line);

#endif
