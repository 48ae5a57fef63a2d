/* virtio-input (VIRTIO 1.2, section 5.8): a keyboard or a multi-touch
 * screen fed from the host through the control socket's "input" command.
 * Layouts and limits shared with the tests. */
#ifndef AVP_DEVICES_VIRTIO_INPUT_H
#define AVP_DEVICES_VIRTIO_INPUT_H

#include <stdint.h>

#include "avp/config/options.h"
#include "avp/devices/virtio_gpu.h"
#include "avp/virtio/virtio_dev.h"

struct json_object;
struct vm;

#include "avp/virtio/virtio_ids.h"

/* virtio-input devices (--input keyboard | touch,width=W,height=H). */
#define AVP_MAX_INPUTS 2 /* one of each kind */
enum avp_input_kind { AVP_INPUT_KEYBOARD, AVP_INPUT_TOUCH };
struct avp_input_cfg {
	enum avp_input_kind kind;
	uint32_t width; /* touch: coordinate range 0..width-1; 0: the default */
	uint32_t height;
};
/* The touch screen's default size is the display's. ABS values are 32-bit
 * signed in evdev; 16 bits is plenty for a panel and keeps every
 * coordinate exact in the JSON API. */
#define AVP_TOUCH_DEFAULT_WIDTH VIRTIO_GPU_DEFAULT_WIDTH
#define AVP_TOUCH_DEFAULT_HEIGHT VIRTIO_GPU_DEFAULT_HEIGHT
#define AVP_TOUCH_MAX_SIDE 65535u
#define VIRTIO_INPUT_EVENTQ 0
#define VIRTIO_INPUT_STATUSQ 1

/* Events waiting for the driver's buffers. A request that does not fit
 * whole is refused (never half-delivered: 5.8.6.2 asks not to split an
 * update), so a guest that stops reading costs at most this much. */
#define VIRTIO_INPUT_RING 256
/* Events one "input" request may carry. */
#define VIRTIO_INPUT_MAX_REQUEST_EVENTS 64
/* Chains handled per wakeup before yielding (dev_wait.h). */
#define VIRTIO_INPUT_BUDGET 64
/* Multi-touch slots of the touch device (ABS_MT_SLOT 0..N-1). */
#define VIRTIO_INPUT_TOUCH_SLOTS 10

/* 5.8.4: config selectors. */
#define VIRTIO_INPUT_CFG_UNSET 0x00
#define VIRTIO_INPUT_CFG_ID_NAME 0x01
#define VIRTIO_INPUT_CFG_ID_SERIAL 0x02
#define VIRTIO_INPUT_CFG_ID_DEVIDS 0x03
#define VIRTIO_INPUT_CFG_PROP_BITS 0x10
#define VIRTIO_INPUT_CFG_EV_BITS 0x11
#define VIRTIO_INPUT_CFG_ABS_INFO 0x12

/* 5.8.4: device configuration layout, little-endian. */
struct virtio_input_absinfo {
	uint32_t min;
	uint32_t max;
	uint32_t fuzz;
	uint32_t flat;
	uint32_t res;
} __attribute__((packed));

struct virtio_input_devids {
	uint16_t bustype;
	uint16_t vendor;
	uint16_t product;
	uint16_t version;
} __attribute__((packed));

struct virtio_input_config {
	uint8_t select;
	uint8_t subsel;
	uint8_t size;
	uint8_t reserved[5];
	union {
		char string[128];
		uint8_t bitmap[128];
		struct virtio_input_absinfo abs;
		struct virtio_input_devids ids;
	} u;
} __attribute__((packed));

/* 5.8.6: one evdev event, on both queues. */
struct virtio_input_event {
	uint16_t type;
	uint16_t code;
	uint32_t value;
} __attribute__((packed));

int virtio_input_create(struct virtio_dev **out, const struct avp_input_cfg *cfg);

/* --input keyboard | touch[,width=W][,height=H] (src/devices/
 * virtio_input_opts.c); a touch size left out is the default. */
extern const struct avp_config_type virtio_input_config;

/* Offers the device through the VM's "input" control command (call after
 * attaching it). Several input devices share the one command; requests
 * name theirs with "device": "keyboard" or "touch". 0 or -errno. */
int virtio_input_register_api(struct vm *vm, struct virtio_dev *dev);

#endif
