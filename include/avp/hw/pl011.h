/* ARM PrimeCell UART (PL011, r1p0-r1p4 register map: ARM DDI 0183), the
 * console of the arm64 platform. Its transmitter writes to a host chardev
 * and never waits (a full chardev reads as a full transmit FIFO); its
 * 16-entry receive FIFO is fed from the chardev's input by the shared UART
 * host threads (avp/hw/uart_host.h), only as fast as the guest drains it.
 * Independent of the VM: the level interrupt line (UARTINTR, the OR of
 * the masked interrupts) and the "guest printed something" hook are
 * callbacks. */
#ifndef AVP_HW_PL011_H
#define AVP_HW_PL011_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct chardev;
struct pl011;

#define PL011_MMIO_SIZE 0x1000u
/* Part 0x011, designer 0x41 (ARM), revision 0: Linux's amba-pl011 then
 * takes 16-entry FIFOs and the ARM register layout. */
#define PL011_PERIPH_ID 0x00041011u
#define PL011_FIFO_SIZE 16u

/* Register offsets (TRM table 3-1). */
#define PL011_DR 0x000
#define PL011_RSR_ECR 0x004
#define PL011_FR 0x018
#define PL011_ILPR 0x020
#define PL011_IBRD 0x024
#define PL011_FBRD 0x028
#define PL011_LCR_H 0x02c
#define PL011_CR 0x030
#define PL011_IFLS 0x034
#define PL011_IMSC 0x038
#define PL011_RIS 0x03c
#define PL011_MIS 0x040
#define PL011_ICR 0x044
#define PL011_DMACR 0x048

/* UARTDR read: the character and its error flags. */
#define PL011_DR_FE (1u << 8)
#define PL011_DR_PE (1u << 9)
#define PL011_DR_BE (1u << 10)
#define PL011_DR_OE (1u << 11)
/* UARTRSR */
#define PL011_RSR_OE (1u << 3)
/* UARTFR */
#define PL011_FR_CTS (1u << 0)
#define PL011_FR_DSR (1u << 1)
#define PL011_FR_DCD (1u << 2)
#define PL011_FR_BUSY (1u << 3)
#define PL011_FR_RXFE (1u << 4)
#define PL011_FR_TXFF (1u << 5)
#define PL011_FR_RXFF (1u << 6)
#define PL011_FR_TXFE (1u << 7)
/* UARTLCR_H */
#define PL011_LCRH_FEN (1u << 4)
/* UARTCR */
#define PL011_CR_UARTEN (1u << 0)
#define PL011_CR_LBE (1u << 7)
#define PL011_CR_TXE (1u << 8)
#define PL011_CR_RXE (1u << 9)
/* UARTIMSC / RIS / MIS / ICR bits */
#define PL011_INT_RX (1u << 4)
#define PL011_INT_TX (1u << 5)
#define PL011_INT_RT (1u << 6)
#define PL011_INT_FE (1u << 7)
#define PL011_INT_PE (1u << 8)
#define PL011_INT_BE (1u << 9)
#define PL011_INT_OE (1u << 10)
#define PL011_INT_ALL 0x7ffu

struct pl011_ops {
	/* Drives UARTINTR (a level: the GIC SPI is level-sensitive). Called
	 * with the device lock held, only on changes: must not call back
	 * into the device. */
	void (*set_irq)(void *opaque, int level);
	/* The guest transmitted output to the host (optional). */
	void (*output)(void *opaque);
	/* Runs first on the host input and output threads (optional): the
	 * platform confines them there; nonzero ends the thread. */
	int (*thread_start)(void *opaque);
	void *opaque;
};

/* chr may be NULL (output discarded, no input); it stays owned by the
 * caller and must outlive the device. */
int pl011_create(struct pl011 **out, struct chardev *chr, const struct pl011_ops *ops);
/* Stops and joins the threads, then frees the device. */
void pl011_destroy(struct pl011 *s);

/* io_handler_fn for the PL011_MMIO_SIZE window; opaque is the device. */
void pl011_io(void *opaque, uint64_t offset, void *data, uint32_t len, bool is_write);

/* Host-side input: moves up to len bytes into the receive FIFO while it
 * has room and the receiver is enabled (UARTEN and RXE, not in loopback);
 * returns how many were taken. */
size_t pl011_receive(struct pl011 *s, const uint8_t *buf, size_t len);

#endif
