/* x86-64 parts of the platform description. */
#include <json-c/json.h>

#include "avp/arch.h"
#include "arch/x86/power_button.h"
#include "arch/x86/x86.h"
#include "avp/config.h"
#include "avp/hw/watchdog.h"

const char *arch_name(void)
{
	return "x86_64";
}

const char *arch_firmware_name(void)
{
	return "ACPI (RSDP, XSDT, FADT hardware-reduced, MADT, DSDT); MP table (up to 40 vCPUs)";
}

/* hid NULL: no device object of its own; port 0: no I/O ports; gsi < 0:
 * no interrupt. Absent values are JSON null (docs/describe.schema.json). */
static void add_legacy(json_object *arr, const char *type, const char *hid, unsigned int port,
		       unsigned int ports, int gsi)
{
	json_object *o = json_object_new_object();
	char buf[16];

	snprintf(buf, sizeof(buf), "0x%x", port);
	json_object_object_add(o, "type", json_object_new_string(type));
	json_object_object_add(o, "acpi_hid", hid ? json_object_new_string(hid) : NULL);
	json_object_object_add(o, "io_port", port ? json_object_new_string(buf) : NULL);
	json_object_object_add(o, "io_ports", port ? json_object_new_int((int)ports) : NULL);
	json_object_object_add(o, "interrupt", gsi >= 0 ? json_object_new_int(gsi) : NULL);
	json_object_array_add(arr, o);
}

struct json_object *arch_describe_legacy(const struct avp_config *cfg)
{
	json_object *arr = json_object_new_array();

	add_legacy(arr, "uart-16550a", "PNP0501", X86_COM1_PORT, 8, X86_COM1_GSI);
	add_legacy(arr, "rtc-mc146818", "PNP0B00", X86_RTC_PORT, 2, -1);
	add_legacy(arr, "i8042", "PNP0303", X86_I8042_DATA_PORT, 5, 1);
	/* The FADT's sleep and reset registers: no device object. */
	add_legacy(arr, "acpi-power", NULL, X86_ACPI_SLEEP_CTL_PORT, 3, -1);
	/* Every VM has the power button (the control socket's shutdown
	 * presses it): a GED raising GSI 13 notifies a PNP0C0C button. */
	add_legacy(arr, "acpi-ged", "ACPI0013", 0, 0, X86_GED_GSI);
	add_legacy(arr, "power-button", "PNP0C0C", 0, 0, -1);
	/* --watchdog: described by the WDAT table, not by a device object. */
	if (cfg && avp_config_count(cfg, &watchdog_config))
		add_legacy(arr, "watchdog-wdat", NULL, X86_WDT_PORT, WATCHDOG_NPORTS, -1);
	return arr;
}
