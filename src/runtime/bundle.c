/* config.json of a bundle -> struct avp_bundle. Every rejection names the
 * JSON path of the offending value. The device types and their keys are
 * the device registry's (src/vmm/registry.c); each type's JSON is read
 * here into the device's config and added through the same config adders
 * as the command line's (src/config/config.c), which hold the limits and
 * duplicate checks. A new device needs its parse function in parsers[]
 * and its $defs entry in docs/bundle.schema.json. */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <libgen.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "avp/config/options.h"
#include "avp/runtime/bundle.h"
#include "avp/vmm/registry.h"

#define BACKOFF_MAX_MS 60000u

static const char *const top_keys[] = {
	"kernel", "initrd", "cmdline", "critical", "cpus", "memory", "scheduling",
	"serial", "devices", "restart", "shutdown_timeout_s", NULL,
};
static const char *const cpus_keys[] = { "count", "affinity", NULL };
static const char *const memory_keys[] = { "mib", "reserve", NULL };
static const char *const scheduling_keys[] = { "class", "priority", NULL };
static const char *const restart_keys[] = { "policy", "max_restarts", "backoff_ms", NULL };

/* Joins a bundle-relative path onto the bundle directory. */
static int resolve(const struct avp_bundle *b, const char *path, const char *where, char **out,
		   struct jc_err *e)
{
	if (!*path)
		return jc_fail(e, where, "empty path");
	if (path[0] == '/')
		*out = strdup(path);
	else if (asprintf(out, "%s/%s", b->dir, path) < 0)
		*out = NULL;
	return *out ? 0 : -ENOMEM;
}

/* "stdio", "none", "file:PATH", "pty" or "socket=PATH" (PATH relative to
 * the bundle). */
static int parse_chardev(struct avp_bundle *b, const char *text, const char *where,
			 struct avp_chardev_cfg *chr, struct jc_err *e)
{
	int ret = avp_parse_chardev(text, b->dir, chr);

	if (ret == -EINVAL)
		return jc_fail(e, where, "expected \"stdio\", \"none\", \"file:PATH\", \"pty\" or "
			       "\"socket=PATH\", got \"%s\"",
			       text);
	return ret;
}

/* An adder's refusal at the JSON path of the device, or of its key. */
static int added(int ret, const char *path, const struct avp_config_err *ce, struct jc_err *e)
{
	char where[JC_PATH_MAX];

	if (ret != -EINVAL)
		return ret;
	if (ce->key) {
		jc_path_key(where, sizeof(where), path, ce->key);
		path = where;
	}
	return jc_fail(e, path, "%s", ce->text);
}

static int parse_disk(struct json_object *dev, const char *path, struct avp_bundle *b,
		      struct jc_err *e)
{
	struct avp_config_err ce = { 0 };
	struct avp_disk_cfg disk = { 0 };
	char where[JC_PATH_MAX];
	const char *file;
	int ret;

	if ((ret = jc_get_string(dev, path, "path", true, &file, e)))
		return ret;
	ret = jc_get_bool(dev, path, "read_only", false, &disk.read_only, e);
	if (ret && ret != -ENOENT)
		return ret;
	jc_path_key(where, sizeof(where), path, "path");
	if ((ret = resolve(b, file, where, &disk.path, e)))
		return ret;
	return added(avp_config_add_disk(&b->cfg, &disk, &ce), path, &ce, e);
}

static int parse_net(struct json_object *dev, const char *path, struct avp_bundle *b,
		     struct jc_err *e)
{
	struct avp_config *cfg = &b->cfg;
	struct avp_config_err ce = { 0 };
	struct avp_net_cfg net = { 0 };
	char where[JC_PATH_MAX];
	const char *tap = NULL, *network = NULL, *mac;
	char *net_name = NULL;
	int ret;

