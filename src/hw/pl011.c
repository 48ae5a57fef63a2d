/* PL011 UART. Register behaviour follows the PrimeCell UART (PL011)
 * Technical Reference Manual (ARM DDI 0183), chapter 3; what Linux's
 * amba-pl011 driver relies on is noted where it is implemented.
 *
 * The transmitter is as fast as the host takes its output: a DR write goes
 * to the chardev at once, so the transmit FIFO reads empty (FR TXFE, not
 * BUSY) while the chardev has room for a FIFO's worth, and full (TXFF,
 * BUSY) when a stalled host reader let it fill; the writer thread of the
 * UART host helper reports when it has room again. The transmit interrupt
 * is raised whenever the FIFO empties under a write or drains after being
 * full: a real FIFO raises it when its level falls through the trigger
 * level, which an instantly draining FIFO does after every write.
 * amba-pl011 relies on it: from its interrupt handler it writes half a
 * FIFO without looking at FR and waits for the next TX interrupt.
 *
 * The receive FIFO holds 16 entries (1 with LCR_H FEN clear). RX is raised
 * when the fill level reaches the IFLS trigger, RT (receive timeout) when
 * characters wait below it: a real UART waits 32 bit periods for more
 * first, here no more arrive within a batch of host input. Host input
 * enters only while the receiver is enabled (CR UARTEN and RXE) and not in
 * loopback, and only while there is room, so nothing typed is dropped.
 *
 * Characters are transmitted whether or not CR enables the transmitter:
 * nothing before the kernel (no firmware here) enables the UART, and
 * Linux's earlycon writes DR without touching CR. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "avp/hw/pl011.h"
#include "avp/hw/primecell.h"
#include "avp/hw/uart_host.h"

#define RSR_ERRORS 0xfu /* FE, PE, BE, OE */
#define CR_MASK 0xff87u /* bits 3-6 are reserved */
#define LCRH_MASK 0xffu
#define IFLS_MASK 0x3fu
#define DMACR_MASK 0x7u
#define IBRD_MASK 0xffffu
#define FBRD_MASK 0x3fu
#define ILPR_MASK 0xffu
/* Reset values (TRM table 3-1). */
#define CR_RESET (PL011_CR_TXE | PL011_CR_RXE)
#define IFLS_RESET 0x12u /* both trigger levels at 1/2 */

struct pl011 {
	struct uart_host host; /* its lock is the device's */
	struct pl011_ops ops;

	uint32_t rsr; /* latched error status (FE, PE, BE from the last read, OE) */
	uint32_t ilpr, ibrd, fbrd, lcr_h, cr, ifls, imsc, ris, dmacr;
	struct uart_fifo rx;
	bool overrun_next; /* the next character stored carries OE (TRM 3.3.1) */
	int irq_level;
};

static bool tx_ready(const struct pl011 *s)
{
	return uart_host_tx_ready(&s->host, PL011_FIFO_SIZE);
}

static unsigned int rx_capacity(const struct pl011 *s)
{
	return (s->lcr_h & PL011_LCRH_FEN) ? PL011_FIFO_SIZE : 1;
}

/* RXIFLSEL: 1/8, 1/4, 1/2, 3/4, 7/8 full; the reserved codes act as the
 * highest. Without FIFOs every character is a "full" holding register. */
static unsigned int rx_trigger(const struct pl011 *s)
{
	static const unsigned int level[8] = { 2, 4, 8, 12, 14, 14, 14, 14 };

	if (!(s->lcr_h & PL011_LCRH_FEN))
		return 1;
	return level[(s->ifls >> 3) & 7];
}

static void update_irq(struct pl011 *s)
{
	int level = (s->ris & s->imsc) != 0;

	if (level != s->irq_level && s->ops.set_irq)
		s->ops.set_irq(s->ops.opaque, level);
	s->irq_level = level;
}

/* After characters arrived: RX at the trigger level, RT below it. */
static void rx_arrived(struct pl011 *s)
{
	if (s->rx.count >= rx_trigger(s))
		s->ris |= PL011_INT_RX;
	else if (s->rx.count)
		s->ris |= PL011_INT_RT;
}

/* A character the FIFO has no room for is an overrun: the FIFO keeps its
 * contents and the character is lost (TRM, UARTRSR OE). Only loopback can
 * overrun; host input waits. */
