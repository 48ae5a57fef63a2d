/* System files: parse and check the whole before anything is created (see
 * system.h). */
#include <errno.h>
#include <json-c/json.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avp/devices/virtio_can.h"
#include "avp/devices/vsock_paths.h"
#include "avp/net/socketcan.h"
#include "avp/runtime/system.h"

static const char *const top_keys[] = { "vms", "networks", "links", "can", NULL };
static const char *const vm_keys[] = { "id", "bundle", NULL };
static const char *const net_keys[] = { "name", "members", NULL };
/* One kind of link per object, so that later kinds (shared memory,
 * AVP-SHM-1) are new keys rather than a new format. */
static const char *const link_keys[] = { "vsock", NULL };
static const char *const can_keys[] = { "name", "interface", "members", "rules", NULL };
static const char *const can_rule_keys[] = { "tx", "rx", NULL };

const char *const *system_keys(const char *object)
{
	static const struct {
		const char *name;
		const char *const *keys;
	} objects[] = {
		{ "", top_keys }, { "vms", vm_keys }, { "networks", net_keys }, { "links", link_keys },
		{ "can", can_keys }, { "can.rules", can_rule_keys },
	};

	for (size_t i = 0; i < sizeof(objects) / sizeof(objects[0]); i++)
		if (strcmp(objects[i].name, object) == 0)
			return objects[i].keys;
	return NULL;
}

static int parse_vm(struct json_object *o, const char *path, const char *dir, struct avp_system *s,
		    struct jc_err *e)
{
	struct sys_vm *vm = &s->vms[s->nvms];
	char where[JC_PATH_MAX];
	const char *id, *bundle;
	struct jc_err be = { "" };
	int ret;

	if ((ret = jc_check_object(o, path, vm_keys, e)) ||
	    (ret = jc_get_string(o, path, "id", true, &id, e)) ||
	    (ret = jc_get_string(o, path, "bundle", true, &bundle, e)))
		return ret;
	jc_path_key(where, sizeof(where), path, "id");
	if (rt_id_valid(id))
		return jc_fail(e, where, "\"%s\" is not a valid ID (1-64 of A-Z a-z 0-9 _ . -, not "
			       "starting with '.' or '-')", id);
	for (unsigned int i = 0; i < s->nvms; i++)
		if (strcmp(s->vms[i].id, id) == 0)
			return jc_fail(e, where, "duplicate ID \"%s\" (vms[%u] has it already)", id, i);
	snprintf(vm->id, sizeof(vm->id), "%s", id);
	if (!*bundle)
		return jc_fail(e, where, "empty bundle path");
	if (bundle[0] == '/')
		vm->bundle_dir = strdup(bundle);
	else if (asprintf(&vm->bundle_dir, "%s/%s", dir, bundle) < 0)
		vm->bundle_dir = NULL;
	if (!vm->bundle_dir)
		return -ENOMEM;
	s->nvms++; /* system_free owns it now */
	jc_path_key(where, sizeof(where), path, "bundle");
	ret = bundle_load(vm->bundle_dir, &vm->bundle, &be);
	if (ret)
		return jc_fail(e, where, "%s: %s", bundle, be.text);
	return 0;
}

static bool net_name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > SYS_NET_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9')))
			return false;
	return true;
}

static int vm_index(const struct avp_system *s, const char *id)
{
	for (unsigned int i = 0; i < s->nvms; i++)
		if (strcmp(s->vms[i].id, id) == 0)
			return (int)i;
	return -1;
}

static bool vm_on_network(const struct sys_vm *vm, const char *net)
{
	const struct avp_net_cfg *n;

	for (unsigned int i = 0; (n = avp_config_device(&vm->bundle.cfg, &virtio_net_config, i)); i++)
		if (n->network && strcmp(n->network, net) == 0)
			return true;
	return false;
}

static const struct avp_vsock_cfg *vm_vsock(const struct sys_vm *vm)
{
	return avp_config_device(&vm->bundle.cfg, &virtio_vsock_config, 0);
}

static int parse_network(struct json_object *o, const char *path, struct avp_system *s,
			 struct jc_err *e)
{
	struct sys_network *net = &s->nets[s->nnets];
	struct json_object *members;
	char where[JC_PATH_MAX];
	const char *name;
	int ret;