	ret = jc_get_string(dev, path, "tap", false, &tap, e);
	if (ret && ret != -ENOENT)
		return ret;
	ret = jc_get_string(dev, path, "network", false, &network, e);
	if (ret && ret != -ENOENT)
		return ret;
	if (!tap == !network)
		return jc_fail(e, path, "give either \"tap\" (an existing or new tap) or \"network\" "
			       "(a network of the system file), not %s", tap ? "both" : "neither");
	/* On a network the tap is named after the MAC, so the system that
	 * makes the tap and every later start of the VM agree on it. */
	ret = jc_get_string(dev, path, "mac", network != NULL, &mac, e);
	if (ret == 0) {
		jc_path_key(where, sizeof(where), path, "mac");
		if (avp_parse_mac(mac, net.mac))
			return jc_fail(e, where, "expected a unicast MAC like 52:54:00:12:34:56, got "
				       "\"%s\"", mac);
		net.mac_set = true;
	} else if (ret != -ENOENT) {
		return ret;
	}
	if (network) {
		char name[16];

		bundle_network_tap(net.mac, name, sizeof(name));
		tap = name;
		if (!(net_name = strdup(network)))
			return -ENOMEM;
		net.tap = strdup(name);
	} else {
		net.tap = strdup(tap);
	}
	if (!net.tap) {
		free(net_name);
		return -ENOMEM;
	}
	ret = avp_config_add_net(cfg, &net, &ce);
	if (ret) {
		free(net_name);
		/* A network's tap is the MAC's: point at what the user wrote. */
		if (network && ce.key)
			ce.key = "mac";
		return added(ret, path, &ce, e);
	}
	b->net_network[cfg->nnets - 1] = net_name;
	return 0;
}

static int parse_rng(struct json_object *dev, const char *path, struct avp_bundle *b,
		     struct jc_err *e)
{
	struct avp_config_err ce = { 0 };

	(void)dev;
	return added(avp_config_add_rng(&b->cfg, &ce), path, &ce, e);
}

static int parse_console(struct json_object *dev, const char *path, struct avp_bundle *b,
			 struct jc_err *e)
{
	struct avp_config_err ce = { 0 };
	struct avp_chardev_cfg chr = { 0 };
	char where[JC_PATH_MAX];
	const char *backend = "stdio";
	int ret;

	ret = jc_get_string(dev, path, "backend", false, &backend, e);
	if (ret && ret != -ENOENT)
		return ret;
	jc_path_key(where, sizeof(where), path, "backend");
	ret = parse_chardev(b, backend, where, &chr, e);
	if (ret)
		return ret;
	if (chr.kind == AVP_CHR_NONE)
		return jc_fail(e, where, "a console device needs \"stdio\", \"file:PATH\", \"pty\" "
			       "or \"socket=PATH\" (leave "
			       "the device out for none)");
	return added(avp_config_add_console(&b->cfg, &chr, &ce), path, &ce, e);
}

static int parse_vsock(struct json_object *dev, const char *path, struct avp_bundle *b,
		       struct jc_err *e)
{
	struct avp_config_err ce = { 0 };
	struct avp_vsock_cfg vs = { 0 };
	char where[JC_PATH_MAX];
	const char *sock;
	int64_t cid;
	int ret;

	if ((ret = jc_get_int(dev, path, "cid", true, AVP_VSOCK_MIN_CID, AVP_VSOCK_MAX_CID, &cid,
			      e)) ||
	    (ret = jc_get_string(dev, path, "socket", true, &sock, e)))
		return ret;
	jc_path_key(where, sizeof(where), path, "socket");
	if ((ret = resolve(b, sock, where, &vs.socket, e)))
		return ret;
	vs.cid = (uint32_t)cid;
	return added(avp_config_add_vsock(&b->cfg, &vs, &ce), path, &ce, e);
}

/* width and height of a gpu or a touch screen: each may be left out (the
 * adders' one rule: the default size). */
static int get_dims(struct json_object *dev, const char *path, uint32_t *w, uint32_t *h,
		    struct jc_err *e)
{
	int64_t v;
	int ret;

	*w = *h = 0;
	ret = jc_get_int(dev, path, "width", false, 1, 65535, &v, e);
	if (ret == 0)
		*w = (uint32_t)v;
	else if (ret != -ENOENT)
		return ret;
	ret = jc_get_int(dev, path, "height", false, 1, 65535, &v, e);
	if (ret == 0)
		*h = (uint32_t)v;
	return ret == -ENOENT ? 0 : ret;
}

static int parse_gpu(struct json_object *dev, const char *path, struct avp_bundle *b,
		     struct jc_err *e)
{
	struct avp_config_err ce = { 0 };
	struct avp_gpu_cfg gpu = { .enabled = true };
	int ret = get_dims(dev, path, &gpu.width, &gpu.height, e);

	return ret ? ret : added(avp_config_add_gpu(&b->cfg, &gpu, &ce), path, &ce, e);
}

static int parse_input(struct json_object *dev, const char *path, struct avp_bundle *b,
		       struct jc_err *e)
{
	struct avp_config_err ce = { 0 };
	struct avp_input_cfg in = { 0 };
	char where[JC_PATH_MAX];
	const char *kind;
	int ret;