static void rx_put(struct pl011 *s, uint8_t b)
{
	uint16_t v = b;

	if (s->overrun_next)
		v |= PL011_DR_OE;
	if (uart_fifo_push(&s->rx, rx_capacity(s), v)) {
		s->overrun_next = false;
		return;
	}
	s->rsr |= PL011_RSR_OE;
	s->ris |= PL011_INT_OE;
	s->overrun_next = true;
}

static bool rx_enabled(const struct pl011 *s)
{
	return (s->cr & (PL011_CR_UARTEN | PL011_CR_RXE)) == (PL011_CR_UARTEN | PL011_CR_RXE) &&
	       !(s->cr & PL011_CR_LBE);
}

/* uart_host_ops.rx_push, and pl011_receive's core. */
static size_t rx_push_locked(void *dev, const uint8_t *buf, size_t len)
{
	struct pl011 *s = dev;
	size_t n = 0;

	if (!rx_enabled(s))
		return 0;
	while (n < len && s->rx.count < rx_capacity(s))
		rx_put(s, buf[n++]);
	if (n) {
		rx_arrived(s);
		update_irq(s);
	}
	return n;
}

static uint32_t dr_read(struct pl011 *s)
{
	uint16_t v;

	if (!s->rx.count)
		return 0;
	v = uart_fifo_pop(&s->rx);
	uart_host_rx_room(&s->host);
	/* RSR holds the errors of the character just read; OE stays until
	 * cleared (TRM, UARTRSR). */
	s->rsr = (s->rsr & PL011_RSR_OE) | ((v >> 8) & 0x7u);
	if (s->rx.count < rx_trigger(s))
		s->ris &= ~PL011_INT_RX;
	if (!s->rx.count)
		s->ris &= ~PL011_INT_RT;
	return v;
}

static uint32_t fr_read(const struct pl011 *s)
{
	/* The host end looks like a connected modem: CTS, DSR, DCD. */
	uint32_t fr = PL011_FR_CTS | PL011_FR_DSR | PL011_FR_DCD;

	if ((s->cr & PL011_CR_LBE) || tx_ready(s))
		fr |= PL011_FR_TXFE;
	else
		fr |= PL011_FR_TXFF | PL011_FR_BUSY;
	if (!s->rx.count)
		fr |= PL011_FR_RXFE;
	if (s->rx.count >= rx_capacity(s))
		fr |= PL011_FR_RXFF;
	return fr;
}

static uint32_t reg_read(void *dev, unsigned int reg)
{
	struct pl011 *s = dev;
	uint32_t v;

	switch (reg) {
	case PL011_DR:
		v = dr_read(s);
		break;
	case PL011_RSR_ECR:
		v = s->rsr;
		break;
	case PL011_FR:
		v = fr_read(s);
		break;
	case PL011_ILPR:
		v = s->ilpr;
		break;
	case PL011_IBRD:
		v = s->ibrd;
		break;
	case PL011_FBRD:
		v = s->fbrd;
		break;
	case PL011_LCR_H:
		v = s->lcr_h;
		break;
	case PL011_CR:
		v = s->cr;
		break;
	case PL011_IFLS:
		v = s->ifls;
		break;
	case PL011_IMSC:
		v = s->imsc;
		break;
	case PL011_RIS:
		v = s->ris;
		break;
	case PL011_MIS:
		v = s->ris & s->imsc;
		break;
	case PL011_DMACR:
		v = s->dmacr;
		break;
	default: /* ICR is write-only; reserved and test registers read 0 */
		v = 0;
		break;
	}
	update_irq(s);
	return v;
}

/* Returns true when the byte went to the host. */
static bool dr_write(struct pl011 *s, uint8_t b)
{
	if (s->cr & PL011_CR_LBE) {
		/* Loopback: the transmitter feeds the receiver only. */
		rx_put(s, b);
		rx_arrived(s);
		s->ris |= PL011_INT_TX;
		return false;
	}
	uart_host_tx(&s->host, b);
	if (uart_host_tx_room(&s->host))
		s->ris |= PL011_INT_TX;
	else
		s->ris &= ~PL011_INT_TX; /* TXFF: tx_drained raises it */
	return true;
}

static uint32_t merge(uint32_t old, uint32_t val, uint32_t mask, uint32_t bits)
{
	return primecell_merge(old, val, mask) & bits;
}

