/* config.json of a bundle -> struct avp_bundle. Every rejection names the
 * JSON path of the offending value. The device types are the device
 * registry's (src/vmm/registry.c); a device object is read by its type's
 * key table (include/avp/config/options.h) into the device's options and
 * added through the same adder as the command line's
 * (src/config/config.c), which holds the limits and calls the type's
 * checks. Nothing here knows a device: a new one needs only its $defs
 * entry in docs/bundle.schema.json. */
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
#include "avp/runtime/oci_image.h"
#include "avp/vmm/registry.h"

#define BACKOFF_MAX_MS 60000u

static const char *const top_keys[] = {
	"kernel", "initrd", "cmdline", "critical", "cpus", "memory", "scheduling",
	"serial", "devices", "restart", "shutdown_timeout_s", "transport",
	/* The OCI runtime spec's keys (config.md, config-vm.md; docs/oci.md). */
	"ociVersion", "vm", "root", "process", "mounts", "hostname", "domainname", "hooks",
	"annotations", "linux", NULL,
};
static const char *const vm_keys[] = { "hypervisor", "kernel", "image", NULL };
static const char *const vm_hypervisor_keys[] = { "path", "parameters", NULL };
static const char *const vm_kernel_keys[] = { "path", "parameters", "initrd", NULL };
static const char *const vm_image_keys[] = { "path", "format", NULL };
static const char *const cpus_keys[] = { "count", "affinity", NULL };
static const char *const memory_keys[] = { "mib", "reserve", NULL };
static const char *const scheduling_keys[] = { "class", "priority", NULL };
static const char *const restart_keys[] = { "policy", "max_restarts", "backoff_ms", NULL };
static const char *const sched_classes[] = { [AVP_SCHED_NORMAL] = "normal",
					     [AVP_SCHED_FIFO] = "fifo", NULL };
static const char *const restart_policies[] = { [AVP_RESTART_NEVER] = "never",
						[AVP_RESTART_ON_FAILURE] = "on-failure",
						[AVP_RESTART_ALWAYS] = "always", NULL };

/* Joins a bundle-relative path onto the bundle directory. */
static int resolve(const struct avp_bundle *b, const char *path, const char *where, char **out,
		   struct jc_err *e)
{
	if (!*path)
		return jc_fail(e, where, "empty path");
	*out = avp_join_path(b->dir, path);
	return *out ? 0 : -ENOMEM;
}

#define CHARDEV_EXPECTED \
	"expected \"stdio\", \"none\", \"file:PATH\", \"pty\" or \"socket=PATH\""

/* "stdio", "none", "file:PATH", "pty" or "socket=PATH" (PATH relative to
 * the bundle). */
static int parse_chardev(struct avp_bundle *b, const char *text, const char *where,
			 struct avp_chardev_cfg *chr, struct jc_err *e)
{
	int ret = avp_parse_chardev(text, b->dir, chr);

	if (ret == -EINVAL)
		return jc_fail(e, where, CHARDEV_EXPECTED ", got \"%s\"", text);
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
	return jc_fail(e, path, "%s", ce->text[0] ? ce->text : "not a valid device");
}

/* "\"a\", \"b\" or \"c\"": an enum key's names. */
static const char *word_list(const char *const *words, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; words[i] && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s\"%s\"",
					 i == 0 ? "" : words[i + 1] ? ", " : " or ", words[i]);
	return buf;
}

/* One key of a device object by its table entry, into opts. -ENOENT: not
 * there (and not required). */
