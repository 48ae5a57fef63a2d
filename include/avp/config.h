/* What the user asked for: one VM's platform, independent of how it was
 * described (the command line, src/cli/args.c, or a bundle's config.json,
 * src/runtime/bundle.c). Both are thin front ends over the adders below,
 * which own every limit and duplicate check (src/config/config.c), so a
 * rule holds whichever way a VM is described. */
#ifndef AVP_CONFIG_H
#define AVP_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#define AVP_MAX_CPUS 64
#define AVP_MAX_DISKS 8
#define AVP_MAX_NETS 4
#define AVP_MIN_MEMORY_MIB 32
#define AVP_MAX_MEMORY_MIB (1024 * 1024)
#define AVP_MAX_CMDLINE 4095 /* the boot protocol's cmdline_size on 2.06+ */

enum avp_chardev_kind { AVP_CHR_NONE, AVP_CHR_STDIO, AVP_CHR_FILE, AVP_CHR_PTY, AVP_CHR_SOCKET };

struct avp_chardev_cfg {
	enum avp_chardev_kind kind;
	char *path; /* AVP_CHR_FILE, AVP_CHR_SOCKET */
};

struct avp_disk_cfg {
	char *path;
	bool read_only;
};

struct avp_net_cfg {
	char *tap;
	uint8_t mac[6];
	bool mac_set; /* otherwise derived from the tap name, stable per name */
};

/* virtio-gpu 2D with one display (--gpu). The display limits are the
 * device's (docs/devices.md); they sit here because the adder checks them. */
struct avp_gpu_cfg {
	bool enabled;
	uint32_t width; /* display size in pixels; 0: the default */
	uint32_t height;
};
#define VIRTIO_GPU_DEFAULT_WIDTH 1280u
#define VIRTIO_GPU_DEFAULT_HEIGHT 720u
/* Linux's virtio-gpu refuses modes below 32x32. */
#define VIRTIO_GPU_MIN_DISPLAY_DIM 32u
/* An EDID detailed timing holds 12-bit sizes. */
#define VIRTIO_GPU_MAX_DISPLAY_DIM 4095u
/* 3840x2160 pixels in all keeps the EDID's 60 Hz pixel clock in its
 * 16-bit field (655.35 MHz) whatever the aspect ratio. */
#define VIRTIO_GPU_MAX_DISPLAY_PIXELS (3840u * 2160u)

/* virtio-vsock (--vsock cid=N,socket=PATH): the guest's CID and the
 * host-side Unix socket (Firecracker's convention, docs/devices.md).
 * peers (--vsock-peer CID:PATH, AVP-VSOCK-2) are the other VMs this
 * guest may reach by CID: the route table, set by `avp system up` for
 * the VMs its system file links; every other CID but the host's is
 * refused. */
#define AVP_VSOCK_MIN_CID 3	     /* 0-2 are reserved (VIRTIO 1.2, 5.10.4) */
#define AVP_VSOCK_MAX_CID 0xfffffffeu /* 0xffffffff is reserved too */
#define AVP_VSOCK_MAX_PEERS 16
struct avp_vsock_peer {
	uint32_t cid;
	char *socket; /* the peer VM's own --vsock socket */
};
struct avp_vsock_cfg {
	uint32_t cid; /* 0: no vsock device */
	char *socket;
	struct avp_vsock_peer peers[AVP_VSOCK_MAX_PEERS];
	unsigned int npeers;
};

/* virtio-input devices (--input keyboard | touch,width=W,height=H). */
#define AVP_MAX_INPUTS 2 /* one of each kind */
enum avp_input_kind { AVP_INPUT_KEYBOARD, AVP_INPUT_TOUCH };
struct avp_input_cfg {
	enum avp_input_kind kind;
	uint32_t width; /* touch: coordinate range 0..width-1; 0: the default */
	uint32_t height;
};
/* The touch screen's default size is the display's. ABS values are 32-bit
 * signed in evdev; 16 bits is plenty for a panel and keeps every
 * coordinate exact in the JSON API. */
