/* 16550A UART. Register behaviour follows the TI/National PC16550D data
 * sheet (section "Registers", tables 2-5 and 8); the details that Linux's
 * 8250 driver checks are noted where they are implemented.
 *
 * The transmitter is as fast as the host takes its output: a THR write goes
 * to the chardev, which never blocks. While the chardev's buffer has room
 * for a FIFO's worth, THR and the shift register read empty (LSR
 * THRE|TEMT) and the THRE interrupt re-arms right after every write, as on
 * a real UART once the byte has left. When a stalled host reader lets the
 * buffer fill, the transmitter reads busy (THRE and TEMT clear), which is
 * what Linux's 8250 driver waits on, polled or by the THRE interrupt; the
 * output thread raises THRE once the host took enough. Nothing is lost
 * unless a guest ignores the busy transmitter. The receiver FIFO holds 16
 * bytes; host input enters it only while it has room, so nothing typed is
 * ever dropped. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "avp/chardev.h"
#include "avp/hw/serial_16550.h"
#include "avp/log.h"

/* Register offsets. */
#define REG_RBR_THR 0
#define REG_IER 1
#define REG_IIR_FCR 2
#define REG_LCR 3
#define REG_MCR 4
#define REG_LSR 5
#define REG_MSR 6
#define REG_SCR 7

#define IER_ERBFI 0x01 /* received data available */
#define IER_ETBEI 0x02 /* transmitter holding register empty */
#define IER_ELSI 0x04  /* receiver line status */
#define IER_EDSSI 0x08 /* modem status */
#define IER_MASK 0x0f  /* bits 4-7 read 0 on a 16550A; 8250 autoconfig relies on it */

#define IIR_NONE 0x01
#define IIR_MS 0x00
#define IIR_THRE 0x02
#define IIR_RDA 0x04
#define IIR_RLS 0x06
#define IIR_CTI 0x0c
#define IIR_FIFO_ENABLED 0xc0

#define FCR_ENABLE 0x01
#define FCR_CLEAR_RX 0x02
#define FCR_CLEAR_TX 0x04
#define FCR_DMA 0x08
#define FCR_TRIGGER 0xc0

#define LCR_DLAB 0x80

#define MCR_DTR 0x01
#define MCR_RTS 0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10
#define MCR_MASK 0x1f

#define LSR_DR 0x01
#define LSR_OE 0x02
#define LSR_PE 0x04
#define LSR_FE 0x08
#define LSR_BI 0x10
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define LSR_ERRORS (LSR_OE | LSR_PE | LSR_FE | LSR_BI)

#define MSR_DCTS 0x01
#define MSR_DDSR 0x02
#define MSR_TERI 0x04
#define MSR_DDCD 0x08
#define MSR_CTS 0x10
#define MSR_DSR 0x20
#define MSR_RI 0x40
#define MSR_DCD 0x80
#define MSR_DELTAS 0x0f

/* Interrupt sources, for edge tracking. */
#define SRC_RLS 0x1
#define SRC_RX 0x2
#define SRC_THRE 0x4
#define SRC_MS 0x8

struct serial16550 {
	pthread_mutex_t lock;
	pthread_cond_t room; /* the receive FIFO has space again, or stop */
	pthread_cond_t tx_wait; /* output waits in the chardev, or stop */
	struct chardev *chr;
	struct serial16550_ops ops;

	uint8_t ier, lcr, mcr, fcr, scr, dll, dlm;
	uint8_t lsr_errors; /* latched OE/PE/FE/BI, cleared by reading LSR */
	uint8_t msr;	    /* line states (bits 4-7) and deltas (0-3) */
	bool thre_pending;  /* THRE interrupt latch */
	uint8_t rx[SERIAL16550_FIFO_SIZE];
	unsigned int rx_head, rx_count;

	int irq_level;
	unsigned int irq_sources; /* sources behind the current high level */

	pthread_t reader;
	bool reader_started;
	pthread_t writer;
	bool writer_started;
	bool tx_pending;  /* output waits in the chardev: the writer flushes */
	bool tx_busy;	  /* the guest saw THRE clear: raise it when it sets */
	bool stop;
	int wake_efd;
};

