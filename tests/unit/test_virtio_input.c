/* virtio-input against the pretend driver: the config select protocol a
 * Linux driver walks at probe, and events injected through the "input"
 * control command arriving in the driver's buffers, in order, whole. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <endian.h>
#include <errno.h>
#include <json-c/json.h>
#include <linux/input-event-codes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "avp/devices/virtio_input.h"
#include "avp/log.h"
#include "avp/vm.h"
#include "support/vq_harness.h"

#define QSIZE 64

struct fixture {
	struct vq_harness h; /* first: dev->transport points here */
	struct virtio_dev *kbd;
	struct virtio_dev *touch;
	struct vm vm; /* only its command table is used */
	int watched[8];
	unsigned int nwatched;
	uint64_t ev_gpa[2][QSIZE];
};

static int spy_watch(struct virtio_dev *dev, int fd, uint32_t events)
{
	struct fixture *f = (struct fixture *)dev->transport;

	(void)events;
	for (unsigned int i = 0; i < f->nwatched; i++)
		if (f->watched[i] == fd)
			return 0;
	f->watched[f->nwatched++] = fd;
	return 0;
}

static int spy_unwatch(struct virtio_dev *dev, int fd)
{
	struct fixture *f = (struct fixture *)dev->transport;

	for (unsigned int i = 0; i < f->nwatched; i++)
		if (f->watched[i] == fd) {
			f->watched[i] = f->watched[--f->nwatched];
			return 0;
		}
	return 0;
}

