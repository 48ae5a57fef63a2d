/* virtio-input (VIRTIO 1.2, section 5.8): a keyboard or a multi-touch
 * screen whose events come from the host, through the control socket's
 * "input" command (docs/api.md).
 *
 * Two queues: eventq (0), where the driver posts 8-byte buffers that we
 * fill with evdev events, and statusq (1), where it reports LED state; we
 * have no LEDs, so status buffers are returned unread.
 *
 * The control thread only queues events in a bounded ring (under
 * dev->lock) and pokes the device thread, which moves them into the
 * driver's buffers as they come. A request that does not fit in the ring
 * whole is refused: dropping part of an update would leave the guest with
 * a key held down or a half-reported touch (5.8.6.2). */
#include <endian.h>
#include <errno.h>
#include <json-c/json.h>
#include <linux/input-event-codes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "avp/devices/dev_wait.h"
#include "avp/devices/virtio_input.h"
#include "avp/log.h"
#include "avp/vm.h"

#define BUS_VIRTUAL 0x06 /* linux/input.h */
#define BITMAP_BYTES 128 /* the config union holds 1024 bits */

struct vinput {
	struct virtio_dev dev;
	struct virtio_input_config config;
	enum avp_input_kind kind;
	const char *name; /* "keyboard" / "touch": the API's device names */
	uint32_t width, height;

	/* What the device reports (and accepts from the host). */
	uint8_t prop_bits[BITMAP_BYTES];
	uint8_t ev_bits[BITMAP_BYTES];
	uint8_t key_bits[BITMAP_BYTES];
	uint8_t abs_bits[BITMAP_BYTES];
	struct virtio_input_absinfo abs[ABS_CNT];

	struct dev_resched resched;
	struct virtio_input_event ring[VIRTIO_INPUT_RING]; /* host order */
	unsigned int ring_head, ring_count;
	struct virtq_chain chain;

	/* Convenience touches: contacts down per slot, next tracking ID. */
	uint32_t slots_down;
	int32_t next_tracking_id;

	/* Other input devices answering the same "input" command. */
	struct vinput *next;
};

static struct vinput *vin_of(struct virtio_dev *dev)
{
	return dev->priv;
}

static void set_bit_in(uint8_t *map, unsigned int bit)
{
	map[bit / 8] |= (uint8_t)(1u << (bit % 8));
}

static bool test_bit_in(const uint8_t *map, unsigned int bit)
{
	return bit < BITMAP_BYTES * 8 && (map[bit / 8] >> (bit % 8)) & 1;
}

/* Bytes of a bitmap up to its last set bit: the config "size". */
static uint8_t bitmap_size(const uint8_t *map)
{
	for (unsigned int n = BITMAP_BYTES; n > 0; n--)
		if (map[n - 1])
			return (uint8_t)n;
	return 0;
}

/* ---- configuration space (5.8.4) ---- */

static void put_string(struct virtio_input_config *c, const char *s)
{
	size_t n = strlen(s);

	if (n > sizeof(c->u.string))
		n = sizeof(c->u.string);
	memcpy(c->u.string, s, n); /* no NUL terminator (5.8.4) */
	c->size = (uint8_t)n;
}

static void put_bitmap(struct virtio_input_config *c, const uint8_t *map)
{
	c->size = bitmap_size(map);
	memcpy(c->u.bitmap, map, c->size);
}

static const uint8_t *ev_bitmap(const struct vinput *in, unsigned int type)
{
	if (!test_bit_in(in->ev_bits, type))
		return NULL;
	switch (type) {
	case EV_KEY:
		return in->key_bits;
	case EV_ABS:
		return in->abs_bits;
	default:
		return NULL;
	}
}

/* Fills size and the union for the current select/subsel; unsupported
 * combinations read as size 0 (5.8.4.2). */