	if ((ret = jc_check_object(o, path, net_keys, e)) ||
	    (ret = jc_get_string(o, path, "name", true, &name, e)) ||
	    (ret = jc_get_array(o, path, "members", true, &members, e)))
		return ret;
	jc_path_key(where, sizeof(where), path, "name");
	if (!net_name_ok(name))
		return jc_fail(e, where, "\"%s\": 1-%d lowercase letters and digits (the bridge is "
			       "avpbr-NAME)", name, SYS_NET_NAME_MAX);
	for (unsigned int i = 0; i < s->nnets; i++)
		if (strcmp(s->nets[i].name, name) == 0)
			return jc_fail(e, where, "duplicate network \"%s\" (networks[%u])", name, i);
	snprintf(net->name, sizeof(net->name), "%s", name);
	snprintf(net->bridge, sizeof(net->bridge), "avpbr-%s", name);
	for (size_t k = 0; k < json_object_array_length(members); k++) {
		struct json_object *m = json_object_array_get_idx(members, k);
		char mpath[JC_PATH_MAX];
		const char *id;
		int idx;

		jc_path_key(where, sizeof(where), path, "members");
		jc_path_index(mpath, sizeof(mpath), where, k);
		if (!json_object_is_type(m, json_type_string))
			return jc_fail(e, mpath, "expected a VM ID string, got %s", jc_type_name(m));
		id = json_object_get_string(m);
		idx = vm_index(s, id);
		if (idx < 0)
			return jc_fail(e, mpath, "no VM \"%s\" in vms", id);
		for (unsigned int i = 0; i < net->nmembers; i++)
			if (net->members[i] == (unsigned int)idx)
				return jc_fail(e, mpath, "\"%s\" is listed twice", id);
		if (!vm_on_network(&s->vms[idx], name))
			return jc_fail(e, mpath, "VM \"%s\" has no net device on \"%s\" (its bundle "
				       "needs {\"type\": \"net\", \"network\": \"%s\", \"mac\": ...})",
				       id, name, name);
		net->members[net->nmembers++] = (unsigned int)idx;
	}
	s->nnets++;
	return 0;
}

/* AVP-VSOCK-2: {"vsock": [ID, ID, ...]} lets every listed VM reach every
 * other listed VM by CID; nothing else is reachable but the host. */
static int parse_link(struct json_object *o, const char *path, struct avp_system *s,
		      struct jc_err *e)
{
	unsigned int idx[SYS_MAX_VMS], n = 0;
	struct json_object *members;
	char where[JC_PATH_MAX];
	int ret;

	if ((ret = jc_check_object(o, path, link_keys, e)) ||
	    (ret = jc_get_array(o, path, "vsock", true, &members, e)))
		return ret;
	jc_path_key(where, sizeof(where), path, "vsock");
	if (json_object_array_length(members) < 2)
		return jc_fail(e, where, "a link joins at least 2 VMs");
	for (size_t k = 0; k < json_object_array_length(members); k++) {
		struct json_object *m = json_object_array_get_idx(members, k);
		char mpath[JC_PATH_MAX];
		const char *id;
		int i;

		jc_path_index(mpath, sizeof(mpath), where, k);
		if (!json_object_is_type(m, json_type_string))
			return jc_fail(e, mpath, "expected a VM ID string, got %s", jc_type_name(m));
		id = json_object_get_string(m);
		i = vm_index(s, id);
		if (i < 0)
			return jc_fail(e, mpath, "no VM \"%s\" in vms", id);
		for (unsigned int j = 0; j < n; j++)
			if (idx[j] == (unsigned int)i)
				return jc_fail(e, mpath, "\"%s\" is listed twice", id);
		if (!vm_vsock(&s->vms[i]))
			return jc_fail(e, mpath, "VM \"%s\" has no vsock device (its bundle needs "
				       "{\"type\": \"vsock\", \"cid\": N, \"socket\": PATH})", id);
		idx[n++] = (unsigned int)i;
	}
	for (unsigned int a = 0; a < n; a++)
		for (unsigned int b = 0; b < n; b++)
			if (a != b)
				s->vsock_link[idx[a]][idx[b]] = true;
	return 0;
}

