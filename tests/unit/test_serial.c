/* 16550A model: registers, DLAB, FIFO, IIR priorities, LSR/MSR bits,
 * interrupt edges, the exact probe sequences of Linux's 8250 driver, and
 * host input that outruns the FIFO without losing a byte. */
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
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "avp/chardev.h"
#include "avp/hw/serial_16550.h"
#include "support/hw_fixture.h"

#define RBR 0
#define THR 0
#define DLL 0
#define IER 1
#define DLM 1
#define IIR 2
#define FCR 2
#define LCR 3
#define MCR 4
#define LSR 5
#define MSR 6
#define SCR 7

static uint8_t rd(struct serial16550 *s, unsigned int reg)
{
	uint8_t v = 0;

	serial16550_io(s, reg, &v, 1, false);
	return v;
}

static void wr(struct serial16550 *s, unsigned int reg, uint8_t v)
{
	serial16550_io(s, reg, &v, 1, true);
}

static struct serial16550 *make(struct irq_log *l, struct chardev *chr)
{
	struct serial16550 *s = NULL;
	struct serial16550_ops ops = { .set_irq = irq_log_set, .output = irq_log_output, .opaque = l };

	memset(l, 0, sizeof(*l));
	assert_int_equal(serial16550_create(&s, chr, &ops), 0);
	assert_non_null(s);
	return s;
}

static void test_reset_state(void **state)
{
	struct irq_log l;
	struct serial16550 *s = make(&l, NULL);

	(void)state;
	assert_int_equal(rd(s, IER), 0);
	assert_int_equal(rd(s, IIR), 0x01); /* no interrupt, FIFOs off */
	assert_int_equal(rd(s, LCR), 0);
	assert_int_equal(rd(s, MCR), 0);
	assert_int_equal(rd(s, LSR), 0x60); /* THRE | TEMT */
	assert_int_equal(rd(s, MSR), 0xb0); /* DCD | DSR | CTS, no deltas */
	assert_int_equal(rd(s, RBR), 0);
	assert_int_equal(l.rises, 0);
	serial16550_destroy(s);
}

static void test_registers_and_dlab(void **state)
{
	struct irq_log l;
	struct serial16550 *s = make(&l, NULL);
	char path[] = "/tmp/avp-serial-XXXXXX";
	int fd = mkstemp(path);
	struct avp_chardev_cfg cfg = { .kind = AVP_CHR_FILE, .path = path };
	struct chardev *chr;
	char buf[16] = { 0 };

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	serial16550_destroy(s);
	assert_int_equal(chardev_open(&chr, &cfg, false), 0);
	s = make(&l, chr);

	wr(s, SCR, 0x5a);
	assert_int_equal(rd(s, SCR), 0x5a);
	wr(s, IER, 0xff);
	assert_int_equal(rd(s, IER), 0x0f); /* bits 4-7 are not implemented */
	wr(s, IER, 0);
	wr(s, MCR, 0xff);
	assert_int_equal(rd(s, MCR), 0x1f);
	wr(s, MCR, 0);
	(void)rd(s, MSR);

	/* DLAB: offsets 0/1 are the divisor latch, THR writes are not sent. */
	wr(s, LCR, 0x83);
	wr(s, DLL, 0x0c);
	wr(s, DLM, 0x01);
	assert_int_equal(rd(s, DLL), 0x0c);
	assert_int_equal(rd(s, DLM), 0x01);
	wr(s, LCR, 0x03);
	assert_int_equal(rd(s, LCR), 0x03);
	assert_int_equal(rd(s, IER), 0);
	wr(s, THR, 'h');
	wr(s, THR, 'i');
	assert_int_equal(l.outputs, 2);
	wr(s, LCR, 0x83);
	assert_int_equal(rd(s, DLL), 0x0c); /* not overwritten by THR */
	assert_int_equal(rd(s, LSR) & 0x60, 0x60);

	/* A 16-bit access reaches two consecutive registers. */
	{
		uint16_t w = 0;

		serial16550_io(s, DLL, &w, 2, false);
		assert_int_equal(w, 0x010c);
		w = 0x0203;
		serial16550_io(s, DLL, &w, 2, true);
		assert_int_equal(rd(s, DLM), 0x02);
	}

	serial16550_destroy(s);
	chardev_close(chr);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, buf, sizeof(buf)), 2);
	assert_string_equal(buf, "hi");
	close(fd);
	unlink(path);
}

