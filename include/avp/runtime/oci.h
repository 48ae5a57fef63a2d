/* The runc-compatible lifecycle (docs/oci.md): what container engines
 * (podman's conmon, containerd's shim) call as their OCI runtime.
 *
 * A VM whose bundle is an OCI bundle ("ociVersion" in config.json) has no
 * monitor and no restart policy (the engine owns both). `create` leaves
 * one process, the container process of the OCI runtime spec: its PID goes
 * in the pid file, it waits on ROOT/ID/start.fifo, and on `start` it runs
 * `avp run --bundle DIR` as its child and exits with the VM's outcome
 * mapped to a container exit status (oci_exit_status). Its state is
 * ROOT/ID/oci.json, written once by create; the status is read from the
 * process itself (alive? fifo still there?), as runc does. */
#ifndef AVP_RUNTIME_OCI_H
#define AVP_RUNTIME_OCI_H
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "avp/runtime/jsoncheck.h"
#include "avp/runtime/state.h"

struct json_object;

/* The runtime spec version avp's state and `features` speak. */
#define OCI_SPEC_VERSION "1.2.0"
#define OCI_STATE_FILE "oci.json"
#define OCI_START_FIFO "start.fifo"
/* The container exit status of a VM that did not end by the guest's
 * choice: a guest crash or reboot, a watchdog, a VMM failure (the reason
 * goes to the log). Outside what a shell's process uses (0-125, 126-165
 * for exec failures and signals). */
#define OCI_EXIT_VM_FAILURE 255

/* runc's global --log FILE and --log-format text|json: where errors go
 * besides stderr (containerd reads the log when a command fails). */
struct oci_log {
	const char *path; /* NULL: stderr only; otherwise absolute */
	bool json;
};

/* Appends "avp CMD: MSG" to the log, if there is one (not to stderr). */
void oci_log_append(const struct oci_log *log, const char *cmd, const char *msg);

struct oci_create_opts {
	const char *root, *id, *bundle;
	const char *pid_file;       /* NULL: none */
	const char *console_socket; /* NULL: the container keeps create's stdio */
	unsigned int preserve_fds;  /* fds 3 .. 3+N-1 stay open in the container */
	const struct oci_log *log;
};

int oci_create(const struct oci_create_opts *o, struct jc_err *e);
int oci_start(const char *root, const char *id, struct jc_err *e);
/* The OCI state (runtime.md "State") of an OCI VM; *out is the caller's. */
int oci_state(const char *root, const char *id, struct json_object **out, struct jc_err *e);
/* Sends sig to the container process: TERM, INT, HUP, QUIT and PWR press
 * the guest's power button (a second one ends the VMM with SIGTERM); KILL
 * ends it at once; other signals are logged and ignored. */
int oci_kill(const char *root, const char *id, int sig, struct jc_err *e);
int oci_delete(const char *root, const char *id, bool force, struct jc_err *e);
/* runc's `ps`: the container process and its descendants (at most max;
 * none once stopped). */
int oci_pids(const char *root, const char *id, pid_t *pids, size_t max, size_t *n,
	     struct jc_err *e);
/* Is ROOT/ID an OCI VM (it has oci.json)? */
bool oci_is_oci_vm(const char *root, const char *id);
/* Does DIR/config.json carry "ociVersion"? 0 or -errno with e. */
int oci_bundle_is_oci(const char *dir, bool *is_oci, struct jc_err *e);

/* An avp-managed VM's state in the OCI shape, for runc-style callers:
 * restarting shows as running (the VM is up as far as its user is
 * concerned), pid is the VM process or, without one, its monitor; avp's
 * own state is kept whole under "org.avp". */
struct json_object *oci_state_from_rt(const struct rt_state *st);
/* "TERM", "SIGTERM", "term", "15" -> 15; -EINVAL otherwise. */
int oci_signal_number(const char *s);
/* avp run's wait status -> the container's exit status: poweroff 0, a stop
 * by SIGTERM 143, killed by signal N 128+N, anything else
 * OCI_EXIT_VM_FAILURE; why gets the reason in words. */
int oci_exit_status(int wstatus, char *why, size_t len);
/* runc's `features` (features.md): what this runtime supports. */
struct json_object *oci_features(void);

#endif
