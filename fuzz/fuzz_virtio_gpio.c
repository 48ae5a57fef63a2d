/* libFuzzer target: virtio-gpio (src/devices/virtio_gpio.c): both queues
 * under the hostile pretend driver (fuzz_guest.h) and the control
 * socket's "gpio" command the host drives lines with.
 *
 * Input: u8 lines-1 (1-256 lines, names on the first three when bit 7 of
 * the next byte is set... that byte is the mode), then the common grammar,
 * whose device op's sub-ops are:
 *
 *   0 message  one well-formed request/response pair on requestq: the
 *              type mostly a real one, the line mostly in range
 *   1 unmask   one eventq pair for a line
 *   2 host     a "gpio" command: set a line, read it, fetch the events,
 *              or junk
 *
 * Beyond the sanitizers: a response's status is OK or ERR and a
 * GET_DIRECTION/GET_VALUE answer is a direction/level; a command's reply
 * has an "error" exactly when it fails. */
#include <endian.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "avp/devices/virtio_gpio.h"
#include "fuzz_guest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

FUZZ_LOG_ERRORS_ONLY()

static void message_op(struct fuzz_guest *g, struct fz *z)
{
	const struct virtq *vq = &g->dev->vqs[VIRTIO_GPIO_REQUESTQ];
	uint8_t how = fz_u8(z);
	uint32_t rq = fg_alloc(g, 8), rs = fg_alloc(g, 2);
	struct virtio_gpio_request *r = fg_hva(g, fg_gpa(rq), 8);
	uint8_t *resp = fg_hva(g, fg_gpa(rs), 2);
	struct fg_seg segs[2] = { { fg_gpa(rq), 8, false }, { fg_gpa(rs), 2, true } };
	uint16_t before = vq->used_idx;
	uint16_t type = how & 0x80 ? fz_u16(z) : (uint16_t)(1 + how % 7);
	uint16_t line = how & 0x40 ? fz_u16(z) : fz_u8(z);
	/* Only a chain the queue can hold is answered in full. */
	bool alone = vq->ready && vq->last_avail_idx == g->avail_idx[VIRTIO_GPIO_REQUESTQ] &&
		     g->qsize >= 2;

	r->type = htole16(type);
	r->gpio = htole16(line);
	r->value = htole32(how & 0x20 ? fz_u32(z) : fz_u8(z) % 9);
	resp[0] = resp[1] = 0xee;
	fg_post(g, VIRTIO_GPIO_REQUESTQ, segs, 2, false, 0);
	fg_kick(g, VIRTIO_GPIO_REQUESTQ);
	if (!alone || vq->used_idx != (uint16_t)(before + 1) || type == VIRTIO_GPIO_MSG_GET_LINE_NAMES)
		return;
	FUZZ_CHECK(resp[0] == VIRTIO_GPIO_STATUS_OK || resp[0] == VIRTIO_GPIO_STATUS_ERR);
	if (resp[0] == VIRTIO_GPIO_STATUS_OK && type == VIRTIO_GPIO_MSG_GET_DIRECTION)
		FUZZ_CHECK(resp[1] <= VIRTIO_GPIO_DIRECTION_IN);
	if (resp[0] == VIRTIO_GPIO_STATUS_OK && type == VIRTIO_GPIO_MSG_GET_VALUE)
		FUZZ_CHECK(resp[1] <= 1);
}

static void unmask_op(struct fuzz_guest *g, struct fz *z)
{
	uint32_t rq = fg_alloc(g, 2), rs = fg_alloc(g, 1);
	uint16_t *r = fg_hva(g, fg_gpa(rq), 2);
	struct fg_seg segs[2] = { { fg_gpa(rq), 2, false }, { fg_gpa(rs), 1, true } };

	*r = htole16(fz_u8(z));
	fg_post(g, VIRTIO_GPIO_EVENTQ, segs, 2, false, 0);
	fg_kick(g, VIRTIO_GPIO_EVENTQ);
}

static void host_op(struct fuzz_guest *g, struct fz *z)
{
	uint8_t how = fz_u8(z);
	char text[96];
	json_object *args, *reply, *e;
	int ret;

	switch (how % 5) {
	case 0:
		snprintf(text, sizeof(text), "{\"line\":%d,\"value\":%d}", (int)(int8_t)fz_u8(z),
			 fz_u8(z) % 3);
		break;
	case 1:
		snprintf(text, sizeof(text), "{\"line\":%d}", fz_u8(z));
		break;
	case 2:
		snprintf(text, sizeof(text), "{\"events\":true}");
		break;
	case 3:
		snprintf(text, sizeof(text), "{\"name\":\"%s\",\"value\":1}",
			 (const char *[]){ "a", "b", "", "zz" }[fz_u8(z) % 4]);
		break;
	default:
		text[fz_bytes(z, text, sizeof(text) - 1)] = '\0';
		break;
	}
	args = json_tokener_parse(text);
	reply = json_object_new_object();
	ret = virtio_gpio_command(g->dev, args, reply);
	FUZZ_CHECK(ret <= 0);
	FUZZ_CHECK((ret < 0) == json_object_object_get_ex(reply, "error", &e));
	json_object_put(reply);
	json_object_put(args);
	/* The device thread's turn: what the host changed may fire. */
	for (unsigned int i = 0; i < g->nwatch; i++)
		if (g->watch_fd[i] >= 0) {
			pthread_mutex_lock(&g->dev->lock);
			if ((g->dev->status & VIRTIO_STATUS_DRIVER_OK) &&
			    !(g->dev->status & VIRTIO_STATUS_NEEDS_RESET))
				g->dev->ops->fd_ready(g->dev, g->watch_fd[i], 1);
			pthread_mutex_unlock(&g->dev->lock);
		}
}

static void gpio_op(struct fuzz_guest *g, struct fz *z, void *opaque)
{
	(void)opaque;
	switch (fz_u8(z) % 3) {
	case 0:
		message_op(g, z);
		break;
	case 1:
		unmask_op(g, z);
		break;
	case 2:
		host_op(g, z);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t wanted[] = { VIRTIO_GPIO_F_IRQ, 29 /* EVENT_IDX */,
					   28 /* INDIRECT_DESC */ };
	static char names[] = "a:b:";
	struct fz z = { data, size };
	struct avp_gpio_cfg cfg = { .lines = 1u + fz_u8(&z) };
	struct fuzz_guest g;
	struct virtio_dev *dev;

	if (fz_u8(&z) & 0x80 && cfg.lines >= 3)
		cfg.names = names;
	if (virtio_gpio_create(&dev, &cfg))
		return 0;
	if (fg_init(&g) == 0) {
		fg_run(&g, dev, &z, wanted, 3, gpio_op, NULL);
		fg_reset(&g);
	}
	dev->ops->destroy(dev);
	fg_fini(&g);
	return 0;
}
