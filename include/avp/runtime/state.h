/* The runtime's record of one VM (AVP-RT-2): ROOT/ID/state.json, written
 * atomically (temp file + rename) so readers never see half a file. The
 * VM's monitor is its only writer once `avp create` has handed over. */
#ifndef AVP_RUNTIME_STATE_H
#define AVP_RUNTIME_STATE_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>
#include <time.h>

#include "avp/devices/virtio_can.h"
#include "avp/devices/virtio_net.h"
#include "avp/devices/virtio_vsock.h"
#include "avp/runtime/bundle.h"

#define RT_DEFAULT_ROOT "/run/avp"
#define RT_ID_MAX 64

/* How the runtime prints JSON for people and scripts alike. */
#define RT_JSON_PRETTY \
	(JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE)

enum rt_status { RT_CREATED, RT_RUNNING, RT_RESTARTING, RT_STOPPED };

/* A VM this one may reach by vsock (AVP-VSOCK-2): set by `avp system up`
 * for the VMs its system file links, passed to the VM process as
 * --vsock-peer CID:SOCKET. Not part of the bundle, which stays portable. */
struct rt_vsock_peer {
	char id[RT_ID_MAX + 1];
	uint32_t cid;
	char socket[108]; /* a Unix socket address */
};

/* A CAN bus of a system file this VM is on (docs/can.md): set by `avp
 * system up`, passed to the VM process as --can-bus bus=NAME,if=IF[,tx=..][,rx=..].
 * tx/rx: the VM's rules as avp_can_rules_format writes them; "" none. */
#define RT_CAN_RULES_MAX (AVP_CAN_MAX_RANGES * 28)
struct rt_can_bus {
	char bus[16];
	char ifname[16];
	char tx[RT_CAN_RULES_MAX];
	char rx[RT_CAN_RULES_MAX];
};

/* A process we started, recognised by pid and start time together, so a
 * recycled pid is never mistaken for ours. */
struct rt_proc {
	pid_t pid; /* 0: none */
	unsigned long long start; /* /proc/PID/stat field 22 (clock ticks after boot) */
};

struct rt_state {
	char id[RT_ID_MAX + 1];
	char bundle[4096];
	enum rt_status status;
	struct rt_proc vm;      /* the VMM process running the guest */
	struct rt_proc monitor; /* the process that owns the VM's life */
	time_t created, started, stopped;
	unsigned int restarts;
	char last_exit_reason[32]; /* "poweroff", "reboot", "crash", ... ; "" none yet */
	char last_exit_detail[320];
	char stop_requested[16];   /* "TERM"/"KILL" after avp kill, else "" */
	unsigned long long console_max; /* console.log's cap in bytes (avp create --console-max) */
	/* What the bundle asked for (the live values are read from /proc). */
	enum avp_restart_policy restart;
	unsigned int max_restarts, backoff_ms, shutdown_timeout_s;
	bool critical;
	unsigned int cpus;
	bool affinity_set;
	int affinity[AVP_MAX_CPUS];
	enum avp_sched_class sched_class;
	int sched_priority;
	unsigned long long memory_mib;
	bool mem_reserve;
	unsigned int nnets;
	char taps[AVP_MAX_NETS][16];
	unsigned int npeers;
	struct rt_vsock_peer peers[AVP_VSOCK_MAX_PEERS];
	/* Its vsock device (0, "": none), the socket with its directory
	 * resolved: what a later create in the same root must not collide
	 * with (avp/devices/vsock_paths.h). */
	uint32_t vsock_cid;
	char vsock_socket[108];
	bool confine; /* avp create --confine: every boot reads the bundle so */
	unsigned int ncan;
	struct rt_can_bus can[AVP_MAX_CANS];
};

/* 0, or -EINVAL: IDs are 1-64 of [A-Za-z0-9_.-], not starting with '.' or
 * '-', so they are safe as directory names and in messages. */
int rt_id_valid(const char *id);

/* ROOT/ID[/NAME] into buf; -ENAMETOOLONG when it does not fit. */
int rt_path(char *buf, size_t len, const char *root, const char *id, const char *name);

/* Fills the bundle-derived part of st. */
void rt_state_from_bundle(struct rt_state *st, const char *id, const struct avp_bundle *b);

int rt_state_write(const char *root, const struct rt_state *st);
/* Replaces the file at path (in a state directory) with o as JSON,
 * atomically: a temporary made with O_EXCL, fsync, rename. */
int rt_json_write_file(const char *path, struct json_object *o);
int rt_state_read(const char *root, const char *id, struct rt_state *st);

/* The state as JSON (the caller puts it). live adds what /proc says about
 * the running VM ("effective": the vCPU threads' affinity and scheduling,
 * locked memory). */
struct json_object *rt_state_to_json(const struct rt_state *st, bool live);

/* Corrects a state whose processes died without the monitor saying so
 * (the monitor itself was killed): returns true when st was changed. */
bool rt_state_reconcile(struct rt_state *st);

/* Is it still the same live (not zombie) process? */
bool rt_proc_alive(const struct rt_proc *p);
/* Fills p for a live pid; -ESRCH when it is gone. */
int rt_proc_get(pid_t pid, struct rt_proc *p);
/* The parent of a live pid; -ESRCH when it is gone or a zombie. */
int rt_proc_parent(pid_t pid, pid_t *ppid);

const char *rt_status_name(enum rt_status s);

#endif
