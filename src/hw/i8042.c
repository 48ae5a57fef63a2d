/* i8042 keyboard controller without devices behind it. The command set is
 * the de-facto standard one of the IBM PC/AT and PS/2 technical references
 * (8042 "Keyboard Controller Commands"); Linux's drivers/input/serio/i8042.c
 * is the main client and the comments say what it expects.
 *
 * One output byte at a time, like the chip: every command answers with at
 * most one byte. Bytes for the keyboard or the mouse themselves go nowhere
 * (nothing is plugged in), so their drivers time out and give up, which is
 * what a PC without a keyboard does too. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "avp/hw/i8042.h"

#define STS_OBF 0x01	 /* output buffer full */
#define STS_SYS 0x04	 /* system flag, mirrors CTR bit 2 */
#define STS_UNLOCKED 0x10 /* keyboard not inhibited: no keylock */
#define STS_AUXDATA 0x20 /* the output byte came from the AUX port */

#define CTR_KBDINT 0x01
#define CTR_AUXINT 0x02
#define CTR_SYS 0x04
#define CTR_KBDDIS 0x10
#define CTR_AUXDIS 0x20
#define CTR_XLATE 0x40

#define CMD_READ_RAM 0x20  /* 0x20-0x3f: byte 0 is the CTR */
#define CMD_WRITE_RAM 0x60 /* 0x60-0x7f */
#define CMD_AUX_DISABLE 0xa7
#define CMD_AUX_ENABLE 0xa8
#define CMD_AUX_TEST 0xa9
#define CMD_SELF_TEST 0xaa
#define CMD_KBD_TEST 0xab
#define CMD_KBD_DISABLE 0xad
#define CMD_KBD_ENABLE 0xae
#define CMD_READ_OUTPORT 0xd0
#define CMD_WRITE_OUTPORT 0xd1
#define CMD_WRITE_KBD_OBUF 0xd2
#define CMD_WRITE_AUX_OBUF 0xd3 /* the "AUX loopback" Linux probes with */
#define CMD_WRITE_AUX 0xd4
#define CMD_PULSE 0xf0 /* 0xf0-0xff: low bits clear = pulse that line */

#define OUTPORT_RESET 0x01 /* active low CPU reset */
#define OUTPORT_A20 0x02

#define SELF_TEST_OK 0x55
#define INTERFACE_OK 0x00
#define RAM_SIZE 32

struct i8042 {
	pthread_mutex_t lock;
	struct i8042_ops ops;
	uint8_t ram[RAM_SIZE]; /* ram[0] is the controller configuration byte */
	uint8_t outport;
	uint8_t obuf;
	bool obuf_full;
	bool obuf_aux;
	uint8_t pending; /* command waiting for its data byte, or 0 */
	int irq[2];
};

static void update_irq(struct i8042 *k)
{
	int kbd = k->obuf_full && !k->obuf_aux && (k->ram[0] & CTR_KBDINT);
	int aux = k->obuf_full && k->obuf_aux && (k->ram[0] & CTR_AUXINT);

	if (kbd != k->irq[I8042_PORT_KBD] && k->ops.set_irq)
		k->ops.set_irq(k->ops.opaque, I8042_PORT_KBD, kbd);
	if (aux != k->irq[I8042_PORT_AUX] && k->ops.set_irq)
		k->ops.set_irq(k->ops.opaque, I8042_PORT_AUX, aux);
	k->irq[I8042_PORT_KBD] = kbd;
	k->irq[I8042_PORT_AUX] = aux;
}

static void output(struct i8042 *k, uint8_t v, bool aux)
{
	k->obuf = v;
	k->obuf_full = true;
	k->obuf_aux = aux;
}

