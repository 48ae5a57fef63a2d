/* The firmware's reset vector.
 *
 * With a hardware-reduced FADT and no EFI, Linux reboots through "EFI"
 * then "BIOS": it drops to real mode and jumps to f000:fff0 (arch/x86/
 * kernel/reboot.c, reboot_init() and machine_real_restart()). Real firmware
 * resets the machine from there; our stub does the same by writing the
 * FADT reset register, so a guest reboot ends the VM instead of running
 * whatever bytes happen to sit at the top of low memory. */
#include <stdint.h>

#include "arch/x86/x86.h"
#include "avp/vm.h"

int x86_write_reset_vector(struct vm *vm)
{
	const uint8_t stub[16] = {
		0xfa,					/* cli */
		0xb0, X86_ACPI_RESET_VALUE,		/* mov al, RESET_VALUE */
		0xba, X86_ACPI_RESET_PORT & 0xff,	/* mov dx, RESET_PORT */
		X86_ACPI_RESET_PORT >> 8,
		0xee,					/* out dx, al */
		0xf4,					/* hlt */
		0xeb, 0xfd,				/* jmp back to hlt */
	};

	return gm_write(&vm->mem, X86_RESET_VECTOR_GPA, stub, sizeof(stub));
}