/* Two VMs' vsock socket paths must not collide (avp/devices/vsock_paths.h):
 * the same file, or one the other's PATH_port. Their directories are
 * resolved, since the sockets need not exist yet. */
static int check_socket_pair(const struct avp_system *s, unsigned int v, unsigned int w,
			     struct jc_err *e)
{
	const struct avp_bundle *b = &s->vms[v].bundle;
	const char *mine = vm_vsock(&s->vms[v])->socket, *other = vm_vsock(&s->vms[w])->socket;
	unsigned int dev = bundle_device_index(b, &virtio_vsock_config, 0);
	char pm[PATH_MAX], po[PATH_MAX];
	size_t lm, lo;

	if (vsock_socket_path_resolve(mine, pm, sizeof(pm)) ||
	    vsock_socket_path_resolve(other, po, sizeof(po)) || !vsock_socket_paths_conflict(pm, po))
		return 0;
	if (vsock_socket_paths_same(pm, po))
		return jc_fail(e, "", "vms[%u].bundle: devices[%u].socket: %s is also VM \"%s\"'s (vms[%u])",
			       v, dev, mine, s->vms[w].id, w);
	lm = strlen(pm);
	lo = strlen(po);
	if (lm > lo)
		return jc_fail(e, "", "vms[%u].bundle: devices[%u].socket: %s is VM \"%s\"'s socket "
			       "(vms[%u]) with %s appended: that guest's connections to host port %s "
			       "would reach this VM; choose another path",
			       v, dev, mine, s->vms[w].id, w, pm + lo, pm + lo + 1);
	return jc_fail(e, "", "vms[%u].bundle: devices[%u].socket: %s with %s appended is VM "
		       "\"%s\"'s socket (vms[%u]): this guest's connections to host port %s would "
		       "reach that VM; choose another path",
		       v, dev, mine, po + lm, s->vms[w].id, w, po + lm + 1);
}

/* A CID is a VM's address on the host and its socket the way in: both
 * unique in a system (one host), whether linked or not. The socket must
 * also fit the routes the runtime passes on. */
static int check_vsock_devices(const struct avp_system *s, struct jc_err *e)
{
	for (unsigned int v = 0; v < s->nvms; v++) {
		const struct avp_bundle *b = &s->vms[v].bundle;
		const struct avp_vsock_cfg *vs = vm_vsock(&s->vms[v]);
		unsigned int dev = bundle_device_index(b, &virtio_vsock_config, 0);

		if (!vs)
			continue;
		if (strlen(vs->socket) >= sizeof(((struct rt_vsock_peer *)0)->socket))
			return jc_fail(e, "", "vms[%u].bundle: devices[%u].socket: \"%s\" is too "
				       "long for a Unix socket address", v, dev,
				       vs->socket);
		for (unsigned int w = 0; w < v; w++) {
			const struct avp_vsock_cfg *o = vm_vsock(&s->vms[w]);

			if (!o)
				continue;
			if (o->cid == vs->cid)
				return jc_fail(e, "", "vms[%u].bundle: devices[%u].cid: CID %u is also "
					       "VM \"%s\"'s (vms[%u]); every VM needs a CID of its "
					       "own", v, dev, vs->cid, s->vms[w].id, w);
			if (check_socket_pair(s, v, w, e))
				return -EINVAL;
		}
	}
	return 0;
}

unsigned int system_vsock_peers(const struct avp_system *s, unsigned int v,
				struct rt_vsock_peer *peers)
{
	unsigned int n = 0;

	for (unsigned int w = 0; w < s->nvms && n < AVP_VSOCK_MAX_PEERS; w++) {
		const struct avp_vsock_cfg *vs = vm_vsock(&s->vms[w]);

		if (!s->vsock_link[v][w] || !vs)
			continue;
		memset(&peers[n], 0, sizeof(peers[n]));
		snprintf(peers[n].id, sizeof(peers[n].id), "%s", s->vms[w].id);
		peers[n].cid = vs->cid;
		snprintf(peers[n].socket, sizeof(peers[n].socket), "%s", vs->socket);
		n++;
	}
	return n;
}

/* Every net device that names a network is a member of it, and no tap
 * (named after the MAC) is used twice. */
