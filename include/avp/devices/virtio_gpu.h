/* virtio-gpu, 2D only (VIRTIO 1.2, section 5.7): the wire format, the
 * limits a guest lives within, and the host-side screenshot.
 *
 * The structures mirror the specification's (5.7.6.7 - 5.7.6.10), all
 * little-endian on the wire. Do not include <linux/virtio_gpu.h> next to
 * this header: the names are the same. */
#ifndef AVP_DEVICES_VIRTIO_GPU_H
#define AVP_DEVICES_VIRTIO_GPU_H

#include <stdbool.h>
#include <stdint.h>

#include "avp/config/options.h"
#include "avp/virtio/virtio_dev.h"

struct json_object;
struct vm;

#include "avp/virtio/virtio_ids.h"

/* virtio-gpu 2D with one display (--gpu); the display limits are
 * docs/devices.md's. */
struct avp_gpu_cfg {
	bool on;	/* "--gpu on": the whole option or not there */
	uint32_t width; /* display size in pixels; 0: the default */
	uint32_t height;
};
#define VIRTIO_GPU_DEFAULT_WIDTH 1280u
#define VIRTIO_GPU_DEFAULT_HEIGHT 720u
/* Linux's virtio-gpu refuses modes below 32x32. */
#define VIRTIO_GPU_MIN_DISPLAY_DIM 32u
/* An EDID detailed timing holds 12-bit sizes. */
#define VIRTIO_GPU_MAX_DISPLAY_DIM 4095u
/* 3840x2160 pixels in all keeps the EDID's 60 Hz pixel clock in its
 * 16-bit field (655.35 MHz) whatever the aspect ratio. */
#define VIRTIO_GPU_MAX_DISPLAY_PIXELS (3840u * 2160u)

/* Queues (5.7.2). */
#define VIRTIO_GPU_CTRLQ 0
#define VIRTIO_GPU_CURSORQ 1

/* Feature bits (5.7.3). We offer EDID only: no VIRGL (AVP-GPU-2 allows 3D
 * only where the host has it), no blobs, no UUIDs. */
#define VIRTIO_GPU_F_VIRGL 0
#define VIRTIO_GPU_F_EDID 1
#define VIRTIO_GPU_F_RESOURCE_UUID 2
#define VIRTIO_GPU_F_RESOURCE_BLOB 3
#define VIRTIO_GPU_F_CONTEXT_INIT 4

/* Events in the configuration space (5.7.4.2). */
#define VIRTIO_GPU_EVENT_DISPLAY (1u << 0)

/* Command and response types (5.7.6.7). */
enum virtio_gpu_ctrl_type {
	VIRTIO_GPU_CMD_GET_DISPLAY_INFO = 0x0100,
	VIRTIO_GPU_CMD_RESOURCE_CREATE_2D,
	VIRTIO_GPU_CMD_RESOURCE_UNREF,
	VIRTIO_GPU_CMD_SET_SCANOUT,
	VIRTIO_GPU_CMD_RESOURCE_FLUSH,
	VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D,
	VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING,
	VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING,
	VIRTIO_GPU_CMD_GET_CAPSET_INFO,
	VIRTIO_GPU_CMD_GET_CAPSET,
	VIRTIO_GPU_CMD_GET_EDID,

	VIRTIO_GPU_CMD_UPDATE_CURSOR = 0x0300,
	VIRTIO_GPU_CMD_MOVE_CURSOR,

	VIRTIO_GPU_RESP_OK_NODATA = 0x1100,
	VIRTIO_GPU_RESP_OK_DISPLAY_INFO,
	VIRTIO_GPU_RESP_OK_CAPSET_INFO,
	VIRTIO_GPU_RESP_OK_CAPSET,
	VIRTIO_GPU_RESP_OK_EDID,

	VIRTIO_GPU_RESP_ERR_UNSPEC = 0x1200,
	VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY,
	VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID,
	VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID,
	VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID,
	VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER,
};

