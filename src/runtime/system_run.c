/* avp system up/down/status (see system.h). */
#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "avp/api_client.h"
#include "avp/runtime/hostnet.h"
#include "avp/runtime/lifecycle.h"
#include "avp/runtime/statedir.h"
#include "avp/runtime/system.h"

/* Stopping waits for the bundle's graceful timeout, then this much more
 * for the forced stop. */
#define DOWN_EXTRA_S 10

static void note(struct jc_err *e, const struct jc_err *step)
{
	if (!e->text[0] && step->text[0])
		*e = *step;
}

static void remove_networks(const struct avp_system *s)
{
	for (unsigned int n = 0; n < s->nnets; n++) {
		const struct sys_network *net = &s->nets[n];

		for (unsigned int k = 0; k < net->nmembers; k++) {
			const struct avp_bundle *b = &s->vms[net->members[k]].bundle;

			const struct avp_net_cfg *dev;

			for (unsigned int i = 0; (dev = avp_config_device(&b->cfg, &virtio_net_config, i)); i++)
				if (dev->network && strcmp(dev->network, net->name) == 0)
					hostnet_link_del(dev->tap);
		}
		hostnet_link_del(net->bridge);
	}
}

static int make_networks(const struct avp_system *s, struct jc_err *e)
{
	for (unsigned int n = 0; n < s->nnets; n++) {
		const struct sys_network *net = &s->nets[n];
		int ret;

		if (hostnet_link_exists(net->bridge))
			return jc_fail(e, "", "networks[%u]: bridge %s exists already (another system "
				       "up, or left over: `ip link del %s`)", n, net->bridge,
				       net->bridge);
		ret = hostnet_bridge_add(net->bridge, e);
		for (unsigned int k = 0; !ret && k < net->nmembers; k++) {
			const struct avp_bundle *b = &s->vms[net->members[k]].bundle;

			const struct avp_net_cfg *dev;

			for (unsigned int i = 0;
			     !ret && (dev = avp_config_device(&b->cfg, &virtio_net_config, i)); i++)
				if (dev->network && strcmp(dev->network, net->name) == 0)
					ret = hostnet_tap_add(dev->tap, net->bridge, e);
		}
		if (ret)
			return ret;
	}
	return 0;
}

static void remove_can_buses(const struct avp_system *s)
{
	for (unsigned int n = 0; n < s->ncans; n++)
		if (s->cans[n].create)
			hostnet_link_del(s->cans[n].ifname);
}

/* A named interface must exist (a real can0, or a vcan the platform set
 * up); one the system makes must not yet (another system's, or left
 * over). Checked before anything is made. */
static int check_can_buses(const struct avp_system *s, struct jc_err *e)
{
	for (unsigned int n = 0; n < s->ncans; n++) {
		const struct sys_can_bus *bus = &s->cans[n];
		bool exists = hostnet_link_exists(bus->ifname);

		if (!bus->create && !exists)
			return jc_fail(e, "", "can[%u].interface: no host interface %s (create it, e.g. "
				       "`ip link add dev %s type vcan && ip link set %s mtu 72 up`, or "
				       "leave \"interface\" out and avp makes one)", n, bus->ifname,
				       bus->ifname, bus->ifname), -ENODEV;
		if (bus->create && exists)
			return jc_fail(e, "", "can[%u]: interface %s exists already (another system "
				       "up, or left over: `ip link del %s`)", n, bus->ifname,
				       bus->ifname), -EEXIST;
	}
	return 0;
}

static int make_can_buses(const struct avp_system *s, struct jc_err *e)
{
	for (unsigned int n = 0; n < s->ncans; n++) {
		struct jc_err step = { "" };

		if (s->cans[n].create && hostnet_vcan_add(s->cans[n].ifname, &step))
			return jc_fail(e, "", "can[%u]: %s", n, step.text), -EIO;
	}
	return 0;
}

int system_up(const char *root, const struct avp_system *s, unsigned int wait_s,
	      struct jc_err *e)
{
	unsigned int created = 0;
	int ret;