static void config_select(struct vinput *in)
{
	struct virtio_input_config *c = &in->config;
	const uint8_t *map;

	c->size = 0;
	memset(&c->u, 0, sizeof(c->u));
	switch (c->select) {
	case VIRTIO_INPUT_CFG_ID_NAME:
		if (c->subsel == 0)
			put_string(c, in->kind == AVP_INPUT_KEYBOARD ? "avp keyboard" : "avp touchscreen");
		break;
	case VIRTIO_INPUT_CFG_ID_SERIAL:
		if (c->subsel == 0)
			put_string(c, in->kind == AVP_INPUT_KEYBOARD ? "avp-keyboard-0" : "avp-touch-0");
		break;
	case VIRTIO_INPUT_CFG_ID_DEVIDS:
		if (c->subsel == 0) {
			c->u.ids.bustype = htole16(BUS_VIRTUAL);
			c->u.ids.vendor = htole16(0);
			c->u.ids.product = htole16(in->kind == AVP_INPUT_KEYBOARD ? 1 : 2);
			c->u.ids.version = htole16(1);
			c->size = sizeof(c->u.ids);
		}
		break;
	case VIRTIO_INPUT_CFG_PROP_BITS:
		if (c->subsel == 0)
			put_bitmap(c, in->prop_bits);
		break;
	case VIRTIO_INPUT_CFG_EV_BITS:
		map = ev_bitmap(in, c->subsel);
		if (map)
			put_bitmap(c, map);
		break;
	case VIRTIO_INPUT_CFG_ABS_INFO:
		if (c->subsel < ABS_CNT && test_bit_in(in->abs_bits, c->subsel)) {
			c->u.abs = in->abs[c->subsel];
			c->size = sizeof(c->u.abs);
		}
		break;
	default:
		break;
	}
}

static void vin_config_write(struct virtio_dev *dev, uint32_t offset, const void *data, uint32_t len)
{
	struct vinput *in = vin_of(dev);
	const uint8_t *b = data;

	/* Only select (0) and subsel (1) are the driver's (5.8.4.1). */
	for (uint32_t i = 0; i < len; i++) {
		if (offset + i == 0)
			in->config.select = b[i];
		else if (offset + i == 1)
			in->config.subsel = b[i];
	}
	config_select(in);
}

static void set_abs(struct vinput *in, unsigned int axis, int32_t min, int32_t max)
{
	set_bit_in(in->abs_bits, axis);
	in->abs[axis] = (struct virtio_input_absinfo){
		.min = htole32((uint32_t)min),
		.max = htole32((uint32_t)max),
	};
}

static void describe_device(struct vinput *in)
{
	if (in->kind == AVP_INPUT_KEYBOARD) {
		set_bit_in(in->ev_bits, EV_KEY);
		/* The keys of a PC keyboard and the usual media keys. */
		for (unsigned int k = KEY_ESC; k <= KEY_MICMUTE; k++)
			set_bit_in(in->key_bits, k);
		return;
	}
	/* A direct (screen) multi-touch device, type B protocol (Linux
	 * Documentation/input/multi-touch-protocol.rst), with the single-touch
	 * axes for legacy readers. */
	set_bit_in(in->prop_bits, INPUT_PROP_DIRECT);
	set_bit_in(in->ev_bits, EV_KEY);
	set_bit_in(in->ev_bits, EV_ABS);
	set_bit_in(in->key_bits, BTN_TOUCH);
	set_abs(in, ABS_X, 0, (int32_t)in->width - 1);
	set_abs(in, ABS_Y, 0, (int32_t)in->height - 1);
	set_abs(in, ABS_MT_SLOT, 0, VIRTIO_INPUT_TOUCH_SLOTS - 1);
	set_abs(in, ABS_MT_POSITION_X, 0, (int32_t)in->width - 1);
	set_abs(in, ABS_MT_POSITION_Y, 0, (int32_t)in->height - 1);
	set_abs(in, ABS_MT_TRACKING_ID, 0, 65535);
}

/* ---- delivery (device thread) ---- */