static int check_net_devices(const struct avp_system *s, struct jc_err *e)
{
	for (unsigned int v = 0; v < s->nvms; v++) {
		const struct avp_bundle *b = &s->vms[v].bundle;
		const struct avp_net_cfg *mine;

		for (unsigned int i = 0; (mine = avp_config_device(&b->cfg, &virtio_net_config, i)); i++) {
			const char *net = mine->network;
			unsigned int dev = bundle_device_index(b, &virtio_net_config, i);
			bool member = false;

			for (unsigned int n = 0; net && n < s->nnets && !member; n++)
				for (unsigned int k = 0; k < s->nets[n].nmembers; k++)
					member |= strcmp(s->nets[n].name, net) == 0 &&
						  s->nets[n].members[k] == v;
			if (net && !member)
				return jc_fail(e, "", "vms[%u].bundle: devices[%u].network: VM \"%s\" is "
					       "not a member of a network \"%s\" in networks", v,
					       dev, s->vms[v].id, net);
			for (unsigned int w = 0; w <= v; w++) {
				const struct avp_config *o = &s->vms[w].bundle.cfg;
				const struct avp_net_cfg *theirs;

				for (unsigned int j = 0;
				     (w != v || j < i) && (theirs = avp_config_device(o, &virtio_net_config, j));
				     j++)
					if (strcmp(theirs->tap, mine->tap) == 0)
						return jc_fail(e, "", "vms[%u].bundle: devices[%u]: tap "
							       "\"%s\" is also used by VM \"%s\" (give "
							       "every network device its own MAC)",
							       v, dev, mine->tap, s->vms[w].id);
			}
		}
	}
	return 0;
}

/* ---- CAN buses (docs/can.md) ---- */

_Static_assert(sizeof(SYS_CAN_IF_PREFIX) - 1 + SYS_NET_NAME_MAX <= 15,
	       "avpcan-NAME must fit an interface name");

/* The VM's can device on bus name, or NULL. */
static const struct avp_can_cfg *vm_can_on(const struct sys_vm *vm, const char *name)
{
	const struct avp_can_cfg *c;

	for (unsigned int i = 0; (c = avp_config_device(&vm->bundle.cfg, &virtio_can_config, i)); i++)
		if (c->bus && strcmp(c->bus, name) == 0)
			return c;
	return NULL;
}

/* One member's "tx" or "rx": an array of range strings, each checked on
 * its own (the error names it), then together (overlaps). An empty array
 * is no ID at all. */
static int parse_can_rule(struct json_object *o, const char *path, const char *key,
			  struct avp_can_rules *rules, struct jc_err *e)
{
	char where[JC_PATH_MAX], ipath[JC_PATH_MAX], why[160];
	char text[AVP_CAN_MAX_RANGES * 32] = "";
	struct json_object *arr;
	size_t used = 0;
	int ret = jc_get_array(o, path, key, false, &arr, e);

	if (ret == -ENOENT)
		return 0;
	if (ret)
		return ret;
	jc_path_key(where, sizeof(where), path, key);
	if (json_object_array_length(arr) > AVP_CAN_MAX_RANGES)
		return jc_fail(e, where, "at most %d ranges", AVP_CAN_MAX_RANGES);
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		struct json_object *r = json_object_array_get_idx(arr, i);
		struct avp_can_rules one;
		const char *t;

		jc_path_index(ipath, sizeof(ipath), where, i);
		if (!json_object_is_type(r, json_type_string))
			return jc_fail(e, ipath, "expected a range string (\"0x100-0x1ff\", "
				       "\"std:0x100\", \"ext:0x18000000-0x18ffffff\"), got %s",
				       jc_type_name(r));
		t = json_object_get_string(r);
		if (!*t || strpbrk(t, "+,") || strcmp(t, "none") == 0)
			return jc_fail(e, ipath, "\"%s\": one range per entry ([] for none)", t);
		if (avp_can_rules_parse(t, &one, why, sizeof(why)))
			return jc_fail(e, ipath, "%s", why);
		used += (size_t)snprintf(text + used, sizeof(text) - used, "%s%s", i ? "+" : "", t);
		if (used >= sizeof(text))
			return jc_fail(e, where, "too long");
	}
	if (!*text) {
		memset(rules, 0, sizeof(*rules));
		rules->set = true; /* [] */
		return 0;
	}
	if (avp_can_rules_parse(text, rules, why, sizeof(why)))
		return jc_fail(e, where, "%s", why);
	return 0;
}

