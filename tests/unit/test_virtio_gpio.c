/* virtio-gpio against the pretend driver: the spec's messages, the eventq
 * interrupt protocol (enable, unmask, latch, fire, disable), the host's
 * "gpio" command, and a hostile driver (short buffers, lines out of range,
 * unknown types and values) answered with ERR, never a crash. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <endian.h>
#include <errno.h>
#include <json-c/json.h>
#include <string.h>
#include <sys/epoll.h>

#include "avp/devices/virtio_gpio.h"
#include "support/vq_harness.h"

#define QSIZE 64
#define REQ VIRTIO_GPIO_REQUESTQ
#define EVQ VIRTIO_GPIO_EVENTQ

struct fixture {
	struct vq_harness h; /* first: dev->transport points here */
	struct virtio_dev *dev;
	int watched_fd;
};

static int spy_watch(struct virtio_dev *dev, int fd, uint32_t events)
{
	struct fixture *f = (struct fixture *)dev->transport;

	(void)events;
	f->watched_fd = fd;
	return 0;
}

static int spy_unwatch(struct virtio_dev *dev, int fd)
{
	(void)dev;
	(void)fd;
	return 0;
}

static int setup_names(void **state, const char *names)
{
	static struct fixture f;
	static char buf[64];
	struct avp_gpio_cfg cfg = { .lines = 8, .names = NULL };

	if (names) {
		strcpy(buf, names);
		cfg.names = buf;
	}
	memset(&f, 0, sizeof(f));
	f.watched_fd = -1;
	vqh_init(&f.h, 4 << 20);
	assert_int_equal(virtio_gpio_create(&f.dev, &cfg), 0);
	vqh_attach(&f.h, f.dev, true, false);
	vqh_set_watch(&f.h, f.dev, spy_watch, spy_unwatch);
	vqh_setup_queue(&f.h, f.dev, REQ, QSIZE);
	vqh_setup_queue(&f.h, f.dev, EVQ, QSIZE);
	assert_int_equal(vqh_activate(&f.h, f.dev), 0);
	*state = &f;
	return 0;
}

static int setup(void **state)
{
	return setup_names(state, "reset:led:::door");
}

static int setup_unnamed(void **state)
{
	return setup_names(state, NULL);
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	f->dev->ops->destroy(f->dev);
	vqh_free(&f->h);
	return 0;
}

/* The device thread's turn after the host changed something. */
static void run_device(struct fixture *f)
{
	pthread_mutex_lock(&f->dev->lock);
	f->dev->ops->fd_ready(f->dev, f->watched_fd, EPOLLIN);
	pthread_mutex_unlock(&f->dev->lock);
}

/* One message; returns the response (status in [0], value in [1]). */
static uint8_t *msg(struct fixture *f, uint16_t type, uint16_t gpio, uint32_t value)
{
	uint64_t rq = vqh_alloc(&f->h, 8), rs = vqh_alloc(&f->h, 2);
	struct virtio_gpio_request *r = vqh_hva(&f->h, rq);
	uint8_t *resp = vqh_hva(&f->h, rs);
	struct vqh_buf b[] = { { rq, 8, false }, { rs, 2, true } };
	uint16_t head;
	uint32_t id, len;

	r->type = htole16(type);
	r->gpio = htole16(gpio);
	r->value = htole32(value);
	resp[0] = resp[1] = 0xee;
	head = vqh_post(&f->h, f->dev, REQ, b, 2);
	vqh_kick(&f->h, f->dev, REQ);
	assert_true(vqh_used(&f->h, f->dev, REQ, &id, &len));
	assert_int_equal(id, head);
	assert_int_equal(len, type == VIRTIO_GPIO_MSG_GET_LINE_NAMES ? 1 : 2);
	return resp;
}

static void expect_ok(struct fixture *f, uint16_t type, uint16_t gpio, uint32_t value, uint8_t want)
{
	uint8_t *r = msg(f, type, gpio, value);

	assert_int_equal(r[0], VIRTIO_GPIO_STATUS_OK);
	assert_int_equal(r[1], want);
}

static void expect_err(struct fixture *f, uint16_t type, uint16_t gpio, uint32_t value)
{
	uint8_t *r = msg(f, type, gpio, value);

	assert_int_equal(r[0], VIRTIO_GPIO_STATUS_ERR);
	assert_int_equal(r[1], 0);
}

