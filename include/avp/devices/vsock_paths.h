/* Which vsock socket paths may not sit side by side (issue 13).
 *
 * Firecracker's convention, which avp keeps: a guest connecting to the
 * host's port N reaches whoever listens on "PATH_N", PATH being its VM's
 * vsock socket. So if another VM's own socket is PATH_N, the first guest's
 * connections to host port N reach the second VM's avp, which takes them
 * for a host program (or a linked VM): the two guests talk without being
 * linked. Two VMs with one socket path collide too. Every place that sees
 * more than one VM's socket refuses such pairs: a VM and its --vsock-peer
 * sockets (virtio_vsock_create), a system file's VMs, the VMs of one
 * runtime root. */
#ifndef AVP_DEVICES_VSOCK_PATHS_H
#define AVP_DEVICES_VSOCK_PATHS_H

#include <stdbool.h>
#include <stddef.h>

/* True when two VMs' vsock socket paths collide: the same path, or one
 * is the other with "_<port>" appended (a decimal port as avp writes it:
 * 0 to 4294967295, no leading zero). Compared as written, after dropping
 * repeated '/' and "." components: callers pass absolute paths (or
 * paths relative to one directory); links are not followed. */
bool vsock_socket_paths_conflict(const char *a, const char *b);

/* The same path, compared as vsock_socket_paths_conflict does. */
bool vsock_socket_paths_same(const char *a, const char *b);

/* path with its directory resolved (realpath), for comparing paths given
 * relative to different places or through links: "DIR/name" with DIR
 * absolute and free of links. When the directory cannot be resolved (it
 * does not exist yet), path as given. 0, or -ENAMETOOLONG. */
int vsock_socket_path_resolve(const char *path, char *out, size_t len);

#endif
