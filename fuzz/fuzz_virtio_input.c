/* libFuzzer target: virtio-input (src/devices/virtio_input.c): the config
 * select protocol, both queues, and the control socket's "input" command
 * that injects events.
 *
 * Every run creates a keyboard and a touch screen (its size from the
 * input) registered on one VM's command table, as `avp run --input
 * keyboard --input touch` does, and attaches one of them to the hostile
 * pretend driver (fuzz_guest.h); the other one never gets a driver, so
 * commands for it meet the "not ready" path. Input: u8 mode (bit 0: the
 * touch screen is attached, bit 1: its size follows as two u16), then the
 * common grammar, whose device op's sub-ops are:
 *
 *   0 select   select and subsel written (two byte writes as Linux does,
 *              or one wider write), then the whole config read back
 *   1 request  one control-socket request line, as bytes, parsed with
 *              api_request_parse and dispatched as the server does
 *   2 events   an "input" request with 1-70 raw events: types, codes and
 *              values mostly from the ones the devices report
 *   3 key      an "input" key request: a name, a code or junk; an action
 *   4 touch    an "input" touch request: x, y, slot, action
 *
 * Beyond the sanitizers: a config read shows select and subsel as written,
 * a size of at most 128 and zeros past it; a command's reply has an
 * "error" exactly when the command fails, and one that succeeds says how
 * many events it queued. */
#include <errno.h>
#include <json-c/json.h>
#include <linux/input-event-codes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avp/api.h"
#include "avp/devices/virtio_input.h"
#include "avp/log.h"
#include "avp/vm.h"
#include "fuzz_guest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define CFG_LEN sizeof(struct virtio_input_config)

struct in_ctx {
	struct vm *vm;
	struct virtio_dev *attached;
	char line[1024];
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	avp_log_set_level(AVP_LOG_ERROR);
	return 0;
}

static void select_op(struct fuzz_guest *g, struct fz *z)
{
	uint8_t how = fz_u8(z);
	uint8_t sel[2];
	struct virtio_input_config cfg;

	sel[0] = fz_u8(z);
	sel[1] = fz_u8(z);

	/* Mostly the selectors that exist, sometimes any byte. */
	if (!(how & 0x80))
		sel[0] = (uint8_t[]){ 0, 1, 2, 3, 0x10, 0x11, 0x12, 0x13 }[sel[0] & 7];
	if (how & 1) {
		fg_config(g, 0, sel, 2, true);
	} else {
		fg_config(g, 0, &sel[0], 1, true);
		fg_config(g, 1, &sel[1], 1, true);
	}
	/* Read as the driver does, in small pieces. */
	for (uint32_t off = 0; off < CFG_LEN; off += 4)
		fg_config(g, off, (uint8_t *)&cfg + off, CFG_LEN - off < 4 ? CFG_LEN - off : 4, false);
	FUZZ_CHECK(cfg.select == sel[0] && cfg.subsel == sel[1]);
	FUZZ_CHECK(cfg.size <= sizeof(cfg.u));
	for (size_t i = cfg.size; i < sizeof(cfg.u); i++)
		FUZZ_CHECK(cfg.u.bitmap[i] == 0);
}

/* Runs a command the way the control socket's dispatch does and checks
 * the reply's shape. */
static void run_command(struct in_ctx *c, const char *name, json_object *args)
{
	const struct api_command *cmd = vm_api_find(c->vm, name);
	json_object *reply, *e, *q;
	int ret;

	if (!cmd)
		return;
	reply = api_reply_new(NULL);
	if (!reply)
		return;
	ret = cmd->fn(cmd->opaque, args, reply);
	if (ret) {
		FUZZ_CHECK(ret < 0);
		FUZZ_CHECK(json_object_object_get_ex(reply, "error", &e) &&
			   json_object_is_type(e, json_type_string));
		api_reply_fail(reply, NULL);
	} else {
		FUZZ_CHECK(!json_object_object_get_ex(reply, "error", &e));
		FUZZ_CHECK(json_object_object_get_ex(reply, "queued", &q) &&
			   json_object_get_int(q) >= 1 &&
			   json_object_get_int(q) <= VIRTIO_INPUT_RING);
	}
	free(api_reply_format(reply, NULL));
	json_object_put(reply);
}

static void request_op(struct in_ctx *c, struct fz *z)
{
	size_t n = fz_bytes(z, c->line, fz_u16(z) % sizeof(c->line));
	struct api_request req;
	char err[160];

	if (api_request_parse(c->line, n, &req, err, sizeof(err)))
		return;
	run_command(c, req.cmd, req.args);
	api_request_free(&req);
}

static json_object *new_int(int64_t v)
{
	return json_object_new_int64(v);
}

/* "device" most of the time, sometimes left for the command to guess, or
 * a name that does not exist. */
static void add_device(json_object *args, struct fz *z)
{
	uint8_t d = fz_u8(z) % 4;

	if (d < 2)
		json_object_object_add(args, "device",
				       json_object_new_string(d ? "touch" : "keyboard"));
	else if (d == 2)
		json_object_object_add(args, "device", json_object_new_string("mouse"));
}