static void bring_up(struct fixture *f, struct virtio_dev *dev)
{
	vqh_attach(&f->h, dev, true, true);
	vqh_set_watch(&f->h, dev, spy_watch, spy_unwatch);
	vqh_setup_queue(&f->h, dev, VIRTIO_INPUT_EVENTQ, QSIZE);
	vqh_setup_queue(&f->h, dev, VIRTIO_INPUT_STATUSQ, QSIZE);
	assert_int_equal(vqh_activate(&f->h, dev), 0);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct avp_input_cfg kc = { .kind = AVP_INPUT_KEYBOARD };
	struct avp_input_cfg tc = { .kind = AVP_INPUT_TOUCH, .width = 800, .height = 480 };

	assert_non_null(f);
	avp_log_set_level(AVP_LOG_ERROR);
	vqh_init(&f->h, 4u << 20);
	assert_int_equal(virtio_input_create(&f->kbd, &kc), 0);
	assert_int_equal(virtio_input_create(&f->touch, &tc), 0);
	for (int d = 0; d < 2; d++)
		for (int i = 0; i < QSIZE; i++)
			f->ev_gpa[d][i] = vqh_alloc(&f->h, 8);
	assert_int_equal(virtio_input_register_api(&f->vm, f->kbd), 0);
	assert_int_equal(virtio_input_register_api(&f->vm, f->touch), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	f->kbd->ops->destroy(f->kbd);
	f->touch->ops->destroy(f->touch);
	vqh_free(&f->h);
	free(f);
	return 0;
}

/* Writes select/subsel as the Linux driver does (two byte writes) and
 * returns size. */
static uint8_t cfg_select(struct virtio_dev *dev, uint8_t select, uint8_t subsel)
{
	pthread_mutex_lock(&dev->lock);
	dev->ops->config_write(dev, 0, &select, 1);
	dev->ops->config_write(dev, 1, &subsel, 1);
	pthread_mutex_unlock(&dev->lock);
	return ((struct virtio_input_config *)dev->config)->size;
}

static const struct virtio_input_config *cfg(struct virtio_dev *dev)
{
	return (const struct virtio_input_config *)dev->config;
}

static bool bit(const uint8_t *map, unsigned int b)
{
	return (map[b / 8] >> (b % 8)) & 1;
}

static void test_config_keyboard(void **state)
{
	struct fixture *f = *state;
	struct virtio_dev *d = f->kbd;

	assert_int_equal(d->ops->device_id, 18);
	assert_int_equal(d->config_len, 136);
	assert_int_equal(cfg_select(d, VIRTIO_INPUT_CFG_ID_NAME, 0), strlen("avp keyboard"));
	assert_memory_equal(cfg(d)->u.string, "avp keyboard", 12);
	assert_int_equal(cfg_select(d, VIRTIO_INPUT_CFG_ID_NAME, 1), 0);
	assert_true(cfg_select(d, VIRTIO_INPUT_CFG_ID_SERIAL, 0) > 0);
	assert_int_equal(cfg_select(d, VIRTIO_INPUT_CFG_ID_DEVIDS, 0), 8);
	assert_int_equal(le16toh(cfg(d)->u.ids.bustype), 0x06);
	assert_int_equal(cfg_select(d, VIRTIO_INPUT_CFG_PROP_BITS, 0), 0);
	assert_int_equal(cfg_select(d, VIRTIO_INPUT_CFG_EV_BITS, EV_KEY), 32);
	assert_true(bit(cfg(d)->u.bitmap, KEY_A));
	assert_true(bit(cfg(d)->u.bitmap, KEY_ENTER));
	assert_false(bit(cfg(d)->u.bitmap, 0));
	assert_int_equal(cfg_select(d, VIRTIO_INPUT_CFG_EV_BITS, EV_ABS), 0);
	assert_int_equal(cfg_select(d, VIRTIO_INPUT_CFG_EV_BITS, EV_REL), 0);
	assert_int_equal(cfg_select(d, VIRTIO_INPUT_CFG_EV_BITS, EV_REP), 0);
	assert_int_equal(cfg_select(d, VIRTIO_INPUT_CFG_ABS_INFO, ABS_X), 0);
	assert_int_equal(cfg_select(d, 0x42, 0), 0);
	assert_int_equal(cfg_select(d, VIRTIO_INPUT_CFG_UNSET, 0), 0);
	/* writes past select/subsel are ignored */
	{
		uint8_t junk[8] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

		cfg_select(d, VIRTIO_INPUT_CFG_ID_NAME, 0);
		d->ops->config_write(d, 2, junk, 8);
		assert_int_equal(cfg(d)->size, 12);
		assert_int_equal(cfg(d)->select, VIRTIO_INPUT_CFG_ID_NAME);
	}
}

static void test_config_touch(void **state)
{
	struct fixture *f = *state;
	struct virtio_dev *d = f->touch;

	assert_int_equal(cfg_select(d, VIRTIO_INPUT_CFG_ID_NAME, 0), strlen("avp touchscreen"));
	assert_int_equal(cfg_select(d, VIRTIO_INPUT_CFG_PROP_BITS, 0), 1);
	assert_true(bit(cfg(d)->u.bitmap, INPUT_PROP_DIRECT));
	assert_true(cfg_select(d, VIRTIO_INPUT_CFG_EV_BITS, EV_KEY) > 0);
	assert_true(bit(cfg(d)->u.bitmap, BTN_TOUCH));
	assert_false(bit(cfg(d)->u.bitmap, KEY_A));
	assert_int_equal(cfg_select(d, VIRTIO_INPUT_CFG_EV_BITS, EV_ABS), 8);
	for (unsigned int a = 0; a < 64; a++) {
		bool want = a == ABS_X || a == ABS_Y || a == ABS_MT_SLOT || a == ABS_MT_POSITION_X ||
			    a == ABS_MT_POSITION_Y || a == ABS_MT_TRACKING_ID;

		assert_int_equal(bit(cfg(d)->u.bitmap, a), want);
	}
	assert_int_equal(cfg_select(d, VIRTIO_INPUT_CFG_ABS_INFO, ABS_MT_POSITION_X), 20);
	assert_int_equal(le32toh(cfg(d)->u.abs.min), 0);
	assert_int_equal(le32toh(cfg(d)->u.abs.max), 799);
	assert_int_equal(cfg_select(d, VIRTIO_INPUT_CFG_ABS_INFO, ABS_Y), 20);
	assert_int_equal(le32toh(cfg(d)->u.abs.max), 479);
	assert_int_equal(cfg_select(d, VIRTIO_INPUT_CFG_ABS_INFO, ABS_MT_SLOT), 20);
	assert_int_equal(le32toh(cfg(d)->u.abs.max), VIRTIO_INPUT_TOUCH_SLOTS - 1);
	assert_int_equal(cfg_select(d, VIRTIO_INPUT_CFG_ABS_INFO, ABS_PRESSURE), 0);
	assert_int_equal(cfg_select(d, VIRTIO_INPUT_CFG_ABS_INFO, 200), 0);
}

/* Runs the "input" command with args given as JSON text. Returns the
 * handler's result; *err gets the error message, if any. */
static int input(struct fixture *f, const char *args_json, char *err, size_t errlen)
{
	const struct api_command *cmd = vm_api_find(&f->vm, "input");
	json_object *args = args_json ? json_tokener_parse(args_json) : NULL;
	json_object *reply = json_object_new_object(), *e;
	int ret;

	assert_non_null(cmd);
	if (args_json)
		assert_non_null(args);
	ret = cmd->fn(cmd->opaque, args, reply);
	if (err && errlen) {
		err[0] = 0;
		if (json_object_object_get_ex(reply, "error", &e))
			snprintf(err, errlen, "%s", json_object_get_string(e));
	}
	if (ret == 0)
		assert_false(json_object_object_get_ex(reply, "error", &e));
	else
		assert_true(json_object_object_get_ex(reply, "error", &e));
	json_object_put(args);
	json_object_put(reply);
	return ret;
}

/* The device thread's turn: every watched (reschedule) fd that fired. */
static void run_device(struct fixture *f, struct virtio_dev *dev)
{
	for (int iter = 0; iter < 100; iter++) {
		bool any = false;

		for (unsigned int i = 0; i < f->nwatched; i++) {
			struct pollfd p = { .fd = f->watched[i], .events = POLLIN };

			if (poll(&p, 1, 0) == 1) {
				pthread_mutex_lock(&dev->lock);
				dev->ops->fd_ready(dev, p.fd, EPOLLIN);
				pthread_mutex_unlock(&dev->lock);
				any = true;
			}
		}
		if (!any)
			return;
	}
	fail_msg("the device keeps waking up");
}

static void post_events(struct fixture *f, struct virtio_dev *dev, int d, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		uint16_t slot = f->h.next_desc[VIRTIO_INPUT_EVENTQ] % QSIZE;
		struct vqh_buf b = { f->ev_gpa[d][slot], 8, true };

		vqh_post(&f->h, dev, VIRTIO_INPUT_EVENTQ, &b, 1);
	}
	vqh_kick(&f->h, dev, VIRTIO_INPUT_EVENTQ);
}

