/* The key tables every device option shares
 * (include/avp/config/options.h): the command-line grammar and the typed
 * values, for any device's options struct. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avp/config/options.h"

int avp_parse_u32(const char *text, uint32_t min, uint32_t max, uint32_t *out)
{
	char *end;
	unsigned long long v;

	if (!text || *text < '0' || *text > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

int avp_parse_mac(const char *text, uint8_t mac[6])
{
	unsigned int b[6];
	char tail;

	if (strlen(text) != 17 ||
	    sscanf(text, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
		   &tail) != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++) {
		/* sscanf's %x accepts signs and spaces; a MAC has neither. */
		if (!strchr("0123456789abcdefABCDEF", text[i * 3]) ||
		    !strchr("0123456789abcdefABCDEF", text[i * 3 + 1]))
			return -EINVAL;
		mac[i] = (uint8_t)b[i];
	}
	/* Multicast bit set: no NIC may own such an address. */
	if (mac[0] & 1)
		return -EINVAL;
	return 0;
}

void *avp_opts_new(const struct avp_config_type *t)
{
	return calloc(1, t->opts_size ? t->opts_size : 1);
}

void avp_opts_free(const struct avp_config_type *t, void *opts)
{
	for (const struct avp_key *k = t->keys; opts && k && k->name; k++) {
		char **slot = (char **)((char *)opts + k->offset);

		if (k->type == AVP_KEY_CHARDEV)
			slot = &((struct avp_chardev_cfg *)((char *)opts + k->offset))->path;
		else if (k->type != AVP_KEY_STRING && k->type != AVP_KEY_PATH)
			continue;
		free(*slot);
		*slot = NULL;
	}
}

int avp_word_index(const char *const *words, const char *text)
{
	for (int i = 0; words && words[i]; i++)
		if (strcmp(words[i], text) == 0)
			return i;
	return -1;
}

char *avp_join_path(const char *base_dir, const char *path)
{
	char *out;

	if (!base_dir || !path[0] || path[0] == '/')
		return strdup(path);
	return asprintf(&out, "%s/%s", base_dir, path) < 0 ? NULL : out;
}

int avp_opts_set(const struct avp_key *k, void *opts, const char *text, const char *base_dir)
{
	void *slot = (char *)opts + k->offset;
	char *copy;
	int i;

	switch (k->type) {
	case AVP_KEY_STRING:
	case AVP_KEY_PATH:
		copy = k->type == AVP_KEY_PATH ? avp_join_path(base_dir, text) : strdup(text);
		if (!copy)
			return -ENOMEM;
		free(*(char **)slot);
		*(char **)slot = copy;
		return 0;
	case AVP_KEY_UINT:
		return avp_parse_u32(text, k->min, k->max, slot);
	case AVP_KEY_BOOL:
		if (!k->words)
			i = strcmp(text, k->name) == 0 ? 1 : -1;
		else
			i = avp_word_index(k->words, text);
		if (i < 0 || i > 1)
			return -EINVAL;
		*(bool *)slot = i == 1;
		return 0;
	case AVP_KEY_ENUM:
		i = avp_word_index(k->words, text);
		if (i < 0)
			return -EINVAL;
		memcpy(slot, &i, sizeof(i));
		return 0;
	case AVP_KEY_MAC:
		return avp_parse_mac(text, slot);
	case AVP_KEY_CHARDEV:
		return avp_parse_chardev(text, base_dir, slot);
	}
	return -EINVAL;
}

int avp_opts_defaults(const struct avp_config_type *t, void *opts, uint32_t given)
{
	for (unsigned int k = 0; t->keys && t->keys[k].name; k++) {
		int ret;

		if ((given & AVP_KEY_BIT(k)) || !t->keys[k].def)
			continue;
		ret = avp_opts_set(&t->keys[k], opts, t->keys[k].def, NULL);
		if (ret)
			return ret;
	}
	return 0;
}