static int parse_can_rules(struct json_object *o, const char *path, const struct avp_system *s,
			   struct sys_can_bus *bus, struct jc_err *e)
{
	struct json_object *rules;
	char where[JC_PATH_MAX];
	int ret = jc_get_object(o, path, "rules", false, &rules, e);

	if (ret == -ENOENT)
		return 0;
	if (ret)
		return ret;
	jc_path_key(where, sizeof(where), path, "rules");
	json_object_object_foreach(rules, id, r) {
		char mpath[JC_PATH_MAX];
		unsigned int k;

		if (strcmp(id, "$comment") == 0)
			continue;
		jc_path_key(mpath, sizeof(mpath), where, id);
		for (k = 0; k < bus->nmembers; k++)
			if (strcmp(s->vms[bus->members[k]].id, id) == 0)
				break;
		if (k == bus->nmembers)
			return jc_fail(e, mpath, "\"%s\" is not a member of CAN bus \"%s\" (rules "
				       "are for its members)", id, bus->name);
		if (!json_object_is_type(r, json_type_object))
			return jc_fail(e, mpath, "expected an object {\"tx\": [...], \"rx\": [...]}, "
				       "got %s", jc_type_name(r));
		if ((ret = jc_check_object(r, mpath, can_rule_keys, e)) ||
		    (ret = parse_can_rule(r, mpath, "tx", &bus->tx[k], e)) ||
		    (ret = parse_can_rule(r, mpath, "rx", &bus->rx[k], e)))
			return ret;
	}
	return 0;
}

static int parse_can_bus(struct json_object *o, const char *path, struct avp_system *s,
			 struct jc_err *e)
{
	struct sys_can_bus *bus = &s->cans[s->ncans];
	struct json_object *members;
	char where[JC_PATH_MAX];
	const char *name, *ifname = NULL;
	int ret;

	memset(bus, 0, sizeof(*bus));
	if ((ret = jc_check_object(o, path, can_keys, e)) ||
	    (ret = jc_get_string(o, path, "name", true, &name, e)) ||
	    (ret = jc_get_array(o, path, "members", true, &members, e)))
		return ret;
	ret = jc_get_string(o, path, "interface", false, &ifname, e);
	if (ret && ret != -ENOENT)
		return ret;
	jc_path_key(where, sizeof(where), path, "name");
	if (!net_name_ok(name))
		return jc_fail(e, where, "\"%s\": 1-%d lowercase letters and digits (the vcan made "
			       "for it is %sNAME)", name, SYS_NET_NAME_MAX, SYS_CAN_IF_PREFIX);
	for (unsigned int i = 0; i < s->ncans; i++)
		if (strcmp(s->cans[i].name, name) == 0)
			return jc_fail(e, where, "duplicate CAN bus \"%s\" (can[%u])", name, i);
	snprintf(bus->name, sizeof(bus->name), "%s", name);
	jc_path_key(where, sizeof(where), path, "interface");
	if (ifname && socketcan_check_name(ifname))
		return jc_fail(e, where, "\"%s\" is not an interface name (1-15 characters, no '/', "
			       "':' or spaces)", ifname);
	bus->create = !ifname;
	if (ifname)
		snprintf(bus->ifname, sizeof(bus->ifname), "%s", ifname);
	else
		snprintf(bus->ifname, sizeof(bus->ifname), "%s%s", SYS_CAN_IF_PREFIX, name);
	for (unsigned int i = 0; i < s->ncans; i++)
		if (strcmp(s->cans[i].ifname, bus->ifname) == 0)
			return jc_fail(e, ifname ? where : path, "interface %s is also CAN bus \"%s\"'s "
				       "(can[%u]): one bus per interface", bus->ifname,
				       s->cans[i].name, i);
	jc_path_key(where, sizeof(where), path, "members");
	if (json_object_array_length(members) > SYS_MAX_VMS)
		return jc_fail(e, where, "at most %d members", SYS_MAX_VMS);
	for (size_t k = 0; k < json_object_array_length(members); k++) {
		struct json_object *m = json_object_array_get_idx(members, k);
		char mpath[JC_PATH_MAX];
		const char *id;
		int idx;

		jc_path_index(mpath, sizeof(mpath), where, k);
		if (!json_object_is_type(m, json_type_string))
			return jc_fail(e, mpath, "expected a VM ID string, got %s", jc_type_name(m));
		id = json_object_get_string(m);
		idx = vm_index(s, id);
		if (idx < 0)
			return jc_fail(e, mpath, "no VM \"%s\" in vms", id);
		for (unsigned int i = 0; i < bus->nmembers; i++)
			if (bus->members[i] == (unsigned int)idx)
				return jc_fail(e, mpath, "\"%s\" is listed twice", id);
		if (!vm_can_on(&s->vms[idx], name))
			return jc_fail(e, mpath, "VM \"%s\" has no can device on bus \"%s\" (its bundle "
				       "needs {\"type\": \"can\", \"bus\": \"%s\"})", id, name, name);
		bus->members[bus->nmembers++] = (unsigned int)idx;
	}
	ret = parse_can_rules(o, path, s, bus, e);
	if (ret)
		return ret;
	s->ncans++;
	return 0;
}

