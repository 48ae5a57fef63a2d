/* The monitor: one detached process per VM that owns the VM's life. It
 * outlives the CLI that created it (setsid + double fork), starts the VMM
 * process on `avp start`, applies the restart policy, carries out
 * `avp kill`, and records every change in ROOT/ID/state.json. The CLI
 * talks to it over ROOT/ID/ctl.sock (src/api/client.c).
 *
 * The VMM process is `avp run --bundle DIR --api-sock ROOT/ID/api.sock
 * --timing`, its output carried by a pipe into console.log (bounded, see
 * console_log.h),
 * executed from /proc/self/exe: the same binary, the same code path and
 * exit statuses as a VM run by hand, and a process of its own whose
 * threads (vcpuN) carry the pinning and scheduling of the bundle. */
#ifndef AVP_RUNTIME_MONITOR_H
#define AVP_RUNTIME_MONITOR_H

#include "avp/runtime/jsoncheck.h"

/* The longest an `avp start` may wait for the vCPUs. */
#define RT_START_WAIT_MAX_S 3600

/* The program the monitor executes as the VM process, with avp run's
 * arguments: /proc/self/exe, this avp. Unit tests point it at a stand-in
 * before creating a VM. */
extern const char *rt_vmm_program;

/* Forks the monitor for VM id, whose directory ROOT/ID holds the initial
 * state.json (status created). Returns 0 once the monitor serves ctl.sock,
 * or -errno with the reason in e. */
int rt_monitor_spawn(const char *root, const char *id, struct jc_err *e);

#endif