/* THR can take a FIFO's worth: what the 8250 driver writes per THRE
 * interrupt without looking at LSR (its tx_loadsz). */
static bool tx_ready(const struct serial16550 *s)
{
	return !s->chr || chardev_write_room(s->chr) >= SERIAL16550_FIFO_SIZE;
}

/* After output: keep the writer thread flushing while bytes wait. */
static void tx_note_pending(struct serial16550 *s)
{
	if (s->writer_started && !s->tx_pending && chardev_write_room(s->chr) < CHARDEV_OUT_BUF) {
		s->tx_pending = true;
		pthread_cond_signal(&s->tx_wait);
	}
}

static unsigned int rx_capacity(const struct serial16550 *s)
{
	/* With FIFOs off the receiver is the single holding register. */
	return (s->fcr & FCR_ENABLE) ? SERIAL16550_FIFO_SIZE : 1;
}

static unsigned int rx_trigger(const struct serial16550 *s)
{
	static const unsigned int level[4] = { 1, 4, 8, 14 };

	return level[(s->fcr & FCR_TRIGGER) >> 6];
}

static unsigned int pending_sources(const struct serial16550 *s)
{
	unsigned int src = 0;

	if ((s->ier & IER_ELSI) && s->lsr_errors)
		src |= SRC_RLS;
	if ((s->ier & IER_ERBFI) && s->rx_count)
		src |= SRC_RX;
	if ((s->ier & IER_ETBEI) && s->thre_pending)
		src |= SRC_THRE;
	if ((s->ier & IER_EDSSI) && (s->msr & MSR_DELTAS))
		src |= SRC_MS;
	return src;
}

/* Interrupt Identification, highest priority first (data sheet table 4). */
static uint8_t iir_code(const struct serial16550 *s, unsigned int src)
{
	if (src & SRC_RLS)
		return IIR_RLS;
	if (src & SRC_RX) {
		/* Below the trigger level a real UART reports the character
		 * timeout after 4 character times; here that time is zero.
		 * The 8250 driver treats both codes alike. */
		if ((s->fcr & FCR_ENABLE) && s->rx_count < rx_trigger(s))
			return IIR_CTI;
		return IIR_RDA;
	}
	if (src & SRC_THRE)
		return IIR_THRE;
	if (src & SRC_MS)
		return IIR_MS;
	return IIR_NONE;
}

/* The ISA interrupt reaches the I/O APIC as an edge, and a PC serial port
 * drives it only while OUT2 is set (the board's IRQ enable; loopback mode
 * forces OUT2 inactive). A condition that appears while the line is
 * already high gets a fresh low-high edge so it cannot go unnoticed. */
static void update_irq(struct serial16550 *s)
{
	unsigned int src = pending_sources(s);
	bool gate = (s->mcr & MCR_OUT2) && !(s->mcr & MCR_LOOP);
	int level = src && gate;

	if (!s->ops.set_irq) {
		s->irq_level = level;
	} else if (!level) {
		if (s->irq_level)
			s->ops.set_irq(s->ops.opaque, 0);
	} else if (!s->irq_level) {
		s->ops.set_irq(s->ops.opaque, 1);
	} else if (src & ~s->irq_sources) {
		s->ops.set_irq(s->ops.opaque, 0);
		s->ops.set_irq(s->ops.opaque, 1);
	}
	s->irq_level = level;
	s->irq_sources = level ? src : 0;
}

/* Modem inputs: in loopback the outputs are wired back (MCR bits 0-3 to
 * DSR, CTS, RI, DCD; Linux's loopback probe expects exactly that). Outside
 * loopback the host side looks like a connected modem, so a getty without
 * CLOCAL does not wait for carrier. */
static void update_modem_inputs(struct serial16550 *s)
{
	uint8_t old = s->msr, now;

	if (s->mcr & MCR_LOOP) {
		now = (uint8_t)(((s->mcr & MCR_DTR) ? MSR_DSR : 0) | ((s->mcr & MCR_RTS) ? MSR_CTS : 0) |
				((s->mcr & MCR_OUT1) ? MSR_RI : 0) | ((s->mcr & MCR_OUT2) ? MSR_DCD : 0));
	} else {
		now = MSR_DCD | MSR_DSR | MSR_CTS;
	}
	s->msr = (uint8_t)((old & MSR_DELTAS) | now);
	if ((old ^ now) & MSR_CTS)
		s->msr |= MSR_DCTS;
	if ((old ^ now) & MSR_DSR)
		s->msr |= MSR_DDSR;
	if ((old & MSR_RI) && !(now & MSR_RI))
		s->msr |= MSR_TERI; /* trailing edge only */
	if ((old ^ now) & MSR_DCD)
		s->msr |= MSR_DDCD;
}