static void test_fifo_order_and_backpressure(void **state)
{
	struct irq_log l;
	struct serial16550 *s = make(&l, NULL);
	uint8_t in[40];

	(void)state;
	for (unsigned int i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)('A' + i);
	/* FIFOs off: one holding register. */
	assert_int_equal(serial16550_receive(s, in, sizeof(in)), 1);
	assert_int_equal(serial16550_receive(s, in + 1, 1), 0);
	assert_int_equal(rd(s, LSR) & 0x01, 1);
	assert_int_equal(rd(s, RBR), 'A');
	assert_int_equal(rd(s, LSR) & 0x01, 0);

	wr(s, FCR, 0x07); /* enable + clear */
	assert_int_equal(rd(s, IIR) & 0xc0, 0xc0);
	assert_int_equal(serial16550_receive(s, in + 1, sizeof(in) - 1), 16);
	assert_int_equal(serial16550_receive(s, in + 17, 5), 0);
	assert_int_equal(rd(s, LSR) & 0x02, 0); /* no overrun: input waits */
	for (unsigned int i = 1; i <= 8; i++)
		assert_int_equal(rd(s, RBR), in[i]);
	assert_int_equal(serial16550_receive(s, in + 17, sizeof(in) - 17), 8);
	for (unsigned int i = 9; i < 25; i++)
		assert_int_equal(rd(s, RBR), in[i]);
	assert_int_equal(rd(s, LSR) & 0x01, 0);

	/* FCR bit 1 empties the receive FIFO. */
	assert_int_equal(serial16550_receive(s, in, 3), 3);
	wr(s, FCR, 0x03);
	assert_int_equal(rd(s, LSR) & 0x01, 0);
	/* Disabling the FIFOs clears them too. */
	assert_int_equal(serial16550_receive(s, in, 3), 3);
	wr(s, FCR, 0x00);
	assert_int_equal(rd(s, LSR) & 0x01, 0);
	assert_int_equal(rd(s, IIR) & 0xc0, 0);
	serial16550_destroy(s);
}

static void test_iir_priorities(void **state)
{
	struct irq_log l;
	struct serial16550 *s = make(&l, NULL);
	uint8_t b = 'x';

	(void)state;
	wr(s, FCR, 0xc1); /* FIFO on, trigger level 14 */
	/* Overrun through loopback: 17 bytes into a 16-byte FIFO. */
	wr(s, MCR, 0x10);
	for (int i = 0; i < 17; i++)
		wr(s, THR, (uint8_t)i);
	wr(s, MCR, 0x00); /* leaving loopback changes the modem lines */
	wr(s, IER, 0x0f);

	assert_int_equal(rd(s, IIR), 0xc6); /* receiver line status first */
	assert_int_equal(rd(s, LSR) & 0x03, 0x03); /* OE and DR; read clears OE */
	assert_int_equal(rd(s, IIR), 0xc4); /* 16 >= trigger 14: data available */
	for (int i = 0; i < 3; i++)
		assert_int_equal(rd(s, RBR), i); /* the 17th byte was lost, not these */
	assert_int_equal(rd(s, IIR), 0xcc); /* below trigger: character timeout */
	while (rd(s, LSR) & 0x01)
		(void)rd(s, RBR);
	assert_int_equal(rd(s, IIR), 0xc2); /* THRE */
	assert_int_equal(rd(s, IIR), 0xc0); /* reading IIR cleared THRE: modem status */
	assert_int_equal(rd(s, MSR) & 0x0f, 0x0b); /* DCTS, DDSR, DDCD */
	assert_int_equal(rd(s, IIR), 0xc1);

	/* Host data while THRE is pending: data wins, THRE stays latched. */
	wr(s, THR, 'y');
	assert_int_equal(serial16550_receive(s, &b, 1), 1);
	assert_int_equal(rd(s, IIR), 0xcc);
	assert_int_equal(rd(s, RBR), 'x');
	assert_int_equal(rd(s, IIR), 0xc2);
	assert_int_equal(rd(s, IIR), 0xc1);
	serial16550_destroy(s);
}

