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
#include <pthread.h>
#include <stdlib.h>

#include "avp/hw/serial_16550.h"
#include "avp/hw/uart_host.h"

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
	struct uart_host host; /* the chardev, its threads, and the device lock */
	struct serial16550_ops ops;

	uint8_t ier, lcr, mcr, fcr, scr, dll, dlm;
	uint8_t lsr_errors; /* latched OE/PE/FE/BI, cleared by reading LSR */
	uint8_t msr;	    /* line states (bits 4-7) and deltas (0-3) */
	bool thre_pending;  /* THRE interrupt latch */
	struct uart_fifo rx;

	int irq_level;
	unsigned int irq_sources; /* sources behind the current high level */
};

/* THR can take a FIFO's worth: what the 8250 driver writes per THRE
 * interrupt without looking at LSR (its tx_loadsz). */
static bool tx_ready(const struct serial16550 *s)
{
	return uart_host_tx_ready(&s->host, SERIAL16550_FIFO_SIZE);
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
	if ((s->ier & IER_ERBFI) && s->rx.count)
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
		if ((s->fcr & FCR_ENABLE) && s->rx.count < rx_trigger(s))
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
	uart_fifo_clear(&s->rx);
	uart_host_rx_room(&s->host);
}

/* A byte that arrives with no room is an overrun (data sheet, LSR bit 1):
 * in FIFO mode the FIFO keeps its contents, without FIFOs the holding
 * register is overwritten. Only loopback can overrun; host input waits. */
static void rx_put(struct serial16550 *s, uint8_t b)
{
	if (uart_fifo_push(&s->rx, rx_capacity(s), b))
		return;
	s->lsr_errors |= LSR_OE;
	if (!(s->fcr & FCR_ENABLE))
		*uart_fifo_last(&s->rx) = b;
}

static uint8_t rx_get(struct serial16550 *s)
{
	if (!s->rx.count)
		return 0;
	uart_host_rx_room(&s->host);
	return (uint8_t)uart_fifo_pop(&s->rx);
}

/* uart_host_ops.rx_push, and serial16550_receive's core. */
static size_t rx_push_locked(void *dev, const uint8_t *buf, size_t len)
{
	struct serial16550 *s = dev;
	size_t n = 0;

	/* In loopback the receiver listens to the transmitter only. */
	if (s->mcr & MCR_LOOP)
		return 0;
	while (n < len && s->rx.count < rx_capacity(s))
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
		v = (uint8_t)(s->lsr_errors | (s->rx.count ? LSR_DR : 0));
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
		uart_host_tx(&s->host, v);
		if (uart_host_tx_room(&s->host))
			s->thre_pending = true;
		break;
	case REG_IER:
		if (s->lcr & LCR_DLAB) {
			s->dlm = v;
			break;
		}
		/* Enabling ETBEI while THR is empty raises THRE right away;
		 * Linux's startup test expects it again after each 0-to-1. */
		if ((v & IER_ETBEI) && !(s->ier & IER_ETBEI) && uart_host_tx_room(&s->host))
			s->thre_pending = true;
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
		uart_host_rx_room(&s->host);
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
	pthread_mutex_lock(&s->host.lock);
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
	pthread_mutex_unlock(&s->host.lock);
	if (output && s->ops.output)
		s->ops.output(s->ops.opaque);
}

size_t serial16550_receive(struct serial16550 *s, const uint8_t *buf, size_t len)
{
	return s ? uart_host_receive(&s->host, buf, len) : 0;
}

/* uart_host_ops.tx_drained: the host took the output a slow reader left
 * behind; a guest that saw the transmitter busy gets its THRE back. */
static void tx_drained(void *dev)
{
	struct serial16550 *s = dev;

	s->thre_pending = true;
	update_irq(s);
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
	if (ops)
		s->ops = *ops;
	/* Power-on state (data sheet table 8, "Reset"): all zero except
	 * LSR THRE|TEMT (computed) and the modem inputs. */
	update_modem_inputs(s);
	s->msr &= (uint8_t)~MSR_DELTAS;
	ret = uart_host_open(&s->host, chr,
			     &(struct uart_host_ops){ .rx_push = rx_push_locked,
						      .tx_drained = tx_drained,
						      .tx_room = SERIAL16550_FIFO_SIZE,
						      .thread_start = s->ops.reader_start,
						      .thread_opaque = s->ops.opaque,
						      .name = "serial" },
			     s);
	if (ret) {
		free(s);
		return ret;
	}
	*out = s;
	return 0;
}

void serial16550_destroy(struct serial16550 *s)
{
	if (!s)
		return;
	uart_host_fini(&s->host);
	free(s);
}