/* Every can device that names a bus is a member of it (one device per
 * bus: the type's final check). */
static int check_can_devices(const struct avp_system *s, struct jc_err *e)
{
	for (unsigned int v = 0; v < s->nvms; v++) {
		const struct avp_bundle *b = &s->vms[v].bundle;
		const struct avp_can_cfg *c;

		for (unsigned int i = 0; (c = avp_config_device(&b->cfg, &virtio_can_config, i)); i++) {
			unsigned int dev = bundle_device_index(b, &virtio_can_config, i);
			bool member = false;

			if (!c->bus)
				continue;
			for (unsigned int n = 0; n < s->ncans && !member; n++)
				for (unsigned int k = 0; k < s->cans[n].nmembers; k++)
					member |= strcmp(s->cans[n].name, c->bus) == 0 &&
						  s->cans[n].members[k] == v;
			if (!member)
				return jc_fail(e, "", "vms[%u].bundle: devices[%u].bus: VM \"%s\" is not "
					       "a member of a CAN bus \"%s\" in can", v, dev,
					       s->vms[v].id, c->bus);
		}
	}
	return 0;
}

unsigned int system_can_buses(const struct avp_system *s, unsigned int v, struct rt_can_bus *buses)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < s->ncans && n < AVP_MAX_CANS; i++) {
		const struct sys_can_bus *bus = &s->cans[i];

		for (unsigned int k = 0; k < bus->nmembers; k++) {
			struct rt_can_bus *out = &buses[n];

			if (bus->members[k] != v)
				continue;
			memset(out, 0, sizeof(*out));
			snprintf(out->bus, sizeof(out->bus), "%s", bus->name);
			snprintf(out->ifname, sizeof(out->ifname), "%s", bus->ifname);
			if (bus->tx[k].set)
				avp_can_rules_format(&bus->tx[k], out->tx, sizeof(out->tx));
			if (bus->rx[k].set)
				avp_can_rules_format(&bus->rx[k], out->rx, sizeof(out->rx));
			n++;
		}
	}
	return n;
}

/* AVP-PART-2: a critical VM keeps its cores, so two critical VMs may not
 * be pinned to one host CPU. */
static int check_critical_cpus(const struct avp_system *s, struct jc_err *e)
{
	for (unsigned int v = 0; v < s->nvms; v++) {
		const struct avp_bundle *b = &s->vms[v].bundle;

		if (!b->critical)
			continue;
		for (unsigned int w = 0; w < v; w++) {
			const struct avp_bundle *o = &s->vms[w].bundle;

			if (!o->critical)
				continue;
			for (unsigned int i = 0; i < b->cfg.cpus; i++)
				for (unsigned int j = 0; j < o->cfg.cpus; j++)
					if (b->cfg.cpu_affinity[i] == o->cfg.cpu_affinity[j])
						return jc_fail(e, "", "vms[%u].bundle: cpus.affinity[%u]: "
							       "host CPU %d is reserved by critical VM "
							       "\"%s\" (vms[%u]); critical VMs need "
							       "host CPUs of their own", v, i,
							       b->cfg.cpu_affinity[i], s->vms[w].id, w);
		}
	}
	return 0;
}