struct ev {
	uint16_t type, code;
	int32_t value;
};

static unsigned int take_events(struct fixture *f, struct virtio_dev *dev, int d, struct ev *out,
				unsigned int max)
{
	uint32_t id, len;
	unsigned int n = 0;

	while (n < max && vqh_used(&f->h, dev, VIRTIO_INPUT_EVENTQ, &id, &len)) {
		struct virtio_input_event e;

		assert_int_equal(len, 8);
		memcpy(&e, vqh_hva(&f->h, f->ev_gpa[d][id]), 8);
		out[n++] = (struct ev){ le16toh(e.type), le16toh(e.code), (int32_t)le32toh(e.value) };
	}
	return n;
}

static void expect_events(const struct ev *got, unsigned int n, const struct ev *want, unsigned int m)
{
	if (n != m)
		fail_msg("got %u events, expected %u", n, m);
	for (unsigned int i = 0; i < n; i++)
		if (got[i].type != want[i].type || got[i].code != want[i].code ||
		    got[i].value != want[i].value)
			fail_msg("event %u: got (%u,%u,%d), expected (%u,%u,%d)", i, got[i].type,
				 got[i].code, got[i].value, want[i].type, want[i].code, want[i].value);
}

static void test_not_ready(void **state)
{
	struct fixture *f = *state;
	char err[200];

	/* before the driver is up, nothing is queued */
	assert_int_equal(input(f, "{\"key\":\"KEY_A\"}", err, sizeof(err)), -EAGAIN);
	assert_non_null(strstr(err, "not ready"));
}

static void test_key_click(void **state)
{
	struct fixture *f = *state;
	struct ev got[16];
	static const struct ev want[] = {
		{ EV_KEY, KEY_A, 1 }, { EV_SYN, SYN_REPORT, 0 },
		{ EV_KEY, KEY_A, 0 }, { EV_SYN, SYN_REPORT, 0 },
	};
	unsigned int n;

	bring_up(f, f->kbd);
	assert_int_equal(input(f, "{\"device\":\"keyboard\",\"key\":\"KEY_A\"}", NULL, 0), 0);
	/* no buffers yet: the events wait */
	run_device(f, f->kbd);
	assert_int_equal(take_events(f, f->kbd, 0, got, 16), 0);
	post_events(f, f->kbd, 0, 2);
	n = take_events(f, f->kbd, 0, got, 16);
	expect_events(got, n, want, 2);
	post_events(f, f->kbd, 0, 8);
	n += take_events(f, f->kbd, 0, got + n, 16 - n);
	expect_events(got, n, want, 4);

	/* names without the prefix, codes, press/release */
	post_events(f, f->kbd, 0, 8);
	assert_int_equal(input(f, "{\"key\":\"enter\",\"action\":\"press\"}", NULL, 0), 0);
	assert_int_equal(input(f, "{\"key\":28,\"action\":\"release\"}", NULL, 0), 0);
	run_device(f, f->kbd);
	n = take_events(f, f->kbd, 0, got, 16);
	expect_events(got, n,
		      (const struct ev[]){ { EV_KEY, KEY_ENTER, 1 }, { EV_SYN, 0, 0 },
					   { EV_KEY, KEY_ENTER, 0 }, { EV_SYN, 0, 0 } },
		      4);
}