/* Returns true when the CPU reset line was pulled. */
static bool command(struct i8042 *k, uint8_t cmd)
{
	k->pending = 0; /* a new command abandons one waiting for data */
	if (cmd >= CMD_READ_RAM && cmd < CMD_READ_RAM + RAM_SIZE) {
		output(k, k->ram[cmd - CMD_READ_RAM], false);
		return false;
	}
	if ((cmd >= CMD_WRITE_RAM && cmd < CMD_WRITE_RAM + RAM_SIZE) ||
	    cmd == CMD_WRITE_OUTPORT || cmd == CMD_WRITE_KBD_OBUF ||
	    cmd == CMD_WRITE_AUX_OBUF || cmd == CMD_WRITE_AUX) {
		k->pending = cmd;
		return false;
	}
	if (cmd >= CMD_PULSE)
		return !(cmd & OUTPORT_RESET); /* bit 0 clear pulses reset */
	switch (cmd) {
	case CMD_AUX_DISABLE:
		k->ram[0] |= CTR_AUXDIS;
		break;
	case CMD_AUX_ENABLE:
		k->ram[0] &= (uint8_t)~CTR_AUXDIS;
		break;
	case CMD_AUX_TEST:
	case CMD_KBD_TEST:
		output(k, INTERFACE_OK, false);
		break;
	case CMD_SELF_TEST:
		output(k, SELF_TEST_OK, false);
		break;
	case CMD_KBD_DISABLE:
		k->ram[0] |= CTR_KBDDIS;
		break;
	case CMD_KBD_ENABLE:
		k->ram[0] &= (uint8_t)~CTR_KBDDIS;
		break;
	case CMD_READ_OUTPORT:
		output(k, k->outport, false);
		break;
	default:
		break; /* unknown commands are ignored, as by real controllers */
	}
	return false;
}

/* Returns true when the CPU reset line was pulled. */
static bool data_write(struct i8042 *k, uint8_t v)
{
	uint8_t cmd = k->pending;

	k->pending = 0;
	if (cmd >= CMD_WRITE_RAM && cmd < CMD_WRITE_RAM + RAM_SIZE) {
		k->ram[cmd - CMD_WRITE_RAM] = v;
		return false;
	}
	switch (cmd) {
	case CMD_WRITE_OUTPORT:
		k->outport = v;
		return !(v & OUTPORT_RESET);
	case CMD_WRITE_KBD_OBUF:
		output(k, v, false);
		break;
	case CMD_WRITE_AUX_OBUF:
		/* Linux's AUX and MUX probes read the byte back with the
		 * AUXDATA status bit and, for the IRQ test, on IRQ 12. */
		output(k, v, true);
		break;
	default:
		/* CMD_WRITE_AUX, or no command: a byte for the mouse or the
		 * keyboard, and neither is connected. */
		break;
	}
	return false;
}

void i8042_data_io(void *opaque, uint64_t offset, void *data, uint32_t len, bool is_write)
{
	struct i8042 *k = opaque;
	uint8_t *b = data;
	bool reset = false;

	if (!k || !data || len == 0)
		return;
	if (!is_write)
		memset(data, 0xff, len);
	if (offset != 0)
		return;
	pthread_mutex_lock(&k->lock);
	if (is_write) {
		reset = data_write(k, b[0]);
	} else {
		/* Reading an empty buffer returns the last byte again. */
		b[0] = k->obuf;
		k->obuf_full = false;
	}
	update_irq(k);
	pthread_mutex_unlock(&k->lock);
	if (reset && k->ops.reset)
		k->ops.reset(k->ops.opaque);
}

void i8042_cmd_io(void *opaque, uint64_t offset, void *data, uint32_t len, bool is_write)
{
	struct i8042 *k = opaque;
	uint8_t *b = data;
	bool reset = false;

	if (!k || !data || len == 0)
		return;
	if (!is_write)
		memset(data, 0xff, len);
	if (offset != 0)
		return;
	pthread_mutex_lock(&k->lock);
	if (is_write) {
		reset = command(k, b[0]);
	} else {
		/* The input buffer is consumed at once, so IBF is never set:
		 * kb_wait() in Linux's reboot path returns immediately. */
		b[0] = (uint8_t)((k->obuf_full ? STS_OBF : 0) | (k->ram[0] & CTR_SYS) |
				 STS_UNLOCKED | (k->obuf_full && k->obuf_aux ? STS_AUXDATA : 0));
	}
	update_irq(k);
	pthread_mutex_unlock(&k->lock);
	if (reset && k->ops.reset)
		k->ops.reset(k->ops.opaque);
}

int i8042_create(struct i8042 **out, const struct i8042_ops *ops)
{
	struct i8042 *k;
	int ret;

	if (!out)
		return -EINVAL;
	k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	ret = pthread_mutex_init(&k->lock, NULL);
	if (ret) {
		free(k);
		return -ret;
	}
	if (ops)
		k->ops = *ops;
	/* As a BIOS leaves it after POST: translation on, system flag set,
	 * keyboard interrupt enabled, both ports enabled. */
	k->ram[0] = CTR_XLATE | CTR_SYS | CTR_KBDINT;
	k->outport = OUTPORT_RESET | OUTPORT_A20;
	*out = k;
	return 0;
}

void i8042_destroy(struct i8042 *kbc)
{
	if (!kbc)
		return;
	pthread_mutex_destroy(&kbc->lock);
	free(kbc);
}