static int parse_named(const char *text, size_t len, const char *name, const char *dir,
		       struct avp_system *s, struct jc_err *e)
{
	struct json_object *root, *vms, *nets, *links, *cans;
	int ret;

	memset(s, 0, sizeof(*s));
	ret = jc_parse_text(text, len, name, &root, e);
	if (ret)
		return ret;
	if ((ret = jc_check_object(root, "", top_keys, e)) ||
	    (ret = jc_get_array(root, "", "vms", true, &vms, e)))
		goto out;
	ret = jc_get_array(root, "", "networks", false, &nets, e);
	if (ret == -ENOENT)
		nets = NULL;
	else if (ret)
		goto out;
	ret = jc_get_array(root, "", "links", false, &links, e);
	if (ret == -ENOENT)
		links = NULL;
	else if (ret)
		goto out;
	ret = jc_get_array(root, "", "can", false, &cans, e);
	if (ret == -ENOENT)
		cans = NULL;
	else if (ret)
		goto out;
	ret = 0;
	if (json_object_array_length(vms) == 0 || json_object_array_length(vms) > SYS_MAX_VMS) {
		ret = jc_fail(e, "vms", "expected 1 to %d VMs", SYS_MAX_VMS);
		goto out;
	}
	for (size_t i = 0; i < json_object_array_length(vms) && !ret; i++) {
		char path[JC_PATH_MAX];
		struct json_object *o = json_object_array_get_idx(vms, i);

		jc_path_index(path, sizeof(path), "vms", i);
		ret = parse_vm(o, path, dir, s, e);
	}
	if (!ret && nets && json_object_array_length(nets) > SYS_MAX_NETWORKS)
		ret = jc_fail(e, "networks", "at most %d networks", SYS_MAX_NETWORKS);
	for (size_t i = 0; !ret && nets && i < json_object_array_length(nets); i++) {
		char path[JC_PATH_MAX];

		jc_path_index(path, sizeof(path), "networks", i);
		ret = parse_network(json_object_array_get_idx(nets, i), path, s, e);
	}
	if (!ret && links && json_object_array_length(links) > SYS_MAX_LINKS)
		ret = jc_fail(e, "links", "at most %d links", SYS_MAX_LINKS);
	for (size_t i = 0; !ret && links && i < json_object_array_length(links); i++) {
		char path[JC_PATH_MAX];

		jc_path_index(path, sizeof(path), "links", i);
		ret = parse_link(json_object_array_get_idx(links, i), path, s, e);
	}
	if (!ret && cans && json_object_array_length(cans) > SYS_MAX_CAN_BUSES)
		ret = jc_fail(e, "can", "at most %d CAN buses", SYS_MAX_CAN_BUSES);
	for (size_t i = 0; !ret && cans && i < json_object_array_length(cans); i++) {
		char path[JC_PATH_MAX];

		jc_path_index(path, sizeof(path), "can", i);
		ret = parse_can_bus(json_object_array_get_idx(cans, i), path, s, e);
	}
	if (!ret)
		ret = check_net_devices(s, e);
	if (!ret)
		ret = check_can_devices(s, e);
	if (!ret)
		ret = check_vsock_devices(s, e);
	if (!ret)
		ret = check_critical_cpus(s, e);
out:
	json_object_put(root);
	if (ret)
		system_free(s);
	return ret;
}

int system_parse(const char *text, size_t len, const char *dir, struct avp_system *s,
		 struct jc_err *e)
{
	return parse_named(text, len, "system file", dir, s, e);
}

int system_load(const char *file, struct avp_system *s, struct jc_err *e)
{
	char abs[PATH_MAX];
	size_t len;
	char *text;
	int ret;

	memset(s, 0, sizeof(*s));
	if (!realpath(file, abs))
		return jc_fail(e, "", "%s: %s", file, strerror(errno));
	ret = jc_read_file(abs, file, &text, &len, e);
	if (ret)
		return ret;
	ret = parse_named(text, len, file, dirname(abs), s, e);
	free(text);
	return ret;
}

void system_free(struct avp_system *s)
{
	for (unsigned int i = 0; i < s->nvms; i++) {
		free(s->vms[i].bundle_dir);
		bundle_free(&s->vms[i].bundle);
	}
	memset(s, 0, sizeof(*s));
}