	/* Before any bridge is made for VMs that could not be created. */
	ret = rt_root_check(root, true, e);
	if (ret)
		return ret;
	if (s->nnets && !hostnet_can_admin())
		return jc_fail(e, "", "networks: making their bridges and taps needs root or "
			       "CAP_NET_ADMIN, which this process lacks: run `avp system up` as "
			       "root (sudo), or leave the networks out"), -EPERM;
	ret = check_can_buses(s, e);
	if (ret)
		return ret;
	for (unsigned int n = 0; n < s->ncans; n++)
		if (s->cans[n].create && !hostnet_can_admin())
			return jc_fail(e, "", "can[%u]: making its vcan needs root or CAP_NET_ADMIN, "
				       "which this process lacks: run `avp system up` as root, or "
				       "name an existing interface in \"interface\"", n), -EPERM;
	for (unsigned int v = 0; v < s->nvms; v++) {
		struct rt_state st;

		if (rt_state_read(root, s->vms[v].id, &st) == 0)
			return jc_fail(e, "", "vms[%u].id: a VM \"%s\" exists already (is the system "
				       "up? `avp system down` first)", v, s->vms[v].id), -EEXIST;
	}
	ret = make_networks(s, e);
	if (!ret)
		ret = make_can_buses(s, e);
	for (; !ret && created < s->nvms; created++) {
		const struct sys_vm *vm = &s->vms[created];
		struct jc_err step = { "" };
		/* Routes to exactly the VMs the file links this one with, and
		 * its CAN buses. */
		struct rt_vsock_peer peers[AVP_VSOCK_MAX_PEERS];
		unsigned int npeers = system_vsock_peers(s, created, peers);
		struct rt_can_bus buses[AVP_MAX_CANS];
		unsigned int nbuses = system_can_buses(s, created, buses);

		ret = rt_create_system(root, vm->id, vm->bundle_dir, peers, npeers, buses, nbuses,
				       &step);
		if (ret)
			jc_fail(e, "", "vms[%u] (%s): %s", created, vm->id, step.text);
	}
	/* Every VM exists before any runs, so a bundle mistake stops the
	 * system before a guest has booted. */
	for (unsigned int v = 0; !ret && v < s->nvms; v++) {
		struct jc_err step = { "" };

		ret = rt_start(root, s->vms[v].id, wait_s, &step);
		if (ret)
			jc_fail(e, "", "vms[%u] (%s): %s", v, s->vms[v].id, step.text);
	}
	if (ret) {
		struct jc_err ignored = { "" };

		for (unsigned int v = 0; v < created; v++)
			rt_delete(root, s->vms[v].id, true, &ignored);
		remove_networks(s);
		remove_can_buses(s);
	}
	return ret;
}

int system_down(const char *root, const struct avp_system *s, struct jc_err *e)
{
	int ret = 0;

	/* Reverse order: the VMs that came up last go first. */
	for (unsigned int v = s->nvms; v-- > 0;) {
		const struct sys_vm *vm = &s->vms[v];
		struct jc_err step = { "" };
		struct rt_state st;
		int r;

		r = rt_state_get(root, vm->id, &st, &step);
		if (r == -ENOENT)
			continue;
		if (r) { /* e.g. a state directory not to be trusted: leave it be */
			note(e, &step);
			ret = r;
			continue;
		}
		/* A graceful stop that fails is not the end: delete --force
		 * still kills the VM. */
		if (st.status != RT_STOPPED)
			rt_kill(root, vm->id, "TERM", vm->bundle.shutdown_timeout_s + DOWN_EXTRA_S,
				&step);
		step.text[0] = '\0';
		r = rt_delete(root, vm->id, true, &step);
		if (r) {
			note(e, &step);
			ret = r;
		}
	}
	remove_networks(s);
	remove_can_buses(s);
	return ret;
}

