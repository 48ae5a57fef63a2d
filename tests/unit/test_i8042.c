/* i8042: the controller commands of Linux's i8042 probe, the AUX loopback
 * and its interrupt, the reset line, and garbage on both ports. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "avp/hw/i8042.h"

#define STS_OBF 0x01
#define STS_IBF 0x02
#define STS_AUXDATA 0x20

struct events {
	unsigned int resets;
	int level[2];
	unsigned int rises[2];
};

static void on_irq(void *opaque, enum i8042_port port, int level)
{
	struct events *e = opaque;

	assert_true(port == I8042_PORT_KBD || port == I8042_PORT_AUX);
	assert_int_not_equal(level, e->level[port]);
	if (level)
		e->rises[port]++;
	e->level[port] = level;
}

static void on_reset(void *opaque)
{
	struct events *e = opaque;

	e->resets++;
}

static struct i8042 *make(struct events *e)
{
	struct i8042_ops ops = { .set_irq = on_irq, .reset = on_reset, .opaque = e };
	struct i8042 *k = NULL;

	memset(e, 0, sizeof(*e));
	assert_int_equal(i8042_create(&k, &ops), 0);
	return k;
}

static uint8_t status(struct i8042 *k)
{
	uint8_t v = 0;

	i8042_cmd_io(k, 0, &v, 1, false);
	return v;
}

static void cmd(struct i8042 *k, uint8_t c)
{
	i8042_cmd_io(k, 0, &c, 1, true);
}

static uint8_t data_in(struct i8042 *k)
{
	uint8_t v = 0;

	i8042_data_io(k, 0, &v, 1, false);
	return v;
}

static void data_out(struct i8042 *k, uint8_t v)
{
	i8042_data_io(k, 0, &v, 1, true);
}

/* __i8042_command: wait for IBF clear, write, then wait for OBF. */
static int command(struct i8042 *k, uint8_t c, uint8_t *param, int nout, int nin)
{
	for (int i = 0; i < 10 && (status(k) & STS_IBF); i++)
		;
	cmd(k, c);
	for (int i = 0; i < nout; i++)
		data_out(k, param[i]);
	for (int i = 0; i < nin; i++) {
		if (!(status(k) & STS_OBF))
			return -1;
		param[i] = data_in(k);
	}
	return 0;
}

static void test_linux_probe(void **state)
{
	struct events e;
	struct i8042 *k = make(&e);
	uint8_t p, ctr[2];

	(void)state;
	/* i8042_controller_check / i8042_flush: nothing pending. */
	assert_int_equal(status(k) & (STS_OBF | STS_IBF), 0);
	/* No keylock, or Linux warns "Keylock active". */
	assert_true(status(k) & 0x10);
	/* i8042_controller_selftest */
	assert_int_equal(command(k, 0xaa, &p, 0, 1), 0);
	assert_int_equal(p, 0x55);
	assert_int_equal(status(k) & STS_OBF, 0);
	/* i8042_controller_init: two identical CTR reads, then a write. */
	assert_int_equal(command(k, 0x20, &ctr[0], 0, 1), 0);
	assert_int_equal(command(k, 0x20, &ctr[1], 0, 1), 0);
	assert_int_equal(ctr[0], ctr[1]);
	p = (uint8_t)((ctr[0] | 0x10) & ~0x01);
	assert_int_equal(command(k, 0x60, &p, 1, 0), 0);
	assert_int_equal(command(k, 0x20, &ctr[0], 0, 1), 0);
	assert_int_equal(ctr[0], p);
	/* Interface tests. */
	assert_int_equal(command(k, 0xab, &p, 0, 1), 0);
	assert_int_equal(p, 0);
	assert_int_equal(command(k, 0xa9, &p, 0, 1), 0);
	assert_int_equal(p, 0);
	/* i8042_toggle_aux: A7/A8 flip CTR bit 5. */
	cmd(k, 0xa7);
	assert_int_equal(command(k, 0x20, &p, 0, 1), 0);
	assert_true(p & 0x20);
	cmd(k, 0xa8);
	assert_int_equal(command(k, 0x20, &p, 0, 1), 0);
	assert_false(p & 0x20);
	cmd(k, 0xad);
	assert_int_equal(command(k, 0x20, &p, 0, 1), 0);
	assert_true(p & 0x10);
	cmd(k, 0xae);
	assert_int_equal(command(k, 0x20, &p, 0, 1), 0);
	assert_false(p & 0x10);
	/* i8042_check_aux / i8042_set_mux_mode: AUX loopback with AUXDATA;
	 * the third byte echoed unchanged means "not a MUX". */
	p = 0x5a;
	assert_int_equal(command(k, 0xd3, &p, 1, 0), 0);
	assert_int_equal(status(k) & (STS_OBF | STS_AUXDATA), STS_OBF | STS_AUXDATA);
	assert_int_equal(data_in(k), 0x5a);
	assert_int_equal(status(k) & (STS_OBF | STS_AUXDATA), 0);
	assert_int_equal(e.resets, 0);
	i8042_destroy(k);
}

