/* The PS/2 keyboard controller (i8042), as much as a guest needs without a
 * keyboard or mouse attached: the controller commands Linux's i8042 probe
 * sends, the AUX loopback, and the reset line that `reboot=k` pulses. */
#ifndef AVP_HW_I8042_H
#define AVP_HW_I8042_H

#include <stdbool.h>
#include <stdint.h>

struct i8042;

enum i8042_port { I8042_PORT_KBD = 0, I8042_PORT_AUX = 1 };

struct i8042_ops {
	/* Output-buffer-full interrupt of the keyboard (ISA IRQ 1) or AUX
	 * (IRQ 12) port; level follows the buffer, as on the chip. Called
	 * with the device lock held (optional). */
	void (*set_irq)(void *opaque, enum i8042_port port, int level);
	/* The guest pulsed the CPU reset line (command 0xFE and friends).
	 * Called without the lock. */
	void (*reset)(void *opaque);
	void *opaque;
};

int i8042_create(struct i8042 **out, const struct i8042_ops *ops);
void i8042_destroy(struct i8042 *kbc);

/* io_handler_fn for the data port (0x60) and the status/command port
 * (0x64), each registered as a 1-port range; opaque is the device. */
void i8042_data_io(void *opaque, uint64_t offset, void *data, uint32_t len, bool is_write);
void i8042_cmd_io(void *opaque, uint64_t offset, void *data, uint32_t len, bool is_write);

#endif
