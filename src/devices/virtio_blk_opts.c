/* --disk PATH[,ro|rw][,aio=io_uring|sync][,cache=writeback|none][,queues=N],
 * a bundle's {"type": "disk", "path", "read_only", "aio", "cache",
 * "queues"}: the disk's keys, rules and seccomp needs
 * (include/avp/config/options.h). */
#include <seccomp.h>
#include <stddef.h>

#include "avp/devices/virtio_blk.h"

/* Its lines in avp run --help. */
static const char disk_help[] = "virtio-blk on a raw image; repeat for more (up to 8);\n"
	",, is a comma in PATH; aio=io_uring (default; sync\n"
	"where unavailable) or sync; cache=none: O_DIRECT, no\n"
	"host page cache; queues=N (default: one per vCPU)";

static const char *const rw_words[] = { "rw", "ro", NULL };
/* In the order of enum disk_aio and enum disk_cache. */
static const char *const aio_words[] = { "io_uring", "sync", NULL };
static const char *const cache_words[] = { "writeback", "none", NULL };

static const struct avp_key disk_keys[] = {
	{ .name = "path", .type = AVP_KEY_PATH, .offset = offsetof(struct avp_disk_cfg, path),
	  .flags = AVP_KEY_POSITIONAL | AVP_KEY_REQUIRED | AVP_KEY_INPUT,
	  .twice = "\"%s\" is already used by another disk (given twice)" },
	{ .name = "read_only", .type = AVP_KEY_BOOL,
	  .offset = offsetof(struct avp_disk_cfg, read_only), .words = rw_words },
	{ .name = "aio", .type = AVP_KEY_ENUM, .offset = offsetof(struct avp_disk_cfg, aio),
	  .words = aio_words },
	{ .name = "cache", .type = AVP_KEY_ENUM, .offset = offsetof(struct avp_disk_cfg, cache),
	  .words = cache_words },
	{ .name = "queues", .type = AVP_KEY_UINT, .offset = offsetof(struct avp_disk_cfg, queues),
	  .min = 1, .max = VIRTIO_BLK_MAX_QUEUES },
	{ 0 },
};

/* io_uring (src/disk/uring.c): the device thread submits and reaps; a
 * reset (a vCPU's register write) and teardown (the main thread) wait for
 * what is in flight, and serve a FLUSH that was waiting for it
 * (fdatasync). io_uring_register is nobody's: the ring is set up,
 * restricted and enabled before any thread is confined, and takes no
 * register operation afterwards. What a ring may do is not seccomp's to
 * see (docs/security.md): its restrictions keep it to this image. */
static const int disk_device_calls[] = { SCMP_SYS(io_uring_enter) };
static const int disk_vcpu_calls[] = { SCMP_SYS(io_uring_enter), SCMP_SYS(fdatasync) };
/* Teardown also unlocks the image before the kernel drops the ring's
 * references to it (src/disk/raw.c, disk_close). */
static const int disk_main_calls[] = { SCMP_SYS(io_uring_enter), SCMP_SYS(fdatasync),
				       SCMP_SYS(flock) };

static const struct avp_seccomp_needs disk_seccomp = {
	AVP_ROLE_CALLS(AVP_THREAD_MAIN, disk_main_calls),
	AVP_ROLE_CALLS(AVP_THREAD_VCPU, disk_vcpu_calls),
	AVP_ROLE_CALLS(AVP_THREAD_DEVICE, disk_device_calls),
};

const struct avp_config_type virtio_blk_config = {
	.name = "disk", .syntax = "PATH[,ro][,aio=io_uring|sync][,cache=writeback|none][,queues=N]",
	.help = disk_help, .keys = disk_keys, .opts_size = sizeof(struct avp_disk_cfg),
	.virtio = true, .max = AVP_MAX_DISKS, .too_many = "at most 8 disks",
	.seccomp = &disk_seccomp,
};
_Static_assert(AVP_MAX_DISKS == 8, "the too_many and help texts say 8");
