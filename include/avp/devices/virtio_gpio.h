/* virtio-gpio (VIRTIO 1.3, device ID 41, "GPIO Device"): lines simulated
 * in avp, driven from the host through the control socket's "gpio"
 * command. Layouts and limits shared with the tests. */
#ifndef AVP_DEVICES_VIRTIO_GPIO_H
#define AVP_DEVICES_VIRTIO_GPIO_H

#include <stdint.h>

#include "avp/config/options.h"
#include "avp/virtio/virtio_dev.h"
#include "avp/virtio/virtio_ids.h"

struct vm;

/* --gpio lines=N[,names=A:B::D]: N lines; names in line order, colon
 * separated, an empty one for a line without a name. */
#define AVP_GPIO_MAX_LINES 256u
#define AVP_GPIO_MAX_NAME 31u
struct avp_gpio_cfg {
	uint32_t lines;
	char *names; /* NULL: no names */
};
extern const struct avp_config_type virtio_gpio_config;

/* Queues and feature (the spec's "Virtqueues", "Feature bits"). */
#define VIRTIO_GPIO_REQUESTQ 0
#define VIRTIO_GPIO_EVENTQ 1
#define VIRTIO_GPIO_F_IRQ 0

/* Message types. */
#define VIRTIO_GPIO_MSG_GET_LINE_NAMES 0x0001
#define VIRTIO_GPIO_MSG_GET_DIRECTION 0x0002
#define VIRTIO_GPIO_MSG_SET_DIRECTION 0x0003
#define VIRTIO_GPIO_MSG_GET_VALUE 0x0004
#define VIRTIO_GPIO_MSG_SET_VALUE 0x0005
#define VIRTIO_GPIO_MSG_SET_IRQ_TYPE 0x0006

#define VIRTIO_GPIO_STATUS_OK 0x0
#define VIRTIO_GPIO_STATUS_ERR 0x1

#define VIRTIO_GPIO_DIRECTION_NONE 0x00
#define VIRTIO_GPIO_DIRECTION_OUT 0x01
#define VIRTIO_GPIO_DIRECTION_IN 0x02

#define VIRTIO_GPIO_IRQ_TYPE_NONE 0x00
#define VIRTIO_GPIO_IRQ_TYPE_EDGE_RISING 0x01
#define VIRTIO_GPIO_IRQ_TYPE_EDGE_FALLING 0x02
#define VIRTIO_GPIO_IRQ_TYPE_EDGE_BOTH 0x03
#define VIRTIO_GPIO_IRQ_TYPE_LEVEL_HIGH 0x04
#define VIRTIO_GPIO_IRQ_TYPE_LEVEL_LOW 0x08

#define VIRTIO_GPIO_IRQ_STATUS_INVALID 0x0
#define VIRTIO_GPIO_IRQ_STATUS_VALID 0x1

/* Little-endian, as the spec lays them out. */
struct virtio_gpio_config {
	uint16_t ngpio;
	uint8_t padding[2];
	uint32_t gpio_names_size;
} __attribute__((packed));

struct virtio_gpio_request {
	uint16_t type;
	uint16_t gpio;
	uint32_t value;
} __attribute__((packed));

struct virtio_gpio_response {
	uint8_t status;
	uint8_t value;
} __attribute__((packed));

struct virtio_gpio_irq_request {
	uint16_t gpio;
} __attribute__((packed));

/* The guest's output edges the host has not fetched yet; older ones are
 * dropped (and counted) when a guest toggles faster than the host reads. */
#define VIRTIO_GPIO_EVENT_RING 256
/* Requests served per wakeup before yielding (dev_wait.h). */
#define VIRTIO_GPIO_BUDGET 64

/* The names option as the spec's gpio-names block: one NUL-ended string
 * per line, "" for a line without a name. names NULL: *len 0. 0, or
 * -EINVAL with *why saying what is wrong (more names than lines, a name
 * too long, not printable ASCII, or twice). block holds
 * AVP_GPIO_NAMES_MAX bytes. */
#define AVP_GPIO_NAMES_MAX (AVP_GPIO_MAX_LINES * (AVP_GPIO_MAX_NAME + 1))
int virtio_gpio_names_block(const char *names, uint32_t lines, char *block, uint32_t *len,
			    const char **why);

int virtio_gpio_create(struct virtio_dev **out, const struct avp_gpio_cfg *cfg);

/* The "gpio" control command (docs/api.md); call after attaching. */
int virtio_gpio_register_api(struct vm *vm, struct virtio_dev *dev);

/* The command itself, for tests and the fuzz target: dev is a gpio device. */
struct json_object;
int virtio_gpio_command(struct virtio_dev *dev, struct json_object *args,
			struct json_object *reply);

#endif
