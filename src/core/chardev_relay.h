/* The host end of a chardev that users connect to and leave: a
 * pseudo-terminal or a listening Unix socket (src/core/chardev_relay.c).
 * The device sees two pipes that never change; a relay thread moves bytes
 * between them and whoever is connected now. Internal to src/core. */
#ifndef AVP_CORE_CHARDEV_RELAY_H
#define AVP_CORE_CHARDEV_RELAY_H

#include <stddef.h>
#include <stdint.h>

#include "avp/config.h"

struct chardev_relay;

/* Opens the pty or binds the socket of cfg (AVP_CHR_PTY, AVP_CHR_SOCKET),
 * starts the relay thread and returns the device's ends: *dev_out to write
 * guest output to, *dev_in to read host input from (both non-blocking; the
 * caller owns them). confine: the VM's config when the thread must confine
 * itself (AVP_THREAD_CHARDEV) before it touches a client, or NULL. */
int chardev_relay_open(struct chardev_relay **out, const struct avp_chardev_cfg *cfg,
		       const struct avp_config *confine, int *dev_out, int *dev_in);
/* The pty's slave path or the socket's path. */
const char *chardev_relay_path(const struct chardev_relay *r);
/* Guest output dropped because nobody was connected while the buffer was
 * full. */
uint64_t chardev_relay_dropped(const struct chardev_relay *r);
/* True while a client is connected. */
int chardev_relay_connected(const struct chardev_relay *r);
/* Passes on what the device's output pipe still holds (briefly), stops the
 * thread, closes everything and removes the socket it created. Call after
 * the device's own end of the output pipe was closed. */
void chardev_relay_close(struct chardev_relay *r);

#endif
