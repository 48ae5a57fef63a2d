/* The lifecycle operations of AVP-RT-2, as a library (the CLI in
 * src/cli/runtime_cmds.c and `avp system` both use them). Semantics follow
 * the OCI runtime spec where a VM allows it; docs/runtime.md lists the
 * differences. Every function returns 0 or -errno with the reason in e. */
#ifndef AVP_RUNTIME_LIFECYCLE_H
#define AVP_RUNTIME_LIFECYCLE_H

#include <stdbool.h>

#include "avp/runtime/jsoncheck.h"
#include "avp/runtime/state.h"

/* Validates the bundle, makes ROOT/ID (-EEXIST when the ID is taken) and
 * starts the VM's monitor; the VM is then "created". */
int rt_create(const char *root, const char *id, const char *bundle_dir, struct jc_err *e);
/* The same, with the VMs this one may reach by vsock (AVP-VSOCK-2), which
 * the state records and the monitor passes on as --vsock-peer. -EINVAL
 * when the bundle has no vsock device to route from. */
int rt_create_linked(const char *root, const char *id, const char *bundle_dir,
		     const struct rt_vsock_peer *peers, unsigned int npeers, struct jc_err *e);
/* The same, with console.log's cap in bytes (0: RT_CONSOLE_LOG_MAX; else
 * RT_CONSOLE_LOG_MIN_CAP to RT_CONSOLE_LOG_MAX_CAP), which the state
 * records for the monitor. */
int rt_create_capped(const char *root, const char *id, const char *bundle_dir,
		     const struct rt_vsock_peer *peers, unsigned int npeers,
		     unsigned long long console_max, struct jc_err *e);
/* The same, loading the bundle with bundle_flags (BUNDLE_CONFINE, for
 * avp create --confine); the state records them, so that every boot of
 * the VM reads its bundle the same way. */
int rt_create_ex(const char *root, const char *id, const char *bundle_dir,
		 const struct rt_vsock_peer *peers, unsigned int npeers,
		 unsigned long long console_max, unsigned int bundle_flags, struct jc_err *e);

/* What `avp system up` creates a VM with: its vsock routes and the CAN
 * buses it is on (docs/can.md; at most AVP_MAX_CANS), which the state
 * records before the monitor starts and the monitor passes on as
 * --can-bus. */
int rt_create_system(const char *root, const char *id, const char *bundle_dir,
		     const struct rt_vsock_peer *peers, unsigned int npeers,
		     const struct rt_can_bus *can, unsigned int ncan, struct jc_err *e);

/* The default of how long `avp start` waits for the vCPUs. */
#define RT_START_WAIT_DEFAULT_S 10

/* created -> running: the monitor starts the VMM process. With wait_s > 0,
 * returns once the VM's vCPUs run; if instead the VM stops (a bad
 * bundle, a host error the policy does not retry), or wait_s seconds pass
 * (the policy may still be retrying), fails with the reason in e. With
 * wait_s 0, returns as soon as the process is started. */
int rt_start(const char *root, const char *id, unsigned int wait_s, struct jc_err *e);

/* The state, corrected by what /proc says (a VM whose processes died
 * behind the monitor's back shows as stopped). */
int rt_state_get(const char *root, const char *id, struct rt_state *st, struct jc_err *e);

/* sig "TERM" (graceful, forced off after the bundle's shutdown_timeout_s)
 * or "KILL". With wait_s > 0, waits up to that long for "stopped". */
int rt_kill(const char *root, const char *id, const char *sig, unsigned int wait_s,
	    struct jc_err *e);

/* The path of a running VM's socket name under root: "api.sock" (its
 * control socket, avp api ID) or "console.sock" (avp attach). -ESRCH with
 * "VM 'ID' is not running (...)" in e when there is nothing to connect to. */
int rt_vm_socket(const char *root, const char *id, const char *name, char *path, size_t len,
		 struct jc_err *e);

/* Removes a stopped VM's state; force kills a live one first. */
int rt_delete(const char *root, const char *id, bool force, struct jc_err *e);

/* Polls the state until status is one of the wanted ones (bit per
 * enum rt_status) or timeout_ms passes (-ETIMEDOUT). */
int rt_wait_status(const char *root, const char *id, unsigned int mask, int timeout_ms,
		   struct rt_state *st);

/* IDs of the VMs under root, sorted; *ids is malloc'd (free each and it).
 * None when root does not exist; -EPERM when it is not to be trusted. */
int rt_list_ids(const char *root, char ***ids, size_t *n, struct jc_err *e);
/* The same, with the directories that hold the file `also` (oci.json:
 * the OCI VMs, docs/oci.md) too. */
int rt_list_ids_with(const char *root, const char *also, char ***ids, size_t *n,
		     struct jc_err *e);

/* Removes ROOT/ID and the files in it, relative to descriptors opened
 * without following links. */
int rt_remove_state_dir(const char *root, const char *id);

#endif
