/* What the user asked for: one VM's platform, independent of how it was
 * described (command line today, a bundle's config.json later). */
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

enum avp_chardev_kind { AVP_CHR_NONE, AVP_CHR_STDIO, AVP_CHR_FILE };

struct avp_chardev_cfg {
	enum avp_chardev_kind kind;
	char *path; /* AVP_CHR_FILE */
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

/* virtio-gpu 2D with one display (--gpu). */
struct avp_gpu_cfg {
	bool enabled;
	uint32_t width; /* display size in pixels; 0: 1280x720 */
	uint32_t height;
};

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
	uint32_t width; /* touch: coordinate range 0..width-1 */
	uint32_t height;
};

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

#endif