struct json_object *system_vm_can(const char *root, const struct rt_state *st, int timeout_ms)
{
	struct json_object *r, *can = NULL;
	char path[PATH_MAX], *reply;

	if (st->status != RT_RUNNING || rt_path(path, sizeof(path), root, st->id, "api.sock") ||
	    api_client_request(path, "{\"cmd\":\"can\"}", 64 * 1024, timeout_ms, &reply, NULL))
		return NULL;
	r = json_tokener_parse(reply);
	free(reply);
	if (r && json_object_get_boolean(json_object_object_get(r, "ok")) &&
	    json_object_object_get_ex(r, "can", &can))
		json_object_get(can);
	else
		can = NULL;
	json_object_put(r);
	return can;
}

int system_status(const char *root, const struct avp_system *s, FILE *out)
{
	struct json_object *o = json_object_new_object();
	struct json_object *vms = json_object_new_array();
	struct json_object *nets = json_object_new_array();

	for (unsigned int v = 0; v < s->nvms; v++) {
		struct jc_err e = { "" };
		struct rt_state st;

		if (rt_state_get(root, s->vms[v].id, &st, &e) == 0) {
			struct json_object *jv = rt_state_to_json(&st, true);
			struct json_object *can = system_vm_can(root, &st, SYSTEM_VM_CAN_WAIT_MS);

			if (can)
				json_object_object_add(jv, "can", can);
			json_object_array_add(vms, jv);
		} else {
			struct json_object *missing = json_object_new_object();

			json_object_object_add(missing, "id", json_object_new_string(s->vms[v].id));
			json_object_object_add(missing, "status", json_object_new_string("absent"));
			json_object_array_add(vms, missing);
		}
	}
	for (unsigned int n = 0; n < s->nnets; n++) {
		const struct sys_network *net = &s->nets[n];
		struct json_object *jn = json_object_new_object();
		struct json_object *taps = json_object_new_array();

		json_object_object_add(jn, "name", json_object_new_string(net->name));
		json_object_object_add(jn, "bridge", json_object_new_string(net->bridge));
		json_object_object_add(jn, "present",
				       json_object_new_boolean(hostnet_link_exists(net->bridge)));
		for (unsigned int k = 0; k < net->nmembers; k++) {
			const struct sys_vm *vm = &s->vms[net->members[k]];

			const struct avp_net_cfg *dev;

			for (unsigned int i = 0;
			     (dev = avp_config_device(&vm->bundle.cfg, &virtio_net_config, i)); i++) {
				struct json_object *t;

				if (!dev->network || strcmp(dev->network, net->name) != 0)
					continue;
				t = json_object_new_object();
				json_object_object_add(t, "vm", json_object_new_string(vm->id));
				json_object_object_add(t, "tap",
						       json_object_new_string(dev->tap));
				json_object_object_add(t, "present", json_object_new_boolean(
						hostnet_link_exists(dev->tap)));
				json_object_array_add(taps, t);
			}
		}
		json_object_object_add(jn, "taps", taps);
		json_object_array_add(nets, jn);
	}
	json_object_object_add(o, "vms", vms);
	json_object_object_add(o, "networks", nets);
	if (s->ncans) {
		struct json_object *cans = json_object_new_array();

		for (unsigned int n = 0; n < s->ncans; n++) {
			struct json_object *jc = json_object_new_object();

			json_object_object_add(jc, "name", json_object_new_string(s->cans[n].name));
			json_object_object_add(jc, "interface",
					       json_object_new_string(s->cans[n].ifname));
			json_object_object_add(jc, "made_by_avp",
					       json_object_new_boolean(s->cans[n].create));
			json_object_object_add(jc, "present", json_object_new_boolean(
						hostnet_link_exists(s->cans[n].ifname)));
			json_object_array_add(cans, jc);
		}
		json_object_object_add(o, "can", cans);
	}
	fprintf(out, "%s\n", json_object_to_json_string_ext(o, RT_JSON_PRETTY));
	json_object_put(o);
	return 0;
}