/* The host's "gpio" command; returns its reply (caller puts it). */
static json_object *cmd(struct fixture *f, const char *args, int want)
{
	json_object *a = args ? json_tokener_parse(args) : NULL;
	json_object *reply = json_object_new_object();

	assert_int_equal(virtio_gpio_command(f->dev, a, reply) < 0 ? -1 : 0, want);
	json_object_put(a);
	return reply;
}

static int64_t field(json_object *o, const char *k)
{
	json_object *v;

	assert_true(json_object_object_get_ex(o, k, &v));
	return json_object_get_int64(v);
}

/* Posts an eventq pair for line; returns the response byte. */
static uint8_t *unmask(struct fixture *f, uint16_t line, uint16_t *head)
{
	uint64_t rq = vqh_alloc(&f->h, 2), rs = vqh_alloc(&f->h, 1);
	uint16_t *r = vqh_hva(&f->h, rq);
	uint8_t *st = vqh_hva(&f->h, rs);
	struct vqh_buf b[] = { { rq, 2, false }, { rs, 1, true } };

	*r = htole16(line);
	*st = 0xee;
	*head = vqh_post(&f->h, f->dev, EVQ, b, 2);
	vqh_kick(&f->h, f->dev, EVQ);
	return st;
}

static void test_identity_and_config(void **state)
{
	struct fixture *f = *state;
	const struct virtio_gpio_config *c = (const void *)f->dev->config;
	/* "reset", "led", "", "", "door", then "" for lines 5-7 */
	const uint32_t names_size = 6 + 4 + 1 + 1 + 5 + 3;

	assert_int_equal(f->dev->ops->device_id, 41);
	assert_int_equal(f->dev->ops->num_queues, 2);
	assert_int_equal(f->dev->config_len, 8);
	assert_int_equal(le16toh(c->ngpio), 8);
	assert_int_equal(c->padding[0] | c->padding[1], 0);
	assert_int_equal(le32toh(c->gpio_names_size), names_size);
	assert_true(f->dev->ops->features(f->dev) & (1u << VIRTIO_GPIO_F_IRQ));
}

static void test_get_line_names(void **state)
{
	struct fixture *f = *state;
	/* with the literal's own NUL: 20 bytes, line 7's name last */
	static const char want[] = "reset\0led\0\0\0door\0\0\0";
	uint64_t rq = vqh_alloc(&f->h, 8), rs = vqh_alloc(&f->h, 64);
	struct virtio_gpio_request *r = vqh_hva(&f->h, rq);
	uint8_t *resp = vqh_hva(&f->h, rs);
	struct vqh_buf b[] = { { rq, 8, false }, { rs, 1 + sizeof(want), true } };
	uint32_t id, len;

	r->type = htole16(VIRTIO_GPIO_MSG_GET_LINE_NAMES);
	vqh_post(&f->h, f->dev, REQ, b, 2);
	vqh_kick(&f->h, f->dev, REQ);
	assert_true(vqh_used(&f->h, f->dev, REQ, &id, &len));
	assert_int_equal(len, 1 + sizeof(want));
	assert_int_equal(resp[0], VIRTIO_GPIO_STATUS_OK);
	assert_memory_equal(resp + 1, want, sizeof(want));

	/* A buffer smaller than gpio_names_size: ERR, nothing else written. */
	memset(resp, 0xee, 64);
	b[1].len = 5;
	vqh_post(&f->h, f->dev, REQ, b, 2);
	vqh_kick(&f->h, f->dev, REQ);
	assert_true(vqh_used(&f->h, f->dev, REQ, &id, &len));
	assert_int_equal(len, 1);
	assert_int_equal(resp[0], VIRTIO_GPIO_STATUS_ERR);
	assert_int_equal(resp[1], 0xee);
}

static void test_no_names(void **state)
{
	struct fixture *f = *state;
	const struct virtio_gpio_config *c = (const void *)f->dev->config;

	assert_int_equal(le32toh(c->gpio_names_size), 0);
	assert_int_equal(msg(f, VIRTIO_GPIO_MSG_GET_LINE_NAMES, 0, 0)[0], VIRTIO_GPIO_STATUS_ERR);
}

