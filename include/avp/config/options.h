/* The grammar every device option shares (--disk, --net, --gpu, ...):
 * comma-separated items, each KEY=VALUE or a bare word; ",," puts a comma
 * in a value, as QEMU does ("--disk a,,b.img" is the file a,b.img). An
 * empty item ("a,", ",a") and a key given twice are mistakes.
 *
 * A device describes its option with a key table; avp_opts_parse checks
 * the text against it and hands back typed values. The table and the
 * code that turns the values into the device's config live with the
 * device (src/devices/<device>_opts.c); this layer knows no device. */
#ifndef AVP_CONFIG_OPTIONS_H
#define AVP_CONFIG_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

enum avp_opt_type {
	AVP_OPT_STR,  /* KEY=TEXT, TEXT not empty */
	AVP_OPT_U32,  /* KEY=N, a whole decimal number in [min, max] */
	AVP_OPT_WORD, /* a bare word equal to the key's name ("ro", "keyboard") */
	AVP_OPT_LEAD, /* the first item as a whole ("PATH") */
};

struct avp_opt_key {
	const char *name;
	enum avp_opt_type type;
	uint32_t min, max; /* AVP_OPT_U32 */
};

#define AVP_OPT_MAX_KEYS 8

struct avp_opt_value {
	bool set;
	const char *str; /* AVP_OPT_STR, AVP_OPT_LEAD: into avp_opts.buf */
	uint32_t u32;
};

struct avp_opts {
	char *buf; /* the unescaped items */
	struct avp_opt_value v[AVP_OPT_MAX_KEYS];
};

/* Splits text by keys (at most AVP_OPT_MAX_KEYS, ended by a NULL name)
 * into o->v, parallel to keys. 0, -EINVAL (the text breaks the grammar or
 * the table) or -ENOMEM. Free with avp_opts_free whatever it returns. */
int avp_opts_parse(struct avp_opts *o, const char *text, const struct avp_opt_key *keys);
void avp_opts_free(struct avp_opts *o);

/* A copy of a string value, or NULL (and no allocation) when unset.
 * -ENOMEM only. */
int avp_opts_strdup(const struct avp_opts *o, unsigned int key, char **out);

/* Whole decimal number in [min, max]: no sign, no spaces. 0 or -EINVAL. */
int avp_parse_u32(const char *text, uint32_t min, uint32_t max, uint32_t *out);
/* XX:XX:XX:XX:XX:XX, unicast. 0 or -EINVAL. */
int avp_parse_mac(const char *text, uint8_t mac[6]);

#endif