	ret = jc_get_string(dev, path, "kind", true, &kind, e);
	if (ret)
		return ret;
	jc_path_key(where, sizeof(where), path, "kind");
	if (strcmp(kind, "keyboard") == 0)
		in.kind = AVP_INPUT_KEYBOARD;
	else if (strcmp(kind, "touch") == 0)
		in.kind = AVP_INPUT_TOUCH;
	else
		return jc_fail(e, where, "expected \"keyboard\" or \"touch\", got \"%s\"", kind);
	ret = get_dims(dev, path, &in.width, &in.height, e);
	return ret ? ret : added(avp_config_add_input(&b->cfg, &in, &ce), path, &ce, e);
}

static int parse_sound(struct json_object *dev, const char *path, struct avp_bundle *b,
		       struct jc_err *e)
{
	struct avp_config_err ce = { 0 };
	struct avp_sound_cfg snd = { .enabled = true };
	static const char *const keys[2] = { "out", "in" };
	char **slots[2] = { &snd.out_path, &snd.in_path };

	for (int i = 0; i < 2; i++) {
		char where[JC_PATH_MAX];
		const char *file;
		int ret = jc_get_string(dev, path, keys[i], false, &file, e);

		if (ret == -ENOENT)
			continue;
		jc_path_key(where, sizeof(where), path, keys[i]);
		if (ret || (ret = resolve(b, file, where, slots[i], e))) {
			free(snd.out_path);
			return ret;
		}
	}
	return added(avp_config_add_sound(&b->cfg, &snd, &ce), path, &ce, e);
}

static int parse_watchdog(struct json_object *dev, const char *path, struct avp_bundle *b,
			  struct jc_err *e)
{
	struct avp_config_err ce = { 0 };
	struct avp_watchdog_cfg wdt = { .enabled = true };
	const char *action = "exit";
	int ret;

	ret = jc_get_string(dev, path, "action", false, &action, e);
	if (ret && ret != -ENOENT)
		return ret;
	if (strcmp(action, "exit") == 0) {
		wdt.action = AVP_WATCHDOG_EXIT;
	} else if (strcmp(action, "reset") == 0) {
		wdt.action = AVP_WATCHDOG_RESET;
	} else {
		char where[JC_PATH_MAX];

		jc_path_key(where, sizeof(where), path, "action");
		return jc_fail(e, where, "expected \"exit\" or \"reset\", got \"%s\"", action);
	}
	return added(avp_config_add_watchdog(&b->cfg, &wdt, &ce), path, &ce, e);
}

typedef int (*device_parser)(struct json_object *dev, const char *path, struct avp_bundle *b,
			     struct jc_err *e);

/* The JSON reader of each registry entry; NULL: the format knows the type
 * but this build has no such device. */
static const device_parser parsers[AVP_DEV_NKINDS] = {
	[AVP_DEV_DISK] = parse_disk,	   [AVP_DEV_NET] = parse_net,
	[AVP_DEV_RNG] = parse_rng,	   [AVP_DEV_CONSOLE] = parse_console,
	[AVP_DEV_VSOCK] = parse_vsock,	   [AVP_DEV_GPU] = parse_gpu,
	[AVP_DEV_INPUT] = parse_input,	   [AVP_DEV_SOUND] = parse_sound,
	[AVP_DEV_WATCHDOG] = parse_watchdog,
};

const char *const *bundle_device_types(void)
{
	static const char *names[AVP_DEV_NKINDS + 1];
	size_t n;
	const struct avp_device_type *types = avp_device_types(&n);

	for (size_t i = 0; i < n && i < AVP_DEV_NKINDS; i++)
		names[i] = types[i].name;
	return names;
}

bool bundle_device_supported(const char *type)
{
	const struct avp_device_type *t = avp_device_type_by_name(type);

	return t && parsers[t->kind];
}

const char *const *bundle_keys(const char *object)
{
	static const struct {
		const char *name;
		const char *const *keys;
	} objects[] = {
		{ "", top_keys },	  { "cpus", cpus_keys },       { "memory", memory_keys },
		{ "scheduling", scheduling_keys }, { "restart", restart_keys },
	};

	for (size_t i = 0; i < sizeof(objects) / sizeof(objects[0]); i++)
		if (strcmp(objects[i].name, object) == 0)
			return objects[i].keys;
	if (strncmp(object, "devices.", 8) == 0) {
		const struct avp_device_type *t = avp_device_type_by_name(object + 8);

		return t ? t->bundle_keys : NULL;
	}
	return NULL;
}