static void test_direction_and_value(void **state)
{
	struct fixture *f = *state;
	json_object *reply, *events;

	expect_ok(f, VIRTIO_GPIO_MSG_GET_DIRECTION, 1, 0, VIRTIO_GPIO_DIRECTION_IN);
	/* The value first, then the direction (the spec's advice): the line
	 * comes up high, one edge. */
	expect_ok(f, VIRTIO_GPIO_MSG_SET_VALUE, 1, 1, 0);
	expect_ok(f, VIRTIO_GPIO_MSG_SET_DIRECTION, 1, VIRTIO_GPIO_DIRECTION_OUT, 0);
	expect_ok(f, VIRTIO_GPIO_MSG_GET_DIRECTION, 1, 0, VIRTIO_GPIO_DIRECTION_OUT);
	expect_ok(f, VIRTIO_GPIO_MSG_GET_VALUE, 1, 0, 1);
	expect_ok(f, VIRTIO_GPIO_MSG_SET_VALUE, 1, 0, 0);
	expect_ok(f, VIRTIO_GPIO_MSG_SET_VALUE, 1, 0, 0); /* no change, no edge */
	expect_ok(f, VIRTIO_GPIO_MSG_GET_VALUE, 1, 0, 0);

	reply = cmd(f, "{\"name\":\"led\"}", 0);
	assert_int_equal(field(reply, "line"), 1);
	assert_int_equal(field(reply, "value"), 0);
	json_object_put(reply);

	reply = cmd(f, "{\"events\":true}", 0);
	assert_true(json_object_object_get_ex(reply, "events", &events));
	assert_int_equal(json_object_array_length(events), 2);
	assert_int_equal(field(json_object_array_get_idx(events, 0), "line"), 1);
	assert_int_equal(field(json_object_array_get_idx(events, 0), "value"), 1);
	assert_int_equal(field(json_object_array_get_idx(events, 1), "value"), 0);
	assert_int_equal(field(reply, "dropped"), 0);
	json_object_put(reply);
	/* Fetched once. */
	reply = cmd(f, "{\"events\":true}", 0);
	assert_true(json_object_object_get_ex(reply, "events", &events));
	assert_int_equal(json_object_array_length(events), 0);
	json_object_put(reply);
}

static void test_host_drives_input(void **state)
{
	struct fixture *f = *state;

	json_object_put(cmd(f, "{\"line\":4,\"value\":1}", 0));
	expect_ok(f, VIRTIO_GPIO_MSG_GET_VALUE, 4, 0, 1);
	json_object_put(cmd(f, "{\"name\":\"door\",\"value\":0}", 0));
	expect_ok(f, VIRTIO_GPIO_MSG_GET_VALUE, 4, 0, 0);
	/* An output reads what the guest drives, whatever the host sets. */
	expect_ok(f, VIRTIO_GPIO_MSG_SET_DIRECTION, 4, VIRTIO_GPIO_DIRECTION_OUT, 0);
	json_object_put(cmd(f, "{\"line\":4,\"value\":1}", 0));
	expect_ok(f, VIRTIO_GPIO_MSG_GET_VALUE, 4, 0, 0);
}

static void test_direction_none_discards_state(void **state)
{
	struct fixture *f = *state;

	expect_ok(f, VIRTIO_GPIO_MSG_SET_VALUE, 2, 1, 0);
	expect_ok(f, VIRTIO_GPIO_MSG_SET_DIRECTION, 2, VIRTIO_GPIO_DIRECTION_NONE, 0);
	expect_ok(f, VIRTIO_GPIO_MSG_GET_DIRECTION, 2, 0, VIRTIO_GPIO_DIRECTION_NONE);
	/* The value set before is gone: an output now comes up low. */
	expect_ok(f, VIRTIO_GPIO_MSG_SET_DIRECTION, 2, VIRTIO_GPIO_DIRECTION_OUT, 0);
	expect_ok(f, VIRTIO_GPIO_MSG_GET_VALUE, 2, 0, 0);
}

