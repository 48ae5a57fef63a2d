/* --can if=IFNAME[,fd=auto|on|off][,tx=RANGES][,rx=RANGES], a bundle's
 * {"type": "can", "if", "fd", "tx", "rx"} or {"type": "can", "bus"}:
 * the CAN device's keys, and its acceptance rules (avp/devices/virtio_can.h). */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <seccomp.h>

#include "avp/devices/virtio_can.h"
#include "avp/log.h"

#define STD_MAX 0x7ffu
#define EXT_MAX 0x1fffffffu

static const char can_help[] =
	"virtio-can on a host SocketCAN interface (vcan0,\n"
	"can0); repeat (up to 4); fd: offer CAN FD (auto:\n"
	"when the interface's MTU is 72); tx, rx: the IDs\n"
	"the guest may send and receive (default all, the\n"
	"others refused and counted): none, or\n"
	"[std:|ext:|both:]ID[-ID] joined by +";

static const char *const fd_words[] = { "auto", "on", "off", NULL };

enum { K_IF, K_FD, K_TX, K_RX, K_BUS };
static const struct avp_key can_keys[] = {
	[K_IF] = { .name = "if", .type = AVP_KEY_STRING,
		   .offset = offsetof(struct avp_can_cfg, ifname) },
	[K_FD] = { .name = "fd", .type = AVP_KEY_ENUM, .offset = offsetof(struct avp_can_cfg, fd_mode),
		   .words = fd_words },
	[K_TX] = { .name = "tx", .type = AVP_KEY_STRING, .offset = offsetof(struct avp_can_cfg, tx_text) },
	[K_RX] = { .name = "rx", .type = AVP_KEY_STRING, .offset = offsetof(struct avp_can_cfg, rx_text) },
	[K_BUS] = { .name = "bus", .type = AVP_KEY_STRING, .offset = offsetof(struct avp_can_cfg, bus),
		    .flags = AVP_KEY_BUNDLE_ONLY },
	{ 0 },
};

/* A whole number, 0x-hex or decimal, at most max. */
static int parse_id(const char *s, size_t len, uint32_t max, uint32_t *out)
{
	uint64_t v = 0;
	unsigned int base = 10;
	size_t i = 0;

	if (len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		i = 2;
	}
	if (i == len)
		return -EINVAL;
	for (; i < len; i++) {
		int d;

		if (isdigit((unsigned char)s[i]))
			d = s[i] - '0';
		else if (base == 16 && isxdigit((unsigned char)s[i]))
			d = tolower((unsigned char)s[i]) - 'a' + 10;
		else
			return -EINVAL;
		v = v * base + (unsigned int)d;
		if (v > max)
			return -ERANGE;
	}
	*out = (uint32_t)v;
	return 0;
}

static const char *kind_name(unsigned int kind)
{
	return kind == AVP_CAN_STD ? "std" : kind == AVP_CAN_EXT ? "ext" : "both";
}

static int parse_range(const char *s, size_t len, struct avp_can_range *r, char *why, size_t wl)
{
	static const struct {
		const char *prefix;
		unsigned int kind;
	} prefixes[] = { { "std:", AVP_CAN_STD }, { "ext:", AVP_CAN_EXT }, { "both:", AVP_CAN_BOTH } };
	const char *start = s;
	size_t total = len;
	const char *dash;
	uint32_t max;
	int ret;

	r->kind = AVP_CAN_BOTH;
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		size_t pl = strlen(prefixes[i].prefix);

		if (len >= pl && strncmp(s, prefixes[i].prefix, pl) == 0) {
			r->kind = prefixes[i].kind;
			s += pl;
			len -= pl;
			break;
		}
	}
	max = r->kind == AVP_CAN_STD ? STD_MAX : EXT_MAX;
	dash = memchr(s, '-', len);
	ret = parse_id(s, dash ? (size_t)(dash - s) : len, max, &r->lo);
	if (!ret)
		ret = dash ? parse_id(dash + 1, len - (size_t)(dash - s) - 1, max, &r->hi) : 0;
	if (!ret && !dash)
		r->hi = r->lo;
	if (ret == -ERANGE) {
		snprintf(why, wl, "\"%.*s\": beyond the largest %s ID, 0x%" PRIx32, (int)total, start,
			 r->kind == AVP_CAN_STD ? "11-bit (std)" : "29-bit", max);
		return -EINVAL;
	}
	if (ret) {
		snprintf(why, wl, "\"%.*s\" is not a range: expected [std:|ext:|both:]ID[-ID] with "
			 "IDs in hex (0x...) or decimal", (int)total, start);
		return -EINVAL;
	}
	if (r->lo > r->hi) {
		snprintf(why, wl, "\"%.*s\": the range ends before it starts", (int)total, start);
		return -EINVAL;
	}
	return 0;
}

