/* libFuzzer target: the split virtqueue on its own (src/virtio/virtqueue.c).
 *
 * The input configures one queue over a small two-region guest RAM and
 * then lays out descriptor tables, indirect tables and the avail ring
 * byte by byte, popping and pushing chains in between, so that the driver
 * may rewrite anything at any time, as a hostile guest can. Beyond the
 * sanitizers, every popped chain is checked: its segments are wholly inside
 * guest RAM, its byte counts add up, and it is never longer than
 * VIRTQ_MAX_CHAIN.
 *
 * Input: u8 size (1 << (b % 9)), u8 flags (bit 0 EVENT_IDX, bit 1
 * INDIRECT_DESC, bit 2 raw 64-bit ring addresses), the three ring
 * addresses (u16 RAM offsets, or u64 with bit 2), then operations. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "avp/virtio/virtqueue.h"
#include "fuzz_guest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RAM_GPA 0x1000ull
#define RAM_SIZE 0x4000u
#define RAM2_GPA 0x6000ull /* a hole of 0x1000 before it */
#define RAM2_SIZE 0x1000u
#define MAX_INFLIGHT 256

struct ctx {
	struct guest_mem mem;
	uint8_t *ram;
	uint8_t *ram2;
	struct virtq vq;
	struct virtq_chain chain;
	bool have_chain; /* chain holds the last successful pop */
	uint16_t inflight[MAX_INFLIGHT];
	unsigned int ninflight;
	uint8_t scratch[1u << 16];
};

static bool inside(const uint8_t *base, size_t size, const void *p, size_t len)
{
	const uint8_t *b = p;

	return b >= base && len <= size && (size_t)(b - base) <= size - len;
}

static void check_chain(struct ctx *c, int ret)
{
	const struct virtq_chain *ch = &c->chain;
	size_t out = 0, in = 0;

	/* Empty queue, or an unusable ring (-EIO, the device resets): the
	 * chain is not touched and callers must not look at it. */
	if (ret == 0 || ret == -EIO)
		return;
	if (ret < 0) {
		/* A refused chain carries no buffers the device could use. */
		FUZZ_CHECK(ch->n_out == 0 && ch->n_in == 0);
		FUZZ_CHECK(ch->out_bytes == 0 && ch->in_bytes == 0);
		return;
	}
	FUZZ_CHECK(ch->head < c->vq.size);
	FUZZ_CHECK(ch->n_out + ch->n_in <= VIRTQ_MAX_CHAIN);
	for (unsigned int i = 0; i < ch->n_out + ch->n_in; i++) {
		const struct iovec *v = &ch->iov[i];

		FUZZ_CHECK(v->iov_len > 0);
		FUZZ_CHECK(inside(c->ram, RAM_SIZE, v->iov_base, v->iov_len) ||
			   inside(c->ram2, RAM2_SIZE, v->iov_base, v->iov_len));
		if (i < ch->n_out)
			out += v->iov_len;
		else
			in += v->iov_len;
	}
	FUZZ_CHECK(out == ch->out_bytes);
	FUZZ_CHECK(in == ch->in_bytes);
}

static uint64_t ring_addr(struct fz *z, bool raw)
{
	return raw ? fz_u64(z) : RAM_GPA + fz_u16(z) % RAM_SIZE;
}

static void do_pop(struct ctx *c)
{
	int ret = virtq_pop(&c->vq, &c->chain);

	FUZZ_CHECK(ret == 1 || ret == 0 || ret == -EINVAL || ret == -EIO);
	check_chain(c, ret);
	c->have_chain = ret == 1;
	if (ret == 1 && c->ninflight < MAX_INFLIGHT)
		c->inflight[c->ninflight++] = c->chain.head;
	if (ret == -EINVAL)
		/* The head is consumed and, when valid, named for completion. */
		FUZZ_CHECK(c->chain.head < c->vq.size || c->chain.head == UINT16_MAX);
}

/* Copies through the last chain at an input-chosen offset: the copy is
 * short exactly when the chain is. */
static void do_copy(struct ctx *c, struct fz *z)
{
	size_t off = fz_u16(z);
	size_t len = fz_u16(z);
	size_t got, want;

	if (!c->have_chain)
		return;
	want = off < c->chain.out_bytes ? c->chain.out_bytes - off : 0;
	want = want < len ? want : len;
	got = virtq_chain_read(&c->chain, off, c->scratch, len);
	FUZZ_CHECK(got == want);
	want = off < c->chain.in_bytes ? c->chain.in_bytes - off : 0;
	want = want < len ? want : len;
	memset(c->scratch, 0xa5, len);
	got = virtq_chain_write(&c->chain, off, c->scratch, len);
	FUZZ_CHECK(got == want);
}