static void test_hostile_messages(void **state)
{
	struct fixture *f = *state;
	uint64_t rq = vqh_alloc(&f->h, 8), rs = vqh_alloc(&f->h, 2);
	uint8_t *resp = vqh_hva(&f->h, rs);
	struct vqh_buf shortreq[] = { { rq, 4, false }, { rs, 2, true } };
	struct vqh_buf noresp[] = { { rq, 8, false } };
	uint32_t id, len;

	expect_err(f, VIRTIO_GPIO_MSG_GET_VALUE, 8, 0);	    /* line == ngpio */
	expect_err(f, VIRTIO_GPIO_MSG_SET_VALUE, 0xffff, 1); /* far out */
	expect_err(f, 0, 0, 0);				    /* unknown types */
	expect_err(f, 7, 0, 0);
	expect_err(f, 0xffff, 0, 0);
	expect_err(f, VIRTIO_GPIO_MSG_SET_DIRECTION, 0, 3); /* no such direction */
	expect_err(f, VIRTIO_GPIO_MSG_SET_VALUE, 0, 2);	    /* not a level */
	expect_err(f, VIRTIO_GPIO_MSG_SET_IRQ_TYPE, 0, 5);  /* not a trigger */
	expect_err(f, VIRTIO_GPIO_MSG_SET_IRQ_TYPE, 0, 0x10);

	/* A request shorter than its header: ERR. */
	resp[0] = 0xee;
	vqh_post(&f->h, f->dev, REQ, shortreq, 2);
	vqh_kick(&f->h, f->dev, REQ);
	assert_true(vqh_used(&f->h, f->dev, REQ, &id, &len));
	assert_int_equal(resp[0], VIRTIO_GPIO_STATUS_ERR);
	/* No response buffer: returned with nothing written. */
	vqh_post(&f->h, f->dev, REQ, noresp, 1);
	vqh_kick(&f->h, f->dev, REQ);
	assert_true(vqh_used(&f->h, f->dev, REQ, &id, &len));
	assert_int_equal(len, 0);
	/* And the device still works. */
	expect_ok(f, VIRTIO_GPIO_MSG_GET_DIRECTION, 0, 0, VIRTIO_GPIO_DIRECTION_IN);
	assert_false(f->dev->status & VIRTIO_STATUS_NEEDS_RESET);
}

static void test_edge_interrupt(void **state)
{
	struct fixture *f = *state;
	uint16_t head;
	uint8_t *st;
	uint32_t id, len;

	expect_ok(f, VIRTIO_GPIO_MSG_SET_DIRECTION, 3, VIRTIO_GPIO_DIRECTION_IN, 0);
	expect_ok(f, VIRTIO_GPIO_MSG_SET_IRQ_TYPE, 3, VIRTIO_GPIO_IRQ_TYPE_EDGE_RISING, 0);
	st = unmask(f, 3, &head);
	assert_false(vqh_used(&f->h, f->dev, EVQ, &id, &len)); /* held */

	/* Falling edge: not the trigger. */
	json_object_put(cmd(f, "{\"line\":3,\"value\":0}", 0));
	run_device(f);
	assert_false(vqh_used(&f->h, f->dev, EVQ, &id, &len));
	/* Rising: fires, and the pair comes back VALID. */
	json_object_put(cmd(f, "{\"line\":3,\"value\":1}", 0));
	run_device(f);
	assert_true(vqh_used(&f->h, f->dev, EVQ, &id, &len));
	assert_int_equal(id, head);
	assert_int_equal(len, 1);
	assert_int_equal(*st, VIRTIO_GPIO_IRQ_STATUS_VALID);

	/* Masked now: an edge is latched, delivered at the next unmask. */
	json_object_put(cmd(f, "{\"line\":3,\"value\":0}", 0));
	json_object_put(cmd(f, "{\"line\":3,\"value\":1}", 0));
	run_device(f);
	assert_false(vqh_used(&f->h, f->dev, EVQ, &id, &len));
	st = unmask(f, 3, &head);
	assert_true(vqh_used(&f->h, f->dev, EVQ, &id, &len));
	assert_int_equal(id, head);
	assert_int_equal(*st, VIRTIO_GPIO_IRQ_STATUS_VALID);
	/* Latched once: nothing more. */
	st = unmask(f, 3, &head);
	assert_false(vqh_used(&f->h, f->dev, EVQ, &id, &len));

	/* Disabling returns the held pair INVALID. */
	expect_ok(f, VIRTIO_GPIO_MSG_SET_IRQ_TYPE, 3, VIRTIO_GPIO_IRQ_TYPE_NONE, 0);
	assert_true(vqh_used(&f->h, f->dev, EVQ, &id, &len));
	assert_int_equal(id, head);
	assert_int_equal(*st, VIRTIO_GPIO_IRQ_STATUS_INVALID);
}

