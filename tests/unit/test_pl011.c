/* PL011 model: the PrimeCell IDs Linux's AMBA bus matches, reset values,
 * transmit to the chardev, the receive FIFO with its RX and RT interrupts
 * and FR flags, host input through the reader thread without loss, a
 * stalled host reader (TXFF, then the TX interrupt when it drains),
 * loopback overrun, and hostile accesses. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "avp/chardev.h"
#include "avp/hw/pl011.h"
#include "support/hw_fixture.h"

static uint32_t rd(struct pl011 *s, unsigned int reg)
{
	return hw_rd32(pl011_io, s, reg);
}

static uint16_t rd16(struct pl011 *s, unsigned int reg)
{
	uint16_t v = 0xbeef;

	pl011_io(s, reg, &v, 2, false);
	return v;
}

static void wr(struct pl011 *s, unsigned int reg, uint32_t v)
{
	hw_wr32(pl011_io, s, reg, v);
}

static struct pl011 *make(struct irq_log *l, struct chardev *chr)
{
	struct pl011 *s = NULL;
	struct pl011_ops ops = { .set_irq = irq_log_set, .output = irq_log_output, .opaque = l };

	memset(l, 0, sizeof(*l));
	assert_int_equal(pl011_create(&s, chr, &ops), 0);
	assert_non_null(s);
	return s;
}

/* CR UARTEN|TXE|RXE, FIFOs on: what amba-pl011's startup leaves. */
static void enable(struct pl011 *s)
{
	wr(s, PL011_LCR_H, 0x70); /* 8 bits, FEN */
	wr(s, PL011_CR, PL011_CR_UARTEN | PL011_CR_TXE | PL011_CR_RXE);
}

static void test_ids_and_reset(void **state)
{
	struct irq_log l;
	struct pl011 *s = make(&l, NULL);

	(void)state;
	assert_primecell_ids(pl011_io, s, 0x00041011);
	/* Byte reads of the ID registers too. */
	{
		uint8_t b = 0;

		pl011_io(s, 0xff4, &b, 1, false);
		assert_int_equal(b, 0xf0);
	}
	/* Writes to the ID registers change nothing. */
	wr(s, 0xfe0, 0x55);
	assert_int_equal(rd(s, 0xfe0), 0x11);

	assert_int_equal(rd(s, PL011_CR), 0x0300);
	assert_int_equal(rd(s, PL011_IFLS), 0x12);
	assert_int_equal(rd(s, PL011_IMSC), 0);
	assert_int_equal(rd(s, PL011_RIS), 0);
	assert_int_equal(rd(s, PL011_MIS), 0);
	assert_int_equal(rd(s, PL011_LCR_H), 0);
	assert_int_equal(rd(s, PL011_FR), PL011_FR_TXFE | PL011_FR_RXFE | PL011_FR_CTS |
						  PL011_FR_DSR | PL011_FR_DCD);
	assert_int_equal(rd(s, PL011_DR), 0);
	assert_int_equal(l.rises, 0);
	pl011_destroy(s);
}

static void test_registers_read_back(void **state)
{
	struct irq_log l;
	struct pl011 *s = make(&l, NULL);

	(void)state;
	wr(s, PL011_IBRD, 0x12345);
	assert_int_equal(rd(s, PL011_IBRD), 0x2345); /* 16 bits */
	wr(s, PL011_FBRD, 0xff);
	assert_int_equal(rd(s, PL011_FBRD), 0x3f); /* 6 bits */
	wr(s, PL011_ILPR, 0x1ff);
	assert_int_equal(rd(s, PL011_ILPR), 0xff);
	wr(s, PL011_LCR_H, 0x1ff);
	assert_int_equal(rd(s, PL011_LCR_H), 0xff);
	wr(s, PL011_IFLS, 0xff);
	assert_int_equal(rd(s, PL011_IFLS), 0x3f);
	wr(s, PL011_DMACR, 0xff);
	assert_int_equal(rd(s, PL011_DMACR), 0x7);
	wr(s, PL011_CR, 0xffff);
	assert_int_equal(rd(s, PL011_CR), 0xff87); /* bits 3-6 reserved */
	/* 16-bit accesses, as amba-pl011 makes them; a write to the upper
	 * half of CR leaves the lower one. */
	{
		uint16_t v = 0x0301;

		pl011_io(s, PL011_CR, &v, 2, true);
		assert_int_equal(rd16(s, PL011_CR), 0x0301);
		v = 0x00;
		pl011_io(s, PL011_CR + 1, &v, 1, true);
		assert_int_equal(rd(s, PL011_CR), 0x0001);
	}
	/* Read-only registers ignore writes. */
	wr(s, PL011_RIS, 0x7ff);
	wr(s, PL011_MIS, 0x7ff);
	wr(s, PL011_FR, 0);
	assert_int_equal(rd(s, PL011_RIS), 0);
	assert_int_equal(rd(s, PL011_FR) & PL011_FR_RXFE, PL011_FR_RXFE);
	pl011_destroy(s);
}

