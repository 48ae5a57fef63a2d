/* The one owner of a VM's configuration: defaults, the generic adder with
 * the limits every device type shares, and the declaration order of the
 * devices (include/avp/config.h). What is particular to a device (its
 * keys, its duplicate rules) is its type's (include/avp/config/options.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avp/config.h"
#include "avp/config/options.h"

const char *const avp_transport_names[] = { [AVP_TRANSPORT_MMIO] = "mmio",
					     [AVP_TRANSPORT_PCI] = "pci", NULL };

void avp_config_init(struct avp_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->cpus = 1;
	cfg->memory_mib = 256;
	cfg->serial.kind = AVP_CHR_STDIO;
	cfg->on_reboot = AVP_REBOOT_EXIT;
	cfg->transport = AVP_TRANSPORT_MMIO;
}

static void entry_free(struct avp_device_entry *d)
{
	avp_opts_free(d->type, d->opts);
	free(d->opts);
	d->opts = NULL;
}

void avp_config_free(struct avp_config *cfg)
{
	free(cfg->kernel);
	free(cfg->initrd);
	free(cfg->cmdline);
	free(cfg->serial.path);
	free(cfg->api_sock);
	free(cfg->dump_dtb);
	for (unsigned int i = 0; i < cfg->ndevices; i++)
		entry_free(&cfg->devices[i]);
	memset(cfg, 0, sizeof(*cfg));
}

int avp_config_fail(struct avp_config_err *e, const char *key, const char *fmt, ...)
{
	va_list ap;

	if (e) {
		e->key = key;
		va_start(ap, fmt);
		vsnprintf(e->text, sizeof(e->text), fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

unsigned int avp_config_count(const struct avp_config *cfg, const struct avp_config_type *t)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < cfg->ndevices; i++)
		n += cfg->devices[i].type == t;
	return n;
}

void *avp_config_device(const struct avp_config *cfg, const struct avp_config_type *t,
			unsigned int index)
{
	for (unsigned int i = 0; i < cfg->ndevices; i++)
		if (cfg->devices[i].type == t && index-- == 0)
			return cfg->devices[i].opts;
	return NULL;
}

/* A key's value as text, for comparing and for messages ("" unset). */
static const char *value_text(const struct avp_key *k, const void *opts, char *buf, size_t len)
{
	const void *slot = (const char *)opts + k->offset;
	const uint8_t *mac = slot;
	const char *s = NULL;
	int i;

	switch (k->type) {
	case AVP_KEY_STRING:
	case AVP_KEY_PATH:
		s = *(char *const *)slot;
		break;
	case AVP_KEY_CHARDEV:
		s = ((const struct avp_chardev_cfg *)slot)->path;
		break;
	case AVP_KEY_UINT:
		snprintf(buf, len, "%u", *(const uint32_t *)slot);
		return buf;
	case AVP_KEY_ENUM:
		memcpy(&i, slot, sizeof(i));
		return k->words[i];
	case AVP_KEY_BOOL:
		snprintf(buf, len, "%d", *(const bool *)slot);
		return buf;
	case AVP_KEY_MAC:
		snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
			 mac[4], mac[5]);
		return buf;
	}
	return s ? s : "";
}

/* The keys' twice rule: no two devices of a type with one value. */
static int check_twice(const struct avp_config *cfg, const struct avp_config_type *t,
		       const void *opts, struct avp_config_err *e)
{
	for (const struct avp_key *k = t->keys; k && k->name; k++) {
		char mine[32], theirs[32];
		const char *v;
		const void *other;

		if (!k->twice)
			continue;
		v = value_text(k, opts, mine, sizeof(mine));
		for (unsigned int i = 0; (other = avp_config_device(cfg, t, i)); i++)
			if (strcmp(v, value_text(k, other, theirs, sizeof(theirs))) == 0)
				return avp_config_fail(e, k->name, k->twice, v);
	}
	return 0;
}

static unsigned int virtio_count(const struct avp_config *cfg)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < cfg->ndevices; i++)
		n += cfg->devices[i].type->virtio;
	return n;
}

int avp_config_add_device(struct avp_config *cfg, const struct avp_config_type *t, void *opts,
			  uint32_t given, struct avp_config_err *e)
{
	int ret = 0;

	if (!opts)
		return -ENOMEM;
	if (avp_config_count(cfg, t) >= t->max)
		ret = avp_config_fail(e, NULL, "%s", t->too_many);
	else if (t->check)
		ret = t->check(opts, given, e);
	if (ret == 0)
		ret = check_twice(cfg, t, opts, e);
	if (ret == 0 && t->virtio && virtio_count(cfg) >= AVP_MAX_DEVICES)
		ret = avp_config_fail(e, NULL, "at most %d VIRTIO devices in all", AVP_MAX_DEVICES);
	if (ret == 0 && cfg->ndevices >= AVP_MAX_DEVICE_ENTRIES)
		ret = avp_config_fail(e, NULL, "at most %d devices in all", AVP_MAX_DEVICE_ENTRIES);
	if (ret) {
		struct avp_device_entry d = { .type = t, .opts = opts };

		entry_free(&d);
		return ret;
	}
	cfg->devices[cfg->ndevices++] = (struct avp_device_entry){ .type = t, .opts = opts };
	return 0;
}

void avp_config_remove_devices(struct avp_config *cfg, const struct avp_config_type *t)
{
	unsigned int out = 0;

	for (unsigned int i = 0; i < cfg->ndevices; i++) {
		if (cfg->devices[i].type == t)
			entry_free(&cfg->devices[i]);
		else
			cfg->devices[out++] = cfg->devices[i];
	}
	cfg->ndevices = out;
}

bool avp_config_stdio_device(const struct avp_config *cfg)
{
	for (unsigned int i = 0; i < cfg->ndevices; i++) {
		const struct avp_device_entry *d = &cfg->devices[i];

		for (const struct avp_key *k = d->type->keys; k && k->name; k++)
			if (k->type == AVP_KEY_CHARDEV &&
			    ((const struct avp_chardev_cfg *)((const char *)d->opts + k->offset))
					    ->kind == AVP_CHR_STDIO)
				return true;
	}
	return false;
}

int avp_config_check(const struct avp_config *cfg, struct avp_config_err *e)
{
	/* Each type's final rules once, in the order of first declaration. */
	for (unsigned int i = 0; i < cfg->ndevices; i++) {
		const struct avp_config_type *t = cfg->devices[i].type;
		bool first = true;
		int ret;

		for (unsigned int j = 0; j < i; j++)
			first &= cfg->devices[j].type != t;
		if (first && t->final_check && (ret = t->final_check(cfg, e)))
			return ret;
	}
	if (cfg->jail.enabled && (!cfg->jail.uid_set || !cfg->jail.gid_set))
		return avp_config_fail(e, "jail", "--jail needs --uid and --gid: the user and "
				       "group the VM runs as");
	if (!cfg->jail.enabled && (cfg->jail.uid_set || cfg->jail.gid_set))
		return avp_config_fail(e, "uid", "--uid and --gid only apply with --jail DIR");
	return 0;
}