static void test_interrupt_edges(void **state)
{
	struct irq_log l;
	struct serial16550 *s = make(&l, NULL);
	uint8_t b = 'k';

	(void)state;
	/* Without OUT2 the PC's IRQ line stays quiet. */
	wr(s, IER, 0x01);
	assert_int_equal(serial16550_receive(s, &b, 1), 1);
	assert_int_equal(l.rises, 0);
	wr(s, MCR, 0x08); /* OUT2 */
	assert_int_equal(l.level, 1);
	assert_int_equal(l.rises, 1);
	assert_int_equal(rd(s, RBR), 'k');
	assert_int_equal(l.level, 0);

	/* Enabling ETBEI with THR empty: THRE interrupt, cleared by IIR. */
	wr(s, IER, 0x03);
	assert_int_equal(l.level, 1);
	assert_int_equal(l.rises, 2);
	assert_int_equal(rd(s, IIR), 0x02);
	assert_int_equal(l.level, 0);
	/* Each THR write re-arms it (the byte left at once). */
	wr(s, THR, 'a');
	assert_int_equal(l.rises, 3);
	wr(s, THR, 'b'); /* still pending: no new edge */
	assert_int_equal(l.rises, 3);

	/* A new condition while the line is high gets a fresh edge. */
	assert_int_equal(serial16550_receive(s, &b, 1), 1);
	assert_int_equal(l.rises, 4);
	assert_int_equal(l.falls, 3);
	assert_int_equal(l.level, 1);
	/* More data of the same kind: no edge. */
	wr(s, FCR, 0x01);
	assert_int_equal(serial16550_receive(s, &b, 1), 1);
	assert_int_equal(serial16550_receive(s, &b, 1), 1);
	assert_int_equal(l.rises, 5); /* the FIFO reset dropped RX, THRE kept it high */
	assert_int_equal(rd(s, IIR), 0xc4); /* 2 bytes >= trigger level 1 */

	/* Masking everything drops the line. */
	wr(s, IER, 0x00);
	assert_int_equal(l.level, 0);
	/* Loopback disconnects the IRQ (OUT2 is forced off). */
	wr(s, IER, 0x01);
	assert_int_equal(l.level, 1);
	wr(s, MCR, 0x18);
	assert_int_equal(l.level, 0);
	serial16550_destroy(s);
}

/* drivers/tty/serial/8250/8250_port.c: autoconfig(),
 * autoconfig_16550a(), size_fifo() and the THRE test of
 * serial8250_do_startup(), replayed register by register. */
