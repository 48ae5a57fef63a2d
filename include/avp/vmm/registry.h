/* The device registry: one entry per device type, the one table that
 * machine assembly, the usage text, the command line, the bundle parser,
 * the seccomp set-up and --describe read (src/vmm/registry.c). A device is
 * its own files in src/devices/ (model, options struct and key table in
 * its header and *_opts.c) plus one entry here; the README's Design
 * section lists the steps. */
#ifndef AVP_VMM_REGISTRY_H
#define AVP_VMM_REGISTRY_H

#include <stddef.h>

#include "avp/config/options.h"

struct vm;
struct virtio_dev;

struct avp_device_type {
	/* What the configuration layer knows: name, keys, limits, checks,
	 * usage text, seccomp needs (the device's *_opts.c). */
	const struct avp_config_type *config;
	/* Its VIRTIO device ID, for --describe; 0: not a VIRTIO device. */
	unsigned int virtio_id;
	/* Builds a device from its options (opts, the type's options struct)
	 * in cfg; NULL for devices the platform builds (the watchdog) or
	 * that only feed another (vsock peers). With cfg->describe it builds
	 * only the model the guest would see: no host file, socket, tap or
	 * lock is opened, created or changed (--describe has no side
	 * effects). */
	int (*create)(struct virtio_dev **out, const struct avp_config *cfg, const void *opts);
	/* Control-socket commands of the attached device, or NULL. */
	int (*register_api)(struct vm *vm, struct virtio_dev *dev);
};

/* The i-th entry, in the order of the usage text; NULL past the end. */
const struct avp_device_type *avp_device_type_at(size_t i);
const struct avp_device_type *avp_device_type_by_name(const char *name);
const struct avp_device_type *avp_device_type_of(const struct avp_config_type *config);
const struct avp_device_type *avp_device_type_by_virtio_id(unsigned int virtio_id);

/* The test seam: appends an entry (a device type a test defines) after
 * the built-in ones, for the rest of the process. 0 or -ENOSPC. */
int avp_device_type_register(const struct avp_device_type *t);

#endif
