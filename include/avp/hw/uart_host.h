/* The host side of an emulated UART, shared by every UART model (16550,
 * PL011): a receive FIFO, a reader thread that moves host input into it
 * only as fast as the guest drains it, and a writer thread that flushes
 * what a slow host reader left in the chardev and tells the device when
 * the transmitter has room again. The vCPU never waits for the host.
 *
 * The helper's lock is the device's lock too (the device takes h->lock
 * in its register handlers), so the register logic and the threads see
 * one consistent state. */
#ifndef AVP_HW_UART_HOST_H
#define AVP_HW_UART_HOST_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct chardev;

/* The deepest receive FIFO of the models (16550A and PL011 r1p0-r1p4:
 * 16 entries, which is also what Linux's drivers assume). */
#define UART_FIFO_MAX 16

/* A ring of received bytes, with the flags a model keeps per entry (the
 * PL011 stores break/parity/framing/overrun bits with each character). */
struct uart_fifo {
	uint16_t data[UART_FIFO_MAX];
	unsigned int head, count;
};

/* Appends when fewer than cap (<= UART_FIFO_MAX) entries are held;
 * false (nothing stored) when full. */
bool uart_fifo_push(struct uart_fifo *f, unsigned int cap, uint16_t v);
/* The oldest entry, or 0 when empty. */
uint16_t uart_fifo_pop(struct uart_fifo *f);
/* The newest entry, so that a model can overwrite a full holding register. */
uint16_t *uart_fifo_last(struct uart_fifo *f);
void uart_fifo_clear(struct uart_fifo *f);

struct uart_host_ops {
	/* Under the device lock: takes up to len bytes of host input into the
	 * receive FIFO, returns how many it took (0 when it has no room: the
	 * reader then waits for uart_host_rx_room). */
	size_t (*rx_push)(void *dev, const uint8_t *buf, size_t len);
	/* Under the device lock, on the writer thread after a flush: the
	 * transmitter that uart_host_tx_room found busy has room again.
	 * Optional. */
	void (*tx_drained)(void *dev);
	/* What the model's guest driver writes per transmit interrupt without
	 * looking (a FIFO's worth): the room that makes the transmitter ready. */
	size_t tx_room;
	/* Runs first on each thread (the platform confines it there); nonzero
	 * ends the thread: input is then ignored rather than read unconfined,
	 * and output the host does not take at once stays buffered. */
	int (*thread_start)(void *opaque);
	void *thread_opaque;
	/* Names the device in messages: "serial", "pl011". */
	const char *name;
};

struct uart_host {
	pthread_mutex_t lock; /* the device's lock as well */
	pthread_cond_t room;   /* the receive FIFO has space again, or stop */
	pthread_cond_t tx_wait; /* output waits in the chardev, or stop */
	struct chardev *chr;
	struct uart_host_ops ops;
	void *dev;
	pthread_t reader, writer;
	bool reader_started, writer_started;
	bool tx_pending; /* output waits in the chardev: the writer flushes */
	bool tx_busy;	 /* the guest saw the transmitter busy: tx_drained */
	bool stop;
	bool ready; /* init succeeded: fini has something to free */
	int wake_efd;
};

/* chr may be NULL (output discarded, no input). Initialises the lock; no
 * thread runs yet. 0 or -errno. */
int uart_host_init(struct uart_host *h, struct chardev *chr, const struct uart_host_ops *ops,
		   void *dev);
/* Starts the reader when chardev_input_fd(chr) is valid and the writer when
 * chardev_output_fd(chr) is. Without the device lock. 0 or -errno (then
 * call uart_host_fini). */
int uart_host_start(struct uart_host *h);
/* Stops and joins the threads and frees what init made. Without the lock.
 * Safe after a failed init or start. */
void uart_host_fini(struct uart_host *h);
/* init then start, what a model's create does once its reset state is set:
 * 0, or -errno with nothing left to fini. */
int uart_host_open(struct uart_host *h, struct chardev *chr, const struct uart_host_ops *ops,
		   void *dev);
/* Host input from outside the threads (tests, fuzzing): ops->rx_push under
 * the lock. */
size_t uart_host_receive(struct uart_host *h, const uint8_t *buf, size_t len);

/* Under the device lock. */
/* The receive FIFO has room again (or the receiver was reconnected). */
void uart_host_rx_room(struct uart_host *h);
/* The chardev takes at least need bytes now (always true without one). */
bool uart_host_tx_ready(const struct uart_host *h, size_t need);
/* The chardev takes ops->tx_room bytes now. When it does not, the guest
 * sees the transmitter busy, and ops->tx_drained runs once it has room. */
bool uart_host_tx_room(struct uart_host *h);
/* Transmits one byte; a full chardev drops it, said once per device with
 * the device's name. Keeps the writer flushing. */
void uart_host_tx(struct uart_host *h, uint8_t b);

#endif