static void test_level_interrupt(void **state)
{
	struct fixture *f = *state;
	uint16_t head;
	uint8_t *st;
	uint32_t id, len;

	expect_ok(f, VIRTIO_GPIO_MSG_SET_IRQ_TYPE, 5, VIRTIO_GPIO_IRQ_TYPE_LEVEL_HIGH, 0);
	st = unmask(f, 5, &head);
	assert_false(vqh_used(&f->h, f->dev, EVQ, &id, &len));
	json_object_put(cmd(f, "{\"line\":5,\"value\":1}", 0));
	run_device(f);
	assert_true(vqh_used(&f->h, f->dev, EVQ, &id, &len));
	assert_int_equal(*st, VIRTIO_GPIO_IRQ_STATUS_VALID);
	/* Still high at the next unmask: fires again (not latched, level). */
	st = unmask(f, 5, &head);
	assert_true(vqh_used(&f->h, f->dev, EVQ, &id, &len));
	assert_int_equal(*st, VIRTIO_GPIO_IRQ_STATUS_VALID);
	/* Low: held. */
	json_object_put(cmd(f, "{\"line\":5,\"value\":0}", 0));
	run_device(f);
	st = unmask(f, 5, &head);
	assert_false(vqh_used(&f->h, f->dev, EVQ, &id, &len));
}

static void test_hostile_eventq(void **state)
{
	struct fixture *f = *state;
	uint16_t head, head2;
	uint8_t *st, *st2;
	uint32_t id, len;

	/* Unmasked without being enabled: returned INVALID. */
	st = unmask(f, 2, &head);
	assert_true(vqh_used(&f->h, f->dev, EVQ, &id, &len));
	assert_int_equal(id, head);
	assert_int_equal(*st, VIRTIO_GPIO_IRQ_STATUS_INVALID);
	/* A line out of range: INVALID. */
	st = unmask(f, 200, &head);
	assert_true(vqh_used(&f->h, f->dev, EVQ, &id, &len));
	assert_int_equal(*st, VIRTIO_GPIO_IRQ_STATUS_INVALID);
	/* A second pair for the same line: the second comes back INVALID,
	 * the first stays held. */
	expect_ok(f, VIRTIO_GPIO_MSG_SET_IRQ_TYPE, 2, VIRTIO_GPIO_IRQ_TYPE_EDGE_BOTH, 0);
	st = unmask(f, 2, &head);
	st2 = unmask(f, 2, &head2);
	assert_true(vqh_used(&f->h, f->dev, EVQ, &id, &len));
	assert_int_equal(id, head2);
	assert_int_equal(*st2, VIRTIO_GPIO_IRQ_STATUS_INVALID);
	assert_false(vqh_used(&f->h, f->dev, EVQ, &id, &len));
	assert_int_equal(*st, 0xee);
	/* IRQs on an output: ERR; making it an output drops the held pair. */
	expect_ok(f, VIRTIO_GPIO_MSG_SET_DIRECTION, 2, VIRTIO_GPIO_DIRECTION_OUT, 0);
	assert_true(vqh_used(&f->h, f->dev, EVQ, &id, &len));
	assert_int_equal(id, head);
	assert_int_equal(*st, VIRTIO_GPIO_IRQ_STATUS_INVALID);
	expect_err(f, VIRTIO_GPIO_MSG_SET_IRQ_TYPE, 2, VIRTIO_GPIO_IRQ_TYPE_EDGE_BOTH);
}

static void test_reset_drops_held(void **state)
{
	struct fixture *f = *state;
	uint16_t head;
	uint32_t id, len;

	expect_ok(f, VIRTIO_GPIO_MSG_SET_IRQ_TYPE, 0, VIRTIO_GPIO_IRQ_TYPE_EDGE_RISING, 0);
	unmask(f, 0, &head);
	pthread_mutex_lock(&f->dev->lock);
	f->dev->ops->reset(f->dev);
	pthread_mutex_unlock(&f->dev->lock);
	/* The old driver's pair is forgotten, not completed; the host's
	 * rising edge fires nothing. */
	json_object_put(cmd(f, "{\"line\":0,\"value\":1}", 0));
	run_device(f);
	assert_false(vqh_used(&f->h, f->dev, EVQ, &id, &len));
}