static bool device_live(const struct virtio_dev *dev)
{
	return (dev->status & VIRTIO_STATUS_DRIVER_OK) && !(dev->status & VIRTIO_STATUS_NEEDS_RESET);
}

static void deliver(struct vinput *in)
{
	struct virtio_dev *dev = &in->dev;
	struct virtq *vq = &dev->vqs[VIRTIO_INPUT_EVENTQ];

	for (unsigned int i = 0; i < VIRTIO_INPUT_BUDGET; i++) {
		const struct virtio_input_event *ev;
		struct virtio_input_event le;
		int ret;

		if (!in->ring_count || !vq->ready)
			return;
		ret = virtq_pop(vq, &in->chain);
		if (ret == 0)
			return; /* the next eventq kick brings us back */
		if (ret == -EIO) {
			virtio_dev_needs_reset(dev, "event ring is broken");
			return;
		}
		if (ret != 1 || in->chain.in_bytes < sizeof(le)) {
			/* 5.8.6.1: buffers must hold an event; this one is
			 * returned empty and the event waits for the next. */
			if (in->chain.head != UINT16_MAX)
				virtio_dev_complete(dev, VIRTIO_INPUT_EVENTQ, in->chain.head, 0);
			continue;
		}
		ev = &in->ring[in->ring_head];
		le.type = htole16(ev->type);
		le.code = htole16(ev->code);
		le.value = htole32(ev->value);
		virtq_chain_write(&in->chain, 0, &le, sizeof(le));
		in->ring_head = (in->ring_head + 1) % VIRTIO_INPUT_RING;
		in->ring_count--;
		virtio_dev_complete(dev, VIRTIO_INPUT_EVENTQ, in->chain.head, sizeof(le));
	}
	dev_resched_request(&in->resched);
}

/* LED and similar feedback: accepted and ignored (we have no LEDs). */
static void drain_status(struct vinput *in)
{
	struct virtio_dev *dev = &in->dev;

	for (unsigned int i = 0; i < VIRTIO_INPUT_BUDGET; i++) {
		int ret = virtq_pop(&dev->vqs[VIRTIO_INPUT_STATUSQ], &in->chain);

		if (ret == 0)
			return;
		if (ret == -EIO) {
			virtio_dev_needs_reset(dev, "status ring is broken");
			return;
		}
		if (in->chain.head != UINT16_MAX)
			virtio_dev_complete(dev, VIRTIO_INPUT_STATUSQ, in->chain.head, 0);
	}
	dev_resched_request(&in->resched);
}

static void vin_queue_notify(struct virtio_dev *dev, uint16_t q)
{
	struct vinput *in = vin_of(dev);

	if (q == VIRTIO_INPUT_EVENTQ)
		deliver(in);
	else if (q == VIRTIO_INPUT_STATUSQ)
		drain_status(in);
}

static void vin_fd_ready(struct virtio_dev *dev, int fd, uint32_t events)
{
	struct vinput *in = vin_of(dev);

	(void)events;
	if (dev_resched_take(&in->resched, fd)) {
		deliver(in);
		drain_status(in);
	}
}

static uint64_t vin_features(struct virtio_dev *dev)
{
	(void)dev;
	return 0; /* 5.8.3: none */
}

static int vin_activate(struct virtio_dev *dev)
{
	return dev_watch_set(dev, &vin_of(dev)->resched.watch, true);
}

static void vin_reset(struct virtio_dev *dev)
{
	struct vinput *in = vin_of(dev);

	dev_watch_set(dev, &in->resched.watch, false);
	dev_resched_take(&in->resched, in->resched.watch.fd);
	/* Events meant for the old driver instance would arrive out of
	 * context (keys "pressed" before it existed). */
	in->ring_head = in->ring_count = 0;
	in->slots_down = 0;
	in->config.select = in->config.subsel = 0;
	config_select(in);
}

static void vin_destroy(struct virtio_dev *dev)
{
	struct vinput *in = vin_of(dev);

	virtio_dev_fini(dev);
	dev_resched_fini(&in->resched);
	free(in);
}