#define AVP_TOUCH_DEFAULT_WIDTH VIRTIO_GPU_DEFAULT_WIDTH
#define AVP_TOUCH_DEFAULT_HEIGHT VIRTIO_GPU_DEFAULT_HEIGHT
#define AVP_TOUCH_MAX_SIDE 65535u

/* virtio-sound (--sound out=PATH,in=PATH): what the guest plays is written
 * to the out WAV, what it records is read from the in WAV (looped); either
 * may be NULL (output discarded, input silent). */
struct avp_sound_cfg {
	bool enabled;
	char *out_path;
	char *in_path;
};

enum avp_reboot_action { AVP_REBOOT_EXIT, AVP_REBOOT_RESTART };

/* What a system call outside a thread's seccomp allowlist does
 * (--seccomp, docs/security.md). KILL is 0 so a zeroed config is confined. */
enum avp_seccomp_mode { AVP_SECCOMP_KILL = 0, AVP_SECCOMP_LOG, AVP_SECCOMP_OFF };

/* --jail DIR --uid N --gid N (docs/security.md). The path is held in place
 * so that the config owns nothing more to free. */
#define AVP_MAX_JAIL_PATH 4096
struct avp_jail_cfg {
	bool enabled;
	char dir[AVP_MAX_JAIL_PATH];
	uint32_t uid;
	uint32_t gid;
	bool uid_set;
	bool gid_set;
};

/* The per-VM watchdog (--watchdog, AVP-WDT-1; docs/devices.md): on expiry
 * avp ends with status 6 (EXIT) or boots the VM again (RESET). */
enum avp_watchdog_action { AVP_WATCHDOG_EXIT, AVP_WATCHDOG_RESET };
struct avp_watchdog_cfg {
	bool enabled;
	enum avp_watchdog_action action;
	/* Not an option: set by the restart loop when the previous run
	 * ended on expiry, so the next boot's watchdog reports it. */
	bool fired_before;
};

/* Partitioning (AVP-PART-2): the scheduling class of the vCPU threads. */
enum avp_sched_class { AVP_SCHED_NORMAL, AVP_SCHED_FIFO };

/* The VIRTIO device kinds a config can hold. The device registry
 * (src/vmm/registry.c) has one entry for each. */
enum avp_device_kind {
	AVP_DEV_DISK,
	AVP_DEV_NET,
	AVP_DEV_CONSOLE,
	AVP_DEV_RNG,
	AVP_DEV_GPU,
	AVP_DEV_SOUND,
	AVP_DEV_VSOCK,
	AVP_DEV_INPUT,
	/* Not VIRTIO: the platform's watchdog (arch), in the registry for
	 * its option and bundle entry; it takes no place in devices[]. */
	AVP_DEV_WATCHDOG,
	AVP_DEV_NKINDS,
};

/* One declared device: its kind and its index in that kind's array
 * (disks[], nets[], inputs[]; 0 for the single-instance kinds). */
struct avp_device_ref {
	enum avp_device_kind kind;
	unsigned int index;
};

/* The most VIRTIO devices one VM can have (the MMIO windows and
 * interrupts the platform has for them, AVP_MAX_MMIO_DEVS). */
#define AVP_MAX_DEVICES 16