static void rx_clear(struct serial16550 *s)
{
	s->rx_head = s->rx_count = 0;
	pthread_cond_broadcast(&s->room);
}

/* A byte that arrives with no room is an overrun (data sheet, LSR bit 1):
 * in FIFO mode the FIFO keeps its contents, without FIFOs the holding
 * register is overwritten. Only loopback can overrun; host input waits. */
static void rx_put(struct serial16550 *s, uint8_t b)
{
	if (s->rx_count < rx_capacity(s)) {
		s->rx[(s->rx_head + s->rx_count) % SERIAL16550_FIFO_SIZE] = b;
		s->rx_count++;
		return;
	}
	s->lsr_errors |= LSR_OE;
	if (!(s->fcr & FCR_ENABLE))
		s->rx[s->rx_head] = b;
}

static uint8_t rx_get(struct serial16550 *s)
{
	uint8_t b;

	if (!s->rx_count)
		return 0;
	b = s->rx[s->rx_head];
	s->rx_head = (s->rx_head + 1) % SERIAL16550_FIFO_SIZE;
	s->rx_count--;
	pthread_cond_broadcast(&s->room);
	return b;
}

static size_t rx_push_locked(struct serial16550 *s, const uint8_t *buf, size_t len)
{
	size_t n = 0;

	/* In loopback the receiver listens to the transmitter only. */
	if (s->mcr & MCR_LOOP)
		return 0;
	while (n < len && s->rx_count < rx_capacity(s))
		rx_put(s, buf[n++]);
	if (n)
		update_irq(s);
	return n;
}

static uint8_t reg_read(struct serial16550 *s, unsigned int reg)
{
	uint8_t v = 0xff;

	switch (reg) {
	case REG_RBR_THR:
		v = (s->lcr & LCR_DLAB) ? s->dll : rx_get(s);
		break;
	case REG_IER:
		v = (s->lcr & LCR_DLAB) ? s->dlm : s->ier;
		break;
	case REG_IIR_FCR: {
		unsigned int src = pending_sources(s);

		v = iir_code(s, src);
		/* Reading IIR clears a THRE interrupt it reports (table 4). */
		if (v == IIR_THRE)
			s->thre_pending = false;
		if (s->fcr & FCR_ENABLE)
			v |= IIR_FIFO_ENABLED;
		break;
	}
	case REG_LCR:
		v = s->lcr;
		break;
	case REG_MCR:
		v = s->mcr;
		break;
	case REG_LSR:
		v = (uint8_t)(s->lsr_errors | (s->rx_count ? LSR_DR : 0));
		if ((s->mcr & MCR_LOOP) || tx_ready(s))
			v |= LSR_THRE | LSR_TEMT;
		s->lsr_errors = 0;
		break;
	case REG_MSR:
		v = s->msr;
		s->msr &= (uint8_t)~MSR_DELTAS;
		break;
	case REG_SCR:
		v = s->scr;
		break;
	}
	update_irq(s);
	return v;
}