static const struct virtio_dev_ops vin_ops = {
	.type = "virtio-input",
	.device_id = VIRTIO_ID_INPUT,
	.num_queues = 2,
	.features = vin_features,
	.config_write = vin_config_write,
	.activate = vin_activate,
	.queue_notify = vin_queue_notify,
	.fd_ready = vin_fd_ready,
	.reset = vin_reset,
	.destroy = vin_destroy,
};

int virtio_input_create(struct virtio_dev **out, const struct avp_input_cfg *cfg)
{
	struct vinput *in;
	int ret;

	if (cfg->kind == AVP_INPUT_TOUCH &&
	    (cfg->width == 0 || cfg->height == 0 || cfg->width > 65535 || cfg->height > 65535))
		return -EINVAL;
	in = calloc(1, sizeof(*in));
	if (!in)
		return -ENOMEM;
	ret = dev_resched_init(&in->resched);
	if (ret) {
		avp_err("virtio-input: eventfd: %s", strerror(-ret));
		free(in);
		return ret;
	}
	in->kind = cfg->kind;
	in->name = cfg->kind == AVP_INPUT_KEYBOARD ? "keyboard" : "touch";
	in->width = cfg->width;
	in->height = cfg->height;
	describe_device(in);
	config_select(in);
	virtio_dev_init(&in->dev, &vin_ops, in, &in->config, sizeof(in->config));
	*out = &in->dev;
	return 0;
}

/* ---- the "input" command (control thread) ---- */

struct key_name {
	const char *name; /* without "KEY_" */
	uint16_t code;
};

#define K(x) { #x, KEY_##x }
static const struct key_name key_names[] = {
	K(ESC), K(1), K(2), K(3), K(4), K(5), K(6), K(7), K(8), K(9), K(0), K(MINUS), K(EQUAL),
	K(BACKSPACE), K(TAB), K(Q), K(W), K(E), K(R), K(T), K(Y), K(U), K(I), K(O), K(P),
	K(LEFTBRACE), K(RIGHTBRACE), K(ENTER), K(LEFTCTRL), K(A), K(S), K(D), K(F), K(G), K(H),
	K(J), K(K), K(L), K(SEMICOLON), K(APOSTROPHE), K(GRAVE), K(LEFTSHIFT), K(BACKSLASH), K(Z),
	K(X), K(C), K(V), K(B), K(N), K(M), K(COMMA), K(DOT), K(SLASH), K(RIGHTSHIFT),
	K(KPASTERISK), K(LEFTALT), K(SPACE), K(CAPSLOCK), K(F1), K(F2), K(F3), K(F4), K(F5), K(F6),
	K(F7), K(F8), K(F9), K(F10), K(NUMLOCK), K(SCROLLLOCK), K(F11), K(F12), K(KPENTER),
	K(RIGHTCTRL), K(RIGHTALT), K(HOME), K(UP), K(PAGEUP), K(LEFT), K(RIGHT), K(END), K(DOWN),
	K(PAGEDOWN), K(INSERT), K(DELETE), K(MUTE), K(VOLUMEDOWN), K(VOLUMEUP), K(POWER),
	K(PAUSE), K(LEFTMETA), K(RIGHTMETA), K(COMPOSE), K(STOP), K(MENU), K(SLEEP), K(WAKEUP),
	K(BACK), K(FORWARD), K(NEXTSONG), K(PLAYPAUSE), K(PREVIOUSSONG), K(STOPCD), K(HOMEPAGE),
	K(PLAY), K(SEARCH), K(MICMUTE),
};
#undef K

/* "KEY_A", "a" or 30. */
static int key_code(json_object *v, uint16_t *code)
{
	if (json_object_is_type(v, json_type_int)) {
		int64_t c = json_object_get_int64(v);

		if (c < 1 || c > KEY_MAX)
			return -EINVAL;
		*code = (uint16_t)c;
		return 0;
	}
	if (json_object_is_type(v, json_type_string)) {
		const char *s = json_object_get_string(v);

		if (strncasecmp(s, "KEY_", 4) == 0)
			s += 4;
		for (size_t i = 0; i < sizeof(key_names) / sizeof(key_names[0]); i++)
			if (strcasecmp(s, key_names[i].name) == 0) {
				*code = key_names[i].code;
				return 0;
			}
	}
	return -EINVAL;
}

