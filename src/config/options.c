/* The shared option grammar (include/avp/config/options.h). */
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

void avp_opts_free(struct avp_opts *o)
{
	free(o->buf);
	memset(o, 0, sizeof(*o));
}

int avp_opts_strdup(const struct avp_opts *o, unsigned int key, char **out)
{
	*out = NULL;
	if (!o->v[key].set || !o->v[key].str)
		return 0;
	*out = strdup(o->v[key].str);
	return *out ? 0 : -ENOMEM;
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

static int take(struct avp_opts *o, const struct avp_opt_key *keys, char *item, bool first)
{
	char *eq = strchr(item, '=');

	for (unsigned int k = 0; keys[k].name; k++) {
		const struct avp_opt_key *key = &keys[k];
		struct avp_opt_value *v = &o->v[k];
		size_t len = strlen(key->name);

		switch (key->type) {
		case AVP_OPT_LEAD:
			if (!first)
				continue;
			break;
		case AVP_OPT_WORD:
			if (strcmp(item, key->name) != 0)
				continue;
			break;
		default:
			if (!eq || (size_t)(eq - item) != len || strncmp(item, key->name, len) != 0)
				continue;
			break;
		}
		if (v->set)
			return -EINVAL; /* a key given twice */
		v->set = true;
		if (key->type == AVP_OPT_LEAD)
			v->str = item;
		else if (key->type == AVP_OPT_STR)
			v->str = eq + 1;
		if (key->type == AVP_OPT_STR && !*v->str)
			return -EINVAL;
		if (key->type == AVP_OPT_U32)
			return avp_parse_u32(eq + 1, key->min, key->max, &v->u32);
		return 0;
	}
	return -EINVAL; /* no such key */
}

int avp_opts_parse(struct avp_opts *o, const char *text, const struct avp_opt_key *keys)
{
	char *item;
	int n;

	memset(o, 0, sizeof(*o));
	for (unsigned int k = 0; keys[k].name; k++)
		if (k >= AVP_OPT_MAX_KEYS)
			return -EINVAL;
	if (!text)
		return -EINVAL;
	o->buf = malloc(strlen(text) + 1);
	if (!o->buf)
		return -ENOMEM;
	n = split(text, o->buf);
	if (n < 0)
		return n;
	item = o->buf;
	for (int i = 0; i < n; i++) {
		int ret = take(o, keys, item, i == 0);

		if (ret)
			return ret;
		item += strlen(item) + 1;
	}
	return 0;
}