static int read_key(struct json_object *dev, const char *path, const struct avp_key *k, void *opts,
		    const char *dir, struct jc_err *e)
{
	void *slot = (char *)opts + k->offset;
	bool required = k->flags & AVP_KEY_REQUIRED;
	char where[JC_PATH_MAX], list[160];
	const char *s;
	int64_t v;
	int ret;

	jc_path_key(where, sizeof(where), path, k->name);
	if (k->type == AVP_KEY_UINT) {
		ret = jc_get_int(dev, path, k->name, required, k->min, k->max, &v, e);
		if (ret == 0)
			*(uint32_t *)slot = (uint32_t)v;
		return ret;
	}
	if (k->type == AVP_KEY_BOOL)
		return jc_get_bool(dev, path, k->name, required, slot, e);
	ret = jc_get_string(dev, path, k->name, required, &s, e);
	if (ret)
		return ret;
	if (k->type == AVP_KEY_PATH && !*s)
		return jc_fail(e, where, "empty path");
	ret = avp_opts_set(k, opts, s, dir);
	if (ret != -EINVAL)
		return ret;
	if (k->type == AVP_KEY_ENUM)
		return jc_fail(e, where, "expected %s, got \"%s\"", word_list(k->words, list,
										sizeof(list)), s);
	if (k->type == AVP_KEY_MAC)
		return jc_fail(e, where, "expected a unicast MAC like 52:54:00:12:34:56, got \"%s\"",
			       s);
	if (k->type == AVP_KEY_CHARDEV)
		return jc_fail(e, where, CHARDEV_EXPECTED ", got \"%s\"", s);
	return jc_fail(e, where, "\"%s\" is not a valid value", s);
}

/* A device object into a new device of type t, through the one adder. */
static int parse_device(struct json_object *dev, const char *path,
			const struct avp_config_type *t, struct avp_bundle *b, struct jc_err *e)
{
	struct avp_config_err ce = { 0 };
	void *opts = avp_opts_new(t);
	uint32_t given = 0;
	int ret = opts ? 0 : -ENOMEM;

	for (unsigned int k = 0; ret == 0 && t->keys && t->keys[k].name; k++) {
		if (t->keys[k].flags & AVP_KEY_CLI_ONLY)
			continue;
		ret = read_key(dev, path, &t->keys[k], opts, b->dir, e);
		if (ret == 0)
			given |= AVP_KEY_BIT(k);
		else if (ret == -ENOENT)
			ret = 0;
	}
	if (ret == 0)
		ret = avp_opts_defaults(t, opts, given);
	if (ret) {
		if (opts)
			avp_opts_free(t, opts);
		free(opts);
		return ret;
	}
	return added(avp_config_add_device(&b->cfg, t, opts, given, &ce), path, &ce, e);
}

/* A device type a bundle may declare: the registry's, but for those only
 * the command line has (--vsock-peer). */
static const struct avp_config_type *bundle_type(const char *name)
{
	const struct avp_device_type *t = avp_device_type_by_name(name);

	return t && !(t->config->flags & AVP_TYPE_CLI_ONLY) ? t->config : NULL;
}

/* "type" and the keys of t a bundle may give, into out (NULL-ended). */
static const char *const *device_keys(const struct avp_config_type *t, const char **out)
{
	size_t n = 0;

	out[n++] = "type";
	for (unsigned int k = 0; t->keys && t->keys[k].name && k < AVP_MAX_KEYS; k++)
		if (!(t->keys[k].flags & AVP_KEY_CLI_ONLY))
			out[n++] = t->keys[k].name;
	out[n] = NULL;
	return out;
}

const char *const *bundle_device_types(void)
{
	static const char *names[32];
	const struct avp_device_type *t;
	size_t n = 0;

	for (size_t i = 0; (t = avp_device_type_at(i)) && n + 1 < sizeof(names) / sizeof(names[0]);
	     i++)
		if (bundle_type(t->config->name))
			names[n++] = t->config->name;
	names[n] = NULL;
	return names;
}

bool bundle_device_supported(const char *type)
{
	return bundle_type(type) != NULL;
}