static bool overlap(const struct avp_can_range *a, const struct avp_can_range *b)
{
	return (a->kind & b->kind) && a->lo <= b->hi && b->lo <= a->hi;
}

int avp_can_rules_parse(const char *text, struct avp_can_rules *rules, char *why, size_t len)
{
	const char *p = text;

	memset(rules, 0, sizeof(*rules));
	rules->set = true;
	if (strcmp(text, "none") == 0)
		return 0;
	for (;;) {
		const char *end = strchr(p, '+');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		struct avp_can_range *r = &rules->r[rules->n];

		if (n == 0) {
			snprintf(why, len, "empty range in \"%s\" (ranges are joined by '+')", text);
			return -EINVAL;
		}
		if (rules->n == AVP_CAN_MAX_RANGES) {
			snprintf(why, len, "at most %d ranges", AVP_CAN_MAX_RANGES);
			return -EINVAL;
		}
		if (parse_range(p, n, r, why, len))
			return -EINVAL;
		for (unsigned int i = 0; i < rules->n; i++)
			if (overlap(&rules->r[i], r)) {
				/* Overlaps are usually a typo in one of them. */
				snprintf(why, len, "\"%.*s\" overlaps range %u (%s:0x%" PRIx32 "-0x%"
					 PRIx32 "): give each ID once", (int)n, p, i + 1,
					 kind_name(rules->r[i].kind), rules->r[i].lo, rules->r[i].hi);
				return -EINVAL;
			}
		rules->n++;
		if (!end)
			return 0;
		p = end + 1;
	}
}

bool avp_can_rules_allow(const struct avp_can_rules *rules, uint32_t id, bool ext)
{
	unsigned int kind = ext ? AVP_CAN_EXT : AVP_CAN_STD;

	if (!rules->set)
		return true;
	for (unsigned int i = 0; i < rules->n; i++)
		if ((rules->r[i].kind & kind) && id >= rules->r[i].lo && id <= rules->r[i].hi)
			return true;
	return false;
}

void avp_can_rules_format(const struct avp_can_rules *rules, char *buf, size_t len)
{
	size_t used = 0;

	if (len == 0)
		return;
	buf[0] = '\0';
	if (!rules->set) {
		snprintf(buf, len, "all");
		return;
	}
	if (rules->n == 0) {
		snprintf(buf, len, "none");
		return;
	}
	for (unsigned int i = 0; i < rules->n && used < len; i++) {
		const struct avp_can_range *r = &rules->r[i];
		int n = snprintf(buf + used, len - used, "%s%s:0x%" PRIx32 "-0x%" PRIx32,
				 i ? "+" : "", kind_name(r->kind), r->lo, r->hi);

		if (n < 0)
			return;
		used += (size_t)n;
	}
}

static int can_check(void *opts, uint32_t given, struct avp_config_err *e)
{
	struct avp_can_cfg *c = opts;
	char why[160];

	(void)given;
	if (!c->ifname == !c->bus)
		return avp_config_fail(e, NULL, "give either \"if\" (a host CAN interface) or "
				       "\"bus\" (a CAN bus of the system file), not %s",
				       c->ifname ? "both" : "neither");
	if (c->ifname && socketcan_check_name(c->ifname))
		return avp_config_fail(e, "if", "\"%s\" is not an interface name (1-15 characters, "
				       "no '/', ':' or spaces)", c->ifname);
	if (c->tx_text && avp_can_rules_parse(c->tx_text, &c->tx, why, sizeof(why)))
		return avp_config_fail(e, "tx", "%s", why);
	if (c->rx_text && avp_can_rules_parse(c->rx_text, &c->rx, why, sizeof(why)))
		return avp_config_fail(e, "rx", "%s", why);
	return 0;
}

/* One device per interface and per bus: two on one would see each
 * other's frames as the bus's. (Not the keys' twice rule: a bus device
 * has no interface, a plain one no bus.) */
static int can_final(const struct avp_config *cfg, struct avp_config_err *e)
{
	const struct avp_can_cfg *a, *b;

	for (unsigned int i = 0; (a = avp_config_device(cfg, &virtio_can_config, i)); i++)
		for (unsigned int j = 0; j < i && (b = avp_config_device(cfg, &virtio_can_config, j)); j++) {
			if (a->ifname && b->ifname && strcmp(a->ifname, b->ifname) == 0)
				return avp_config_fail(e, "if", "interface \"%s\" is already used by "
						       "another can device (given twice)", a->ifname);
			if (a->bus && b->bus && strcmp(a->bus, b->bus) == 0)
				return avp_config_fail(e, "bus", "bus \"%s\" is already used by "
						       "another can device (given twice)", a->bus);
		}
	return 0;
}

