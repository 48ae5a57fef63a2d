/* What avp's container init (guest/oci-init/init.c) and the container
 * process on the host (src/runtime/oci_process.c) agree on: the vsock
 * ports of the container's standard streams and of its exit status, and
 * the files of the initramfs (docs/oci.md, "A container image as a VM").
 * Built into the guest program too: plain C, no other avp header. */
#ifndef AVP_RUNTIME_OCI_GUEST_H
#define AVP_RUNTIME_OCI_GUEST_H

/* The guest's CID on its own vsock device, and the host's (VMADDR_CID_HOST). */
#define OCI_GUEST_CID 3
#define OCI_HOST_CID 2
/* Guest-initiated streams to these host ports (avp: ROOT/ID/vsock.sock_N). */
#define OCI_PORT_STDIN 1
#define OCI_PORT_STDOUT 2
#define OCI_PORT_STDERR 3
/* The init writes "exit N\n" here when the process has ended. */
#define OCI_PORT_STATUS 4
/* In the initramfs, beside the container's tree. */
#define OCI_GUEST_DIR "/.avp"
#define OCI_GUEST_INIT "/.avp/init"
#define OCI_GUEST_CONFIG "/.avp/config"
#define OCI_GUEST_MODULES "/.avp/modules"
/* /.avp/config: records of a tag byte and a NUL-terminated value, in this
 * order: 'A' per argument, 'E' per environment entry, 'C' the working
 * directory, 'U' uid, 'G' gid, 'H' hostname (all but A optional). */

#endif
