/* Split virtqueue, device side (VIRTIO 1.2, section 2.7). Every ring and
 * buffer address comes from the driver, so each is re-derived through the
 * checked accessor before use; ring indices are read once per use and
 * validated, since the driver may change them under our feet. */
#include <errno.h>
#include <string.h>

#include "avp/virtio/virtqueue.h"

#define AVAIL_HDR 4 /* flags, idx */
#define USED_HDR 4
#define USED_ELEM 8

static uint64_t avail_bytes(uint16_t size)
{
	return AVAIL_HDR + 2ull * size + 2; /* + used_event */
}

static uint64_t used_bytes(uint16_t size)
{
	return USED_HDR + (uint64_t)USED_ELEM * size + 2; /* + avail_event */
}

void virtq_reset(struct virtq *vq, const struct guest_mem *mem)
{
	memset(vq, 0, sizeof(*vq));
	vq->mem = mem;
}

int virtq_validate(const struct virtq *vq)
{
	uint16_t n = vq->size;

	/* 2.7.10: Queue Size is a power of 2; 2.7.5-2.7.8: alignment. */
	if (n == 0 || n > VIRTQ_MAX_SIZE || (n & (n - 1)))
		return -EINVAL;
	if ((vq->desc_gpa & 15) || (vq->avail_gpa & 1) || (vq->used_gpa & 3))
		return -EINVAL;
	if (!gm_ptr(vq->mem, vq->desc_gpa, 16ull * n) ||
	    !gm_ptr(vq->mem, vq->avail_gpa, avail_bytes(n)) ||
	    !gm_ptr(vq->mem, vq->used_gpa, used_bytes(n)))
		return -EINVAL;
	return 0;
}

static uint16_t *avail_ring(const struct virtq *vq)
{
	return gm_ptr(vq->mem, vq->avail_gpa, avail_bytes(vq->size));
}

static uint16_t *used_ring_hdr(const struct virtq *vq)
{
	return gm_ptr(vq->mem, vq->used_gpa, used_bytes(vq->size));
}

