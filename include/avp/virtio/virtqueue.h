/* Split virtqueues (VIRTIO 1.2, section 2.7), device side.
 *
 * A chain popped from the queue is described as host iovecs that have all
 * been range-checked through the guest memory accessor: device code reads
 * the driver's buffers from chain->iov[0 .. n_out) and writes its answers
 * to chain->iov[n_out .. n_out + n_in). */
#ifndef AVP_VIRTQUEUE_H
#define AVP_VIRTQUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "avp/guest_mem.h"

#define VIRTQ_MAX_SIZE 256
/* Longest chain we follow, counting the entries of an indirect table. A
 * longer one is a broken (or hostile) driver. */
#define VIRTQ_MAX_CHAIN 1024

#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2
#define VIRTQ_DESC_F_INDIRECT 4
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY 1

struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
} __attribute__((packed));

struct virtq {
	const struct guest_mem *mem;
	uint16_t size; /* QueueNum set by the driver, power of two */
	bool ready;
	bool event_idx;	      /* VIRTIO_F_EVENT_IDX negotiated */
	bool indirect;	      /* VIRTIO_F_INDIRECT_DESC negotiated */
	uint64_t desc_gpa;
	uint64_t avail_gpa;
	uint64_t used_gpa;
	uint16_t last_avail_idx; /* next avail entry we will take */
	uint16_t used_idx;	 /* shadow of used->idx */
	uint16_t signalled_used; /* used_idx at the last interrupt */
	bool signalled_used_valid;
	/* Chains pushed since the driver's suppression state was last
	 * consulted: a batch ends with one notification check, not one per
	 * chain. */
	bool used_unsignalled;
};

struct virtq_chain {
	uint16_t head;
	unsigned int n_out; /* device-readable segments, first */
	unsigned int n_in;  /* device-writable segments, after them */
	size_t out_bytes;
	size_t in_bytes;
	struct iovec iov[VIRTQ_MAX_CHAIN];
};

/* Resets the queue to the state after device reset. */
void virtq_reset(struct virtq *vq, const struct guest_mem *mem);

/* Checks that the rings the driver configured are in guest RAM and
 * correctly aligned. 0 or -EINVAL. Called when QueueReady is set. */
int virtq_validate(const struct virtq *vq);

/* Takes the next available chain.
 * 1: chain filled in; 0: queue empty;
 * -EINVAL: the driver broke the protocol (bad index, loop, out-of-RAM
 *          buffer, readable after writable, nested indirect, over-long
 *          chain). The chain's head is still consumed and, when head is
 *          valid, chain->head holds it so the caller can complete it with
 *          an error; the queue stays usable.
 * -EIO: the ring itself is unusable (avail index jumped by more than the
 *       queue size, ring memory invalid); the device needs a reset. */
int virtq_pop(struct virtq *vq, struct virtq_chain *chain);

/* Returns a chain to the driver with `written` bytes in its writable part. */
int virtq_push(struct virtq *vq, uint16_t head, uint32_t written);

/* Returns n chains at once, publishing used->idx a single time, so that a
 * driver polling the ring never sees part of a group (virtio-net's
 * mergeable RX buffers announce num_buffers in the first one). */
int virtq_push_many(struct virtq *vq, const uint16_t *heads, const uint32_t *written,
		    unsigned int n);

/* Whether the driver wants an interrupt for what was pushed since the last
 * one (VIRTQ_AVAIL_F_NO_INTERRUPT, or used_event with EVENT_IDX). */
bool virtq_should_notify(struct virtq *vq);

/* With EVENT_IDX, tells the driver we will look at the ring again (avail_event)
 * and reports whether more chains arrived meanwhile. Use before sleeping:
 *   while (virtq_enable_notify(vq)) drain(vq); */
bool virtq_enable_notify(struct virtq *vq);

/* Copy helpers across a chain's segments: from the readable part starting
 * at byte offset off; into the writable part starting at byte offset off.
 * Return bytes copied (short when the chain part is smaller). */
size_t virtq_chain_read(const struct virtq_chain *chain, size_t off, void *dst, size_t len);
size_t virtq_chain_write(const struct virtq_chain *chain, size_t off, const void *src, size_t len);

#endif