static void test_touch_tap(void **state)
{
	struct fixture *f = *state;
	struct ev got[32];
	unsigned int n;
	char err[200];

	bring_up(f, f->touch);
	post_events(f, f->touch, 1, 32);
	assert_int_equal(input(f, "{\"touch\":{\"x\":100,\"y\":200}}", NULL, 0), 0);
	run_device(f, f->touch);
	n = take_events(f, f->touch, 1, got, 32);
	expect_events(got, n,
		      (const struct ev[]){
			      { EV_ABS, ABS_MT_SLOT, 0 },
			      { EV_ABS, ABS_MT_TRACKING_ID, 0 },
			      { EV_ABS, ABS_MT_POSITION_X, 100 },
			      { EV_ABS, ABS_MT_POSITION_Y, 200 },
			      { EV_KEY, BTN_TOUCH, 1 },
			      { EV_ABS, ABS_X, 100 },
			      { EV_ABS, ABS_Y, 200 },
			      { EV_SYN, SYN_REPORT, 0 },
			      { EV_ABS, ABS_MT_SLOT, 0 },
			      { EV_ABS, ABS_MT_TRACKING_ID, -1 },
			      { EV_KEY, BTN_TOUCH, 0 },
			      { EV_SYN, SYN_REPORT, 0 },
		      },
		      12);

	/* two fingers: down, move, up */
	post_events(f, f->touch, 1, 32);
	assert_int_equal(input(f, "{\"touch\":{\"x\":1,\"y\":2,\"action\":\"down\"}}", NULL, 0), 0);
	assert_int_equal(input(f, "{\"touch\":{\"x\":3,\"y\":4,\"action\":\"down\",\"slot\":1}}", NULL, 0), 0);
	assert_int_equal(input(f, "{\"touch\":{\"x\":5,\"y\":6,\"action\":\"move\",\"slot\":1}}", NULL, 0), 0);
	assert_int_equal(input(f, "{\"touch\":{\"action\":\"up\"}}", NULL, 0), 0);
	assert_int_equal(input(f, "{\"touch\":{\"action\":\"up\",\"slot\":1}}", NULL, 0), 0);
	run_device(f, f->touch);
	n = take_events(f, f->touch, 1, got, 32);
	/* BTN_TOUCH goes down with the first finger and up with the last */
	{
		int btn_down = 0, btn_up = 0;

		for (unsigned int i = 0; i < n; i++) {
			if (got[i].type == EV_KEY && got[i].code == BTN_TOUCH)
				got[i].value ? btn_down++ : btn_up++;
		}
		assert_int_equal(btn_down, 1);
		assert_int_equal(btn_up, 1);
		assert_int_equal(got[n - 1].type, EV_SYN);
	}

	/* refused: outside the screen, moving a finger not down, bad action */
	assert_int_equal(input(f, "{\"touch\":{\"x\":800,\"y\":0}}", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "0..799"));
	assert_int_equal(input(f, "{\"touch\":{\"x\":-1,\"y\":0}}", NULL, 0), -EINVAL);
	assert_int_equal(input(f, "{\"touch\":{\"x\":1.5,\"y\":0}}", NULL, 0), -EINVAL);
	assert_int_equal(input(f, "{\"touch\":{\"x\":1,\"y\":1,\"action\":\"move\"}}", NULL, 0), -EINVAL);
	assert_int_equal(input(f, "{\"touch\":{\"x\":1,\"y\":1,\"action\":\"wiggle\"}}", NULL, 0), -EINVAL);
	assert_int_equal(input(f, "{\"touch\":{\"x\":1,\"y\":1,\"slot\":10}}", NULL, 0), -EINVAL);
	assert_int_equal(input(f, "{\"touch\":[1,2]}", NULL, 0), -EINVAL);
}

