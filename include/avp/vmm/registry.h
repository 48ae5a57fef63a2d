/* The device registry: one entry per device kind, the one table that
 * machine assembly, the usage text, the command line, the bundle parser
 * and --describe read (src/vmm/registry.c). Adding a device is its own
 * file in src/devices/ (model, option keys, constructor, header) plus one
 * entry here; the README's Design section lists the remaining steps. */
#ifndef AVP_VMM_REGISTRY_H
#define AVP_VMM_REGISTRY_H

#include <stddef.h>

#include "avp/config.h"

struct vm;
struct virtio_dev;

struct avp_device_type {
	enum avp_device_kind kind;
	/* The bundle's "type" and the command-line option (--NAME). */
	const char *name;
	/* Its VIRTIO device ID, for --describe; 0: not a VIRTIO device. */
	unsigned int virtio_id;
	/* The option's value as the usage text shows it, and its help
	 * (lines after the first start with spaces); NULL value: no value. */
	const char *option_syntax;
	const char *option_help;
	/* A value may be left out (--watchdog). */
	bool option_optional;
	/* The keys a bundle's device object may have, "type" included. */
	const char *const *bundle_keys;
	/* The option's text into cfg through the config adders: 0, or
	 * -EINVAL with e->text (the adder's reason) or with e->text empty
	 * (the text is not option_syntax). */
	int (*add_option)(struct avp_config *cfg, const char *text, struct avp_config_err *e);
	/* Builds the index-th device of this kind in cfg; NULL for devices
	 * the platform builds (the watchdog). With cfg->describe it builds
	 * only the model the guest would see: no host file, socket, tap or
	 * lock is opened, created or changed (--describe has no side
	 * effects). */
	int (*create)(struct virtio_dev **out, const struct avp_config *cfg, unsigned int index);
	/* Control-socket commands of the attached device, or NULL. */
	int (*register_api)(struct vm *vm, struct virtio_dev *dev);
};

/* All entries, in the order of the usage text; *n gets the count. */
const struct avp_device_type *avp_device_types(size_t *n);
const struct avp_device_type *avp_device_type(enum avp_device_kind kind);
const struct avp_device_type *avp_device_type_by_name(const char *name);
const struct avp_device_type *avp_device_type_by_virtio_id(unsigned int virtio_id);

#endif