/* An integer member in [min, max]; absent gives -ENOENT. */
static int get_int(json_object *o, const char *key, int64_t min, int64_t max, int64_t *out)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !v)
		return -ENOENT;
	if (!json_object_is_type(v, json_type_int))
		return -EINVAL;
	errno = 0;
	*out = json_object_get_int64(v);
	if (errno || *out < min || *out > max)
		return -EINVAL;
	return 0;
}

static const char *get_string(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

struct batch {
	struct virtio_input_event ev[VIRTIO_INPUT_MAX_REQUEST_EVENTS + 8];
	unsigned int n;
};

static void add(struct batch *b, uint16_t type, uint16_t code, int32_t value)
{
	if (b->n < sizeof(b->ev) / sizeof(b->ev[0]))
		b->ev[b->n++] = (struct virtio_input_event){ type, code, (uint32_t)value };
}

static int fail(json_object *reply, const char *msg)
{
	json_object_object_add(reply, "error", json_object_new_string(msg));
	return -EINVAL;
}

/* Whether the device reports this event (what the driver was told). */
static bool event_supported(const struct vinput *in, const struct virtio_input_event *e)
{
	const uint8_t *map;

	if (e->type == EV_SYN)
		return e->code <= SYN_MAX;
	map = ev_bitmap(in, e->type);
	if (!map || !test_bit_in(map, e->code))
		return false;
	if (e->type == EV_ABS) {
		int32_t v = (int32_t)e->value;
		int32_t min = (int32_t)le32toh(in->abs[e->code].min);
		int32_t max = (int32_t)le32toh(in->abs[e->code].max);

		/* -1 ends a contact (multi-touch protocol type B). */
		return (v >= min && v <= max) || (e->code == ABS_MT_TRACKING_ID && v == -1);
	}
	return e->type != EV_KEY || e->value <= 2; /* release, press, autorepeat */
}

static int build_raw(const struct vinput *in, json_object *events, struct batch *b,
		     json_object *reply)
{
	size_t n = json_object_array_length(events);

	if (n == 0 || n > VIRTIO_INPUT_MAX_REQUEST_EVENTS)
		return fail(reply, "\"events\" must hold 1 to 64 events");
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(events, i);
		int64_t type, code, value;
		struct virtio_input_event ev;

		if (!json_object_is_type(e, json_type_object) ||
		    get_int(e, "type", 0, EV_MAX, &type) || get_int(e, "code", 0, KEY_MAX, &code) ||
		    get_int(e, "value", INT32_MIN, INT32_MAX, &value))
			return fail(reply, "each event is {\"type\":T,\"code\":C,\"value\":V} with "
					   "integers in evdev's ranges");
		ev = (struct virtio_input_event){ (uint16_t)type, (uint16_t)code, (uint32_t)value };
		if (!event_supported(in, &ev)) {
			char msg[120];

			snprintf(msg, sizeof(msg),
				 "event %zu (type %u, code %u, value %d) is not one the %s reports", i,
				 ev.type, ev.code, (int32_t)ev.value, in->name);
			json_object_object_add(reply, "error", json_object_new_string(msg));
			return -EINVAL;
		}
		add(b, ev.type, ev.code, (int32_t)ev.value);
	}
	/* evdev readers see nothing until a SYN_REPORT closes the update. */
	if (b->ev[b->n - 1].type != EV_SYN)
		add(b, EV_SYN, SYN_REPORT, 0);
	return 0;
}