/* "disk, net, ... or watchdog", from the registry. */
static const char *type_list(char *buf, size_t len)
{
	const char *const *names = bundle_device_types();
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; names[i] && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s",
					 i == 0 ? "" : names[i + 1] ? ", " : " or ", names[i]);
	return buf;
}

static int parse_devices(struct json_object *root, struct avp_bundle *b, struct jc_err *e)
{
	struct json_object *devs;
	int ret = jc_get_array(root, "", "devices", false, &devs, e);

	if (ret)
		return ret == -ENOENT ? 0 : ret;
	for (size_t i = 0; i < json_object_array_length(devs); i++) {
		struct json_object *dev = json_object_array_get_idx(devs, i);
		const struct avp_device_type *kind;
		char path[JC_PATH_MAX], where[JC_PATH_MAX], list[160];
		const char *type;

		jc_path_index(path, sizeof(path), "devices", i);
		if (!json_object_is_type(dev, json_type_object))
			return jc_fail(e, path, "expected an object, got %s", jc_type_name(dev));
		ret = jc_get_string(dev, path, "type", true, &type, e);
		if (ret)
			return ret;
		kind = avp_device_type_by_name(type);
		jc_path_key(where, sizeof(where), path, "type");
		if (!kind)
			return jc_fail(e, where, "unknown device type \"%s\" (expected %s)", type,
				       type_list(list, sizeof(list)));
		ret = jc_check_object(dev, path, kind->bundle_keys, e);
		if (ret)
			return ret;
		if (!parsers[kind->kind])
			return jc_fail(e, where, "this build of avp has no %s device yet", type);
		if (kind->kind == AVP_DEV_NET && b->cfg.nnets < AVP_MAX_NETS)
			b->net_device[b->cfg.nnets] = (unsigned int)i;
		if (kind->kind == AVP_DEV_DISK && b->cfg.ndisks < AVP_MAX_DISKS)
			b->disk_device[b->cfg.ndisks] = (unsigned int)i;
		if (kind->kind == AVP_DEV_VSOCK && !b->cfg.vsock.cid)
			b->vsock_device = (unsigned int)i;
		ret = parsers[kind->kind](dev, path, b, e);
		if (ret)
			return ret;
	}
	return 0;
}

static int parse_cpus(struct json_object *root, struct avp_bundle *b, struct jc_err *e)
{
	struct json_object *cpus, *aff;
	int64_t v;
	int ret = jc_get_object(root, "", "cpus", false, &cpus, e);

	if (ret)
		return ret == -ENOENT ? 0 : ret;
	ret = jc_check_object(cpus, "cpus", cpus_keys, e);
	if (ret)
		return ret;
	ret = jc_get_int(cpus, "cpus", "count", true, 1, AVP_MAX_CPUS, &v, e);
	if (ret)
		return ret;
	b->cfg.cpus = (unsigned int)v;
	ret = jc_get_array(cpus, "cpus", "affinity", false, &aff, e);
	if (ret)
		return ret == -ENOENT ? 0 : ret;
	if (json_object_array_length(aff) != b->cfg.cpus)
		return jc_fail(e, "cpus.affinity", "%zu host CPUs for %u vCPUs (give one host CPU per "
			       "vCPU)", json_object_array_length(aff), b->cfg.cpus);
	for (unsigned int i = 0; i < b->cfg.cpus; i++) {
		char where[JC_PATH_MAX];

		jc_path_index(where, sizeof(where), "cpus.affinity", i);
		ret = jc_int_value(json_object_array_get_idx(aff, i), where, 0, CPU_SETSIZE - 1, &v,
				   e);
		if (ret)
			return ret;
		b->cfg.cpu_affinity[i] = (int)v;
	}
	b->cfg.affinity_set = true;
	return 0;
}

static int parse_memory(struct json_object *root, struct avp_bundle *b, struct jc_err *e)
{
	struct json_object *mem;
	int64_t v;
	int ret = jc_get_object(root, "", "memory", false, &mem, e);

	if (ret)
		return ret == -ENOENT ? 0 : ret;
	ret = jc_check_object(mem, "memory", memory_keys, e);
	if (ret)
		return ret;
	ret = jc_get_int(mem, "memory", "mib", true, AVP_MIN_MEMORY_MIB, AVP_MAX_MEMORY_MIB, &v, e);
	if (ret)
		return ret;
	b->cfg.memory_mib = (uint64_t)v;
	ret = jc_get_bool(mem, "memory", "reserve", false, &b->cfg.mem_reserve, e);
	return ret == -ENOENT ? 0 : ret;
}

