/* A bundle (AVP-RT-1): a directory with one config.json that describes a
 * whole VM: its platform (filling the same struct avp_config as `avp run`),
 * its partition (pinning, real-time class, reserved memory) and how the
 * runtime treats it (restart policy, shutdown timeout). The format is in
 * docs/bundle.schema.json and docs/runtime.md. */
#ifndef AVP_RUNTIME_BUNDLE_H
#define AVP_RUNTIME_BUNDLE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "avp/config/options.h"
#include "avp/runtime/jsoncheck.h"

#define BUNDLE_CONFIG "config.json"

enum avp_restart_policy { AVP_RESTART_NEVER, AVP_RESTART_ON_FAILURE, AVP_RESTART_ALWAYS };

struct avp_bundle {
	char *dir; /* absolute; relative paths in config.json are resolved here */
	struct avp_config cfg;
	/* A critical VM owns its pinned host CPUs: no other critical VM of a
	 * system may be pinned to them (checked by `avp system`). */
	bool critical;
	enum avp_restart_policy restart;
	unsigned int max_restarts; /* 0: no limit */
	unsigned int backoff_ms;   /* before the first restart; doubles, at most 60 s */
	unsigned int shutdown_timeout_s;
	/* config.json has "ociVersion": an OCI bundle (docs/oci.md), run by
	 * the runc-compatible lifecycle; its kernel comes from "vm". */
	bool oci;
	/* An OCI bundle without vm: its root.path (absolute), booted with
	 * avp's default kernel and init; NULL otherwise. */
	char *oci_rootfs;
	/* The index in "devices" of cfg.devices[i], for messages. */
	unsigned int device_index[AVP_MAX_DEVICE_ENTRIES];
};

/* Parses config.json text for a bundle in dir (which must be absolute).
 * On error e holds "PATH: what is wrong" and b is left empty. No file
 * is looked at: see bundle_check_host. */
int bundle_parse(const char *text, size_t len, const char *dir, struct avp_bundle *b,
		 struct jc_err *e);

/* Checks what the host must offer: the kernel, initrd and disk files exist,
 * the pinned host CPUs exist. */
int bundle_check_host(const struct avp_bundle *b, struct jc_err *e);

/* Reads DIR/config.json, parses it and checks it against the host. */
int bundle_load(const char *dir, struct avp_bundle *b, struct jc_err *e);
/* BUNDLE_CONFINE (--confine): every file config.json names must lie inside
 * the bundle directory once links are followed; no host block device as a
 * disk, no plain host tap. For bundles not trusted with root's reach. */
#define BUNDLE_CONFINE 1u
int bundle_load_ex(const char *dir, unsigned int flags, struct avp_bundle *b, struct jc_err *e);

/* The index in "devices" of the n-th device of type t (0 when there is
 * none), for messages that point into config.json. */
unsigned int bundle_device_index(const struct avp_bundle *b, const struct avp_config_type *t,
				 unsigned int n);

/* `avp run --bundle DIR`: loads the bundle and replaces *cfg with its
 * platform (the runtime settings are the runtime's business and are not
 * used). Prints one line to err on failure: -EINVAL. */
int bundle_load_config(const char *dir, unsigned int flags, struct avp_config *cfg, FILE *err);

void bundle_free(struct avp_bundle *b);

/* Writes a commented default config.json into dir (refusing to replace an
 * existing one: -EEXIST). */
int bundle_write_default(const char *dir, struct jc_err *e);
/* The default config.json text (for the writer and the tests). */
const char *bundle_default_text(void);

/* The keys the parser accepts for one object of the format: "" (the top
 * level), "cpus", "memory", "scheduling", "restart", or "devices.TYPE";
 * NULL for an unknown name. Exposed so a test can hold them against
 * docs/bundle.schema.json. "type" is implied for devices. */
const char *const *bundle_keys(const char *object);
/* The device types the format knows (NULL-terminated), and whether this
 * build has the device behind each (bundle_device_supported). */
const char *const *bundle_device_types(void);
bool bundle_device_supported(const char *type);

const char *bundle_restart_name(enum avp_restart_policy policy);

#endif