static void test_tx_reaches_chardev(void **state)
{
	struct irq_log l;
	struct chardev *chr;
	struct pl011 *s;
	int p[2];
	char buf[16] = { 0 };
	uint8_t b = 'c';
	uint16_t h = 'b';

	(void)state;
	assert_int_equal(pipe(p), 0);
	assert_int_equal(chardev_open_fds(&chr, p[1], -1), 0);
	s = make(&l, chr);
	/* No enable needed: earlycon writes before anyone sets CR. */
	wr(s, PL011_DR, 'a');
	pl011_io(s, PL011_DR, &h, 2, true);
	pl011_io(s, PL011_DR, &b, 1, true);
	/* A write to a byte of DR other than the data byte sends nothing. */
	b = 'x';
	pl011_io(s, PL011_DR + 1, &b, 1, true);
	assert_int_equal(l.outputs, 3);
	assert_int_equal(read(p[0], buf, sizeof(buf)), 3);
	assert_string_equal(buf, "abc");
	assert_int_equal(rd(s, PL011_FR) & (PL011_FR_TXFF | PL011_FR_BUSY), 0);

	/* The TX interrupt: raised by a write that leaves the FIFO empty,
	 * seen once unmasked, cleared by ICR. */
	assert_true(rd(s, PL011_RIS) & PL011_INT_TX);
	assert_int_equal(l.level, 0);
	wr(s, PL011_IMSC, PL011_INT_TX);
	assert_int_equal(l.level, 1);
	assert_int_equal(rd(s, PL011_MIS), PL011_INT_TX);
	wr(s, PL011_ICR, PL011_INT_TX);
	assert_int_equal(l.level, 0);
	assert_int_equal(rd(s, PL011_MIS), 0);
	wr(s, PL011_DR, '\n');
	assert_int_equal(l.level, 1);
	wr(s, PL011_IMSC, 0);
	assert_int_equal(l.level, 0);
	pl011_destroy(s);
	chardev_close(chr);
	close(p[0]);
}

static void test_rx_fifo_and_interrupts(void **state)
{
	struct irq_log l;
	struct pl011 *s = make(&l, NULL);
	const uint8_t in[20] = "0123456789abcdefghij";

	(void)state;
	/* The receiver is off until the driver enables it: input waits. */
	assert_int_equal(pl011_receive(s, in, 1), 0);
	wr(s, PL011_CR, PL011_CR_UARTEN | PL011_CR_TXE);
	assert_int_equal(pl011_receive(s, in, 1), 0);
	enable(s);
	wr(s, PL011_IMSC, PL011_INT_RX | PL011_INT_RT);

	/* Below the trigger level (IFLS 1/2: 8): the receive timeout. */
	assert_int_equal(pl011_receive(s, in, 3), 3);
	assert_int_equal(rd(s, PL011_RIS) & (PL011_INT_RX | PL011_INT_RT), PL011_INT_RT);
	assert_int_equal(l.level, 1);
	assert_int_equal(rd(s, PL011_FR) & (PL011_FR_RXFE | PL011_FR_RXFF), 0);
	/* At the trigger level: RX too. */
	assert_int_equal(pl011_receive(s, in + 3, 5), 5);
	assert_int_equal(rd(s, PL011_MIS), PL011_INT_RX | PL011_INT_RT);
	/* Reading below the level clears RX; emptying clears RT. */
	assert_int_equal(rd(s, PL011_DR), '0');
	assert_int_equal(rd(s, PL011_MIS), PL011_INT_RT);
	for (unsigned int i = 1; i < 7; i++)
		assert_int_equal(rd(s, PL011_DR) & 0xfff, in[i]);
	assert_int_equal(l.level, 1);
	assert_int_equal(rd16(s, PL011_DR), '7');
	assert_int_equal(l.level, 0);
	assert_int_equal(rd(s, PL011_MIS), 0);
	assert_true(rd(s, PL011_FR) & PL011_FR_RXFE);

	/* ICR clears a pending RT while data waits. */
	assert_int_equal(pl011_receive(s, in, 1), 1);
	assert_int_equal(l.level, 1);
	wr(s, PL011_ICR, PL011_INT_RT);
	assert_int_equal(l.level, 0);
	assert_int_equal(rd(s, PL011_DR), '0');

	/* 16 entries, then full: the rest waits, nothing is overwritten. */
	assert_int_equal(pl011_receive(s, in, sizeof(in)), 16);
	assert_int_equal(pl011_receive(s, in + 16, 4), 0);
	assert_true(rd(s, PL011_FR) & PL011_FR_RXFF);
	assert_int_equal(rd(s, PL011_RSR_ECR), 0);
	for (unsigned int i = 0; i < 16; i++)
		assert_int_equal(rd(s, PL011_DR), in[i]);
	assert_int_equal(pl011_receive(s, in + 16, 4), 4);
	for (unsigned int i = 16; i < 20; i++)
		assert_int_equal(rd(s, PL011_DR), in[i]);

	/* FIFOs off: a one-character holding register, RX at once. */
	wr(s, PL011_LCR_H, 0x60);
	assert_int_equal(pl011_receive(s, in, 2), 1);
	assert_int_equal(rd(s, PL011_RIS) & PL011_INT_RX, PL011_INT_RX);
	assert_true(rd(s, PL011_FR) & PL011_FR_RXFF);
	assert_int_equal(rd(s, PL011_DR), '0');
	assert_int_equal(rd(s, PL011_RIS) & (PL011_INT_RX | PL011_INT_RT), 0);

	/* Other trigger levels: 1/8 (2 entries). */
	wr(s, PL011_LCR_H, 0x70);
	wr(s, PL011_IFLS, 0x00);
	assert_int_equal(pl011_receive(s, in, 2), 2);
	assert_true(rd(s, PL011_RIS) & PL011_INT_RX);
	pl011_destroy(s);
}

