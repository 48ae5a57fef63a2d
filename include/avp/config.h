/* What the user asked for: one VM's platform, independent of how it was
 * described (the command line, src/cli/args.c, or a bundle's config.json,
 * src/runtime/bundle.c). Both are thin front ends over one generic adder
 * (src/config/config.c) that owns the limits and calls each device type's
 * check, so a rule holds whichever way a VM is described. The config
 * knows no device: a device type is a key table and hooks of its own
 * (include/avp/config/options.h), defined in the device's file. */
#ifndef AVP_CONFIG_H
#define AVP_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#define AVP_MAX_CPUS 64
#define AVP_MIN_MEMORY_MIB 32
#define AVP_MAX_MEMORY_MIB (1024 * 1024)
#define AVP_MAX_CMDLINE 4095 /* the boot protocol's cmdline_size on 2.06+ */

enum avp_chardev_kind { AVP_CHR_NONE, AVP_CHR_STDIO, AVP_CHR_FILE, AVP_CHR_PTY, AVP_CHR_SOCKET };

struct avp_chardev_cfg {
	enum avp_chardev_kind kind;
	char *path; /* AVP_CHR_FILE, AVP_CHR_SOCKET */
};

enum avp_reboot_action { AVP_REBOOT_EXIT, AVP_REBOOT_RESTART };
/* How VIRTIO devices reach the guest (--transport). */
enum avp_transport { AVP_TRANSPORT_MMIO, AVP_TRANSPORT_PCI };
/* "mmio", "pci", NULL-terminated, by enum avp_transport. */
extern const char *const avp_transport_names[];

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

/* Partitioning (AVP-PART-2): the scheduling class of the vCPU threads. */
enum avp_sched_class { AVP_SCHED_NORMAL, AVP_SCHED_FIFO };

/* The most VIRTIO devices one VM can have (the MMIO windows and
 * interrupts the platform has for them, AVP_MAX_MMIO_DEVS). */
#define AVP_MAX_DEVICES 16
/* Every device entry, VIRTIO or not (the watchdog, vsock peers): each
 * type's own limit keeps well below. */
#define AVP_MAX_DEVICE_ENTRIES 64

struct avp_config_type;

/* One declared device: its type (include/avp/config/options.h) and its
 * options, a struct of the type's own (calloc'ed, owned by the config). */
struct avp_device_entry {
	const struct avp_config_type *type;
	void *opts;
};

struct avp_config {
	char *kernel;
	char *initrd;
	char *cmdline;
	unsigned int cpus;
	uint64_t memory_mib;
	struct avp_chardev_cfg serial;	/* 16550 at 0x3f8, default stdio */
	enum avp_reboot_action on_reboot;
	enum avp_transport transport; /* every VIRTIO device's, default mmio */
	char *api_sock; /* control socket (--api-sock), or NULL */
	/* Every device, in the order it was declared (command line order,
	 * or the bundle's devices array followed by the command line's): the
	 * order of their MMIO windows and interrupts (docs/devices.md). Kept
	 * by avp_config_add_device; the one list machine assembly walks. */
	struct avp_device_entry devices[AVP_MAX_DEVICE_ENTRIES];
	unsigned int ndevices;
	/* Partitioning (AVP-PART-2/3), set by bundles: vCPU i runs only on host
	 * CPU cpu_affinity[i] when affinity_set; sched_priority is 1-99 for FIFO;
	 * mem_reserve locks and pre-faults guest RAM before the first vCPU runs. */
	bool affinity_set;
	int cpu_affinity[AVP_MAX_CPUS];
	enum avp_sched_class sched_class;
	int sched_priority;
	bool mem_reserve;
	enum avp_seccomp_mode seccomp;
	struct avp_jail_cfg jail;
	bool describe; /* print the platform as JSON, do not boot */
	/* --dump-dtb: write the arm64 device tree here instead (describe is
	 * set too: the platform is built, nothing boots). */
	char *dump_dtb;
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

/* Appends a device of type t with its options opts (calloc'ed, of
 * t->opts_size; taken over whether it succeeds or not) to cfg, after the
 * type's count limit, its check hook (duplicates, rules between its keys,
 * defaults) and the cap on VIRTIO devices. given has bit k set when
 * t->keys[k] was given. 0, -EINVAL (e says why) or -ENOMEM. */
int avp_config_add_device(struct avp_config *cfg, const struct avp_config_type *t, void *opts,
			  uint32_t given, struct avp_config_err *e);
/* Takes every device of type t out of cfg (--console none). */
void avp_config_remove_devices(struct avp_config *cfg, const struct avp_config_type *t);

/* How many devices of type t cfg has, and the options of the index-th of
 * them in declaration order (NULL past the end). The pointer is the
 * type's options struct (its header says which). */
unsigned int avp_config_count(const struct avp_config *cfg, const struct avp_config_type *t);
void *avp_config_device(const struct avp_config *cfg, const struct avp_config_type *t,
			unsigned int index);

/* Whether a device (a console) has stdio as its host end: the keyboard is
 * then the device's, and the serial port only prints. */
bool avp_config_stdio_device(const struct avp_config *cfg);

/* "stdio", "none", "file:PATH", "pty" or "socket=PATH", for the serial
 * port and the console; a relative PATH is joined onto base_dir when that is not NULL (bundles).
 * chr's old path is freed. 0, -EINVAL or -ENOMEM. */
int avp_parse_chardev(const char *text, const char *base_dir, struct avp_chardev_cfg *chr);

/* Checks between options that no single adder sees: every device type's
 * final hook (serial and console on one file, vsock peers without a
 * vsock, ...) and the jail's ids. e->key names the option at fault:
 * "serial", "vsock-peer", "jail", "uid". */
int avp_config_check(const struct avp_config *cfg, struct avp_config_err *e);

#endif