/* Copies text into buf, unescaping ",," and ending each item with '\0'.
 * Returns the number of items, or -EINVAL for an empty one. */
static int split(const char *text, char *buf)
{
	char *start = buf;
	int n = 0;

	for (const char *p = text;; p++) {
		if (*p == ',' && p[1] == ',') {
			*buf++ = ',';
			p++;
			continue;
		}
		if (*p == ',' || !*p) {
			if (buf == start)
				return -EINVAL;
			*buf++ = '\0';
			start = buf;
			n++;
			if (!*p)
				return n;
			continue;
		}
		*buf++ = *p;
	}
}

/* Which key an item is for: KEY=VALUE, or a bare word of a bool key.
 * *value gets the text to set. -1: none. */
static int item_key(const struct avp_key *keys, char *item, const char **value)
{
	char *eq = strchr(item, '=');

	for (int k = 0; keys[k].name; k++) {
		const struct avp_key *key = &keys[k];
		size_t len = strlen(key->name);

		if (key->flags & (AVP_KEY_BUNDLE_ONLY | AVP_KEY_POSITIONAL))
			continue;
		if (key->type == AVP_KEY_BOOL && !eq) {
			if (key->words ? avp_word_index(key->words, item) >= 0
				       : strcmp(item, key->name) == 0) {
				*value = item;
				return k;
			}
			continue;
		}
		if (key->type != AVP_KEY_BOOL && eq && (size_t)(eq - item) == len &&
		    strncmp(item, key->name, len) == 0) {
			*value = eq + 1;
			return k;
		}
	}
	return -1;
}

static int parse_items(const struct avp_key *keys, const char *text, void *opts, uint32_t *given)
{
	char *buf = malloc(strlen(text) + 1), *item;
	int n, ret = 0, pos = -1;

	if (!buf)
		return -ENOMEM;
	for (int k = 0; keys[k].name; k++)
		if (keys[k].flags & AVP_KEY_POSITIONAL)
			pos = k;
	n = split(text, buf);
	if (n < 0)
		ret = n;
	item = buf;
	for (int i = 0; ret == 0 && i < n; i++, item += strlen(item) + 1) {
		const char *value = item;
		int k = i == 0 && pos >= 0 ? pos : item_key(keys, item, &value);

		if (k < 0 || (*given & AVP_KEY_BIT(k)))
			ret = -EINVAL; /* no such key, or one given twice */
		else if (!*value && keys[k].type != AVP_KEY_BOOL)
			ret = -EINVAL;
		else
			ret = avp_opts_set(&keys[k], opts, value, NULL);
		*given |= AVP_KEY_BIT(k < 0 ? 0 : k);
	}
	free(buf);
	return ret;
}

int avp_opts_parse_text(const struct avp_config_type *t, const char *text, void *opts,
			uint32_t *given)
{
	const struct avp_key *keys = t->keys;
	int ret;

	*given = 0;
	for (unsigned int k = 0; keys && keys[k].name; k++)
		if (k >= AVP_MAX_KEYS)
			return -EINVAL;
	if (t->parse_text) {
		ret = text ? t->parse_text(text, opts, given) : -EINVAL;
	} else if (!text || !keys) {
		ret = text && !keys ? -EINVAL : 0; /* a value where none is taken */
	} else if (keys[0].name && (keys[0].flags & AVP_KEY_WHOLE)) {
		ret = avp_opts_set(&keys[0], opts, text, NULL);
		*given = AVP_KEY_BIT(0);
	} else {
		ret = parse_items(keys, text, opts, given);
	}
	for (unsigned int k = 0; ret == 0 && keys && keys[k].name; k++)
		if ((keys[k].flags & AVP_KEY_REQUIRED) && !(keys[k].flags & AVP_KEY_BUNDLE_ONLY) &&
		    !(*given & AVP_KEY_BIT(k)))
			ret = -EINVAL;
	if (ret == 0)
		ret = avp_opts_defaults(t, opts, *given);
	return ret;
}