static int parse_scheduling(struct json_object *root, struct avp_bundle *b, struct jc_err *e)
{
	struct json_object *sched;
	const char *cls;
	int64_t v;
	int ret = jc_get_object(root, "", "scheduling", false, &sched, e);

	if (ret)
		return ret == -ENOENT ? 0 : ret;
	ret = jc_check_object(sched, "scheduling", scheduling_keys, e);
	if (ret)
		return ret;
	ret = jc_get_string(sched, "scheduling", "class", true, &cls, e);
	if (ret)
		return ret;
	if (strcmp(cls, "normal") == 0)
		b->cfg.sched_class = AVP_SCHED_NORMAL;
	else if (strcmp(cls, "fifo") == 0)
		b->cfg.sched_class = AVP_SCHED_FIFO;
	else
		return jc_fail(e, "scheduling.class", "expected \"normal\" or \"fifo\", got \"%s\"",
			       cls);
	ret = jc_get_int(sched, "scheduling", "priority", false, 1, 99, &v, e);
	if (ret == -ENOENT) {
		if (b->cfg.sched_class == AVP_SCHED_FIFO)
			return jc_fail(e, "scheduling.priority", "missing (required with class "
				       "\"fifo\": 1-99)");
		return 0;
	}
	if (ret)
		return ret;
	if (b->cfg.sched_class != AVP_SCHED_FIFO)
		return jc_fail(e, "scheduling.priority", "only meaningful with class \"fifo\"");
	b->cfg.sched_priority = (int)v;
	return 0;
}

static int parse_restart(struct json_object *root, struct avp_bundle *b, struct jc_err *e)
{
	struct json_object *r;
	const char *policy;
	int64_t v;
	int ret = jc_get_object(root, "", "restart", false, &r, e);

	if (ret)
		return ret == -ENOENT ? 0 : ret;
	ret = jc_check_object(r, "restart", restart_keys, e);
	if (ret)
		return ret;
	ret = jc_get_string(r, "restart", "policy", true, &policy, e);
	if (ret)
		return ret;
	if (strcmp(policy, "never") == 0)
		b->restart = AVP_RESTART_NEVER;
	else if (strcmp(policy, "on-failure") == 0)
		b->restart = AVP_RESTART_ON_FAILURE;
	else if (strcmp(policy, "always") == 0)
		b->restart = AVP_RESTART_ALWAYS;
	else
		return jc_fail(e, "restart.policy", "expected \"never\", \"on-failure\" or "
			       "\"always\", got \"%s\"", policy);
	ret = jc_get_int(r, "restart", "max_restarts", false, 0, 1000000, &v, e);
	if (ret == 0)
		b->max_restarts = (unsigned int)v;
	else if (ret != -ENOENT)
		return ret;
	ret = jc_get_int(r, "restart", "backoff_ms", false, 0, BACKOFF_MAX_MS, &v, e);
	if (ret == 0)
		b->backoff_ms = (unsigned int)v;
	return ret == -ENOENT ? 0 : ret;
}