static void test_linux_8250_probe(void **state)
{
	struct irq_log l;
	struct serial16550 *s = make(&l, NULL);
	uint8_t scratch, scratch2, scratch3, save_mcr, save_lcr, st1, st2, iir1, iir;
	int count;

	(void)state;
	/* Existence test through IER. */
	scratch = rd(s, IER);
	wr(s, IER, 0);
	scratch2 = rd(s, IER) & 0x0f;
	wr(s, IER, 0x0f);
	scratch3 = rd(s, IER) & 0x0f;
	wr(s, IER, scratch);
	assert_int_equal(scratch2, 0);
	assert_int_equal(scratch3, 0x0f);

	save_mcr = rd(s, MCR);
	save_lcr = rd(s, LCR);
	/* Loopback test: MCR = LOOP | OUT2 | RTS must give DCD | CTS. */
	wr(s, MCR, 0x10 | 0x0a);
	st1 = rd(s, MSR) & 0xf0;
	wr(s, MCR, save_mcr);
	assert_int_equal(st1, 0x90);

	wr(s, LCR, 0xbf);
	wr(s, 2, 0); /* EFR on chips that have one */
	wr(s, LCR, 0);
	wr(s, FCR, 0x01);
	scratch = rd(s, IIR);
	assert_int_equal(scratch >> 6, 3); /* -> autoconfig_16550a */

	/* No EFR with DLAB set (ST16C650V1 test): must read non-zero. */
	wr(s, LCR, 0x80);
	assert_int_not_equal(rd(s, 2), 0);
	/* No EFR behind LCR = 0xbf either. */
	wr(s, LCR, 0xbf);
	assert_int_not_equal(rd(s, 2), 0);
	/* Not a National SuperIO: EXCR1 does not follow MCR LOOP. */
	wr(s, LCR, 0);
	st1 = rd(s, MCR);
	wr(s, LCR, 0xe0);
	st2 = rd(s, 2);
	if (!((st2 ^ st1) & 0x10)) {
		wr(s, LCR, 0);
		wr(s, MCR, st1 ^ 0x10);
		wr(s, LCR, 0xe0);
		st2 = rd(s, 2);
		wr(s, LCR, 0);
		wr(s, MCR, st1);
		assert_int_equal((st2 ^ st1) & 0x10, 0);
	}
	/* Not a 16750: IIR bit 5 never set. */
	wr(s, LCR, 0);
	wr(s, FCR, 0x21);
	st1 = rd(s, IIR) & 0xe0;
	wr(s, FCR, 0x01);
	wr(s, LCR, 0x80);
	wr(s, FCR, 0x21);
	st2 = rd(s, IIR) & 0xe0;
	wr(s, FCR, 0x01);
	wr(s, LCR, 0);
	assert_int_equal(st1, 0xc0);
	assert_int_equal(st2, 0xc0);
	/* Not an XScale: IER bit 6 does not stick. */
	scratch = rd(s, IER);
	wr(s, IER, scratch & ~0x40);
	assert_int_equal(rd(s, IER) & 0x40, 0);
	wr(s, IER, scratch | 0x40);
	assert_int_equal(rd(s, IER) & 0x40, 0);
	wr(s, IER, scratch);

	/* size_fifo(): 256 bytes through loopback, count what arrives. */
	save_lcr = rd(s, LCR);
	wr(s, LCR, 0);
	scratch = rd(s, FCR);
	save_mcr = rd(s, MCR);
	wr(s, FCR, 0x07);
	wr(s, MCR, 0x10);
	wr(s, LCR, 0x80);
	wr(s, DLL, 1);
	wr(s, DLM, 0);
	wr(s, LCR, 0x03);
	for (count = 0; count < 256; count++)
		wr(s, THR, (uint8_t)count);
	for (count = 0; (rd(s, LSR) & 0x01) && count < 256; count++)
		(void)rd(s, RBR);
	wr(s, FCR, scratch);
	wr(s, MCR, save_mcr);
	wr(s, LCR, save_lcr);
	assert_int_equal(count, 16); /* a 16550A, not a 64-byte U6 */
	assert_int_equal(l.outputs, 0); /* loopback bytes never reach the host */

	/* serial8250_do_startup(): the LSR safety check and the THRE test. */
	wr(s, FCR, 0x01);
	wr(s, FCR, 0x07);
	wr(s, FCR, 0);
	(void)rd(s, LSR);
	(void)rd(s, RBR);
	(void)rd(s, IIR);
	(void)rd(s, MSR);
	assert_int_not_equal(rd(s, LSR), 0xff);
	wr(s, IER, 0x02);
	iir1 = rd(s, IIR);
	wr(s, IER, 0);
	wr(s, IER, 0x02);
	iir = rd(s, IIR);
	wr(s, IER, 0);
	assert_int_equal(iir1 & 0x01, 0); /* THRE asserted ... */
	assert_int_equal(iir & 0x01, 0);  /* ... and re-asserted: no UART_BUG_THRE */
	/* The TX interrupt test right after: LSR TEMT with an interrupt
	 * pending, so no UART_BUG_TXEN workaround either. */
	wr(s, IER, 0x02);
	st1 = rd(s, LSR);
	iir = rd(s, IIR);
	wr(s, IER, 0);
	assert_true(st1 & 0x40);
	assert_int_equal(iir & 0x01, 0);
	serial16550_destroy(s);
}

static void test_loopback_blocks_host_input(void **state)
{
	struct irq_log l;
	struct serial16550 *s = make(&l, NULL);
	uint8_t b = 'q';

	(void)state;
	wr(s, MCR, 0x10);
	assert_int_equal(serial16550_receive(s, &b, 1), 0);
	wr(s, MCR, 0x00);
	assert_int_equal(serial16550_receive(s, &b, 1), 1);
	serial16550_destroy(s);
}

/* Host input through the reader thread: 3000 bytes arrive at once, the
 * guest drains slowly, every byte arrives once and in order. stdin is a
 * pipe here, so the chardev does not touch a terminal. */