/* A confined bundle reaches a host CAN interface only through a system
 * file's bus, whose interface and rules the system's owner chose. */
static int can_confine(const void *opts, struct avp_config_err *e)
{
	const struct avp_can_cfg *c = opts;

	if (!c->ifname)
		return 0;
	return avp_config_fail(e, "if", "can device on interface %s: a confined bundle reaches "
			       "host CAN interfaces only through a system file's \"can\" buses",
			       c->ifname);
}

/* The device thread reads frames with their drop count (recvmsg), link
 * messages and its retry timer (read, already every worker's), and arms
 * the timer when the host's transmit queue is full. */
static const int can_device_calls[] = { SCMP_SYS(recvmsg), SCMP_SYS(timerfd_settime) };
static const struct avp_seccomp_needs can_seccomp = {
	AVP_ROLE_CALLS(AVP_THREAD_DEVICE, can_device_calls),
};

const struct avp_config_type virtio_can_config = {
	.name = "can", .syntax = "if=IFNAME[,fd=auto|on|off][,tx=RANGES][,rx=RANGES]",
	.help = can_help, .keys = can_keys, .opts_size = sizeof(struct avp_can_cfg),
	.virtio = true, .max = AVP_MAX_CANS, .too_many = "at most 4 CAN devices",
	.check = can_check, .final_check = can_final, .confine_check = can_confine,
	.seccomp = &can_seccomp,
};
_Static_assert(AVP_MAX_CANS == 4, "the too_many and help texts say 4");

/* ---- --can-bus: what `avp system up` passes for a bundle's bus device ---- */

static const char bus_help[] =
	"interface and rules of the system file's CAN bus\n"
	"NAME, for the bundle's {\"type\": \"can\", \"bus\":\n"
	"NAME}; repeat (up to 4; avp system up sets these)";

enum { B_BUS, B_IF, B_TX, B_RX };
static const struct avp_key bus_keys[] = {
	[B_BUS] = { .name = "bus", .type = AVP_KEY_STRING, .flags = AVP_KEY_REQUIRED,
		    .offset = offsetof(struct avp_can_bus_cfg, bus),
		    .twice = "bus \"%s\" given twice" },
	[B_IF] = { .name = "if", .type = AVP_KEY_STRING, .flags = AVP_KEY_REQUIRED,
		   .offset = offsetof(struct avp_can_bus_cfg, ifname) },
	[B_TX] = { .name = "tx", .type = AVP_KEY_STRING, .offset = offsetof(struct avp_can_bus_cfg, tx_text) },
	[B_RX] = { .name = "rx", .type = AVP_KEY_STRING, .offset = offsetof(struct avp_can_bus_cfg, rx_text) },
	{ 0 },
};

static int bus_check(void *opts, uint32_t given, struct avp_config_err *e)
{
	struct avp_can_bus_cfg *b = opts;
	char why[160];

	(void)given;
	if (!b->bus || !b->ifname)
		return avp_config_fail(e, NULL, "bus= and if= are both required");
	if (socketcan_check_name(b->ifname))
		return avp_config_fail(e, "if", "\"%s\" is not an interface name", b->ifname);
	if (b->tx_text && avp_can_rules_parse(b->tx_text, &b->tx, why, sizeof(why)))
		return avp_config_fail(e, "tx", "%s", why);
	if (b->rx_text && avp_can_rules_parse(b->rx_text, &b->rx, why, sizeof(why)))
		return avp_config_fail(e, "rx", "%s", why);
	return 0;
}

const struct avp_config_type virtio_can_bus_config = {
	.name = "can-bus", .syntax = "bus=NAME,if=IFNAME[,tx=RANGES][,rx=RANGES]",
	.help = bus_help, .keys = bus_keys, .opts_size = sizeof(struct avp_can_bus_cfg),
	.flags = AVP_TYPE_CLI_ONLY, .max = AVP_MAX_CANS, .too_many = "at most 4 CAN buses",
	.check = bus_check,
};

int virtio_can_resolve(const struct avp_config *cfg, const struct avp_can_cfg *dev,
		       struct avp_can_cfg *out)
{
	const struct avp_can_bus_cfg *b;

	*out = *dev;
	if (!dev->bus)
		return 0;
	for (unsigned int i = 0; (b = avp_config_device(cfg, &virtio_can_bus_config, i)); i++)
		if (strcmp(b->bus, dev->bus) == 0) {
			out->ifname = b->ifname;
			out->tx = b->tx;
			out->rx = b->rx;
			out->tx_text = b->tx_text;
			out->rx_text = b->rx_text;
			return 0;
		}
	avp_err("can device on bus \"%s\": the bus is a system file's (start the VM with `avp "
		"system up`, which passes --can-bus bus=%s,if=...)", dev->bus, dev->bus);
	return -EINVAL;
}