static void test_raw_events_and_choice(void **state)
{
	struct fixture *f = *state;
	struct ev got[8];
	char err[200];
	unsigned int n;

	bring_up(f, f->kbd);
	bring_up(f, f->touch);
	post_events(f, f->kbd, 0, 8);
	/* SYN_REPORT is added when missing */
	assert_int_equal(input(f, "{\"device\":\"keyboard\",\"events\":[{\"type\":1,\"code\":48,\"value\":1},"
				  "{\"type\":1,\"code\":48,\"value\":0}]}",
			       NULL, 0),
			 0);
	run_device(f, f->kbd);
	n = take_events(f, f->kbd, 0, got, 8);
	expect_events(got, n,
		      (const struct ev[]){ { EV_KEY, KEY_B, 1 }, { EV_KEY, KEY_B, 0 }, { EV_SYN, 0, 0 } },
		      3);
	/* which device: inferred from key/touch, required for raw events */
	assert_int_equal(input(f, "{\"events\":[{\"type\":0,\"code\":0,\"value\":0}]}", err, sizeof(err)),
			 -ENODEV);
	assert_non_null(strstr(err, "device"));
	assert_int_equal(input(f, "{\"device\":\"mouse\",\"key\":\"KEY_A\"}", NULL, 0), -ENODEV);
	assert_int_equal(input(f, "{\"device\":\"touch\",\"key\":\"KEY_A\"}", NULL, 0), -EINVAL);
	/* events the device does not report are refused, whole */
	assert_int_equal(input(f, "{\"device\":\"keyboard\",\"events\":[{\"type\":1,\"code\":30,\"value\":1},"
				  "{\"type\":3,\"code\":0,\"value\":5}]}",
			       err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "event 1"));
	assert_int_equal(input(f, "{\"device\":\"touch\",\"events\":[{\"type\":3,\"code\":0,\"value\":900}]}",
			       NULL, 0),
			 -EINVAL); /* beyond the axis */
	assert_int_equal(input(f, "{\"device\":\"keyboard\",\"events\":[{\"type\":1,\"code\":30}]}", NULL, 0),
			 -EINVAL);
	assert_int_equal(input(f, "{\"device\":\"keyboard\",\"events\":[]}", NULL, 0), -EINVAL);
	assert_int_equal(input(f, "{\"device\":\"keyboard\",\"events\":{}}", NULL, 0), -EINVAL);
	assert_int_equal(input(f, "{\"key\":\"KEY_NOPE\"}", NULL, 0), -EINVAL);
	assert_int_equal(input(f, "{\"key\":\"KEY_A\",\"touch\":{}}", NULL, 0), -EINVAL);
	assert_int_equal(input(f, "{}", NULL, 0), -EINVAL);
	assert_int_equal(input(f, NULL, NULL, 0), -EINVAL);
	run_device(f, f->kbd);
	assert_int_equal(take_events(f, f->kbd, 0, got, 8), 0); /* nothing slipped through */
}

static void test_ring_full_and_reset(void **state)
{
	struct fixture *f = *state;
	char err[200];
	unsigned int accepted = 0;
	struct ev got[QSIZE];
	uint32_t id, len;

	bring_up(f, f->kbd);
	/* a guest that never posts buffers: the ring fills, then refuses
	 * whole requests (4 events each) */
	for (int i = 0; i < 100; i++) {
		int ret = input(f, "{\"key\":\"KEY_Z\"}", err, sizeof(err));

		if (ret == 0) {
			accepted++;
			continue;
		}
		assert_int_equal(ret, -ENOSPC);
		assert_non_null(strstr(err, "full"));
	}
	assert_int_equal(accepted, VIRTIO_INPUT_RING / 4);
	/* status buffers come back unread */
	{
		uint64_t gpa = vqh_alloc(&f->h, 8);
		struct vqh_buf b = { gpa, 8, false };

		vqh_post(&f->h, f->kbd, VIRTIO_INPUT_STATUSQ, &b, 1);
		vqh_kick(&f->h, f->kbd, VIRTIO_INPUT_STATUSQ);
		assert_true(vqh_used(&f->h, f->kbd, VIRTIO_INPUT_STATUSQ, &id, &len));
		assert_int_equal(len, 0);
	}
	/* a reset forgets what the old driver never took */
	pthread_mutex_lock(&f->kbd->lock);
	f->kbd->ops->reset(f->kbd);
	pthread_mutex_unlock(&f->kbd->lock);
	memset(f->h.next_desc, 0, sizeof(f->h.next_desc));
	bring_up(f, f->kbd);
	post_events(f, f->kbd, 0, QSIZE);
	run_device(f, f->kbd);
	assert_int_equal(take_events(f, f->kbd, 0, got, QSIZE), 0);
	assert_int_equal(input(f, "{\"key\":\"KEY_Z\"}", NULL, 0), 0);
	run_device(f, f->kbd);
	assert_int_equal(take_events(f, f->kbd, 0, got, QSIZE), 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_config_keyboard, setup, teardown),
		cmocka_unit_test_setup_teardown(test_config_touch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_ready, setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_click, setup, teardown),
		cmocka_unit_test_setup_teardown(test_touch_tap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_raw_events_and_choice, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ring_full_and_reset, setup, teardown),
	};

	return cmocka_run_group_tests_name("virtio_input", tests, NULL, NULL);
}