static int parse_top(struct json_object *root, struct avp_bundle *b, struct jc_err *e)
{
	struct avp_config_err ce = { 0 };
	const char *s;
	int64_t v;
	int ret = jc_check_object(root, "", top_keys, e);

	if (ret)
		return ret;
	ret = jc_get_string(root, "", "kernel", true, &s, e);
	if (ret || (ret = resolve(b, s, "kernel", &b->cfg.kernel, e)))
		return ret;
	ret = jc_get_string(root, "", "initrd", false, &s, e);
	if (ret == 0)
		ret = resolve(b, s, "initrd", &b->cfg.initrd, e);
	if (ret && ret != -ENOENT)
		return ret;
	ret = jc_get_string(root, "", "cmdline", false, &s, e);
	if (ret == 0) {
		if (strlen(s) > AVP_MAX_CMDLINE)
			return jc_fail(e, "cmdline", "%zu bytes is too long (at most %d)", strlen(s),
				       AVP_MAX_CMDLINE);
		if (!(b->cfg.cmdline = strdup(s)))
			return -ENOMEM;
	} else if (ret != -ENOENT) {
		return ret;
	}
	ret = jc_get_string(root, "", "serial", false, &s, e);
	if (ret == 0)
		ret = parse_chardev(b, s, "serial", &b->cfg.serial, e);
	if (ret && ret != -ENOENT)
		return ret;
	ret = jc_get_bool(root, "", "critical", false, &b->critical, e);
	if (ret && ret != -ENOENT)
		return ret;
	ret = jc_get_int(root, "", "shutdown_timeout_s", false, 0, 3600, &v, e);
	if (ret == 0)
		b->shutdown_timeout_s = (unsigned int)v;
	else if (ret != -ENOENT)
		return ret;
	if ((ret = parse_cpus(root, b, e)) || (ret = parse_memory(root, b, e)) ||
	    (ret = parse_scheduling(root, b, e)) || (ret = parse_restart(root, b, e)) ||
	    (ret = parse_devices(root, b, e)))
		return ret;
	if (b->critical && !b->cfg.affinity_set)
		return jc_fail(e, "critical", "a critical VM must pin its vCPUs (add cpus.affinity)");
	ret = avp_config_check(&b->cfg, &ce);
	return ret ? jc_fail(e, ce.key ? ce.key : "", "%s", ce.text) : 0;
}

/* Messages about values read "config.json: PATH: ...", like the syntax
 * errors ("config.json:LINE:COL: ..."). */
static void prefix_file(struct jc_err *e)
{
	size_t pre = strlen(BUNDLE_CONFIG ": ");
	size_t len = strlen(e->text);

	if (!e->text[0] || strncmp(e->text, BUNDLE_CONFIG, strlen(BUNDLE_CONFIG)) == 0)
		return;
	if (len + pre >= sizeof(e->text))
		len = sizeof(e->text) - pre - 1;
	memmove(e->text + pre, e->text, len);
	memcpy(e->text, BUNDLE_CONFIG ": ", pre);
	e->text[pre + len] = '\0';
}

static void bundle_init(struct avp_bundle *b)
{
	memset(b, 0, sizeof(*b));
	avp_config_init(&b->cfg);
	b->restart = AVP_RESTART_NEVER;
	b->max_restarts = 5;
	b->backoff_ms = 1000;
	b->shutdown_timeout_s = 10;
}

int bundle_parse(const char *text, size_t len, const char *dir, struct avp_bundle *b,
		 struct jc_err *e)
{
	struct json_object *root;
	int ret;

	bundle_init(b);
	if (!dir || dir[0] != '/')
		return jc_fail(e, "", "bundle directory '%s' is not an absolute path",
			       dir ? dir : "");
	ret = jc_parse_text(text, len, BUNDLE_CONFIG, &root, e);
	if (ret)
		return ret;
	b->dir = strdup(dir);
	ret = b->dir ? parse_top(root, b, e) : -ENOMEM;
	json_object_put(root);
	prefix_file(e);
	if (ret)
		bundle_free(b);
	return ret;
}

static int check_file(const char *path, const char *where, struct jc_err *e)
{
	struct stat st;

	if (stat(path, &st))
		return jc_fail(e, where, "%s (%s)", errno == ENOENT ? "file not found" : strerror(errno),
			       path);
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
		return jc_fail(e, where, "not a regular file (%s)", path);
	return 0;
}

int bundle_check_host(const struct avp_bundle *b, struct jc_err *e)
{
	const struct avp_config *cfg = &b->cfg;
	long ncpu = sysconf(_SC_NPROCESSORS_CONF);
	int ret;

	if ((ret = check_file(cfg->kernel, "kernel", e)) ||
	    (cfg->initrd && (ret = check_file(cfg->initrd, "initrd", e))))
		return ret;
	/* Devices are numbered in config.json order; find each disk's index. */
	for (unsigned int i = 0; i < cfg->ndisks; i++) {
		char where[JC_PATH_MAX];

		snprintf(where, sizeof(where), "devices[%u].path", b->disk_device[i]);
		ret = check_file(cfg->disks[i].path, where, e);
		if (ret)
			return ret;
	}
	for (unsigned int i = 0; cfg->affinity_set && i < cfg->cpus; i++)
		if (ncpu > 0 && cfg->cpu_affinity[i] >= ncpu) {
			char where[JC_PATH_MAX];

			jc_path_index(where, sizeof(where), "cpus.affinity", i);
			return jc_fail(e, where, "host CPU %d does not exist (this host has CPUs "
				       "0-%ld)", cfg->cpu_affinity[i], ncpu - 1);
		}
	return 0;
}

