/* arm64 parts of the platform description: the same JSON shape as x86's
 * (docs/describe.schema.json), with each PrimeCell's device-tree
 * compatible and MMIO address where x86 gives ACPI ids and I/O ports. */
#include <json-c/json.h>
#include <stdio.h>

#include "arch/arm64/arm64.h"
#include "avp/arch.h"
#include "avp/config.h"
#include "avp/hw/watchdog.h"

const char *arch_name(void)
{
	return "arm64";
}

const char *arch_firmware_name(void)
{
	return "flattened device tree (no firmware; PSCI 0.2+ through KVM)";
}

/* spi < 0: no interrupt of its own. Absent values are JSON null. */
static void add_legacy(json_object *arr, const char *type, const char *compatible, uint64_t base,
		       int spi)
{
	json_object *o = json_object_new_object();
	char buf[24];

	snprintf(buf, sizeof(buf), "0x%llx", (unsigned long long)base);
	json_object_object_add(o, "type", json_object_new_string(type));
	json_object_object_add(o, "acpi_hid", NULL);
	json_object_object_add(o, "io_port", NULL);
	json_object_object_add(o, "io_ports", NULL);
	json_object_object_add(o, "interrupt", spi >= 0 ? json_object_new_int(spi) : NULL);
	json_object_object_add(o, "compatible", json_object_new_string(compatible));
	json_object_object_add(o, "address", base ? json_object_new_string(buf) : NULL);
	json_object_array_add(arr, o);
}

struct json_object *arch_describe_legacy(const struct avp_config *cfg)
{
	json_object *arr = json_object_new_array();

	add_legacy(arr, "gic-v3", "arm,gic-v3", ARM64_GICD_BASE, -1);
	add_legacy(arr, "armv8-timer", "arm,armv8-timer", 0, -1);
	add_legacy(arr, "uart-pl011", "arm,pl011", ARM64_PL011_BASE, (int)ARM64_PL011_SPI);
	add_legacy(arr, "rtc-pl031", "arm,pl031", ARM64_PL031_BASE, (int)ARM64_PL031_SPI);
	/* Every VM has the power button (the control socket's shutdown
	 * presses it): gpio-keys on a PL061 line. */
	add_legacy(arr, "gpio-pl061", "arm,pl061", ARM64_PL061_BASE, (int)ARM64_PL061_SPI);
	add_legacy(arr, "power-button", "gpio-keys", 0, -1);
	if (cfg && avp_config_count(cfg, &watchdog_config))
		add_legacy(arr, "watchdog-sp805", "arm,sp805", ARM64_SP805_BASE,
			   (int)ARM64_SP805_SPI);
	return arr;
}