static void test_reader_thread_never_drops(void **state)
{
	enum { N = 3000 };
	struct avp_chardev_cfg cfg = { .kind = AVP_CHR_STDIO };
	static uint8_t in[N], got[N];
	struct chardev *chr;
	struct serial16550 *s;
	struct irq_log l;
	int pfd[2], saved_stdin;
	size_t n = 0;
	double deadline;

	(void)state;
	for (size_t i = 0; i < N; i++)
		in[i] = (uint8_t)(i * 7 + i / 256);
	assert_int_equal(pipe(pfd), 0);
	saved_stdin = dup(STDIN_FILENO);
	assert_true(saved_stdin >= 0);
	assert_true(dup2(pfd[0], STDIN_FILENO) >= 0);
	close(pfd[0]);
	assert_int_equal(chardev_open(&chr, &cfg, true), 0);
	assert_int_equal(chardev_input_fd(chr), STDIN_FILENO);
	s = make(&l, chr);
	wr(s, FCR, 0x01);
	assert_int_equal(write(pfd[1], in, N), N);

	deadline = mono_s() + 20;
	while (n < N && mono_s() < deadline) {
		if (!(rd(s, LSR) & 0x01)) {
			usleep(100);
			continue;
		}
		got[n++] = rd(s, RBR);
		if (n % 64 == 0)
			usleep(500); /* a slow guest: the FIFO fills up */
	}
	assert_int_equal(n, N);
	assert_memory_equal(got, in, N);
	assert_int_equal(rd(s, LSR) & 0x02, 0); /* never an overrun */

	/* Destroy while the thread waits for input, then with input waiting
	 * for room: both must return promptly. */
	serial16550_destroy(s);
	s = make(&l, chr);
	assert_int_equal(write(pfd[1], in, 100), 100);
	usleep(20000);
	serial16550_destroy(s);

	chardev_close(chr);
	close(pfd[1]);
	assert_true(dup2(saved_stdin, STDIN_FILENO) >= 0);
	close(saved_stdin);
}

/* ---- a host reader that stops reading ---- */

struct stalled {
	char path[64];
	int rd_fd; /* the FIFO's reader: reads only when the test says */
	struct chardev *chr;
	struct serial16550 *s;
	struct irq_log l;
};

/* The UART's host end is a FIFO nobody reads yet: the pipe fills, then
 * the chardev's buffer. A file end, so the old blocking write path is
 * reached the same way (the test must fail there, not hang: see alarm). */