/* Where path really leads, links followed; for a file that does not exist
 * yet (an output, a socket), its directory resolved and its name kept. */
static bool real_location(const char *path, char *out)
{
	char dir[PATH_MAX], base[PATH_MAX], rdir[PATH_MAX];

	if (realpath(path, out))
		return true;
	snprintf(dir, sizeof(dir), "%s", path);
	snprintf(base, sizeof(base), "%s", path);
	if (!realpath(dirname(dir), rdir))
		return false;
	return snprintf(out, PATH_MAX, "%s/%s", rdir, basename(base)) < PATH_MAX;
}

/* --confine: every file the bundle names stays inside its directory, after
 * links are followed; no host block device as a disk, no host tap (only a
 * system file's networks). For bundles from someone the host user does
 * not trust with root's reach (docs/security.md, "Who is trusted"). */
static int check_confined(const struct avp_bundle *b, struct jc_err *e)
{
	const struct avp_config *c = &b->cfg;
	struct named_path {
		const char *what, *path;
	} files[4 + AVP_MAX_DISKS + 5];
	size_t n = 0, dlen = strlen(b->dir);
	char real[PATH_MAX];
	struct stat st;

	files[n++] = (struct named_path){ "kernel", c->kernel };
	files[n++] = (struct named_path){ "initrd", c->initrd };
	for (unsigned int i = 0; i < c->ndisks; i++)
		files[n++] = (struct named_path){ "disk", c->disks[i].path };
	if (c->serial.kind == AVP_CHR_FILE)
		files[n++] = (struct named_path){ "serial", c->serial.path };
	if (c->console.kind == AVP_CHR_FILE)
		files[n++] = (struct named_path){ "console", c->console.path };
	files[n++] = (struct named_path){ "sound out", c->sound.out_path };
	files[n++] = (struct named_path){ "sound in", c->sound.in_path };
	if (c->vsock.cid)
		files[n++] = (struct named_path){ "vsock socket", c->vsock.socket };
	for (size_t i = 0; i < n; i++) {
		if (!files[i].path)
			continue;
		if (!real_location(files[i].path, real) || strncmp(real, b->dir, dlen) != 0 ||
		    (real[dlen] != '/' && real[dlen] != '\0'))
			return jc_fail(e, "", "--confine: the %s %s is outside the bundle %s (links "
				       "followed): a confined bundle names only files inside it",
				       files[i].what, files[i].path, b->dir);
	}
	for (unsigned int i = 0; i < c->ndisks; i++)
		if (stat(c->disks[i].path, &st) == 0 && S_ISBLK(st.st_mode))
			return jc_fail(e, "", "--confine: the disk %s is a host block device: a "
				       "confined bundle uses image files", c->disks[i].path);
	for (unsigned int i = 0; i < c->nnets; i++)
		if (!b->net_network[i])
			return jc_fail(e, "", "--confine: net device with tap %s: a confined bundle "
				       "reaches host networks only through a system file's "
				       "\"networks\"", c->nets[i].tap);
	return 0;
}

int bundle_load(const char *dir, struct avp_bundle *b, struct jc_err *e)
{
	return bundle_load_ex(dir, 0, b, e);
}

int bundle_load_ex(const char *dir, unsigned int flags, struct avp_bundle *b, struct jc_err *e)
{
	char abs[PATH_MAX], file[PATH_MAX + 16];
	size_t len;
	char *text;
	int ret;

	bundle_init(b);
	if (!realpath(dir, abs))
		return jc_fail(e, "", "%s", strerror(errno));
	snprintf(file, sizeof(file), "%s/%s", abs, BUNDLE_CONFIG);
	ret = jc_read_file(file, BUNDLE_CONFIG, &text, &len, e);
	if (ret)
		return ret;
	ret = bundle_parse(text, len, abs, b, e);
	free(text);
	if (ret == 0 && (flags & BUNDLE_CONFINE)) {
		ret = check_confined(b, e);
		if (ret)
			bundle_free(b);
	}
	if (ret == 0) {
		ret = bundle_check_host(b, e);
		prefix_file(e);
		if (ret)
			bundle_free(b);
	}
	return ret;
}

void bundle_network_tap(const uint8_t mac[6], char *buf, size_t len)
{
	snprintf(buf, len, "avp%02x%02x%02x%02x%02x%02x", mac[0], mac[1], mac[2], mac[3], mac[4],
		 mac[5]);
}

