/* The host side of the UART models (include/avp/hw/uart_host.h).
 *
 * Host input that the FIFO cannot take yet waits in the reader's buffer,
 * and the reader sleeps on a condition variable until the guest makes
 * room, so a full FIFO costs neither input nor CPU. Output goes to the
 * chardev, which never blocks; what the host does not take at once is
 * written out by the writer thread, which then calls the model back so
 * that it can show an empty transmitter again. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "avp/chardev.h"
#include "avp/hw/uart_host.h"
#include "avp/log.h"

bool uart_fifo_push(struct uart_fifo *f, unsigned int cap, uint16_t v)
{
	if (cap > UART_FIFO_MAX)
		cap = UART_FIFO_MAX;
	if (f->count >= cap)
		return false;
	f->data[(f->head + f->count) % UART_FIFO_MAX] = v;
	f->count++;
	return true;
}

uint16_t uart_fifo_pop(struct uart_fifo *f)
{
	uint16_t v;

	if (!f->count)
		return 0;
	v = f->data[f->head];
	f->head = (f->head + 1) % UART_FIFO_MAX;
	f->count--;
	return v;
}

uint16_t *uart_fifo_last(struct uart_fifo *f)
{
	if (!f->count)
		return NULL;
	return &f->data[(f->head + f->count - 1) % UART_FIFO_MAX];
}

void uart_fifo_clear(struct uart_fifo *f)
{
	f->head = f->count = 0;
}

void uart_host_rx_room(struct uart_host *h)
{
	pthread_cond_broadcast(&h->room);
}

bool uart_host_tx_ready(const struct uart_host *h, size_t need)
{
	return !h->chr || chardev_write_room(h->chr) >= need;
}

bool uart_host_tx_room(struct uart_host *h)
{
	if (uart_host_tx_ready(h, h->ops.tx_room))
		return true;
	h->tx_busy = true;
	return false;
}

void uart_host_tx(struct uart_host *h, uint8_t b)
{
	if (!h->chr)
		return;
	if (chardev_write(h->chr, &b, 1) == 0)
		/* Real hardware overwrites the holding register too. */
		avp_guest_warn(h, "%s: the guest wrote to a busy transmitter: output is dropped "
			       "while the host does not read it", h->ops.name);
	if (h->writer_started && !h->tx_pending && chardev_write_room(h->chr) < CHARDEV_OUT_BUF) {
		h->tx_pending = true;
		pthread_cond_signal(&h->tx_wait);
	}
}

static void *reader_main(void *arg)
{
	struct uart_host *h = arg;
	int in_fd = chardev_input_fd(h->chr);
	uint8_t buf[UART_FIFO_MAX];
	size_t n = 0, off = 0;
	bool eof = false;

	if (h->ops.thread_start && h->ops.thread_start(h->ops.thread_opaque)) {
		avp_err("%s: host input is ignored: the input thread could not start", h->ops.name);
		return NULL;
	}
	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = h->wake_efd, .events = POLLIN },
			{ .fd = in_fd, .events = POLLIN },
		};
		bool stop;
		ssize_t r;

		pthread_mutex_lock(&h->lock);
		while (!h->stop && off < n) {
			off += h->ops.rx_push(h->dev, buf + off, n - off);
			if (off < n)
				pthread_cond_wait(&h->room, &h->lock);
		}
		stop = h->stop;
		pthread_mutex_unlock(&h->lock);
		if (stop)
			break;
		if (poll(pfd, eof ? 1 : 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[0].revents)
			continue; /* stop requested: checked at the top */
		if (!pfd[1].revents)
			continue;
		r = read(in_fd, buf, sizeof(buf));
		if (r > 0) {
			n = (size_t)r;
			off = 0;
		} else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
			/* End of host input: keep the device, stop reading. */
			eof = true;
		}
	}
	return NULL;
}