/* Returns true when the byte went to the host. */
static bool reg_write(struct serial16550 *s, unsigned int reg, uint8_t v)
{
	bool output = false;

	switch (reg) {
	case REG_RBR_THR:
		if (s->lcr & LCR_DLAB) {
			s->dll = v;
			break;
		}
		if (s->mcr & MCR_LOOP) {
			rx_put(s, v);
			/* The byte left at once: THR is empty again. */
			s->thre_pending = true;
			break;
		}
		output = true;
		if (s->chr && chardev_write(s->chr, &v, 1) == 0)
			/* Real hardware overwrites THR too. */
			avp_guest_warn(s, "serial: the guest wrote to a busy transmitter: output is "
				       "dropped while the host does not read it");
		tx_note_pending(s);
		if (tx_ready(s))
			s->thre_pending = true;
		else
			s->tx_busy = true;
		break;
	case REG_IER:
		if (s->lcr & LCR_DLAB) {
			s->dlm = v;
			break;
		}
		/* Enabling ETBEI while THR is empty raises THRE right away;
		 * Linux's startup test expects it again after each 0-to-1. */
		if ((v & IER_ETBEI) && !(s->ier & IER_ETBEI)) {
			if (tx_ready(s))
				s->thre_pending = true;
			else
				s->tx_busy = true;
		}
		s->ier = v & IER_MASK;
		break;
	case REG_IIR_FCR:
		/* Toggling the FIFO enable resets both FIFOs; without it the
		 * other bits cannot be programmed (data sheet, FCR bit 0). */
		if ((v ^ s->fcr) & FCR_ENABLE)
			rx_clear(s);
		if (!(v & FCR_ENABLE)) {
			s->fcr = 0;
			break;
		}
		if (v & FCR_CLEAR_RX)
			rx_clear(s);
		s->fcr = v & (FCR_ENABLE | FCR_DMA | FCR_TRIGGER);
		break;
	case REG_LCR:
		s->lcr = v;
		break;
	case REG_MCR:
		s->mcr = v & MCR_MASK;
		update_modem_inputs(s);
		/* Leaving loopback reconnects the host input. */
		pthread_cond_broadcast(&s->room);
		break;
	case REG_SCR:
		s->scr = v;
		break;
	default: /* LSR and MSR writes are factory test modes: ignored */
		break;
	}
	update_irq(s);
	return output;
}

void serial16550_io(void *opaque, uint64_t offset, void *data, uint32_t len, bool is_write)
{
	struct serial16550 *s = opaque;
	uint8_t *bytes = data;
	bool output = false;

	if (!s || !data)
		return;
	pthread_mutex_lock(&s->lock);
	/* A wider access reaches consecutive byte registers, as an 8-bit
	 * ISA device sees it; bytes past the device float high. */
	for (uint32_t i = 0; i < len; i++) {
		uint64_t reg = offset + i;

		if (reg >= SERIAL16550_NPORTS) {
			if (!is_write)
				bytes[i] = 0xff;
			continue;
		}
		if (is_write)
			output |= reg_write(s, (unsigned int)reg, bytes[i]);
		else
			bytes[i] = reg_read(s, (unsigned int)reg);
	}
	pthread_mutex_unlock(&s->lock);
	if (output && s->ops.output)
		s->ops.output(s->ops.opaque);
}

size_t serial16550_receive(struct serial16550 *s, const uint8_t *buf, size_t len)
{
	size_t n;

	if (!s || !buf)
		return 0;
	pthread_mutex_lock(&s->lock);
	n = rx_push_locked(s, buf, len);
	pthread_mutex_unlock(&s->lock);
	return n;
}

/* Moves host input into the FIFO. Bytes read from the host but not yet
 * taken wait here, and the thread sleeps on the condition variable until
 * the guest makes room, so a full FIFO costs neither input nor CPU. */
static void *reader_main(void *arg)
{
	struct serial16550 *s = arg;
	int in_fd = chardev_input_fd(s->chr);
	uint8_t buf[SERIAL16550_FIFO_SIZE];
	size_t n = 0, off = 0;
	bool eof = false;

	if (s->ops.reader_start && s->ops.reader_start(s->ops.opaque)) {
		avp_err("serial: host input is ignored: the input thread could not start");
		return NULL;
	}
	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = s->wake_efd, .events = POLLIN },
			{ .fd = in_fd, .events = POLLIN },
		};
		bool stop;
		ssize_t r;

		pthread_mutex_lock(&s->lock);
		while (!s->stop && off < n) {
			off += rx_push_locked(s, buf + off, n - off);
			if (off < n)
				pthread_cond_wait(&s->room, &s->lock);
		}
		stop = s->stop;
		pthread_mutex_unlock(&s->lock);
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

/* Writes out the output a slow host reader left in the chardev, waiting
 * for it to become writable, and gives the guest its THRE back once there
 * is room: the vCPU never waits for host output. */