static void test_command_refusals(void **state)
{
	struct fixture *f = *state;
	json_object *reply, *lines;

	json_object_put(cmd(f, "{\"line\":8}", -1));
	json_object_put(cmd(f, "{\"line\":-1}", -1));
	json_object_put(cmd(f, "{\"line\":\"1\"}", -1));
	json_object_put(cmd(f, "{\"line\":0,\"value\":2}", -1));
	json_object_put(cmd(f, "{\"line\":0,\"value\":true}", -1));
	json_object_put(cmd(f, "{\"name\":\"nope\"}", -1));
	json_object_put(cmd(f, "{\"name\":\"\"}", -1)); /* unnamed lines are not "" */
	json_object_put(cmd(f, "{\"line\":0,\"valeu\":1}", -1));
	json_object_put(cmd(f, "{\"events\":true,\"line\":0}", -1));
	json_object_put(cmd(f, "{\"events\":false}", -1));
	json_object_put(cmd(f, "[1]", -1));
	reply = cmd(f, NULL, 0);
	assert_true(json_object_object_get_ex(reply, "lines", &lines));
	assert_int_equal(json_object_array_length(lines), 8);
	json_object_put(reply);
}

static void test_event_ring_bounded(void **state)
{
	struct fixture *f = *state;
	json_object *reply, *events;

	expect_ok(f, VIRTIO_GPIO_MSG_SET_DIRECTION, 6, VIRTIO_GPIO_DIRECTION_OUT, 0);
	for (unsigned int i = 0; i < VIRTIO_GPIO_EVENT_RING + 9; i++)
		expect_ok(f, VIRTIO_GPIO_MSG_SET_VALUE, 6, (i + 1) % 2, 0);
	reply = cmd(f, "{\"events\":true}", 0);
	assert_true(json_object_object_get_ex(reply, "events", &events));
	assert_int_equal(json_object_array_length(events), VIRTIO_GPIO_EVENT_RING);
	/* Becoming an output driven low is the first event, then 265
	 * toggles: the 10 oldest are dropped, the newest kept. */
	assert_int_equal(field(reply, "dropped"), 10);
	assert_int_equal(field(json_object_array_get_idx(events, VIRTIO_GPIO_EVENT_RING - 1), "value"),
			 (VIRTIO_GPIO_EVENT_RING + 9) % 2);
	json_object_put(reply);
}

static void test_names_block(void **state)
{
	char block[AVP_GPIO_NAMES_MAX];
	uint32_t len;
	const char *why = NULL;
	char longname[40];

	(void)state;
	assert_int_equal(virtio_gpio_names_block("a:b", 2, block, &len, &why), 0);
	assert_int_equal(len, 4);
	assert_int_equal(virtio_gpio_names_block("a:b:c", 2, block, &len, &why), -EINVAL);
	assert_int_equal(virtio_gpio_names_block("a:a", 2, block, &len, &why), -EINVAL);
	assert_int_equal(virtio_gpio_names_block("::", 3, block, &len, &why), 0);
	assert_int_equal(len, 3);
	assert_int_equal(virtio_gpio_names_block("x\ty", 1, block, &len, &why), -EINVAL);
	memset(longname, 'n', 32);
	longname[32] = '\0';
	assert_int_equal(virtio_gpio_names_block(longname, 1, block, &len, &why), -EINVAL);
	longname[31] = '\0';
	assert_int_equal(virtio_gpio_names_block(longname, 1, block, &len, &why), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_identity_and_config, setup, teardown),
		cmocka_unit_test_setup_teardown(test_get_line_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_names, setup_unnamed, teardown),
		cmocka_unit_test_setup_teardown(test_direction_and_value, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_drives_input, setup, teardown),
		cmocka_unit_test_setup_teardown(test_direction_none_discards_state, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_messages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_edge_interrupt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_level_interrupt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_eventq, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_drops_held, setup, teardown),
		cmocka_unit_test_setup_teardown(test_command_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_event_ring_bounded, setup, teardown),
		cmocka_unit_test(test_names_block),
	};

	return cmocka_run_group_tests_name("virtio_gpio", tests, NULL, NULL);
}