static uint16_t load16(const uint16_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

/* Appends one descriptor's buffer to the chain. */
static int chain_add(const struct virtq *vq, struct virtq_chain *chain,
		     const struct virtq_desc *d, unsigned int *visited)
{
	void *buf;

	if (++*visited > VIRTQ_MAX_CHAIN)
		return -EINVAL; /* a loop, or absurdly long */
	if (d->flags & VIRTQ_DESC_F_WRITE) {
		chain->in_bytes += d->len;
	} else {
		/* 2.7.4.2: readable descriptors come before writable ones. */
		if (chain->n_in)
			return -EINVAL;
		chain->out_bytes += d->len;
	}
	if (d->len == 0)
		return 0;
	buf = gm_ptr(vq->mem, d->addr, d->len);
	if (!buf)
		return -EINVAL;
	chain->iov[chain->n_out + chain->n_in] = (struct iovec){ .iov_base = buf, .iov_len = d->len };
	if (d->flags & VIRTQ_DESC_F_WRITE)
		chain->n_in++;
	else
		chain->n_out++;
	return 0;
}

static int walk_indirect(const struct virtq *vq, struct virtq_chain *chain,
			 const struct virtq_desc *outer, unsigned int *visited)
{
	const struct virtq_desc *table;
	uint32_t n = outer->len / sizeof(struct virtq_desc);
	uint32_t i = 0;

	/* 2.7.5.3.1: no NEXT together with INDIRECT, whole entries only. */
	if (!vq->indirect || (outer->flags & VIRTQ_DESC_F_NEXT) || n == 0 ||
	    outer->len % sizeof(struct virtq_desc))
		return -EINVAL;
	table = gm_ptr(vq->mem, outer->addr, outer->len);
	if (!table)
		return -EINVAL;
	for (;;) {
		struct virtq_desc d;
		int ret;

		memcpy(&d, &table[i], sizeof(d)); /* one snapshot of each entry */
		if (d.flags & VIRTQ_DESC_F_INDIRECT)
			return -EINVAL; /* no nesting */
		ret = chain_add(vq, chain, &d, visited);
		if (ret)
			return ret;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		i = d.next;
		if (i >= n)
			return -EINVAL;
	}
}

static int walk_chain(const struct virtq *vq, struct virtq_chain *chain, uint16_t head)
{
	const struct virtq_desc *table = gm_ptr(vq->mem, vq->desc_gpa, 16ull * vq->size);
	unsigned int visited = 0;
	unsigned int direct = 0;
	uint16_t i = head;

	if (!table)
		return -EIO;
	for (;;) {
		struct virtq_desc d;
		int ret;

		memcpy(&d, &table[i], sizeof(d));
		/* 2.7.5.2: a chain is never longer than the queue. */
		if (++direct > vq->size)
			return -EINVAL;
		if (d.flags & VIRTQ_DESC_F_INDIRECT)
			ret = walk_indirect(vq, chain, &d, &visited);
		else
			ret = chain_add(vq, chain, &d, &visited);
		if (ret)
			return ret;
		if ((d.flags & VIRTQ_DESC_F_INDIRECT) || !(d.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		if (d.next >= vq->size)
			return -EINVAL;
		i = d.next;
	}
}

/* With EVENT_IDX, tells the driver the index at which we want the next
 * kick (2.7.10: avail_event), then looks again: returns the avail index
 * seen afterwards. */
static uint16_t publish_avail_event(struct virtq *vq, uint16_t *avail)
{
	uint16_t *used = used_ring_hdr(vq);

	if (vq->event_idx && used) {
		__atomic_store_n(&used[2 + 4 * vq->size], vq->last_avail_idx, __ATOMIC_RELAXED);
		/* The store must be visible before we re-read avail->idx, or a
		 * kick the driver decided against is lost. */
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
	}
	return load16(&avail[1]);
}

int virtq_pop(struct virtq *vq, struct virtq_chain *chain)
{
	uint16_t *avail;
	uint16_t avail_idx;
	uint16_t head;
	int ret;

	if (!vq->ready)
		return 0;
	avail = avail_ring(vq);
	if (!avail)
		return -EIO;
	avail_idx = load16(&avail[1]);
	if (avail_idx == vq->last_avail_idx) {
		avail_idx = publish_avail_event(vq, avail);
		if (avail_idx == vq->last_avail_idx)
			return 0;
	}
	if ((uint16_t)(avail_idx - vq->last_avail_idx) > vq->size)
		return -EIO;

	head = load16(&avail[2 + vq->last_avail_idx % vq->size]);
	vq->last_avail_idx++;
	chain->n_out = chain->n_in = 0;
	chain->out_bytes = chain->in_bytes = 0;
	if (head >= vq->size) {
		chain->head = UINT16_MAX;
		return -EIO;
	}
	chain->head = head;
	ret = walk_chain(vq, chain, head);
	if (ret) {
		chain->n_out = chain->n_in = 0;
		chain->out_bytes = chain->in_bytes = 0;
		return ret;
	}
	return 1;
}

int virtq_push_many(struct virtq *vq, const uint16_t *heads, const uint32_t *written,
		    unsigned int n)
{
	uint16_t *used = used_ring_hdr(vq);

	if (!used || n > vq->size)
		return -EIO;
	for (unsigned int i = 0; i < n; i++)
		if (heads[i] >= vq->size)
			return -EIO;
	for (unsigned int i = 0; i < n; i++) {
		uint32_t *elem = (uint32_t *)(used + 2) + 2u * ((uint16_t)(vq->used_idx + i) % vq->size);

		elem[0] = heads[i];
		elem[1] = written[i];
	}
	vq->used_idx = (uint16_t)(vq->used_idx + n);
	vq->used_unsignalled = true;
	/* 2.7.8.2: the elements must be visible before the index moves. */
	__atomic_store_n(&used[1], vq->used_idx, __ATOMIC_RELEASE);
	return 0;
}

int virtq_push(struct virtq *vq, uint16_t head, uint32_t written)
{
	return virtq_push_many(vq, &head, &written, 1);
}

bool virtq_should_notify(struct virtq *vq)
{
	uint16_t *avail = avail_ring(vq);
	uint16_t old, new_idx, used_event;
	bool valid = vq->signalled_used_valid;

	if (!avail)
		return false;
	vq->used_unsignalled = false;
	/* Our used->idx store must be ordered before reading the driver's
	 * suppression state. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!vq->event_idx)
		return !(load16(&avail[0]) & VIRTQ_AVAIL_F_NO_INTERRUPT);

	old = vq->signalled_used;
	new_idx = vq->used_idx;
	vq->signalled_used = new_idx;
	vq->signalled_used_valid = true;
	used_event = load16(&avail[2 + vq->size]);
	/* 2.7.10: vring_need_event(). */
	return !valid || (uint16_t)(new_idx - used_event - 1) < (uint16_t)(new_idx - old);
}

bool virtq_enable_notify(struct virtq *vq)
{
	uint16_t *avail = avail_ring(vq);

	if (!vq->ready || !avail)
		return false;
	return publish_avail_event(vq, avail) != vq->last_avail_idx;
}

size_t virtq_chain_read(const struct virtq_chain *chain, size_t off, void *dst, size_t len)
{
	size_t done = 0;

	for (unsigned int i = 0; i < chain->n_out && done < len; i++) {
		const struct iovec *v = &chain->iov[i];
		size_t n;

		if (off >= v->iov_len) {
			off -= v->iov_len;
			continue;
		}
		n = v->iov_len - off;
		if (n > len - done)
			n = len - done;
		memcpy((uint8_t *)dst + done, (uint8_t *)v->iov_base + off, n);
		done += n;
		off = 0;
	}
	return done;
}

size_t virtq_chain_write(const struct virtq_chain *chain, size_t off, const void *src, size_t len)
{
	size_t done = 0;

	for (unsigned int i = chain->n_out; i < chain->n_out + chain->n_in && done < len; i++) {
		const struct iovec *v = &chain->iov[i];
		size_t n;

		if (off >= v->iov_len) {
			off -= v->iov_len;
			continue;
		}
		n = v->iov_len - off;
		if (n > len - done)
			n = len - done;
		memcpy((uint8_t *)v->iov_base + off, (const uint8_t *)src + done, n);
		done += n;
		off = 0;
	}
	return done;
}
