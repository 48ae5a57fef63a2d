/* virtio-console (src/devices/virtio_console.c): its constructor, and
 * internals shared with its tests: a constructor over plain fds, so the
 * device can be tested with pipes instead of a chardev. */
#ifndef AVP_DEVICES_VIRTIO_CONSOLE_H
#define AVP_DEVICES_VIRTIO_CONSOLE_H

#include "avp/config/options.h"
#include "avp/virtio/virtio_dev.h"
#include "avp/virtio/virtio_ids.h"

#define VIRTIO_CONSOLE_RXQ 0 /* receiveq(port0): host to guest */
#define VIRTIO_CONSOLE_TXQ 1 /* transmitq(port0): guest to host */

/* Chains taken from one queue per wakeup (see dev_wait.h). */
#define VIRTIO_CONSOLE_BUDGET 64

/* Device config layout (VIRTIO 1.2, 5.3.4), little-endian. Without
 * VIRTIO_CONSOLE_F_SIZE / MULTIPORT / EMERG_WRITE the driver ignores it. */
struct virtio_console_config {
	uint16_t cols;
	uint16_t rows;
	uint32_t max_nr_ports;
	uint32_t emerg_wr;
} __attribute__((packed));

/* --console stdio|file:PATH|pty|socket=PATH|none, a bundle's
 * {"type": "console", "backend"}: the options are the chardev itself
 * (src/devices/virtio_console_opts.c). */
extern const struct avp_config_type virtio_console_config;

/* The guest's hvc0 on a host chardev (stdio or a file); a clear error
 * naming the file on failure (-errno). ops->destroy frees the device. */
int virtio_console_create(struct virtio_dev **out, const struct avp_chardev_cfg *cfg);
/* The same for a VM: a pty or socket end is announced on stderr ("avp:
 * console on PATH"), listed in the control socket's status, and its relay
 * thread confined under vm_cfg's seccomp mode (vm_cfg may be NULL: not
 * confined). */
int virtio_console_create_vm(struct virtio_dev **out, const struct avp_chardev_cfg *cfg,
			     const struct avp_config *vm_cfg);

/* Like virtio_console_create() with guest output written to out_fd and
 * host input read from in_fd (-1: none), through a chardev over them
 * (chardev_open_fds). The device owns both fds from then on (closed by
 * ops->destroy, or here on failure) and makes them non-blocking. */
int virtio_console_create_fds(struct virtio_dev **out, int out_fd, int in_fd);

#endif
