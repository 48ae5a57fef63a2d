/* Host ends of character devices (16550 UART, virtio-console): standard
 * I/O, a file, or nothing. Owns the terminal's raw mode and restores it. */
#ifndef AVP_CHARDEV_H
#define AVP_CHARDEV_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "avp/config.h"

struct chardev;

/* want_input: the device reads host input from chardev_input_fd(); for
 * stdio on a terminal this switches it to raw mode (restored by
 * chardev_close, and on exit or fatal signal). -errno on failure. */
int chardev_open(struct chardev **out, const struct avp_chardev_cfg *cfg, bool want_input);
/* Writes all of buf (retrying short writes); output to a closed reader is
 * dropped, never fatal. */
ssize_t chardev_write(struct chardev *chr, const void *buf, size_t len);
/* Non-blocking fd to read host input from, or -1 when there is none. */
int chardev_input_fd(const struct chardev *chr);
void chardev_close(struct chardev *chr);

#endif