static void *writer_main(void *arg)
{
	struct uart_host *h = arg;
	int out_fd = chardev_output_fd(h->chr);

	if (h->ops.thread_start && h->ops.thread_start(h->ops.thread_opaque)) {
		avp_err("%s: output the host does not take at once is kept: the output "
			"thread could not start", h->ops.name);
		return NULL;
	}
	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = h->wake_efd, .events = POLLIN },
			{ .fd = out_fd, .events = POLLOUT },
		};
		bool stop;

		pthread_mutex_lock(&h->lock);
		while (!h->stop && !h->tx_pending)
			pthread_cond_wait(&h->tx_wait, &h->lock);
		stop = h->stop;
		pthread_mutex_unlock(&h->lock);
		if (stop)
			break;
		if (poll(pfd, 2, -1) < 0 && errno != EINTR)
			break;
		if (pfd[0].revents)
			continue; /* stop requested: checked at the top */
		chardev_flush(h->chr);
		pthread_mutex_lock(&h->lock);
		/* Checked under the lock: a vCPU may have added output since. */
		h->tx_pending = chardev_write_room(h->chr) < CHARDEV_OUT_BUF;
		if (h->tx_busy && uart_host_tx_ready(h, h->ops.tx_room)) {
			h->tx_busy = false;
			if (h->ops.tx_drained)
				h->ops.tx_drained(h->dev);
		}
		pthread_mutex_unlock(&h->lock);
	}
	return NULL;
}

static int start_thread(struct uart_host *h, pthread_t *t, void *(*fn)(void *))
{
	sigset_t all, old;
	int ret;

	if (h->wake_efd < 0) {
		h->wake_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (h->wake_efd < 0)
			return -errno;
	}
	/* Process signals belong to the main thread's signalfd: a thread
	 * that left them unblocked would take them with default action. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = pthread_create(t, NULL, fn, h);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return -ret;
}

int uart_host_init(struct uart_host *h, struct chardev *chr, const struct uart_host_ops *ops,
		   void *dev)
{
	int ret;

	if (!h || !ops || !ops->rx_push)
		return -EINVAL;
	memset(h, 0, sizeof(*h));
	h->wake_efd = -1;
	h->chr = chr;
	h->ops = *ops;
	if (!h->ops.name)
		h->ops.name = "uart";
	h->dev = dev;
	ret = pthread_mutex_init(&h->lock, NULL);
	if (ret)
		return -ret;
	ret = pthread_cond_init(&h->room, NULL);
	if (ret)
		goto fail_lock;
	ret = pthread_cond_init(&h->tx_wait, NULL);
	if (ret)
		goto fail_room;
	h->ready = true;
	return 0;
fail_room:
	pthread_cond_destroy(&h->room);
fail_lock:
	pthread_mutex_destroy(&h->lock);
	return -ret;
}

size_t uart_host_receive(struct uart_host *h, const uint8_t *buf, size_t len)
{
	size_t n;

	if (!buf)
		return 0;
	pthread_mutex_lock(&h->lock);
	n = h->ops.rx_push(h->dev, buf, len);
	pthread_mutex_unlock(&h->lock);
	return n;
}

int uart_host_start(struct uart_host *h)
{
	int ret = 0;

	if (chardev_input_fd(h->chr) >= 0) {
		ret = start_thread(h, &h->reader, reader_main);
		h->reader_started = !ret;
	}
	if (!ret && chardev_output_fd(h->chr) >= 0) {
		ret = start_thread(h, &h->writer, writer_main);
		h->writer_started = !ret;
	}
	return ret;
}

void uart_host_fini(struct uart_host *h)
{
	if (!h || !h->ready)
		return;
	if (h->reader_started || h->writer_started) {
		uint64_t one = 1;

		pthread_mutex_lock(&h->lock);
		h->stop = true;
		pthread_cond_broadcast(&h->room);
		pthread_cond_broadcast(&h->tx_wait);
		pthread_mutex_unlock(&h->lock);
		if (write(h->wake_efd, &one, sizeof(one)) != (ssize_t)sizeof(one))
			avp_warn("%s: cannot wake the host I/O threads: %s", h->ops.name,
				 strerror(errno));
		if (h->reader_started)
			pthread_join(h->reader, NULL);
		if (h->writer_started)
			pthread_join(h->writer, NULL);
		h->reader_started = h->writer_started = false;
	}
	if (h->wake_efd >= 0)
		close(h->wake_efd);
	h->wake_efd = -1;
	pthread_cond_destroy(&h->tx_wait);
	pthread_cond_destroy(&h->room);
	pthread_mutex_destroy(&h->lock);
	h->ready = false;
}

int uart_host_open(struct uart_host *h, struct chardev *chr, const struct uart_host_ops *ops,
		   void *dev)
{
	int ret = uart_host_init(h, chr, ops, dev);

	if (!ret)
		ret = uart_host_start(h);
	if (ret)
		uart_host_fini(h);
	return ret;
}