struct avp_config {
	char *kernel;
	char *initrd;
	char *cmdline;
	unsigned int cpus;
	uint64_t memory_mib;
	struct avp_disk_cfg disks[AVP_MAX_DISKS];
	unsigned int ndisks;
	struct avp_net_cfg nets[AVP_MAX_NETS];
	unsigned int nnets;
	bool rng;
	struct avp_gpu_cfg gpu;
	struct avp_chardev_cfg serial;	/* 16550 at 0x3f8, default stdio */
	struct avp_chardev_cfg console; /* virtio-console hvc0, default none */
	enum avp_reboot_action on_reboot;
	struct avp_watchdog_cfg watchdog;
	char *api_sock; /* control socket (--api-sock), or NULL */
	struct avp_vsock_cfg vsock;
	struct avp_input_cfg inputs[AVP_MAX_INPUTS];
	unsigned int ninputs;
	/* Every VIRTIO device above, in the order it was declared (command
	 * line order, or the bundle's devices array followed by the command
	 * line's): the order of their MMIO windows and interrupts
	 * (docs/devices.md). Kept by the adders; the one list machine
	 * assembly walks. */
	struct avp_device_ref devices[AVP_MAX_DEVICES];
	unsigned int ndevices;
	/* Partitioning (AVP-PART-2/3), set by bundles: vCPU i runs only on host
	 * CPU cpu_affinity[i] when affinity_set; sched_priority is 1-99 for FIFO;
	 * mem_reserve locks and pre-faults guest RAM before the first vCPU runs. */
	bool affinity_set;
	int cpu_affinity[AVP_MAX_CPUS];
	enum avp_sched_class sched_class;
	int sched_priority;
	bool mem_reserve;
	struct avp_sound_cfg sound;
	enum avp_seccomp_mode seccomp;
	struct avp_jail_cfg jail;
	bool describe; /* print the platform as JSON, do not boot */
	bool timing;   /* report start-up milestones on stderr */
	unsigned int verbose;
};

void avp_config_init(struct avp_config *cfg);
void avp_config_free(struct avp_config *cfg);

/* Why an adder refused: the message (no prefix: the front end adds the
 * option name or the JSON path) and, when one key of the device is at
 * fault, its name ("path", "tap", ...) so a bundle can point at it. */
struct avp_config_err {
	const char *key;
	char text[256];
};

/* Formats e->text, sets e->key; returns -EINVAL. */
int avp_config_fail(struct avp_config_err *e, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Typed adders: append one device to cfg (and to its declaration order),
 * after the limits and duplicate checks every front end shares. They take
 * over the strings in the device's config whether they succeed or not.
 * 0, -EINVAL (e says why) or -ENOMEM. */
int avp_config_add_disk(struct avp_config *cfg, struct avp_disk_cfg *disk,
			struct avp_config_err *e);
int avp_config_add_net(struct avp_config *cfg, struct avp_net_cfg *net, struct avp_config_err *e);
/* A console of kind AVP_CHR_NONE removes the console instead. */
int avp_config_add_console(struct avp_config *cfg, struct avp_chardev_cfg *chr,
			   struct avp_config_err *e);
int avp_config_add_rng(struct avp_config *cfg, struct avp_config_err *e);
int avp_config_add_gpu(struct avp_config *cfg, const struct avp_gpu_cfg *gpu,
		       struct avp_config_err *e);
/* Fills in a display size left out (the default) and checks the limits.
 * Also for the option parser, so that both refuse the same sizes. */
int avp_config_gpu_size(struct avp_gpu_cfg *gpu, struct avp_config_err *e);
int avp_config_add_sound(struct avp_config *cfg, struct avp_sound_cfg *snd,
			 struct avp_config_err *e);
/* vsock->peers are ignored: peers come one at a time. */
int avp_config_add_vsock(struct avp_config *cfg, struct avp_vsock_cfg *vsock,
			 struct avp_config_err *e);
int avp_config_add_vsock_peer(struct avp_config *cfg, struct avp_vsock_peer *peer,
			      struct avp_config_err *e);
int avp_config_add_input(struct avp_config *cfg, const struct avp_input_cfg *input,
			 struct avp_config_err *e);
int avp_config_add_watchdog(struct avp_config *cfg, const struct avp_watchdog_cfg *wdt,
			    struct avp_config_err *e);

/* "stdio", "none", "file:PATH", "pty" or "socket=PATH", for the serial
 * port and the console; a relative PATH is joined onto base_dir when that is not NULL (bundles).
 * chr's old path is freed. 0, -EINVAL or -ENOMEM. */
int avp_parse_chardev(const char *text, const char *base_dir, struct avp_chardev_cfg *chr);

/* Whether cfg has a device of kind. */
bool avp_config_has(const struct avp_config *cfg, enum avp_device_kind kind);

/* Checks between options that no single adder sees (serial and console
 * on one file, vsock peers without a vsock, the jail's ids). e->key names
 * the option at fault: "serial", "vsock-peer", "jail", "uid". */
int avp_config_check(const struct avp_config *cfg, struct avp_config_err *e);

#endif