static void *writer_main(void *arg)
{
	struct serial16550 *s = arg;
	int out_fd = chardev_output_fd(s->chr);

	/* The platform confines this thread as it does the reader. */
	if (s->ops.reader_start && s->ops.reader_start(s->ops.opaque)) {
		avp_err("serial: output the host does not take at once is kept: the output "
			"thread could not start");
		return NULL;
	}
	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = s->wake_efd, .events = POLLIN },
			{ .fd = out_fd, .events = POLLOUT },
		};
		bool stop;

		pthread_mutex_lock(&s->lock);
		while (!s->stop && !s->tx_pending)
			pthread_cond_wait(&s->tx_wait, &s->lock);
		stop = s->stop;
		pthread_mutex_unlock(&s->lock);
		if (stop)
			break;
		if (poll(pfd, 2, -1) < 0 && errno != EINTR)
			break;
		if (pfd[0].revents)
			continue; /* stop requested: checked at the top */
		chardev_flush(s->chr);
		pthread_mutex_lock(&s->lock);
		/* Checked under the lock: a vCPU may have added output since. */
		s->tx_pending = chardev_write_room(s->chr) < CHARDEV_OUT_BUF;
		if (s->tx_busy && tx_ready(s)) {
			s->tx_busy = false;
			s->thre_pending = true;
			update_irq(s);
		}
		pthread_mutex_unlock(&s->lock);
	}
	return NULL;
}

static int start_thread(struct serial16550 *s, pthread_t *t, void *(*fn)(void *))
{
	sigset_t all, old;
	int ret;

	if (s->wake_efd < 0) {
		s->wake_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (s->wake_efd < 0)
			return -errno;
	}
	/* Process signals belong to the main thread's signalfd: a thread
	 * that left them unblocked would take them with default action. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = pthread_create(t, NULL, fn, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return -ret;
}

int serial16550_create(struct serial16550 **out, struct chardev *chr,
		       const struct serial16550_ops *ops)
{
	struct serial16550 *s;
	int ret;

	if (!out)
		return -EINVAL;
	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->wake_efd = -1;
	s->chr = chr;
	if (ops)
		s->ops = *ops;
	ret = pthread_mutex_init(&s->lock, NULL);
	if (ret) {
		free(s);
		return -ret;
	}
	ret = pthread_cond_init(&s->room, NULL);
	if (ret) {
		pthread_mutex_destroy(&s->lock);
		free(s);
		return -ret;
	}
	ret = pthread_cond_init(&s->tx_wait, NULL);
	if (ret) {
		pthread_cond_destroy(&s->room);
		pthread_mutex_destroy(&s->lock);
		free(s);
		return -ret;
	}
	/* Power-on state (data sheet table 8, "Reset"): all zero except
	 * LSR THRE|TEMT (computed) and the modem inputs. */
	update_modem_inputs(s);
	s->msr &= (uint8_t)~MSR_DELTAS;
	if (chardev_input_fd(chr) >= 0) {
		ret = start_thread(s, &s->reader, reader_main);
		s->reader_started = !ret;
	}
	if (!ret && chardev_output_fd(chr) >= 0) {
		ret = start_thread(s, &s->writer, writer_main);
		s->writer_started = !ret;
	}
	if (ret) {
		serial16550_destroy(s);
		return ret;
	}
	*out = s;
	return 0;
}

void serial16550_destroy(struct serial16550 *s)
{
	if (!s)
		return;
	if (s->reader_started || s->writer_started) {
		uint64_t one = 1;

		pthread_mutex_lock(&s->lock);
		s->stop = true;
		pthread_cond_broadcast(&s->room);
		pthread_cond_broadcast(&s->tx_wait);
		pthread_mutex_unlock(&s->lock);
		if (write(s->wake_efd, &one, sizeof(one)) != (ssize_t)sizeof(one))
			avp_warn("serial: cannot wake the host I/O threads: %s", strerror(errno));
		if (s->reader_started)
			pthread_join(s->reader, NULL);
		if (s->writer_started)
			pthread_join(s->writer, NULL);
	}
	if (s->wake_efd >= 0)
		close(s->wake_efd);
	pthread_cond_destroy(&s->tx_wait);
	pthread_cond_destroy(&s->room);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