#define VIRTIO_GPU_FLAG_FENCE (1u << 0)
#define VIRTIO_GPU_FLAG_INFO_RING_IDX (1u << 1)

/* Pixel formats (5.7.6.8, RESOURCE_CREATE_2D). The name gives the byte
 * order in memory: B8G8R8X8 is B, G, R, X (Linux's XRGB8888). */
enum virtio_gpu_formats {
	VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM = 1,
	VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM = 2,
	VIRTIO_GPU_FORMAT_A8R8G8B8_UNORM = 3,
	VIRTIO_GPU_FORMAT_X8R8G8B8_UNORM = 4,
	VIRTIO_GPU_FORMAT_R8G8B8A8_UNORM = 67,
	VIRTIO_GPU_FORMAT_X8B8G8R8_UNORM = 68,
	VIRTIO_GPU_FORMAT_A8B8G8R8_UNORM = 121,
	VIRTIO_GPU_FORMAT_R8G8B8X8_UNORM = 134,
};

struct virtio_gpu_ctrl_hdr {
	uint32_t type;
	uint32_t flags;
	uint64_t fence_id;
	uint32_t ctx_id;
	uint8_t ring_idx;
	uint8_t padding[3];
} __attribute__((packed));

struct virtio_gpu_rect {
	uint32_t x;
	uint32_t y;
	uint32_t width;
	uint32_t height;
} __attribute__((packed));

#define VIRTIO_GPU_MAX_SCANOUTS 16

struct virtio_gpu_display_one {
	struct virtio_gpu_rect r;
	uint32_t enabled;
	uint32_t flags;
} __attribute__((packed));

struct virtio_gpu_resp_display_info {
	struct virtio_gpu_ctrl_hdr hdr;
	struct virtio_gpu_display_one pmodes[VIRTIO_GPU_MAX_SCANOUTS];
} __attribute__((packed));

struct virtio_gpu_get_edid {
	struct virtio_gpu_ctrl_hdr hdr;
	uint32_t scanout;
	uint32_t padding;
} __attribute__((packed));

struct virtio_gpu_resp_edid {
	struct virtio_gpu_ctrl_hdr hdr;
	uint32_t size;
	uint32_t padding;
	uint8_t edid[1024];
} __attribute__((packed));

struct virtio_gpu_resource_create_2d {
	struct virtio_gpu_ctrl_hdr hdr;
	uint32_t resource_id;
	uint32_t format;
	uint32_t width;
	uint32_t height;
} __attribute__((packed));

/* RESOURCE_UNREF and RESOURCE_DETACH_BACKING share this layout. */
struct virtio_gpu_resource_unref {
	struct virtio_gpu_ctrl_hdr hdr;
	uint32_t resource_id;
	uint32_t padding;
} __attribute__((packed));

struct virtio_gpu_set_scanout {
	struct virtio_gpu_ctrl_hdr hdr;
	struct virtio_gpu_rect r;
	uint32_t scanout_id;
	uint32_t resource_id;
} __attribute__((packed));

struct virtio_gpu_resource_flush {
	struct virtio_gpu_ctrl_hdr hdr;
	struct virtio_gpu_rect r;
	uint32_t resource_id;
	uint32_t padding;
} __attribute__((packed));

struct virtio_gpu_transfer_to_host_2d {
	struct virtio_gpu_ctrl_hdr hdr;
	struct virtio_gpu_rect r;
	uint64_t offset;
	uint32_t resource_id;
	uint32_t padding;
} __attribute__((packed));

/* Followed by nr_entries struct virtio_gpu_mem_entry. */
struct virtio_gpu_resource_attach_backing {
	struct virtio_gpu_ctrl_hdr hdr;
	uint32_t resource_id;
	uint32_t nr_entries;
} __attribute__((packed));

struct virtio_gpu_mem_entry {
	uint64_t addr;
	uint32_t length;
	uint32_t padding;
} __attribute__((packed));