static void test_loopback_overrun(void **state)
{
	struct irq_log l;
	struct pl011 *s = make(&l, NULL);
	uint8_t b = 'h';

	(void)state;
	wr(s, PL011_CR, PL011_CR_UARTEN | PL011_CR_TXE | PL011_CR_RXE | PL011_CR_LBE);
	/* In loopback the host input is not connected. */
	assert_int_equal(pl011_receive(s, &b, 1), 0);
	wr(s, PL011_IMSC, PL011_INT_OE);
	wr(s, PL011_DR, 'x');
	assert_int_equal(l.outputs, 0); /* nothing to the host */
	assert_int_equal(l.level, 0);
	wr(s, PL011_DR, 'y'); /* FIFOs off: the holding register is full */
	assert_int_equal(l.level, 1);
	assert_int_equal(rd(s, PL011_RSR_ECR), PL011_RSR_OE);
	assert_int_equal(rd(s, PL011_DR), 'x');
	/* The next character stored carries OE in DR. */
	wr(s, PL011_DR, 'z');
	assert_int_equal(rd(s, PL011_DR), 'z' | PL011_DR_OE);
	assert_int_equal(rd(s, PL011_DR), 0); /* empty */
	wr(s, PL011_RSR_ECR, 0);
	assert_int_equal(rd(s, PL011_RSR_ECR), 0);
	wr(s, PL011_ICR, PL011_INT_ALL);
	assert_int_equal(l.level, 0);
	/* Leaving loopback reconnects the host. */
	enable(s);
	assert_int_equal(pl011_receive(s, &b, 1), 1);
	pl011_destroy(s);
}

/* Host input much larger than the FIFO goes through the reader thread
 * in order and entirely, as fast as the guest drains it. */
static void test_reader_thread_never_drops(void **state)
{
	struct irq_log l;
	struct chardev *chr;
	struct pl011 *s;
	char msg[200];
	size_t got = 0;
	double deadline;
	int p[2];

	(void)state;
	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (char)('A' + i % 26);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(chardev_open_fds(&chr, -1, p[0]), 0);
	s = make(&l, chr);
	enable(s);
	assert_int_equal(write(p[1], msg, sizeof(msg)), (ssize_t)sizeof(msg));
	deadline = mono_s() + 10;
	while (got < sizeof(msg) && mono_s() < deadline) {
		if (rd(s, PL011_FR) & PL011_FR_RXFE) {
			usleep(1000);
			continue;
		}
		assert_int_equal(rd(s, PL011_DR), (uint8_t)msg[got]);
		got++;
	}
	assert_int_equal(got, sizeof(msg));
	assert_int_equal(rd(s, PL011_RSR_ECR), 0);
	pl011_destroy(s);
	chardev_close(chr);
	close(p[1]);
}

/* A host reader that does not read: the transmitter reads full, and once
 * it drains, the writer thread raises the TX interrupt. */