static int build_key(const struct vinput *in, json_object *args, json_object *key, struct batch *b,
		     json_object *reply)
{
	const char *action = get_string(args, "action");
	uint16_t code;

	if (in->kind != AVP_INPUT_KEYBOARD)
		return fail(reply, "\"key\" needs the keyboard");
	if (key_code(key, &code) || !test_bit_in(in->key_bits, code))
		return fail(reply, "unknown key: use a Linux key name such as \"KEY_A\" or its code");
	if (!action || strcmp(action, "click") == 0) {
		add(b, EV_KEY, code, 1);
		add(b, EV_SYN, SYN_REPORT, 0);
		add(b, EV_KEY, code, 0);
		add(b, EV_SYN, SYN_REPORT, 0);
	} else if (strcmp(action, "press") == 0 || strcmp(action, "release") == 0) {
		add(b, EV_KEY, code, action[0] == 'p');
		add(b, EV_SYN, SYN_REPORT, 0);
	} else {
		return fail(reply, "\"action\" for a key is click, press or release");
	}
	return 0;
}

/* Touch contacts, multi-touch protocol type B, with BTN_TOUCH and ABS_X/Y
 * following the contact last moved. *slots is the contacts-down mask,
 * updated only if the request is accepted (the caller commits it). */
static int build_touch(struct vinput *in, json_object *touch, struct batch *b, uint32_t *slots,
		       int32_t *next_id, json_object *reply)
{
	const char *action = get_string(touch, "action");
	int64_t x = 0, y = 0, slot = 0;
	bool down, up, needs_xy;
	int ret;

	if (in->kind != AVP_INPUT_TOUCH)
		return fail(reply, "\"touch\" needs the touch device");
	if (!json_object_is_type(touch, json_type_object))
		return fail(reply, "\"touch\" is {\"x\":X,\"y\":Y} (plus optional action, slot)");
	if (!action)
		action = "tap";
	down = !strcmp(action, "tap") || !strcmp(action, "down");
	up = !strcmp(action, "tap") || !strcmp(action, "up");
	needs_xy = strcmp(action, "up") != 0;
	if (!down && !up && strcmp(action, "move"))
		return fail(reply, "\"action\" for a touch is tap, down, move or up");
	ret = get_int(touch, "slot", 0, VIRTIO_INPUT_TOUCH_SLOTS - 1, &slot);
	if (ret == -EINVAL)
		return fail(reply, "\"slot\" is 0 to 9");
	if (needs_xy && (get_int(touch, "x", 0, in->width - 1, &x) ||
			 get_int(touch, "y", 0, in->height - 1, &y))) {
		char msg[96];

		snprintf(msg, sizeof(msg), "\"x\" and \"y\" are integers within 0..%u and 0..%u",
			 in->width - 1, in->height - 1);
		json_object_object_add(reply, "error", json_object_new_string(msg));
		return -EINVAL;
	}
	if (down && (*slots & (1u << slot)))
		return fail(reply, "that slot is already touching (use move or up)");
	if (!down && !(*slots & (1u << slot)))
		return fail(reply, "that slot is not touching (use down or tap first)");

	add(b, EV_ABS, ABS_MT_SLOT, (int32_t)slot);
	if (down) {
		add(b, EV_ABS, ABS_MT_TRACKING_ID, *next_id);
		*next_id = (*next_id + 1) & 0xffff;
	}
	if (needs_xy) {
		add(b, EV_ABS, ABS_MT_POSITION_X, (int32_t)x);
		add(b, EV_ABS, ABS_MT_POSITION_Y, (int32_t)y);
		if (down && !*slots)
			add(b, EV_KEY, BTN_TOUCH, 1);
		add(b, EV_ABS, ABS_X, (int32_t)x);
		add(b, EV_ABS, ABS_Y, (int32_t)y);
		add(b, EV_SYN, SYN_REPORT, 0);
		if (down)
			*slots |= 1u << slot;
	}
	if (up) {
		if (needs_xy)
			add(b, EV_ABS, ABS_MT_SLOT, (int32_t)slot);
		add(b, EV_ABS, ABS_MT_TRACKING_ID, -1);
		*slots &= ~(1u << slot);
		if (!*slots)
			add(b, EV_KEY, BTN_TOUCH, 0);
		add(b, EV_SYN, SYN_REPORT, 0);
	}
	return 0;
}

