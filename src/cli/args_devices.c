/* Grammar of the --vsock, --vsock-peer and --input options (kept out of args.c so that
 * the option table there stays a list). Both take KEY=VALUE pairs after
 * an optional leading word, separated by commas. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "avp/cli.h"

/* Whole decimal number in [min, max]. */
static int parse_u32(const char *text, uint32_t min, uint32_t max, uint32_t *out)
{
	char *end;
	unsigned long long v;

	if (!*text || *text == '-' || *text == '+' || *text == ' ')
		return -EINVAL;
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

/* strtok_r would skip empty fields; "a,,b" and "a," are mistakes. */
static bool has_empty_field(const char *text)
{
	size_t n = strlen(text);

	return n == 0 || text[0] == ',' || text[n - 1] == ',' || strstr(text, ",,");
}

int cli_parse_vsock(const char *text, struct avp_vsock_cfg *vsock)
{
	char *copy;
	char *save = NULL;
	uint32_t cid = 0;
	char *socket = NULL;
	int ret = 0;

	if (has_empty_field(text))
		return -EINVAL;
	copy = strdup(text);
	if (!copy)
		return -ENOMEM;
	for (char *kv = strtok_r(copy, ",", &save); kv && !ret; kv = strtok_r(NULL, ",", &save)) {
		if (strncmp(kv, "cid=", 4) == 0 && !cid) {
			ret = parse_u32(kv + 4, AVP_VSOCK_MIN_CID, AVP_VSOCK_MAX_CID, &cid);
		} else if (strncmp(kv, "socket=", 7) == 0 && kv[7] && !socket) {
			socket = strdup(kv + 7);
			if (!socket)
				ret = -ENOMEM;
		} else {
			ret = -EINVAL;
		}
	}
	free(copy);
	if (!ret && (!cid || !socket))
		ret = -EINVAL;
	if (ret) {
		free(socket);
		return ret;
	}
	free(vsock->socket);
	vsock->cid = cid;
	vsock->socket = socket;
	return 0;
}

/* --vsock-peer CID:PATH. The path is everything after the first ':', so
 * it may hold ':' (or ',') itself. */
int cli_parse_vsock_peer(const char *text, struct avp_vsock_peer *peer)
{
	const char *colon = strchr(text, ':');
	char cid_text[16];
	uint32_t cid;
	char *socket;

	if (!colon || !colon[1] || (size_t)(colon - text) >= sizeof(cid_text))
		return -EINVAL;
	memcpy(cid_text, text, (size_t)(colon - text));
	cid_text[colon - text] = '\0';
	if (parse_u32(cid_text, AVP_VSOCK_MIN_CID, AVP_VSOCK_MAX_CID, &cid))
		return -EINVAL;
	socket = strdup(colon + 1);
	if (!socket)
		return -ENOMEM;
	peer->cid = cid;
	peer->socket = socket;
	return 0;
}

#define TOUCH_DEFAULT_WIDTH 1280
#define TOUCH_DEFAULT_HEIGHT 720
/* ABS values are 32-bit signed in evdev; 16 bits is plenty for a panel
 * and keeps every coordinate exact in the JSON API. */
#define TOUCH_MAX_SIDE 65535

int cli_parse_input(const char *text, struct avp_input_cfg *input)
{
	char *copy;
	char *save = NULL;
	char *kind;
	struct avp_input_cfg in = { 0 };
	int ret = 0;

	if (has_empty_field(text))
		return -EINVAL;
	copy = strdup(text);
	if (!copy)
		return -ENOMEM;
	kind = strtok_r(copy, ",", &save);
	if (kind && strcmp(kind, "keyboard") == 0) {
		in.kind = AVP_INPUT_KEYBOARD;
	} else if (kind && strcmp(kind, "touch") == 0) {
		in.kind = AVP_INPUT_TOUCH;
		in.width = TOUCH_DEFAULT_WIDTH;
		in.height = TOUCH_DEFAULT_HEIGHT;
	} else {
		ret = -EINVAL;
	}
	for (char *kv = strtok_r(NULL, ",", &save); kv && !ret; kv = strtok_r(NULL, ",", &save)) {
		if (in.kind == AVP_INPUT_TOUCH && strncmp(kv, "width=", 6) == 0)
			ret = parse_u32(kv + 6, 1, TOUCH_MAX_SIDE, &in.width);
		else if (in.kind == AVP_INPUT_TOUCH && strncmp(kv, "height=", 7) == 0)
			ret = parse_u32(kv + 7, 1, TOUCH_MAX_SIDE, &in.height);
		else
			ret = -EINVAL;
	}
	free(copy);
	if (!ret)
		*input = in;
	return ret;
}
