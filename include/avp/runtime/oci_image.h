/* A container image as a VM (src/runtime/oci_image.c, docs/oci.md). */
#ifndef AVP_RUNTIME_OCI_IMAGE_H
#define AVP_RUNTIME_OCI_IMAGE_H
#include <stddef.h>
#include "avp/runtime/jsoncheck.h"

/* In avp's OCI directory (oci_default_dir): the default guest kernel and
 * avp's init with its modules (scripts/mkoci-init builds both). */
#define OCI_KERNEL_NAME "vmlinuz"
#define OCI_BASE_CPIO "base.cpio"
/* In ROOT/ID: the initramfs create packs, and the guest console's log. */
#define OCI_INITRD_FILE "initrd.cpio"
#define OCI_CONSOLE_LOG "console.log"
/* The kernel command line of a container image booted as a VM. */
#define OCI_IMAGE_CMDLINE "console=ttyS0 quiet panic=-1 rdinit=/.avp/init"

/* Guest memory besides twice the packed image: the kernel and the process. */
#define OCI_IMAGE_MEMORY_MIB 192

/* Writes out_path (created, never replaced): base_cpio, then the tree at
 * rootfs, the bundle's single-file bind mounts and /.avp/config from
 * process (args, env, cwd, user) and hostname. *bytes: its size. */
int oci_image_build(const char *bundle_dir, const char *rootfs, const char *base_cpio,
		    const char *out_path, unsigned long long *bytes, struct jc_err *e);
/* avp's OCI directory: build/oci-init beside a built avp, else
 * PREFIX/share/avp/oci beside an installed one. -ENOENT when neither
 * exists (buf then names the first). */
int oci_default_dir(char *buf, size_t len);
/* Unit tests point it at a directory of their own (NULL: the above). */
extern const char *oci_dir_override;

#endif