static bool reg_write_locked(struct pl011 *s, unsigned int reg, uint32_t val, uint32_t mask)
{
	bool output = false;
	uint32_t old;

	switch (reg) {
	case PL011_DR:
		if (mask & 0xff)
			output = dr_write(s, (uint8_t)val);
		break;
	case PL011_RSR_ECR:
		/* Any write clears the errors. */
		s->rsr = 0;
		break;
	case PL011_ILPR:
		s->ilpr = merge(s->ilpr, val, mask, ILPR_MASK);
		break;
	case PL011_IBRD:
		s->ibrd = merge(s->ibrd, val, mask, IBRD_MASK);
		break;
	case PL011_FBRD:
		s->fbrd = merge(s->fbrd, val, mask, FBRD_MASK);
		break;
	case PL011_LCR_H:
		s->lcr_h = merge(s->lcr_h, val, mask, LCRH_MASK);
		break;
	case PL011_CR:
		old = s->cr;
		s->cr = merge(s->cr, val, mask, CR_MASK);
		/* Enabling the receiver or leaving loopback reconnects the
		 * host input. */
		if (rx_enabled(s) && (old ^ s->cr))
			uart_host_rx_room(&s->host);
		break;
	case PL011_IFLS:
		s->ifls = merge(s->ifls, val, mask, IFLS_MASK);
		break;
	case PL011_IMSC:
		s->imsc = merge(s->imsc, val, mask, PL011_INT_ALL);
		break;
	case PL011_ICR:
		s->ris &= ~(val & mask & PL011_INT_ALL);
		break;
	case PL011_DMACR:
		s->dmacr = merge(s->dmacr, val, mask, DMACR_MASK);
		break;
	default: /* FR, RIS, MIS are read-only; the rest is reserved */
		break;
	}
	update_irq(s);
	return output;
}

struct write_ctx {
	struct pl011 *s;
	bool output;
};

static void reg_write(void *opaque, unsigned int reg, uint32_t val, uint32_t mask)
{
	struct write_ctx *c = opaque;

	c->output |= reg_write_locked(c->s, reg, val, mask);
}

static uint32_t reg_read_ctx(void *opaque, unsigned int reg)
{
	struct write_ctx *c = opaque;

	return reg_read(c->s, reg);
}

static const struct primecell_regs pl011_regs = {
	.read = reg_read_ctx,
	.write = reg_write,
	.periph_id = PL011_PERIPH_ID,
};

void pl011_io(void *opaque, uint64_t offset, void *data, uint32_t len, bool is_write)
{
	struct write_ctx c = { .s = opaque };

	if (!c.s || !data)
		return;
	pthread_mutex_lock(&c.s->host.lock);
	primecell_io(&pl011_regs, &c, offset, data, len, is_write);
	pthread_mutex_unlock(&c.s->host.lock);
	if (c.output && c.s->ops.output)
		c.s->ops.output(c.s->ops.opaque);
}

size_t pl011_receive(struct pl011 *s, const uint8_t *buf, size_t len)
{
	return s ? uart_host_receive(&s->host, buf, len) : 0;
}

/* uart_host_ops.tx_drained: the host took what a slow reader left; the
 * FIFO level fell through the trigger level. */
static void tx_drained(void *dev)
{
	struct pl011 *s = dev;

	s->ris |= PL011_INT_TX;
	update_irq(s);
}

int pl011_create(struct pl011 **out, struct chardev *chr, const struct pl011_ops *ops)
{
	struct pl011 *s;
	int ret;

	if (!out)
		return -EINVAL;
	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	if (ops)
		s->ops = *ops;
	s->cr = CR_RESET;
	s->ifls = IFLS_RESET;
	ret = uart_host_open(&s->host, chr,
			     &(struct uart_host_ops){ .rx_push = rx_push_locked,
						      .tx_drained = tx_drained,
						      .tx_room = PL011_FIFO_SIZE,
						      .thread_start = s->ops.thread_start,
						      .thread_opaque = s->ops.opaque,
						      .name = "pl011" },
			     s);
	if (ret) {
		free(s);
		return ret;
	}
	*out = s;
	return 0;
}

void pl011_destroy(struct pl011 *s)
{
	if (!s)
		return;
	uart_host_fini(&s->host);
	free(s);
}
