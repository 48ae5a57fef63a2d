/* The jail (avp run --jail DIR --uid N --gid N, docs/security.md): once
 * every file, device and tap the VM uses is open, the VM process loses the
 * host's file system, network, PID space and root privileges.
 *
 * A new PID namespace only applies to children, and mount namespaces and
 * roots are shared only by threads created after the change, so the jail
 * works with the supervisor (src/vmm/supervisor.c): the VM runs in a child
 * process that is PID 1 of a new PID namespace and enters its own mount
 * namespace before it starts any thread; it changes root and drops
 * privileges only once everything is open. */
#ifndef AVP_JAIL_H
#define AVP_JAIL_H

#include "avp/config.h"

/* Before anything is opened: checks the settings and creates DIR (mode
 * 0700, its parent must exist) when it is missing, so that a bad path is
 * a configuration error rather than a half-started VM. 0 or -errno
 * (reported). */
int jail_check(const struct avp_config *cfg);

/* Around the fork of the VM process, in the parent: after
 * jail_pidns_begin() the next child is PID 1 of a new PID namespace;
 * jail_pidns_end() puts the parent back, so that a later fork (a VM
 * restart) gets a namespace of its own. */
int jail_pidns_begin(int *saved_fd);
void jail_pidns_end(int saved_fd);

/* First thing in the VM process, while it is single-threaded: a mount
 * namespace of its own (every thread started later shares it and its root)
 * whose mounts no longer propagate to the host, and no_new_privs. 0 or
 * -errno (reported). */
int jail_child_init(void);

/* After everything is open, before any guest code runs, on the main
 * thread: new network, IPC and UTS namespaces, DIR becomes the root of
 * every thread (read-only, nodev, nosuid, noexec), supplementary groups
 * dropped, then gid and uid (every thread, through glibc), no_new_privs,
 * not dumpable. 0 or -errno (reported). */
int jail_enter(const struct avp_config *cfg);

#endif
