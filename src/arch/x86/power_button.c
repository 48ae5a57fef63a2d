/* The x86 power button (power_button.h says what it is). In ASL:
 *
 *   Device (PWRB) { Name (_HID, EisaId ("PNP0C0C")) Name (_UID, Zero) }
 *   Device (GED0) {
 *       Name (_HID, "ACPI0013")
 *       Name (_UID, Zero)
 *       Name (_CRS, ResourceTemplate () {
 *           Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive) { 13 }
 *       })
 *       Method (_EVT, 1) { Notify (\_SB.PWRB, 0x80) }
 *   }
 *
 * Linux's built-in GED driver (drivers/acpi/evged.c) requests the
 * interrupt and runs _EVT on each edge; the button driver (button.ko)
 * turns the notification into a KEY_POWER input event, which the guest's
 * userspace handles (acpid, systemd-logind, or our test init's listener).
 * The GED needs no registers: an edge on its interrupt is the whole
 * protocol, so pressing the button is one pulse on the I/O APIC pin. */
#include <errno.h>
#include <stdint.h>

#include "arch/x86/aml.h"
#include "arch/x86/power_button.h"
#include "avp/arch.h"
#include "avp/vm.h"

/* AML opcodes the generic writer does not offer (ACPI 6.5, section 20.3). */
#define AML_METHOD_OP 0x14
#define AML_NOTIFY_OP 0x86
/* MethodFlags (section 20.2.5.2): bits 0-2 ArgCount, bit 3 SerializeFlag. */
#define EVT_METHOD_FLAGS 0x01 /* one argument (the GSI), not serialized */

/* Method (_EVT, 1) { Notify (\_SB.PWRB, 0x80) }: the body is written
 * first so that its PkgLength is known. */
static int evt_method(struct aml *a)
{
	uint8_t body[32];
	uint8_t flags = EVT_METHOD_FLAGS;
	uint8_t notify = AML_NOTIFY_OP;
	uint8_t op = AML_METHOD_OP;
	uint8_t pkglen[4];
	struct aml m;
	size_t len = 0;
	int n;

	aml_init(&m, body, sizeof(body));
	aml_name_string(&m, "_EVT");
	aml_bytes(&m, &flags, 1);
	aml_bytes(&m, &notify, 1);
	aml_name_string(&m, "\\_SB.PWRB");
	aml_integer(&m, X86_PWRB_NOTIFY_PRESSED);
	n = aml_finish(&m, &len);
	if (!n)
		n = aml_encode_pkglength(len, pkglen);
	if (n < 0) {
		/* Cannot happen with this fixed body; keep the error sticky
		 * like the writer's own, so the DSDT build fails. */
		if (!a->err)
			a->err = n;
		return a->err;
	}
	aml_bytes(a, &op, 1);
	aml_bytes(a, pkglen, (size_t)n);
	return aml_bytes(a, body, len);
}

int x86_power_button_dsdt(struct aml *a)
{
	aml_device_begin(a, "PWRB");
	aml_name(a, "_HID");
	aml_eisaid(a, "PNP0C0C");
	aml_name(a, "_UID");
	aml_integer(a, 0);
	aml_end(a);

	aml_device_begin(a, "GED0");
	aml_name(a, "_HID");
	aml_string(a, "ACPI0013");
	aml_name(a, "_UID");
	aml_integer(a, 0);
	aml_name(a, "_CRS");
	aml_restemplate_begin(a);
	/* Edge: the GED driver needs no end-of-interrupt handshake then. */
	aml_res_ext_irq(a, AML_IRQ_CONSUMER | AML_IRQ_EDGE, X86_GED_GSI);
	aml_end(a);
	evt_method(a);
	return aml_end(a);
}

int arch_power_button(struct vm *vm)
{
	if (!vm || vm->vm_fd < 0)
		return -ENODEV;
	/* KVM's default routing sends GSIs 0-15 to the I/O APIC pin of the
	 * same number: raise and lower it, one edge. */
	return vm_irq_pulse(vm, X86_GED_GSI);
}
