/* The x86 guest's power button: an ACPI Generic Event Device (GED,
 * _HID ACPI0013, ACPI 6.4 section 5.6.9) with one interrupt whose _EVT
 * method notifies a control-method power button (PNP0C0C, section
 * 4.8.2.2.1.2). The platform is hardware-reduced, so there is no fixed
 * power button and no GPE block; the GED is the standard replacement.
 * Private to src/arch/x86. */
#ifndef AVP_ARCH_X86_POWER_BUTTON_H
#define AVP_ARCH_X86_POWER_BUTTON_H

struct aml;
struct vm;

/* I/O APIC input of the GED. Not used by MMIO devices (x86.c) nor by the
 * PC devices we model; IRQ 13 was the x87 error line on 32-bit PCs only. */
#define X86_GED_GSI 13

/* Notify value a power button device sends when pressed (ACPI 6.4,
 * section 5.6.6, device-specific notification values). */
#define X86_PWRB_NOTIFY_PRESSED 0x80

/* Adds \_SB.PWRB and \_SB.GED0 to the DSDT; call inside \_SB. 0 or the
 * writer's sticky error. */
int x86_power_button_dsdt(struct aml *a);

#endif