int bundle_load_config(const char *dir, unsigned int flags, struct avp_config *cfg, FILE *err)
{
	struct avp_bundle b;
	struct jc_err e = { "" };
	int ret = bundle_load_ex(dir, flags, &b, &e);

	if (ret) {
		fprintf(err, "avp run: --bundle %s: %s\n", dir, e.text[0] ? e.text : strerror(-ret));
		return -EINVAL;
	}
	/* The bundle replaces the whole platform; options after --bundle
	 * then adjust it. */
	avp_config_free(cfg);
	*cfg = b.cfg;
	avp_config_init(&b.cfg);
	bundle_free(&b);
	return 0;
}

void bundle_free(struct avp_bundle *b)
{
	free(b->dir);
	for (unsigned int i = 0; i < AVP_MAX_NETS; i++)
		free(b->net_network[i]);
	avp_config_free(&b->cfg);
	memset(b, 0, sizeof(*b));
}

const char *bundle_restart_name(enum avp_restart_policy policy)
{
	switch (policy) {
	case AVP_RESTART_ON_FAILURE:
		return "on-failure";
	case AVP_RESTART_ALWAYS:
		return "always";
	default:
		return "never";
	}
}

const char *bundle_default_text(void)
{
	return "{\n"
	       "  \"$comment\": \"avp bundle: one VM. Paths are relative to this directory. Keys "
	       "named $comment are ignored; the format is docs/bundle.schema.json, explained in "
	       "docs/runtime.md.\",\n"
	       "  \"kernel\": \"vmlinuz\",\n"
	       "  \"initrd\": \"initrd.img\",\n"
	       "  \"cmdline\": \"console=ttyS0 panic=-1\",\n"
	       "  \"cpus\": {\n"
	       "    \"$comment\": \"count: vCPUs (1-64). affinity (optional): one host CPU per vCPU; "
	       "the vCPU threads are pinned to them.\",\n"
	       "    \"count\": 1\n"
	       "  },\n"
	       "  \"memory\": {\n"
	       "    \"$comment\": \"mib: guest RAM. reserve: lock and pre-fault all of it at start "
	       "(no overcommit, no page faults later).\",\n"
	       "    \"mib\": 256,\n"
	       "    \"reserve\": false\n"
	       "  },\n"
	       "  \"scheduling\": {\n"
	       "    \"$comment\": \"class: normal, or fifo with priority 1-99 (real-time vCPU "
	       "threads). A critical VM (\\\"critical\\\": true) must also set cpus.affinity.\",\n"
	       "    \"class\": \"normal\"\n"
	       "  },\n"
	       "  \"serial\": \"stdio\",\n"
	       "  \"devices\": [\n"
	       "    { \"$comment\": \"types: disk {path, read_only}, net {tap or network, mac}, rng, "
	       "console {backend: stdio, file:PATH, pty or socket=PATH}, vsock {cid, socket}, gpu {width, height}, "
	       "input {kind: keyboard or touch, width, height}, sound {out, in: WAV files}, "
	       "watchdog {action: exit or reset}.\", \"type\": \"rng\" },\n"
	       "    { \"type\": \"console\", \"backend\": \"file:hvc0.log\" }\n"
	       "  ],\n"
	       "  \"restart\": {\n"
	       "    \"$comment\": \"policy: never, on-failure (anything but a guest power-off) or "
	       "always; max_restarts 0 = no limit; backoff_ms doubles per restart, at most "
	       "60000.\",\n"
	       "    \"policy\": \"on-failure\",\n"
	       "    \"max_restarts\": 5,\n"
	       "    \"backoff_ms\": 1000\n"
	       "  },\n"
	       "  \"shutdown_timeout_s\": 10\n"
	       "}\n";
}

int bundle_write_default(const char *dir, struct jc_err *e)
{
	char file[PATH_MAX];
	const char *text = bundle_default_text();
	size_t len = strlen(text);
	int fd;

	snprintf(file, sizeof(file), "%s/%s", dir, BUNDLE_CONFIG);
	fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		int err = errno;

		jc_fail(e, "", "cannot create %s: %s", file,
			err == EEXIST ? "it exists already (remove it first)" : strerror(err));
		return -err;
	}
	if (write(fd, text, len) != (ssize_t)len || fsync(fd)) {
		int err = errno ? errno : EIO;

		close(fd);
		unlink(file);
		jc_fail(e, "", "cannot write %s: %s", file, strerror(err));
		return -err;
	}
	close(fd);
	return 0;
}
