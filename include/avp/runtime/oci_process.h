/* The container process of an OCI VM (src/runtime/oci_process.c, oci.h). */
#ifndef AVP_RUNTIME_OCI_PROCESS_H
#define AVP_RUNTIME_OCI_PROCESS_H
#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>
#include "avp/runtime/oci.h"

struct oci_proc_args {
	const char *bundle;
	char api_path[108];	 /* ROOT/ID/api.sock, the VM's control socket */
	char fifo_path[PATH_MAX]; /* ROOT/ID/start.fifo */
	struct oci_log log;
	unsigned int preserve_fds;
	pid_t self; /* this process, once forked */
	/* A container image as a VM (docs/oci.md): the initramfs create
	 * packed, the vsock device's socket whose ports carry the streams,
	 * the guest console's log, the memory it needs; image false: none. */
	bool image;
	char initrd[PATH_MAX];
	char vsock[108];
	char console[PATH_MAX];
	unsigned long long memory_mib;
};

/* Runs in the child forked by oci_create, never returns. Writes one NUL
 * byte to ready_fd once it waits for start, or a message and exits. */
void oci_process_main(const struct oci_proc_args *a, int ready_fd) __attribute__((noreturn));

#endif