static void test_stalled_reader(void **state)
{
	struct irq_log l;
	struct chardev *chr;
	struct pl011 *s;
	char sink[4096];
	double deadline;
	unsigned int n = 0;
	int p[2];

	(void)state;
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_true(fcntl(p[1], F_SETPIPE_SZ, 4096) > 0);
	assert_int_equal(chardev_open_fds(&chr, p[1], -1), 0);
	s = make(&l, chr);
	enable(s);
	wr(s, PL011_IMSC, PL011_INT_TX);
	while (!(rd(s, PL011_FR) & PL011_FR_TXFF)) {
		wr(s, PL011_DR, 'x');
		assert_true(++n < 4096 + CHARDEV_OUT_BUF);
	}
	assert_true(rd(s, PL011_FR) & PL011_FR_BUSY);
	assert_false(rd(s, PL011_FR) & PL011_FR_TXFE);
	assert_int_equal(rd(s, PL011_RIS) & PL011_INT_TX, 0);
	assert_int_equal(l.level, 0);
	/* The host reads: the writer thread flushes and TX comes back. */
	deadline = mono_s() + 10;
	while (mono_s() < deadline && !(rd(s, PL011_RIS) & PL011_INT_TX)) {
		while (read(p[0], sink, sizeof(sink)) == (ssize_t)sizeof(sink))
			;
		usleep(1000);
	}
	assert_true(rd(s, PL011_RIS) & PL011_INT_TX);
	assert_true(rd(s, PL011_FR) & PL011_FR_TXFE);
	pl011_destroy(s);
	chardev_close(chr);
	close(p[0]);
}

/* Wrong widths, straddling and out-of-window offsets read 0 and change
 * nothing; then a random storm leaves a working UART. */
static void test_hostile_accesses(void **state)
{
	struct irq_log l;
	struct pl011 *s = make(&l, NULL);
	uint64_t q = 0x1234;
	uint32_t seed = 4242;
	uint8_t b = 'q';

	(void)state;
	wr(s, PL011_IBRD, 0x55);
	q = ~0ull;
	pl011_io(s, PL011_IBRD, &q, 8, false);
	assert_int_equal(q, 0);
	q = 0x7777;
	pl011_io(s, PL011_IBRD, &q, 8, true);
	{
		uint32_t v = 0xffffffff;

		pl011_io(s, PL011_IBRD + 2, &v, 4, true); /* straddles IBRD/FBRD */
		pl011_io(s, PL011_IBRD + 2, &v, 4, false);
		assert_int_equal(v, 0);
		v = 0xffffffff;
		pl011_io(s, PL011_IBRD, &v, 3, true); /* no 3-byte accesses */
		v = 0xffffffff;
		pl011_io(s, 0x1000, &v, 4, true);
		pl011_io(s, 0x1000, &v, 4, false);
		assert_int_equal(v, 0);
		v = 0xffffffff;
		pl011_io(s, ~0ull - 1, &v, 4, false);
		assert_int_equal(v, 0);
		pl011_io(s, 0x800, &v, 4, false); /* reserved, inside the window */
		assert_int_equal(v, 0);
	}
	assert_int_equal(rd(s, PL011_IBRD), 0x55);
	assert_int_equal(rd(s, PL011_FBRD), 0);
	pl011_io(NULL, 0, &q, 4, false);
	pl011_io(s, 0, NULL, 4, true);
	assert_int_equal(l.outputs, 0);

	for (int i = 0; i < 200000; i++) {
		uint64_t v;
		uint32_t len, off;

		seed = seed * 1103515245u + 12345u;
		len = 1u << ((seed >> 8) % 4);
		off = (seed >> 12) % 0x50;
		if ((seed >> 24) % 64 == 0)
			off = 0xfe0 + (seed >> 4) % 0x30;
		v = (uint64_t)seed * 0x9e3779b97f4a7c15ull;
		pl011_io(s, off, &v, len, (seed >> 20) & 1);
		if ((seed >> 22) % 16 == 0)
			(void)pl011_receive(s, &b, 1);
	}
	/* Still a working UART. */
	wr(s, PL011_IMSC, 0);
	assert_int_equal(l.level, 0);
	wr(s, PL011_CR, PL011_CR_UARTEN | PL011_CR_TXE | PL011_CR_RXE);
	wr(s, PL011_LCR_H, 0x70);
	while (!(rd(s, PL011_FR) & PL011_FR_RXFE))
		(void)rd(s, PL011_DR);
	assert_int_equal(pl011_receive(s, &b, 1), 1);
	assert_int_equal(rd(s, PL011_DR) & 0xff, 'q');
	assert_int_equal(rd(s, 0xfe0), 0x11);
	pl011_destroy(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ids_and_reset),
		cmocka_unit_test(test_registers_read_back),
		cmocka_unit_test(test_tx_reaches_chardev),
		cmocka_unit_test(test_rx_fifo_and_interrupts),
		cmocka_unit_test(test_loopback_overrun),
		cmocka_unit_test(test_reader_thread_never_drops),
		cmocka_unit_test(test_stalled_reader),
		cmocka_unit_test(test_hostile_accesses),
	};

	return cmocka_run_group_tests_name("pl011", tests, NULL, NULL);
}