static void events_op(struct in_ctx *c, struct fz *z)
{
	static const uint16_t types[] = { EV_SYN, EV_KEY, EV_ABS, EV_KEY, EV_ABS, EV_REL };
	static const uint16_t codes[] = { 0,		  KEY_A,	 KEY_ENTER,	    BTN_TOUCH,
					  ABS_X,	  ABS_Y,	 ABS_MT_SLOT,	    ABS_MT_TRACKING_ID,
					  ABS_MT_POSITION_X, ABS_MT_POSITION_Y, KEY_MICMUTE, KEY_MAX };
	json_object *args = json_object_new_object();
	json_object *evs = json_object_new_array();
	unsigned int n = 1 + fz_u8(z) % 70;

	add_device(args, z);
	for (unsigned int i = 0; i < n && !fz_empty(z); i++) {
		uint8_t shape = fz_u8(z);
		json_object *e = json_object_new_object();
		int64_t type = shape & 0x80 ? (int64_t)(int16_t)fz_u16(z) : types[shape % 6];
		int64_t code = shape & 0x40 ? (int64_t)(int16_t)fz_u16(z) : codes[fz_u8(z) % 12];
		int64_t value = shape & 0x20 ? (int64_t)(int32_t)fz_u32(z) : (int64_t)fz_u8(z) - 1;

		if (!(shape & 0x10))
			json_object_object_add(e, "type", new_int(type));
		json_object_object_add(e, "code", new_int(code));
		json_object_object_add(e, "value", shape & 0x08 ? json_object_new_string("1")
								 : new_int(value));
		json_object_array_add(evs, e);
	}
	json_object_object_add(args, "events", evs);
	run_command(c, "input", args);
	json_object_put(args);
}

static void key_op(struct in_ctx *c, struct fz *z)
{
	static const char *const names[] = { "KEY_A", "a", "enter", "KEY_MICMUTE", "F12",
					     "key_", "", "BTN_TOUCH" };
	static const char *const actions[] = { "click", "press", "release", "hold" };
	json_object *args = json_object_new_object();
	uint8_t how = fz_u8(z);

	add_device(args, z);
	if (how & 1)
		json_object_object_add(args, "key", new_int((int64_t)(int16_t)fz_u16(z)));
	else
		json_object_object_add(args, "key", json_object_new_string(names[(how >> 1) & 7]));
	if (how & 0x10)
		json_object_object_add(args, "action", json_object_new_string(actions[how >> 6]));
	run_command(c, "input", args);
	json_object_put(args);
}

static void touch_op(struct in_ctx *c, struct fz *z)
{
	static const char *const actions[] = { "tap", "down", "move", "up" };
	json_object *args = json_object_new_object();
	json_object *t = json_object_new_object();
	uint8_t how = fz_u8(z);

	add_device(args, z);
	if (!(how & 0x80)) {
		json_object_object_add(t, "x", new_int(how & 0x40 ? (int32_t)fz_u32(z) : fz_u16(z) % 1024));
		json_object_object_add(t, "y", new_int(how & 0x40 ? (int32_t)fz_u32(z) : fz_u16(z) % 1024));
	}
	if (how & 0x20)
		json_object_object_add(t, "slot", new_int((int8_t)fz_u8(z) % 12));
	if (how & 0x10)
		json_object_object_add(t, "action", json_object_new_string(actions[how & 3]));
	json_object_object_add(args, "touch", t);
	run_command(c, "input", args);
	json_object_put(args);
}

static void in_op(struct fuzz_guest *g, struct fz *z, void *opaque)
{
	struct in_ctx *c = opaque;

	switch (fz_u8(z) % 5) {
	case 0:
		select_op(g, z);
		break;
	case 1:
		request_op(c, z);
		break;
	case 2:
		events_op(c, z);
		break;
	case 3:
		key_op(c, z);
		break;
	case 4:
		touch_op(c, z);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t wanted[] = { 29 /* EVENT_IDX */, 28 /* INDIRECT_DESC */ };
	/* Only the command table is used. */
	static struct vm vm;
	struct fz z = { data, size };
	uint8_t mode = fz_u8(&z);
	struct avp_input_cfg kc = { .kind = AVP_INPUT_KEYBOARD };
	struct avp_input_cfg tc = { .kind = AVP_INPUT_TOUCH, .width = 800, .height = 480 };
	struct virtio_dev *kbd = NULL, *touch = NULL;
	struct in_ctx c = { .vm = &vm };
	struct fuzz_guest g;

	if (mode & 2) {
		tc.width = 1u + fz_u16(&z) % 65535;
		tc.height = 1u + fz_u16(&z) % 65535;
	}
	memset(&vm, 0, sizeof(vm));
	if (virtio_input_create(&kbd, &kc) || virtio_input_create(&touch, &tc))
		goto out;
	/* Registered in either order: the command then finds its device by
	 * name, or guesses it from the request. */
	if (mode & 4) {
		FUZZ_CHECK(virtio_input_register_api(&vm, touch) == 0);
		FUZZ_CHECK(virtio_input_register_api(&vm, kbd) == 0);
	} else {
		FUZZ_CHECK(virtio_input_register_api(&vm, kbd) == 0);
		FUZZ_CHECK(virtio_input_register_api(&vm, touch) == 0);
	}
	c.attached = mode & 1 ? touch : kbd;
	if (fg_init(&g) == 0) {
		fg_run(&g, c.attached, &z, wanted, 2, in_op, &c);
		fg_reset(&g);
	}
	fg_fini(&g);
out:
	if (kbd)
		kbd->ops->destroy(kbd);
	if (touch)
		touch->ops->destroy(touch);
	return 0;
}
