/* A system file (AVP-PART-1, AVP-NET-2, AVP-VSOCK-2): several bundles
 * started together, each under its own ID, the virtual networks between
 * them and which of them may reach each other by vsock. Format in
 * docs/runtime.md:
 *   {"vms": [{"id": "cluster", "bundle": "cluster"}, ...],
 *    "networks": [{"name": "backbone", "members": ["cluster", ...]}],
 *    "links": [{"vsock": ["cluster", "infotainment"]}],
 *    "can": [{"name": "body", "members": ["cluster", "infotainment"],
 *             "rules": {"infotainment": {"tx": ["0x300-0x3ff"]}}}]}
 * Bundle paths are relative to the system file's directory. */
#ifndef AVP_RUNTIME_SYSTEM_H
#define AVP_RUNTIME_SYSTEM_H

#include <stdio.h>

#include "avp/runtime/bundle.h"
#include "avp/runtime/jsoncheck.h"
#include "avp/runtime/state.h"

#define SYS_MAX_VMS 16
#define SYS_MAX_NETWORKS 8
#define SYS_NET_NAME_MAX 8 /* "avpbr-" + name must fit an interface name */
#define SYS_MAX_LINKS 64

struct sys_vm {
	char id[RT_ID_MAX + 1];
	char *bundle_dir; /* absolute */
	struct avp_bundle bundle;
};

struct sys_network {
	char name[SYS_NET_NAME_MAX + 1];
	char bridge[16];
	unsigned int members[SYS_MAX_VMS]; /* indexes into vms */
	unsigned int nmembers;
};

#define SYS_MAX_CAN_BUSES 8
/* "avpcan-" + the bus name: the vcan `system up` makes for a bus without
 * "interface". */
#define SYS_CAN_IF_PREFIX "avpcan-"

/* A CAN bus (docs/can.md): its members' can devices ({"type": "can",
 * "bus": NAME}) share one host interface; each member's rules say which
 * IDs it may send and receive (none given: all). */
struct sys_can_bus {
	char name[SYS_NET_NAME_MAX + 1];
	char ifname[16];
	bool create; /* no "interface": up makes a vcan, down removes it */
	unsigned int members[SYS_MAX_VMS]; /* indexes into vms */
	unsigned int nmembers;
	struct avp_can_rules tx[SYS_MAX_VMS], rx[SYS_MAX_VMS]; /* by member */
};

struct avp_system {
	struct sys_vm vms[SYS_MAX_VMS];
	unsigned int nvms;
	struct sys_network nets[SYS_MAX_NETWORKS];
	unsigned int nnets;
	struct sys_can_bus cans[SYS_MAX_CAN_BUSES];
	unsigned int ncans;
	/* vsock_link[a][b]: VM a may connect to VM b by vsock (and b to a). */
	bool vsock_link[SYS_MAX_VMS][SYS_MAX_VMS];
};

/* Parses a system file's text; dir (absolute) is where bundle paths start.
 * Loads every bundle and checks the whole: unique IDs, members that exist
 * and have a net device on the network, no host CPU pinned by two critical
 * VMs, vsock links between VMs that exist and have vsock devices, no CID
 * or vsock socket used twice. Errors name the JSON path ("vms[1].id: ..."). */
int system_parse(const char *text, size_t len, const char *dir, struct avp_system *s,
		 struct jc_err *e);
int system_load(const char *file, struct avp_system *s, struct jc_err *e);
void system_free(struct avp_system *s);

/* The keys the parser accepts for one object of the format: "" (the top
 * level), "vms", "networks" or "links" (an entry of each array); NULL for
 * an unknown name. For the test that holds them against
 * docs/system.schema.json. */
const char *const *system_keys(const char *object);

/* The vsock routes of VM v: the VMs it is linked with (their IDs, CIDs
 * and sockets) into peers[AVP_VSOCK_MAX_PEERS]. Returns how many. */
unsigned int system_vsock_peers(const struct avp_system *s, unsigned int v,
				struct rt_vsock_peer *peers);

/* The CAN buses of VM v as `avp system up` passes them (--can-bus) into
 * buses[AVP_MAX_CANS]. Returns how many. */
unsigned int system_can_buses(const struct avp_system *s, unsigned int v, struct rt_can_bus *buses);

/* A running VM's CAN devices as its control socket's "can" command
 * reports them (rules, frames, refusals; docs/can.md), for avp state and
 * system status; NULL when it is not running, has none, or does not
 * answer within timeout_ms (SYSTEM_VM_CAN_WAIT_MS for a status shown to a
 * user: a VM that is that slow is shown without counters rather than
 * holding up the rest). The caller puts it. */
#define SYSTEM_VM_CAN_WAIT_MS 500
struct json_object *system_vm_can(const char *root, const struct rt_state *st, int timeout_ms);

/* avp system up|down|status. up creates the networks (a Linux bridge per
 * network, a tap per member device), then creates and starts every VM; a
 * failure undoes what was done; each start waits up to wait_s for the VM's
 * vCPUs (rt_start). down stops (TERM, then KILL after the
 * bundle's timeout) and deletes the VMs and removes the networks, going on
 * past errors. status prints JSON to out. */
int system_up(const char *root, const struct avp_system *s, unsigned int wait_s,
	      struct jc_err *e);
int system_down(const char *root, const struct avp_system *s, struct jc_err *e);
int system_status(const char *root, const struct avp_system *s, FILE *out);

#endif