struct virtio_gpu_cursor_pos {
	uint32_t scanout_id;
	uint32_t x;
	uint32_t y;
	uint32_t padding;
} __attribute__((packed));

struct virtio_gpu_update_cursor {
	struct virtio_gpu_ctrl_hdr hdr;
	struct virtio_gpu_cursor_pos pos;
	uint32_t resource_id;
	uint32_t hot_x;
	uint32_t hot_y;
	uint32_t padding;
} __attribute__((packed));

struct virtio_gpu_config {
	uint32_t events_read;
	uint32_t events_clear;
	uint32_t num_scanouts;
	uint32_t num_capsets;
} __attribute__((packed));

/* ---- Limits (documented in docs/devices.md) ---- */

/* The display (scanout 0) the guest is offered, --gpu width=W,height=H:
 * VIRTIO_GPU_DEFAULT_WIDTH and the display limits are in avp/config.h,
 * whose adder checks them. */

/* What a guest can make the host hold. Resource pixels and backing
 * tables together stay below VIRTIO_GPU_MAX_HOST_BYTES; an allocation
 * past it gets ERR_OUT_OF_MEMORY, as does a resource past the count. */
#define VIRTIO_GPU_MAX_RESOURCES 512u
/* The fuzz build (Makefile, FUZZ_CFLAGS) sets a smaller one: the logic
 * is the same at any size, and filling 256 MiB under ASan takes a tenth
 * of a second per input. */
#ifndef VIRTIO_GPU_MAX_HOST_BYTES
#define VIRTIO_GPU_MAX_HOST_BYTES (256ull << 20)
#endif
/* Width and height of one resource (Linux asks for at most 8192). */
#define VIRTIO_GPU_MAX_RESOURCE_DIM 16384u
/* Entries in one ATTACH_BACKING: 256 MiB of separate 4 KiB pages. */
#define VIRTIO_GPU_MAX_BACKING_ENTRIES 65536u

/* Work done per wakeup of the device thread before it yields
 * (dev_wait.h): commands, and bytes copied by transfers. */
#define VIRTIO_GPU_BUDGET 64u
#define VIRTIO_GPU_BUDGET_BYTES (64ull << 20)

#define VIRTIO_GPU_EDID_SIZE 128u

/* Creates the device for cfg (width/height 0 mean the defaults). */
int virtio_gpu_create(struct virtio_dev **out, const struct avp_gpu_cfg *cfg);

/* --gpu on | width=W,height=H (src/devices/virtio_gpu_opts.c): either
 * size may be left out (the default). */
extern const struct avp_config_type virtio_gpu_config;
/* Fills in a display size left out (the default) and checks the limits:
 * the one rule of every display size, also the touch screen's. */
int virtio_gpu_display_size(struct avp_gpu_cfg *gpu, struct avp_config_err *e);

/* The 128-byte EDID 1.4 base block of a width x height 60 Hz display. */
void virtio_gpu_make_edid(uint8_t edid[VIRTIO_GPU_EDID_SIZE], uint32_t width, uint32_t height);

/* Writes what scanout 0 shows as an 8-bit RGB PNG at path (replaced
 * atomically): the scanout's rectangle of its resource as last
 * transferred, or a black image of the display size when the guest has
 * set no scanout. Safe from any thread (takes dev->lock). 0 or -errno;
 * width and height (optional) receive the image size. */
int virtio_gpu_screenshot(struct virtio_dev *dev, const char *path, uint32_t *width,
			  uint32_t *height);
int virtio_gpu_screenshot_png(struct virtio_dev *dev, const char *path);

/* Control-socket command "screenshot", args {"path": "/abs/out.png"};
 * replies {"path", "width", "height"}. opaque is the GPU's virtio_dev. */
int virtio_gpu_api_screenshot(void *opaque, struct json_object *args, struct json_object *reply);
/* Registers the command above on vm for dev. */
int virtio_gpu_register_api(struct vm *vm, struct virtio_dev *dev);

#endif
