/* Assembles a whole VM from a config (platform devices, VIRTIO devices,
 * guest image), runs it to its end, and tears it down. */
#ifndef AVP_MACHINE_H
#define AVP_MACHINE_H

#include <stdbool.h>
#include <stdio.h>

#include "avp/config.h"
#include "avp/vm.h"

/* Runs one boot of the VM. Returns 0 with *reason set when the guest ran
 * (whatever way it ended), or -errno when it could not be started (the
 * error was reported). With cfg->describe, prints the platform to out
 * instead of running. The caller has run preflight_check(cfg) first
 * (avp/vmm/preflight.h): a failure after it is the host's, not the
 * configuration's (src/cli/main.c maps the two to exit statuses 1 and 4). */
int machine_run(const struct avp_config *cfg, FILE *out, enum vm_exit_reason *reason);

/* Whether the VM boots again after a run that ended for reason (a reboot
 * under --on-reboot restart, an expiry under --watchdog action=reset), with
 * cfg made ready for that boot (the watchdog reports its expiry). */
bool machine_boot_again(struct avp_config *cfg, enum vm_exit_reason reason);

/* Builds the devices of cfg on vm, in cfg's declaration order (used by
 * machine_run and tests). */
int machine_add_devices(struct vm *vm, const struct avp_config *cfg);
/* Stops the vCPUs, then detaches and destroys every device attached to
 * vm; call it before vm_destroy (core does not know the transports). */
void machine_detach_devices(struct vm *vm);

/* The platform description (AVP-BOOT-4) as one JSON document. */
int machine_describe(const struct vm *vm, FILE *out);

#endif
