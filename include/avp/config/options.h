/* A device type as the configuration layer sees it: a table of typed
 * keys into an options struct of the device's own, and hooks that check a
 * new device and the config it joins. The table, the struct and
 * the hooks live with the device (src/devices/<device>_opts.c, its header
 * in include/avp/devices/); this layer knows no device.
 *
 * One table serves both front ends:
 *  - the command line (avp_opts_parse_text): comma-separated items, each
 *    KEY=VALUE or a bare word; ",," puts a comma in a value, as QEMU does
 *    ("--disk a,,b.img" is the file a,b.img); the first item may be the
 *    value of the positional key ("--disk PATH", "--input keyboard"). An
 *    empty item ("a,", ",a") and a key given twice are mistakes;
 *  - a bundle's device object (src/runtime/bundle.c): one JSON member per
 *    key, of the key's JSON type; relative paths are joined onto the
 *    bundle's directory. */
#ifndef AVP_CONFIG_OPTIONS_H
#define AVP_CONFIG_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "avp/config.h"
#include "avp/seccomp.h"

enum avp_key_type {
	AVP_KEY_STRING,	 /* char *; on the command line not empty */
	AVP_KEY_PATH,	 /* char *, a host file; relative: the bundle's */
	AVP_KEY_UINT,	 /* uint32_t in [min, max] */
	AVP_KEY_BOOL,	 /* bool; JSON true/false; on the command line the
			  * bare word words[1] (true) or words[0] (false), or
			  * the key's own name (true) when words is NULL */
	AVP_KEY_ENUM,	 /* an enum (int-sized): the index of its name in words */
	AVP_KEY_MAC,	 /* uint8_t[6], XX:XX:XX:XX:XX:XX, unicast */
	AVP_KEY_CHARDEV, /* struct avp_chardev_cfg: stdio|none|file:PATH|pty|socket=PATH */
};

/* The first item of the option text is this key's value. */
#define AVP_KEY_POSITIONAL 0x1u
/* Missing: a refusal (the option's syntax; "missing (required)" in a bundle). */
#define AVP_KEY_REQUIRED 0x2u
/* Only on the command line / only in bundles. */
#define AVP_KEY_CLI_ONLY 0x4u
#define AVP_KEY_BUNDLE_ONLY 0x8u
/* The option's whole text is this key's value, not split at commas. */
#define AVP_KEY_WHOLE 0x10u
/* A file the VM reads: a bundle's must exist (bundle_check_host). */
#define AVP_KEY_INPUT 0x20u

struct avp_key {
	const char *name;
	enum avp_key_type type;
	size_t offset; /* into the options struct */
	unsigned int flags;
	uint32_t min, max;	  /* AVP_KEY_UINT */
	const char *const *words; /* AVP_KEY_ENUM names, AVP_KEY_BOOL words; NULL-ended */
	const char *def;	  /* value text when not given, or NULL (zero) */
	/* The key's value may not be another device's of the type: the
	 * refusal, "%s" the value ("\"%s\" is already used by another
	 * disk"). NULL: no such rule. */
	const char *twice;
};

/* The most keys a table may have (a longer one is refused). */
#define AVP_MAX_KEYS 16

/* A key table's bit of key k in the given masks below. */
#define AVP_KEY_BIT(k) (1u << (k))

/* A type whose option takes no value (--rng), or may (--watchdog). */
#define AVP_TYPE_NO_VALUE 0x1u
#define AVP_TYPE_OPTIONAL_VALUE 0x2u
/* "--NAME none" takes this type's devices out (--console none). */
#define AVP_TYPE_NONE_REMOVES 0x4u
/* Not in bundles (--vsock-peer: the runtime sets the peers). */
#define AVP_TYPE_CLI_ONLY 0x8u

/* What a device needs from seccomp beyond plain fds, per thread role:
 * the worker's calls, the vCPU's (reset and activation arrive as register
 * writes) and the main thread's (destroy at teardown). Only added when
 * the VM has the device (src/core/seccomp.c). */