const char *const *bundle_keys(const char *object)
{
	static const struct {
		const char *name;
		const char *const *keys;
	} objects[] = {
		{ "", top_keys },	  { "cpus", cpus_keys },       { "memory", memory_keys },
		{ "scheduling", scheduling_keys }, { "restart", restart_keys },
		{ "vm", vm_keys }, { "vm.hypervisor", vm_hypervisor_keys },
		{ "vm.kernel", vm_kernel_keys }, { "vm.image", vm_image_keys },
	};
	static const char *keys[AVP_MAX_KEYS + 2];

	for (size_t i = 0; i < sizeof(objects) / sizeof(objects[0]); i++)
		if (strcmp(objects[i].name, object) == 0)
			return objects[i].keys;
	if (strncmp(object, "devices.", 8) == 0) {
		const struct avp_config_type *t = bundle_type(object + 8);

		return t ? device_keys(t, keys) : NULL;
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
		const struct avp_config_type *t;
		const char *keys[AVP_MAX_KEYS + 2];
		char path[JC_PATH_MAX], where[JC_PATH_MAX], list[160];
		const char *type;

		jc_path_index(path, sizeof(path), "devices", i);
		if (!json_object_is_type(dev, json_type_object))
			return jc_fail(e, path, "expected an object, got %s", jc_type_name(dev));
		ret = jc_get_string(dev, path, "type", true, &type, e);
		if (ret)
			return ret;
		t = bundle_type(type);
		jc_path_key(where, sizeof(where), path, "type");
		if (!t)
			return jc_fail(e, where, "unknown device type \"%s\" (expected %s)", type,
				       type_list(list, sizeof(list)));
		ret = jc_check_object(dev, path, device_keys(t, keys), e);
		if (ret)
			return ret;
		if (b->cfg.ndevices < AVP_MAX_DEVICE_ENTRIES)
			b->device_index[b->cfg.ndevices] = (unsigned int)i;
		ret = parse_device(dev, path, t, b, e);
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
	if ((ret = avp_word_index(sched_classes, cls)) < 0)
		return jc_fail(e, "scheduling.class", "expected \"normal\" or \"fifo\", got \"%s\"",
			       cls);
	b->cfg.sched_class = (enum avp_sched_class)ret;
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
	if ((ret = avp_word_index(restart_policies, policy)) < 0)
		return jc_fail(e, "restart.policy", "expected \"never\", \"on-failure\" or "
			       "\"always\", got \"%s\"", policy);
	b->restart = (enum avp_restart_policy)ret;
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

/* An absolute path (config-vm.md: "MUST be an absolute path") at PATH.KEY. */
static int oci_abs_path(struct json_object *obj, const char *path, const char *key, bool required,
			char **out, struct jc_err *e)
{
	char where[JC_PATH_MAX];
	const char *s;
	int ret = jc_get_string(obj, path, key, required, &s, e);

	if (ret)
		return ret;
	jc_path_key(where, sizeof(where), path, key);
	if (s[0] != '/')
		return jc_fail(e, where, "\"%s\" is not an absolute path (the OCI runtime spec "
			       "requires one)", s);
	*out = strdup(s);
	return *out ? 0 : -ENOMEM;
}

/* vm.hypervisor names the program that runs the VM: avp is that program,
 * so it may name avp and nothing else. */
static int oci_hypervisor(struct json_object *vm, struct jc_err *e)
{
	struct json_object *h, *params;
	const char *path, *base;
	int ret = jc_get_object(vm, "vm", "hypervisor", false, &h, e);

	if (ret)
		return ret == -ENOENT ? 0 : ret;
	if ((ret = jc_check_object(h, "vm.hypervisor", vm_hypervisor_keys, e)) ||
	    (ret = jc_get_string(h, "vm.hypervisor", "path", true, &path, e)))
		return ret;
	base = strrchr(path, '/');
	base = base ? base + 1 : path;
	if (strcmp(base, "avp") != 0)
		return jc_fail(e, "vm.hypervisor.path", "\"%s\" is not avp: avp runs the VM itself "
			       "(leave vm.hypervisor out, or name avp)", path);
	ret = jc_get_array(h, "vm.hypervisor", "parameters", false, &params, e);
	if (ret == 0 && json_object_array_length(params))
		return jc_fail(e, "vm.hypervisor.parameters", "avp takes no parameters here: use "
			       "config.json's own keys (docs/oci.md)");
	return ret == -ENOENT ? 0 : ret;
}

/* vm.kernel.parameters: strings joined by spaces into the command line. */
static int oci_cmdline(struct json_object *k, struct avp_bundle *b, struct jc_err *e)
{
	struct json_object *params;
	char line[AVP_MAX_CMDLINE + 1] = "";
	size_t used = 0;
	int ret = jc_get_array(k, "vm.kernel", "parameters", false, &params, e);

	if (ret)
		return ret == -ENOENT ? 0 : ret;
	for (size_t i = 0; i < json_object_array_length(params); i++) {
		struct json_object *p = json_object_array_get_idx(params, i);
		char where[JC_PATH_MAX];
		int n;

		jc_path_index(where, sizeof(where), "vm.kernel.parameters", i);
		if (!json_object_is_type(p, json_type_string))
			return jc_fail(e, where, "expected a string, got %s", jc_type_name(p));
		n = snprintf(line + used, sizeof(line) - used, "%s%s", used ? " " : "",
			     json_object_get_string(p));
		if (n < 0 || (size_t)n >= sizeof(line) - used)
			return jc_fail(e, "vm.kernel.parameters", "the command line is too long (at "
				       "most %d bytes)", AVP_MAX_CMDLINE);
		used += (size_t)n;
	}
	b->cfg.cmdline = strdup(line);
	return b->cfg.cmdline ? 0 : -ENOMEM;
}

/* vm.image: the guest's root disk, avp's first disk device. */
static int oci_image(struct json_object *vm, struct avp_bundle *b, struct jc_err *e)
{
	struct json_object *img, *dev;
	const char *format;
	char *path = NULL;
	int ret = jc_get_object(vm, "vm", "image", false, &img, e);

	if (ret)
		return ret == -ENOENT ? 0 : ret;
	if ((ret = jc_check_object(img, "vm.image", vm_image_keys, e)) ||
	    (ret = oci_abs_path(img, "vm.image", "path", true, &path, e)))
		return ret;
	ret = jc_get_string(img, "vm.image", "format", true, &format, e);
	if (ret == 0 && strcmp(format, "raw") != 0)
		ret = jc_fail(e, "vm.image.format", "\"%s\": avp reads raw images only (convert it: "
			      "qemu-img convert -O raw)", format);
	dev = ret ? NULL : json_object_new_object();
	if (!ret && !dev)
		ret = -ENOMEM;
	if (!ret) {
		json_object_object_add(dev, "path", json_object_new_string(path));
		b->device_index[b->cfg.ndevices] = 0;
		ret = parse_device(dev, "vm.image", bundle_type("disk"), b, e);
		json_object_put(dev);
	}
	free(path);
	return ret;
}

/* No vm object: the container's root.path is booted with avp's default
 * kernel and its own init (docs/oci.md, "A container image as a VM"). */
static int parse_oci_rootfs(struct json_object *root, struct avp_bundle *b, struct jc_err *e)
{
	char dir[PATH_MAX], kernel[PATH_MAX + 16];
	struct json_object *r;
	const char *path;
	int ret = jc_get_object(root, "", "root", false, &r, e);

	if (ret == -ENOENT)
		return jc_fail(e, "vm.kernel.path", "missing: an OCI bundle names the guest kernel "
			       "in vm.kernel.path, or gives root.path to boot with avp's own");
	if (ret || (ret = jc_get_string(r, "root", "path", true, &path, e)) ||
	    (ret = resolve(b, path, "root.path", &b->oci_rootfs, e)))
		return ret;
	/* Whether it is there is bundle_check_host's business. */
	oci_default_dir(dir, sizeof(dir));
	snprintf(kernel, sizeof(kernel), "%s/%s", dir, OCI_KERNEL_NAME);
	b->cfg.kernel = strdup(kernel);
	b->cfg.cmdline = strdup(OCI_IMAGE_CMDLINE);
	return b->cfg.kernel && b->cfg.cmdline ? 0 : -ENOMEM;
}

/* The OCI runtime spec's vm object (config-vm.md): kernel, initrd, command
 * line and root image, in place of avp's own kernel/initrd/cmdline. */
static int parse_oci_vm(struct json_object *root, struct avp_bundle *b, struct jc_err *e)
{
	struct json_object *vm, *k;
	int ret = jc_get_object(root, "", "vm", false, &vm, e);

	if (ret == -ENOENT)
		return parse_oci_rootfs(root, b, e);
	if (ret || (ret = jc_check_object(vm, "vm", vm_keys, e)) ||
	    (ret = oci_hypervisor(vm, e)) ||
	    (ret = jc_get_object(vm, "vm", "kernel", true, &k, e)) ||
	    (ret = jc_check_object(k, "vm.kernel", vm_kernel_keys, e)) ||
	    (ret = oci_abs_path(k, "vm.kernel", "path", true, &b->cfg.kernel, e)) ||
	    (ret = oci_cmdline(k, b, e)))
		return ret;
	ret = oci_abs_path(k, "vm.kernel", "initrd", false, &b->cfg.initrd, e);
	if (ret && ret != -ENOENT)
		return ret;
	return oci_image(vm, b, e);
}

/* OCI keys in a bundle without ociVersion, avp's kernel keys in one with
 * it: each is someone's mistake, and guessing which was meant would hide it. */
static int oci_mode_keys(struct json_object *root, struct avp_bundle *b, struct jc_err *e)
{
	static const char *const avp_only[] = { "kernel", "initrd", "cmdline", NULL };
	const char *s;
	int ret = jc_get_string(root, "", "ociVersion", false, &s, e);

	if (ret == -ENOENT) {
		for (size_t i = 0; top_keys[i]; i++)
			if (strcmp(top_keys[i], "ociVersion") == 0)
				for (size_t j = i + 1; top_keys[j]; j++)
					if (json_object_object_get_ex(root, top_keys[j], NULL))
						return jc_fail(e, top_keys[j], "a key of the OCI "
							       "runtime spec: an OCI bundle also "
							       "needs \"ociVersion\"");
		return 0;
	}
	if (ret)
		return ret;
	if (strncmp(s, "1.", 2) != 0)
		return jc_fail(e, "ociVersion", "\"%s\": avp reads OCI runtime spec 1.x bundles", s);
	for (size_t i = 0; avp_only[i]; i++)
		if (json_object_object_get_ex(root, avp_only[i], NULL))
			return jc_fail(e, avp_only[i], "an OCI bundle names its kernel, initrd and "
				       "parameters in vm.kernel (config-vm.md)");
	b->oci = true;
	return 0;
}

static int parse_top(struct json_object *root, struct avp_bundle *b, struct jc_err *e)
{
	struct avp_config_err ce = { 0 };
	const char *s;
	int64_t v;
	int ret = oci_mode_keys(root, b, e);

	/* config.md: a runtime MUST ignore properties it does not know; avp's
	 * own bundles refuse them, so that a typo never goes unnoticed. */
	if (ret == 0 && !b->oci)
		ret = jc_check_object(root, "", top_keys, e);
	else if (ret == 0 && !json_object_is_type(root, json_type_object))
		ret = jc_fail(e, "", "expected an object, got %s", jc_type_name(root));
	if (ret)
		return ret;
	if (b->oci) {
		ret = parse_oci_vm(root, b, e);
		if (ret)
			return ret;
	} else {
		ret = jc_get_string(root, "", "kernel", true, &s, e);
		if (ret || (ret = resolve(b, s, "kernel", &b->cfg.kernel, e)))
			return ret;
	}
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
	ret = jc_get_string(root, "", "transport", false, &s, e);
	if (ret == 0) {
		int t = avp_word_index(avp_transport_names, s);

		if (t < 0)
			return jc_fail(e, "transport", "expected \"mmio\" or \"pci\", got \"%s\"", s);
		b->cfg.transport = (enum avp_transport)t;
	} else if (ret != -ENOENT) {
		return ret;
	}
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

	if (b->oci_rootfs) {
		char dir[PATH_MAX], base[PATH_MAX + 16];
		struct stat st;

		if (stat(b->oci_rootfs, &st) || !S_ISDIR(st.st_mode))
			return jc_fail(e, "root.path", "%s is not a directory", b->oci_rootfs);
		oci_default_dir(dir, sizeof(dir));
		snprintf(base, sizeof(base), "%s/%s", dir, OCI_BASE_CPIO);
		if (access(cfg->kernel, R_OK) || access(base, R_OK))
			return jc_fail(e, "root.path", "booting a container image needs avp's guest "
				       "kernel and init in %s (scripts/mkoci-init builds them)", dir);
	}
	if ((ret = check_file(cfg->kernel, "kernel", e)) ||
	    (cfg->initrd && (ret = check_file(cfg->initrd, "initrd", e))))
		return ret;
	/* The files a device reads, by their key in config.json. */
	for (unsigned int i = 0; i < cfg->ndevices; i++) {
		const struct avp_device_entry *d = &cfg->devices[i];

		for (const struct avp_key *k = d->type->keys; k && k->name; k++) {
			const char *file;
			char where[JC_PATH_MAX];

			if (k->type != AVP_KEY_PATH || !(k->flags & AVP_KEY_INPUT))
				continue;
			file = *(char *const *)((const char *)d->opts + k->offset);
			if (!file)
				continue;
			snprintf(where, sizeof(where), "devices[%u].%s", b->device_index[i], k->name);
			ret = check_file(file, where, e);
			if (ret)
				return ret;
		}
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

/* A file a confined bundle names: inside its directory, links followed. */
static int confined_file(const struct avp_bundle *b, const char *what, const char *path,
			 struct jc_err *e)
{
	size_t dlen = strlen(b->dir);
	char real[PATH_MAX];

	if (!path)
		return 0;
	if (!real_location(path, real) || strncmp(real, b->dir, dlen) != 0 ||
	    (real[dlen] != '/' && real[dlen] != '\0'))
		return jc_fail(e, "", "--confine: the %s %s is outside the bundle %s (links "
			       "followed): a confined bundle names only files inside it", what, path,
			       b->dir);
	return 0;
}

/* A device's files (its path keys and chardev files), and its own rule. */
static int confined_device(const struct avp_bundle *b, const struct avp_device_entry *d,
			   struct jc_err *e)
{
	const struct avp_config_type *t = d->type;
	struct avp_config_err ce = { 0 };
	struct stat st;
	int ret = 0;

	for (const struct avp_key *k = t->keys; !ret && k && k->name; k++) {
		const void *slot = (const char *)d->opts + k->offset;
		const char *file = NULL;
		char what[64];

		if (k->type == AVP_KEY_PATH)
			file = *(char *const *)slot;
		else if (k->type == AVP_KEY_CHARDEV &&
			 ((const struct avp_chardev_cfg *)slot)->kind == AVP_CHR_FILE)
			file = ((const struct avp_chardev_cfg *)slot)->path;
		if (!file)
			continue;
		/* "the disk X", "the sound out X": the type, and the key
		 * when it says more than the positional value does. */
		snprintf(what, sizeof(what), "%s%s%s", t->name,
			 k->flags & AVP_KEY_POSITIONAL ? "" : " ",
			 k->flags & AVP_KEY_POSITIONAL ? "" : k->name);
		ret = confined_file(b, what, file, e);
		if (!ret && (k->flags & AVP_KEY_INPUT) && stat(file, &st) == 0 && S_ISBLK(st.st_mode))
			ret = jc_fail(e, "", "--confine: the %s %s is a host block device: a "
				      "confined bundle uses image files", t->name, file);
	}
	if (!ret && t->confine_check && t->confine_check(d->opts, &ce))
		ret = jc_fail(e, "", "--confine: %s", ce.text);
	return ret;
}

/* --confine: every file the bundle names stays inside its directory, after
 * links are followed; no host block device as a disk, nothing a device
 * type refuses to confined bundles (a host tap: only a system file's
 * networks). For bundles from someone the host user does not trust with
 * root's reach (docs/security.md, "Who is trusted"). */
static int check_confined(const struct avp_bundle *b, struct jc_err *e)
{
	const struct avp_config *c = &b->cfg;
	int ret = confined_file(b, "kernel", c->kernel, e);

	if (!ret)
		ret = confined_file(b, "initrd", c->initrd, e);
	if (!ret && c->serial.kind == AVP_CHR_FILE)
		ret = confined_file(b, "serial", c->serial.path, e);
	for (unsigned int i = 0; !ret && i < c->ndevices; i++)
		ret = confined_device(b, &c->devices[i], e);
	return ret;
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

unsigned int bundle_device_index(const struct avp_bundle *b, const struct avp_config_type *t,
				 unsigned int n)
{
	for (unsigned int i = 0; i < b->cfg.ndevices; i++)
		if (b->cfg.devices[i].type == t && n-- == 0)
			return b->device_index[i];
	return 0;
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
	free(b->oci_rootfs);
	avp_config_free(&b->cfg);
	memset(b, 0, sizeof(*b));
}

const char *bundle_restart_name(enum avp_restart_policy policy)
{
	return (unsigned int)policy <= AVP_RESTART_ALWAYS ? restart_policies[policy] : "never";
}

/* "disk {path, read_only}, input {kind: keyboard or touch, width, height},
 * ...": the device types and their bundle keys, from the registry, so that
 * the template names every device the build has. */
static void describe_device_types(char *buf, size_t size)
{
	size_t used = 0;
	const struct avp_device_type *type;

#define PUT(...)                                                                   \
	do {                                                                       \
		int w_ = snprintf(buf + used, used < size ? size - used : 0, __VA_ARGS__); \
		used += w_ > 0 ? (size_t)w_ : 0;                                   \
	} while (0)
	PUT("types:");
	for (size_t i = 0; (type = avp_device_type_at(i)); i++) {
		const struct avp_config_type *t = type->config;
		const char *sep = " {";

		if (t->flags & AVP_TYPE_CLI_ONLY)
			continue;
		PUT("%s %s", i ? "," : "", t->name);
		for (const struct avp_key *k = t->keys; k && k->name; k++) {
			if (k->flags & AVP_KEY_CLI_ONLY)
				continue;
			PUT("%s%s", sep, k->name);
			sep = ", ";
			if (k->type != AVP_KEY_ENUM || !k->words)
				continue;
			PUT(":");
			for (size_t w = 0; k->words[w]; w++)
				PUT("%s %s", w ? (k->words[w + 1] ? "," : " or") : "", k->words[w]);
		}
		if (strcmp(sep, " {"))
			PUT("}");
	}
	PUT(". chardev values: stdio, file:PATH, pty, socket=PATH or none.");
#undef PUT
	if (used >= size && size)
		buf[size - 1] = '\0';
}

const char *bundle_default_text(void)
{
	static char text[4096];
	char types[2048];

	if (text[0])
		return text;
	describe_device_types(types, sizeof(types));
	snprintf(text, sizeof(text),
		 "{\n"
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
		 "    { \"$comment\": \"%s\", \"type\": \"rng\" },\n"
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
		 "}\n",
		 types);
	return text;
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