static void do_push(struct ctx *c, struct fz *z)
{
	uint8_t sel = fz_u8(z);
	uint32_t written = fz_u32(z);
	uint16_t head;
	int ret;

	if (sel & 0x80 || c->ninflight == 0) {
		/* Any head at all: out-of-range ones must be refused. */
		head = fz_u16(z);
		ret = virtq_push(&c->vq, head, written);
		if (head >= c->vq.size)
			FUZZ_CHECK(ret == -EIO);
		return;
	}
	sel %= c->ninflight;
	head = c->inflight[sel];
	c->inflight[sel] = c->inflight[--c->ninflight];
	virtq_push(&c->vq, head, written);
}

static void do_push_many(struct ctx *c, struct fz *z)
{
	uint16_t heads[MAX_INFLIGHT];
	uint32_t written[MAX_INFLIGHT];
	unsigned int n = fz_u8(z);

	if (n > c->ninflight)
		n = c->ninflight;
	for (unsigned int i = 0; i < n; i++) {
		heads[i] = c->inflight[--c->ninflight];
		written[i] = fz_u16(z);
	}
	virtq_push_many(&c->vq, heads, written, n);
}

static void run(struct ctx *c, struct fz *z)
{
	uint16_t size = (uint16_t)(1u << (fz_u8(z) % 9));
	uint8_t flags = fz_u8(z);
	bool raw = flags & 4;

	virtq_reset(&c->vq, &c->mem);
	c->vq.size = size;
	c->vq.event_idx = flags & 1;
	c->vq.indirect = flags & 2;
	c->vq.desc_gpa = ring_addr(z, raw);
	c->vq.avail_gpa = ring_addr(z, raw);
	c->vq.used_gpa = ring_addr(z, raw);
	/* As the transport: a queue whose rings fail validation never
	 * becomes ready. */
	if (virtq_validate(&c->vq))
		return;
	c->vq.ready = true;

	for (unsigned int i = 0; i < 4096 && !fz_empty(z); i++) {
		switch (fz_u8(z) % 9) {
		case 0: { /* driver writes RAM (either region) */
			uint16_t off = fz_u16(z);
			size_t len = fz_u8(z);
			uint8_t *base = off & 0x8000 ? c->ram2 : c->ram;
			size_t rsize = off & 0x8000 ? RAM2_SIZE : RAM_SIZE;

			off = (uint16_t)((off & 0x7fff) % rsize);
			if (len > rsize - off)
				len = rsize - off;
			fz_bytes(z, base + off, len);
			break;
		}
		case 1:
			do_pop(c);
			break;
		case 2:
			do_push(c, z);
			break;
		case 3:
			do_push_many(c, z);
			break;
		case 4:
			virtq_should_notify(&c->vq);
			break;
		case 5:
			virtq_enable_notify(&c->vq);
			break;
		case 6: { /* avail->idx set directly: jumps, wraps */
			uint16_t *avail = gm_ptr(&c->mem, c->vq.avail_gpa, 4);

			if (avail)
				avail[1] = fz_u16(z);
			break;
		}
		case 7:
			do_copy(c, z);
			break;
		case 8: /* the driver turns the queue off, as QueueReady=0 */
			c->vq.ready = false;
			c->have_chain = false;
			FUZZ_CHECK(virtq_pop(&c->vq, &c->chain) == 0);
			c->vq.ready = true;
			break;
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctx *c = calloc(1, sizeof(*c));
	struct fz z = { data, size };

	if (!c)
		return 0;
	/* Exactly sized heap buffers, so ASan sees any byte past them. */
	c->ram = calloc(1, RAM_SIZE);
	c->ram2 = calloc(1, RAM2_SIZE);
	if (c->ram && c->ram2 && !gm_add_region(&c->mem, RAM_GPA, RAM_SIZE, c->ram) &&
	    !gm_add_region(&c->mem, RAM2_GPA, RAM2_SIZE, c->ram2))
		run(c, &z);
	free(c->ram);
	free(c->ram2);
	free(c);
	return 0;
}