struct avp_seccomp_needs {
	const int *calls[AVP_THREAD_NROLES]; /* SCMP_SYS numbers */
	size_t ncalls[AVP_THREAD_NROLES];
	const unsigned long *vcpu_ioctls;
	size_t nvcpu_ioctls;
	const unsigned long *device_ioctls; /* the worker's, on its backend fds */
	size_t ndevice_ioctls;
	bool unix_stream_sockets; /* the worker makes Unix stream sockets */
};
/* role's calls in a struct avp_seccomp_needs initializer: an array. */
#define AVP_ROLE_CALLS(role, list) \
	.calls[role] = (list), .ncalls[role] = sizeof(list) / sizeof((list)[0])

struct avp_config_type {
	/* The command-line option (--NAME) and the bundle's "type". */
	const char *name;
	const struct avp_key *keys; /* ended by a NULL name; NULL: no keys */
	size_t opts_size;
	unsigned int flags;
	/* At most max devices of the type; too_many is the refusal. */
	unsigned int max;
	const char *too_many;
	/* Takes one of the AVP_MAX_DEVICES VIRTIO windows. */
	bool virtio;
	/* The option's value as the usage text shows it, and its help (lines
	 * after the first start with spaces). */
	const char *syntax;
	const char *help;
	/* An option text outside the key grammar (--vsock-peer CID:PATH)
	 * into opts: 0, -EINVAL (then the syntax is shown) or -ENOMEM.
	 * NULL: the key grammar. */
	int (*parse_text)(const char *text, void *opts, uint32_t *given);
	/* A new device on its own (rules between its keys), its computed
	 * values completed; duplicates are the keys' twice rule, the rest of
	 * cfg final_check's. 0 or -EINVAL with avp_config_fail (e->text
	 * empty: the command line shows the syntax). NULL: no rules. */
	int (*check)(void *opts, uint32_t given, struct avp_config_err *e);
	/* Rules between the type's devices and the rest of cfg, once all are
	 * declared (avp_config_check); called when cfg has one. */
	int (*final_check)(const struct avp_config *cfg, struct avp_config_err *e);
	/* What a bundle trusted with less (--confine) may not have beyond
	 * files outside it (a host tap): -EINVAL with avp_config_fail, or 0.
	 * NULL: only the files. */
	int (*confine_check)(const void *opts, struct avp_config_err *e);
	const struct avp_seccomp_needs *seccomp;
};

/* Fills opts from the option text by t's keys (or t->parse_text), then
 * the defaults of the keys not given. *given gets the keys given. 0,
 * -EINVAL (the text breaks the grammar or the table) or -ENOMEM; on
 * failure opts may hold strings: free them with avp_opts_free. */
int avp_opts_parse_text(const struct avp_config_type *t, const char *text, void *opts,
			uint32_t *given);
/* One key's value from text (the default, or a bundle's string);
 * base_dir joins a relative AVP_KEY_PATH or chardev path (NULL: as is). */
int avp_opts_set(const struct avp_key *k, void *opts, const char *text, const char *base_dir);
/* The defaults of the keys not in given. */
int avp_opts_defaults(const struct avp_config_type *t, void *opts, uint32_t given);
/* Frees the strings opts holds by t's keys (not opts itself). */
void avp_opts_free(const struct avp_config_type *t, void *opts);
/* A new, zeroed options struct of t (never NULL-sized). NULL: -ENOMEM. */
void *avp_opts_new(const struct avp_config_type *t);

/* path, joined onto base_dir when it is relative and base_dir is not
 * NULL (a bundle's); a copy either way. NULL: -ENOMEM. */
char *avp_join_path(const char *base_dir, const char *path);

/* The index of text in words (NULL-ended), or -1. */
int avp_word_index(const char *const *words, const char *text);

/* Whole decimal number in [min, max]: no sign, no spaces. 0 or -EINVAL. */
int avp_parse_u32(const char *text, uint32_t min, uint32_t max, uint32_t *out);
/* XX:XX:XX:XX:XX:XX, unicast. 0 or -EINVAL. */
int avp_parse_mac(const char *text, uint8_t mac[6]);

#endif
