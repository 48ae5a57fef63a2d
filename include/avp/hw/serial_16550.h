/* A 16550A UART (8 registers) whose transmitter writes to a host chardev
 * (never waiting: a full chardev reads as a busy transmitter) and whose
 * receiver is fed from the chardev's input by a thread owned by the
 * device; another thread writes out what a slow host reader left behind. Independent of the VM: the interrupt line and the
 * "guest printed something" hook are callbacks. */
#ifndef AVP_HW_SERIAL_16550_H
#define AVP_HW_SERIAL_16550_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct chardev;
struct serial16550;

#define SERIAL16550_NPORTS 8
#define SERIAL16550_FIFO_SIZE 16

struct serial16550_ops {
	/* Drives the UART's interrupt output (after the OUT2 gate of the PC
	 * serial port). Called with the device lock held: must not call
	 * back into the device. Rising edges mark new interrupt conditions. */
	void (*set_irq)(void *opaque, int level);
	/* The guest transmitted output to the host (optional). */
	void (*output)(void *opaque);
	/* Runs first on the input thread, before it reads any host input,
	 * and on the output thread (optional): the platform confines the
	 * threads there. Nonzero ends the thread, so input is ignored rather
	 * than read unconfined (and output the host does not take at once
	 * stays buffered). */
	int (*reader_start)(void *opaque);
	void *opaque;
};

/* chr may be NULL (output discarded, no input). When chardev_input_fd(chr)
 * is valid, a reader thread moves host input into the receive FIFO, only
 * as fast as the guest drains it; when chardev_output_fd(chr) is, a writer
 * thread flushes the chardev and raises THRE when it has room again. The
 * chardev stays owned by the caller and must outlive the device. */
int serial16550_create(struct serial16550 **out, struct chardev *chr,
		       const struct serial16550_ops *ops);
/* Stops and joins the threads, then frees the device. */
void serial16550_destroy(struct serial16550 *s);

/* io_handler_fn for the 8-port range; opaque is the device. */
void serial16550_io(void *opaque, uint64_t offset, void *data, uint32_t len, bool is_write);

/* Host-side input: moves up to len bytes into the receive FIFO while it
 * has room, returns how many were taken (0 when full or in loopback). */
size_t serial16550_receive(struct serial16550 *s, const uint8_t *buf, size_t len);

#endif
