/* virtio-can (VIRTIO 1.4, device-types/can; device ID 36) on a host
 * SocketCAN interface, with per-device acceptance rules (which CAN IDs the
 * guest may send and receive). Wire constants and the 16-byte message
 * header as the spec's text gives them; tests/unit/test_can_layout.c
 * checks them against offsets transcribed separately from the spec. */
#ifndef AVP_DEVICES_VIRTIO_CAN_H
#define AVP_DEVICES_VIRTIO_CAN_H

#include <stdbool.h>
#include <stdint.h>

#include "avp/config/options.h"
#include "avp/net/socketcan.h"
#include "avp/virtio/virtio_dev.h"
#include "avp/virtio/virtio_ids.h"

#define AVP_MAX_CANS 4
/* Ranges in one tx or rx list. */
#define AVP_CAN_MAX_RANGES 16

/* ---- the options: --can if=IFNAME[,fd=auto|on|off][,tx=RANGES][,rx=RANGES] ----
 * RANGES is "none" or RANGE[+RANGE...]; RANGE is [std:|ext:|both:]ID[-ID],
 * IDs in hex (0x...) or decimal. Without a prefix a range matches standard
 * (11-bit) and extended (29-bit) IDs alike. No list: every ID passes. */
enum avp_can_kind { AVP_CAN_STD = 1, AVP_CAN_EXT = 2, AVP_CAN_BOTH = 3 };

struct avp_can_range {
	uint32_t lo, hi;
	unsigned int kind; /* enum avp_can_kind: which ID types it matches */
};

struct avp_can_rules {
	bool set; /* false: every ID passes */
	unsigned int n;
	struct avp_can_range r[AVP_CAN_MAX_RANGES];
};

enum avp_can_fd_mode { AVP_CAN_FD_AUTO, AVP_CAN_FD_ON, AVP_CAN_FD_OFF };

struct avp_can_cfg {
	char *ifname;
	int fd_mode;  /* enum avp_can_fd_mode */
	char *tx_text; /* the rules as given, NULL: none */
	char *rx_text;
	/* A bundle's device on a system file's CAN bus (the system gives
	 * interface and rules), or NULL. */
	char *bus;
	struct avp_can_rules tx, rx; /* parsed by the type's check */
};

extern const struct avp_config_type virtio_can_config;

/* --can-bus bus=NAME,if=IFNAME[,tx=RANGES][,rx=RANGES] (command line only;
 * `avp system up` passes one per CAN bus a VM is on): the interface and the
 * VM's rules for the bundle's {"type": "can", "bus": NAME}. */
struct avp_can_bus_cfg {
	char *bus;
	char *ifname;
	char *tx_text, *rx_text;
	struct avp_can_rules tx, rx;
};

extern const struct avp_config_type virtio_can_bus_config;

/* The device as it will run: dev itself, or for a device on a system
 * file's bus ({"bus": NAME}) dev with the interface and rules of cfg's
 * --can-bus NAME. 0, or -EINVAL with an error when no --can-bus names
 * the bus. out's strings are dev's or the bus entry's (not copies). */
int virtio_can_resolve(const struct avp_config *cfg, const struct avp_can_cfg *dev,
		       struct avp_can_cfg *out);

/* Parses RANGES (above) into rules. 0, or -EINVAL with what is wrong in
 * why[len] (a malformed range, an ID beyond its type, overlapping ranges). */
int avp_can_rules_parse(const char *text, struct avp_can_rules *rules, char *why, size_t len);
/* Whether a frame with this ID (ext: a 29-bit one) passes the rules. */
bool avp_can_rules_allow(const struct avp_can_rules *rules, uint32_t id, bool ext);
/* The rules as text in the grammar above ("all" when none are set). */
void avp_can_rules_format(const struct avp_can_rules *rules, char *buf, size_t len);

/* ---- the device ---- */

/* Opens the interface (a clear error naming it on failure, -errno) and
 * builds the device; ops->destroy frees it. */
int virtio_can_create(struct virtio_dev **out, const struct avp_can_cfg *cfg);
/* The same over a backend already open (tests: socketpairs standing in
 * for the CAN socket and the link monitor); the device owns its fds. */
int virtio_can_create_backend(struct virtio_dev **out, const struct avp_can_cfg *cfg,
			      struct socketcan *sc);
/* The model alone (--describe): no socket. */
int virtio_can_create_model(struct virtio_dev **out, const struct avp_can_cfg *cfg);

struct vm;
/* The control socket's "can" command: every CAN device's counters and rules. */
int virtio_can_register_api(struct vm *vm, struct virtio_dev *dev);

struct virtio_can_stats {
	uint64_t tx_frames, tx_refused, tx_invalid, tx_failed;
	uint64_t rx_frames, rx_refused, rx_dropped;
	uint64_t busoff;
};
void virtio_can_get_stats(struct virtio_dev *dev, struct virtio_can_stats *out);

/* Feature bits (device-types/can, "Feature bits"). */
#define VIRTIO_CAN_F_CAN_CLASSIC 0
#define VIRTIO_CAN_F_CAN_FD 1
#define VIRTIO_CAN_F_RTR_FRAMES 2
#define VIRTIO_CAN_F_LATE_TX_ACK 3

#define VIRTIO_CAN_TXQ 0
#define VIRTIO_CAN_RXQ 1
#define VIRTIO_CAN_CTRLQ 2

#define VIRTIO_CAN_S_CTRL_BUSOFF 0x1u

#define VIRTIO_CAN_RESULT_OK 0
#define VIRTIO_CAN_RESULT_NOT_OK 1

#define VIRTIO_CAN_SET_CTRL_MODE_START 0x0201
#define VIRTIO_CAN_SET_CTRL_MODE_STOP 0x0202

#define VIRTIO_CAN_TX 0x0001
#define VIRTIO_CAN_RX 0x0101

#define VIRTIO_CAN_FLAGS_RTR 0x2000u
#define VIRTIO_CAN_FLAGS_FD 0x4000u
#define VIRTIO_CAN_FLAGS_EXTENDED 0x8000u

/* struct virtio_can_tx_out and virtio_can_rx without sdu, little-endian. */
struct virtio_can_hdr {
	uint16_t msg_type;
	uint16_t length;
	uint8_t reserved_classic_dlc;
	uint8_t padding;
	uint16_t reserved_xl_priority;
	uint32_t flags;
	uint32_t can_id;
} __attribute__((packed));

#define VIRTIO_CAN_HDR_LEN 16
#define VIRTIO_CAN_MAX_CLASSIC 8
#define VIRTIO_CAN_MAX_FD 64

struct virtio_can_config {
	uint16_t status;
} __attribute__((packed));

/* Chains handled per queue per wakeup before the others get a turn. */
#define VIRTIO_CAN_BUDGET 64

#endif