static struct vinput *pick_device(struct vinput *first, json_object *args, json_object *reply)
{
	const char *want = get_string(args, "device");
	json_object *v;
	unsigned int n = 0;

	if (!want) {
		if (json_object_object_get_ex(args, "key", &v))
			want = "keyboard";
		else if (json_object_object_get_ex(args, "touch", &v))
			want = "touch";
	}
	for (struct vinput *in = first; in; in = in->next) {
		if (want && strcmp(in->name, want) == 0)
			return in;
		n++;
	}
	if (!want && n == 1)
		return first;
	json_object_object_add(reply, "error",
			       json_object_new_string(want ? "this VM has no such input device "
							     "(--input keyboard / --input touch)"
							   : "say which \"device\": keyboard or touch"));
	return NULL;
}

static int input_command(void *opaque, json_object *args, json_object *reply)
{
	struct vinput *in;
	struct batch b = { .n = 0 };
	json_object *events = NULL, *key = NULL, *touch = NULL;
	uint32_t slots;
	int32_t next_id;
	int given, ret;

	if (!args)
		return fail(reply, "\"input\" needs args: {\"key\":...}, {\"touch\":...} or {\"events\":[...]}");
	json_object_object_get_ex(args, "events", &events);
	json_object_object_get_ex(args, "key", &key);
	json_object_object_get_ex(args, "touch", &touch);
	given = !!events + !!key + !!touch;
	if (given != 1)
		return fail(reply, "give exactly one of \"events\", \"key\" and \"touch\"");
	if (events && !json_object_is_type(events, json_type_array))
		return fail(reply, "\"events\" must be an array");
	in = pick_device(opaque, args, reply);
	if (!in)
		return -ENODEV;

	pthread_mutex_lock(&in->dev.lock);
	slots = in->slots_down;
	next_id = in->next_tracking_id;
	if (events)
		ret = build_raw(in, events, &b, reply);
	else if (key)
		ret = build_key(in, args, key, &b, reply);
	else
		ret = build_touch(in, touch, &b, &slots, &next_id, reply);
	if (!ret && !device_live(&in->dev)) {
		/* Queued events would reach a driver that did not exist when
		 * they happened; tell the host to try again later. */
		json_object_object_add(reply, "error",
				       json_object_new_string("the guest's virtio-input driver is "
							      "not ready"));
		ret = -EAGAIN;
	}
	if (!ret && b.n > VIRTIO_INPUT_RING - in->ring_count) {
		json_object_object_add(reply, "error",
				       json_object_new_string("input queue full: the guest is not "
							      "reading its events"));
		ret = -ENOSPC;
	}
	if (!ret) {
		for (unsigned int i = 0; i < b.n; i++)
			in->ring[(in->ring_head + in->ring_count + i) % VIRTIO_INPUT_RING] = b.ev[i];
		in->ring_count += b.n;
		in->slots_down = slots;
		in->next_tracking_id = next_id;
		dev_resched_request(&in->resched);
		json_object_object_add(reply, "device", json_object_new_string(in->name));
		json_object_object_add(reply, "queued", json_object_new_int((int)b.n));
	}
	pthread_mutex_unlock(&in->dev.lock);
	return ret;
}

int virtio_input_register_api(struct vm *vm, struct virtio_dev *dev)
{
	struct vinput *in = vin_of(dev);
	const struct api_command *cmd = vm_api_find(vm, "input");
	struct vinput *last;

	if (!cmd)
		return vm_api_register(vm, "input", input_command, in);
	if (cmd->fn != input_command)
		return -EEXIST;
	/* Registration happens before the VM starts: no lock needed. */
	for (last = cmd->opaque; last->next; last = last->next)
		;
	last->next = in;
	return 0;
}