static void stalled_open(struct stalled *t)
{
	struct avp_chardev_cfg cfg = { .kind = AVP_CHR_FILE, .path = t->path };

	snprintf(t->path, sizeof(t->path), "/tmp/avp-serial-fifo-%d", (int)getpid());
	unlink(t->path);
	assert_int_equal(mkfifo(t->path, 0600), 0);
	t->rd_fd = open(t->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	assert_true(t->rd_fd >= 0);
	assert_int_equal(chardev_open(&t->chr, &cfg, false), 0);
	t->s = make(&t->l, t->chr);
	wr(t->s, MCR, 0x08); /* OUT2: the interrupt reaches the line */
	wr(t->s, FCR, 0x01);
}

static void stalled_close(struct stalled *t)
{
	serial16550_destroy(t->s);
	chardev_close(t->chr);
	close(t->rd_fd);
	unlink(t->path);
}

static uint8_t pattern(size_t i)
{
	return (uint8_t)(i % 251);
}

struct vcpu_writer {
	struct serial16550 *s;
	size_t sent;
	bool saw_busy;
};

/* A guest console driver: writes while LSR says THRE, as the 8250 driver's
 * wait_for_xmitr does, and stops at the first busy reading (a real one
 * would wait). Never more than 4 MiB. */
static void *vcpu_write(void *arg)
{
	struct vcpu_writer *w = arg;

	while (w->sent < (4u << 20)) {
		if (!(rd(w->s, LSR) & 0x20)) {
			w->saw_busy = true;
			break;
		}
		wr(w->s, THR, pattern(w->sent++));
	}
	return NULL;
}

/* Runs fn on a thread and fails, instead of hanging, when it does not
 * return within 5 s: the vCPU side must never wait for the host. */
static void run_as_vcpu(void *(*fn)(void *), void *arg)
{
	struct timespec deadline;
	pthread_t t;
	int ret;

	assert_int_equal(pthread_create(&t, NULL, fn, arg), 0);
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 5;
	ret = pthread_timedjoin_np(t, NULL, &deadline);
	if (ret == ETIMEDOUT)
		fail_msg("a vCPU is blocked on host output the reader does not take");
	assert_int_equal(ret, 0);
}

static void *vcpu_ignore_busy(void *arg)
{
	struct serial16550 *s = arg;

	/* A driver that does not look at LSR: over-run, not blocked. */
	for (unsigned int i = 0; i < 100; i++)
		wr(s, THR, '!');
	(void)rd(s, LSR);
	return NULL;
}

static void test_stalled_reader_busy_transmitter(void **state)
{
	struct stalled t;
	struct vcpu_writer w = { 0 };
	static uint8_t got[1 << 20];
	size_t n = 0;
	unsigned int rises;
	double deadline;

	(void)state;
	alarm(30); /* the old code blocked for ever: end the test instead */
	stalled_open(&t);
	w.s = t.s;
	wr(t.s, IER, 0x02);
	run_as_vcpu(vcpu_write, &w);
	/* The transmitter reads busy once the pipe and the bounded buffer
	 * are full: no more than that was taken. */
	assert_true(w.saw_busy);
	assert_true(w.sent >= CHARDEV_OUT_BUF);
	assert_true(w.sent <= CHARDEV_OUT_BUF + (size_t)fcntl(t.rd_fd, F_GETPIPE_SZ));
	assert_int_equal(rd(t.s, LSR) & 0x60, 0); /* neither THRE nor TEMT */
	(void)rd(t.s, IIR); /* clears a THRE interrupt from before the stall */
	assert_int_equal(rd(t.s, IIR) & 0x0f, 0x01);
	assert_int_equal(t.l.level, 0);
	rises = t.l.rises;

	/* The reader comes back: every byte arrives, in order, and the
	 * output thread gives the guest its THRE interrupt back. */
	deadline = mono_s() + 20;
	while (n < w.sent && mono_s() < deadline) {
		ssize_t r = read(t.rd_fd, got + n, sizeof(got) - n);

		if (r > 0)
			n += (size_t)r;
		else
			usleep(1000);
	}
	assert_int_equal(n, w.sent);
	for (size_t i = 0; i < n; i++)
		if (got[i] != pattern(i))
			fail_msg("byte %zu is %u, not %u", i, got[i], pattern(i));
	deadline = mono_s() + 5;
	while (!(rd(t.s, LSR) & 0x20) && mono_s() < deadline)
		usleep(1000);
	assert_int_equal(rd(t.s, LSR) & 0x60, 0x60);
	assert_true(t.l.rises > rises);
	assert_int_equal(rd(t.s, IIR) & 0x0f, 0x02); /* THRE */
	stalled_close(&t);
	alarm(0);
}

/* A guest that ignores the busy transmitter loses its own bytes; it does
 * not block its vCPU or the host. */
static void test_stalled_reader_overrun_does_not_block(void **state)
{
	struct stalled t;
	struct vcpu_writer w = { 0 };

	(void)state;
	alarm(30);
	stalled_open(&t);
	w.s = t.s;
	run_as_vcpu(vcpu_write, &w);
	assert_true(w.saw_busy);
	run_as_vcpu(vcpu_ignore_busy, t.s);
	run_as_vcpu(vcpu_ignore_busy, t.s);
	stalled_close(&t);
	alarm(0);
}

static void test_garbage(void **state)
{
	struct irq_log l;
	struct serial16550 *s = make(&l, NULL);
	uint32_t seed = 12345;

	(void)state;
	for (int i = 0; i < 200000; i++) {
		uint64_t v = 0;
		uint32_t len, off;

		seed = seed * 1103515245u + 12345u;
		len = 1u << ((seed >> 8) % 4);
		off = (seed >> 12) % 8;
		if (off + len > 8)
			len = 1;
		v = (uint64_t)seed * 0x9e3779b97f4a7c15ull;
		serial16550_io(s, off, &v, len, (seed >> 20) & 1);
		if ((seed >> 22) % 16 == 0) {
			uint8_t b = (uint8_t)seed;

			(void)serial16550_receive(s, &b, 1);
		}
	}
	/* Still a working UART. */
	wr(s, LCR, 0x03);
	wr(s, MCR, 0x00);
	assert_int_equal(rd(s, LSR) & 0x60, 0x60);
	serial16550_io(NULL, 0, NULL, 1, false);
	serial16550_destroy(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reset_state),
		cmocka_unit_test(test_registers_and_dlab),
		cmocka_unit_test(test_fifo_order_and_backpressure),
		cmocka_unit_test(test_iir_priorities),
		cmocka_unit_test(test_interrupt_edges),
		cmocka_unit_test(test_linux_8250_probe),
		cmocka_unit_test(test_loopback_blocks_host_input),
		cmocka_unit_test(test_reader_thread_never_drops),
		cmocka_unit_test(test_stalled_reader_busy_transmitter),
		cmocka_unit_test(test_stalled_reader_overrun_does_not_block),
		cmocka_unit_test(test_garbage),
	};

	return cmocka_run_group_tests_name("serial", tests, NULL, NULL);
}