static void test_interrupts(void **state)
{
	struct events e;
	struct i8042 *k = make(&e);
	uint8_t p;

	(void)state;
	/* Default CTR enables the keyboard interrupt: a controller answer
	 * raises IRQ 1 until the byte is read. */
	cmd(k, 0xaa);
	assert_int_equal(e.level[I8042_PORT_KBD], 1);
	assert_int_equal(data_in(k), 0x55);
	assert_int_equal(e.level[I8042_PORT_KBD], 0);
	/* AUX interrupt test of i8042_check_aux: enable AUXINT, loop 0xa5. */
	assert_int_equal(command(k, 0x20, &p, 0, 1), 0);
	p = (uint8_t)((p | 0x02) & ~0x20);
	assert_int_equal(command(k, 0x60, &p, 1, 0), 0);
	data_out(k, 0); /* no command pending: a byte for the keyboard, dropped */
	assert_int_equal(status(k) & STS_OBF, 0);
	cmd(k, 0xd3);
	data_out(k, 0xa5);
	assert_int_equal(e.level[I8042_PORT_AUX], 1);
	assert_int_equal(e.level[I8042_PORT_KBD], 0);
	assert_int_equal(data_in(k), 0xa5);
	assert_int_equal(e.level[I8042_PORT_AUX], 0);
	assert_int_equal(e.rises[I8042_PORT_AUX], 1);
	/* Interrupts disabled in the CTR: silence. */
	p = 0;
	assert_int_equal(command(k, 0x60, &p, 1, 0), 0);
	cmd(k, 0xaa);
	assert_int_equal(e.level[I8042_PORT_KBD], 0);
	assert_int_equal(data_in(k), 0x55);
	i8042_destroy(k);
}

static void test_reset_line(void **state)
{
	struct events e;
	struct i8042 *k = make(&e);

	(void)state;
	/* Linux reboot=k: kb_wait() then 0xfe to port 0x64. */
	assert_int_equal(status(k) & STS_IBF, 0);
	cmd(k, 0xfe);
	assert_int_equal(e.resets, 1);
	/* Pulsing other lines only: no reset. */
	cmd(k, 0xff);
	cmd(k, 0xf1);
	assert_int_equal(e.resets, 1);
	/* Writing the output port with the reset bit low. */
	cmd(k, 0xd1);
	data_out(k, 0x03);
	assert_int_equal(e.resets, 1);
	cmd(k, 0xd1);
	data_out(k, 0x02);
	assert_int_equal(e.resets, 2);
	i8042_destroy(k);
}

static void test_garbage(void **state)
{
	struct events e;
	struct i8042 *k = make(&e);
	uint32_t seed = 7;
	uint8_t p;

	(void)state;
	/* Random traffic that avoids the reset commands never resets. */
	for (int i = 0; i < 100000; i++) {
		uint32_t v;
		bool to_cmd, write;

		seed = seed * 1103515245u + 12345u;
		v = seed >> 11;
		to_cmd = (seed >> 3) & 1;
		write = (seed >> 4) & 1;
		if (to_cmd && write && ((v & 0xff) >= 0xf0 || (v & 0xff) == 0xd1))
			v = 0xd2; /* keep away from the reset line */
		if (to_cmd)
			i8042_cmd_io(k, 0, &v, 1u << ((seed >> 5) % 3), write);
		else
			i8042_data_io(k, 0, &v, 1u << ((seed >> 5) % 3), write);
	}
	assert_int_equal(e.resets, 0);
	/* Anything at all: no crash, and the controller still answers. */
	for (int i = 0; i < 100000; i++) {
		uint32_t v;

		seed = seed * 1103515245u + 12345u;
		v = seed >> 11;
		if ((seed >> 3) & 1)
			i8042_cmd_io(k, (seed >> 6) & 1, &v, 1, (seed >> 4) & 1);
		else
			i8042_data_io(k, (seed >> 6) & 1, &v, 1, (seed >> 4) & 1);
	}
	(void)data_in(k);
	assert_int_equal(command(k, 0xaa, &p, 0, 1), 0);
	assert_int_equal(p, 0x55);
	i8042_cmd_io(NULL, 0, NULL, 1, true);
	i8042_destroy(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_linux_probe),
		cmocka_unit_test(test_interrupts),
		cmocka_unit_test(test_reset_line),
		cmocka_unit_test(test_garbage),
	};

	return cmocka_run_group_tests_name("i8042", tests, NULL, NULL);
}
