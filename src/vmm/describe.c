/* The platform description (AVP-BOOT-4): what the guest will find, in a
 * form integrators can diff between hosts. */
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>

#include "avp_version.h"
#include "avp/arch.h"
#include "avp/devices/virtio_can.h"
#include "avp/devices/virtio_net.h"
#include "avp/virtio/feature_names.h"
#include "avp/vmm/machine.h"
#include "avp/vmm/registry.h"

#define DESCRIBE_FORMAT 1

static json_object *hex(uint64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "0x%" PRIx64, v);
	return json_object_new_string(buf);
}

static json_object *feature_bits(uint64_t features)
{
	json_object *bits = json_object_new_array();

	for (unsigned int b = 0; b < 64; b++)
		if (features & (1ull << b))
			json_object_array_add(bits, json_object_new_int((int)b));
	return bits;
}

/* The same bits, each with the specification's name. */
static json_object *feature_names(uint32_t virtio_id, uint64_t features)
{
	json_object *names = json_object_new_array();

	for (unsigned int b = 0; b < 64; b++) {
		json_object *o;
		const char *name;
		char unnamed[40];

		if (!(features & (1ull << b)))
			continue;
		name = virtio_feature_name(virtio_id, b);
		if (!name) {
			snprintf(unnamed, sizeof(unnamed), "VIRTIO_F_UNNAMED_%u", b);
			name = unnamed;
		}
		o = json_object_new_object();
		json_object_object_add(o, "bit", json_object_new_int((int)b));
		json_object_object_add(o, "name", json_object_new_string(name));
		json_object_array_add(names, o);
	}
	return names;
}

static json_object *describe_devices(const struct vm *vm)
{
	json_object *devs = json_object_new_array();

	for (unsigned int i = 0; i < vm->nmmio_devs; i++) {
		const struct platform_mmio_dev *d = &vm->mmio_devs[i];
		json_object *o = json_object_new_object();

		const struct avp_device_type *t = avp_device_type_by_virtio_id(d->virtio_id);

		json_object_object_add(o, "type", json_object_new_string(d->type));
		/* The option or bundle type that declared it (docs/devices.md). */
		if (t)
			json_object_object_add(o, "declared_as", json_object_new_string(t->config->name));
		json_object_object_add(o, "transport",
				       json_object_new_string(d->pci ? "virtio-pci" : "virtio-mmio"));
		json_object_object_add(o, "virtio_id", json_object_new_int((int)d->virtio_id));
		json_object_object_add(o, "address", hex(d->base));
		json_object_object_add(o, "size", hex(d->size));
		json_object_object_add(o, "interrupt", json_object_new_int((int)d->gsi));
		json_object_object_add(o, "features", hex(d->features));
		json_object_object_add(o, "feature_bits", feature_bits(d->features));
		json_object_object_add(o, "feature_names", feature_names(d->virtio_id, d->features));
		if (d->dev)
			json_object_object_add(o, "virtqueues",
					       json_object_new_int((int)d->dev->ops->num_queues));
		if (d->dev && d->virtio_id == VIRTIO_ID_NET)
			json_object_object_add(o, "queue_pairs",
					       json_object_new_int((int)virtio_net_max_pairs(d->dev)));
		if (d->pci) {
			char bdf[16];

			/* Segment 0, bus 0, function 0: what lspci and sysfs print. */
			snprintf(bdf, sizeof(bdf), "0000:00:%02x.0", d->pci_slot);
			json_object_object_add(o, "pci_bdf", json_object_new_string(bdf));
			json_object_object_add(o, "msix_vectors",
					       json_object_new_int((int)d->msix_vectors));
		}
		json_object_array_add(devs, o);
	}
	return devs;
}

static json_object *describe_memory(const struct vm *vm)
{
	struct arch_mem_range ranges[AVP_MAX_MEM_REGIONS];
	json_object *map = json_object_new_array();
	int n = arch_ram_layout(vm->cfg->memory_mib << 20, ranges, AVP_MAX_MEM_REGIONS);

	for (int i = 0; i < n; i++) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "type", json_object_new_string("ram"));
		json_object_object_add(o, "address", hex(ranges[i].gpa));
		json_object_object_add(o, "size", hex(ranges[i].size));
		json_object_array_add(map, o);
	}
	return map;
}

/* The CAN devices' host ends and rules (docs/can.md); NULL without any. */
static json_object *describe_can(const struct avp_config *cfg)
{
	static const char *const fd_names[] = { "auto", "on", "off" };
	const struct avp_can_cfg *dev;
	json_object *arr = NULL;

	for (unsigned int i = 0; (dev = avp_config_device(cfg, &virtio_can_config, i)); i++) {
		json_object *o = json_object_new_object();
		char rules[AVP_CAN_MAX_RANGES * 32];
		struct avp_can_cfg run;

		/* The machine was built, so the bus resolves. */
		if (virtio_can_resolve(cfg, dev, &run))
			run = *dev;
		if (!arr)
			arr = json_object_new_array();
		json_object_object_add(o, "interface", json_object_new_string(run.ifname ? run.ifname : ""));
		json_object_object_add(o, "bus", dev->bus ? json_object_new_string(dev->bus) : NULL);
		json_object_object_add(o, "fd", json_object_new_string(
					  fd_names[(unsigned int)run.fd_mode % 3]));
		avp_can_rules_format(&run.tx, rules, sizeof(rules));
		json_object_object_add(o, "tx", json_object_new_string(rules));
		avp_can_rules_format(&run.rx, rules, sizeof(rules));
		json_object_object_add(o, "rx", json_object_new_string(rules));
		json_object_array_add(arr, o);
	}
	return arr;
}

int machine_describe(const struct vm *vm, FILE *out)
{
	const struct avp_config *cfg = vm->cfg;
	json_object *root = json_object_new_object();
	const char *text;
	int ret = 0;

	if (!root)
		return -ENOMEM;
	/* docs/describe.schema.json: bump it when a key changes meaning. */
	json_object_object_add(root, "format", json_object_new_int(DESCRIBE_FORMAT));
	json_object_object_add(root, "avp_version", json_object_new_string(AVP_VERSION_NUMBER));
	json_object_object_add(root, "avp_commit",
			       AVP_COMMIT[0] ? json_object_new_string(AVP_COMMIT) : NULL);
	json_object_object_add(root, "arch", json_object_new_string(arch_name()));
	json_object_object_add(root, "cpus", json_object_new_int((int)cfg->cpus));
	json_object_object_add(root, "memory_mib", json_object_new_int64((int64_t)cfg->memory_mib));
	json_object_object_add(root, "memory_map", describe_memory(vm));
	json_object_object_add(root, "firmware", json_object_new_string(arch_firmware_name()));
	json_object_object_add(root, "legacy_devices", arch_describe_legacy(cfg));
	json_object_object_add(root, "virtio_devices", describe_devices(vm));
	if (avp_config_count(cfg, &virtio_can_config))
		json_object_object_add(root, "can", describe_can(cfg));
	text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
	if (fprintf(out, "%s\n", text) < 0)
		ret = -EIO;
	json_object_put(root);
	return ret;
}
