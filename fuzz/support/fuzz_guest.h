/* Shared by the libFuzzer targets under fuzz/: a reader over the fuzzer's
 * bytes, and a hostile pretend driver that lets the input lay out
 * descriptor tables, avail rings and buffers in a small heap "guest RAM"
 * and then kick a device model, with no KVM and no threads, so that every
 * run is deterministic and a crash input replays exactly.
 *
 * The device fuzzers share one input grammar (fg_step): a feature byte, a
 * queue-size byte, then operations until the input runs out. Operations
 * the common grammar does not know are handed to the target's own hook
 * (inject a frame, console input...). */
#ifndef AVP_FUZZ_GUEST_H
#define AVP_FUZZ_GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "avp/guest_mem.h"
#include "avp/log.h"
#include "avp/virtio/virtio_dev.h"

/* Trap with a message when an invariant breaks: libFuzzer reports the
 * trap as a crash and keeps the input. */
#define FUZZ_CHECK(cond)                                                         \
	do {                                                                     \
		if (!(cond))                                                     \
			fuzz_fail(__FILE__, __LINE__, #cond);                    \
	} while (0)
void fuzz_fail(const char *file, int line, const char *what) __attribute__((noreturn));

/* Defines the target's LLVMFuzzerInitialize: only errors are logged, so
 * that the refusals a hostile input provokes do not flood the run. */
#define FUZZ_LOG_ERRORS_ONLY()                                   \
	int LLVMFuzzerInitialize(int *argc, char ***argv);       \
	int LLVMFuzzerInitialize(int *argc, char ***argv)        \
	{                                                        \
		(void)argc;                                      \
		(void)argv;                                      \
		avp_log_set_level(AVP_LOG_ERROR);                \
		return 0;                                        \
	}

/* ---- the input ---- */

struct fz {
	const uint8_t *p;
	size_t n;
};

/* Each getter returns 0 once the input is exhausted, so a short input
 * simply ends the run. */
bool fz_empty(const struct fz *z);
uint8_t fz_u8(struct fz *z);
uint16_t fz_u16(struct fz *z);
uint32_t fz_u32(struct fz *z);
uint64_t fz_u64(struct fz *z);
/* Up to max bytes (fewer when the input ends), returns how many. */
size_t fz_bytes(struct fz *z, void *dst, size_t max);
/* The rest of the input as the head of a kernel file the loader read
 * (fuzz_bzimage, fuzz_arm64_image), in a buffer of exactly *len bytes so
 * that ASan sees any read past them. *file_size is the size the file is
 * said to have: extra bytes more, or with mode bit 1 that many fewer (at
 * least 0). NULL when out of memory; free() it. */
uint8_t *fz_file_head(struct fz *z, uint8_t mode, uint64_t extra, size_t *len,
		      uint64_t *file_size);

/* A directory for the process's scratch files (sockets, WAV files,
 * bundles): $TMPDIR/avp-fuzz-NAME.XXXXXX, or under /dev/shm (else /tmp)
 * when $TMPDIR is unset or too long for socket paths in it. Exits on
 * failure: a target
 * cannot run without it. */
void fuzz_tmpdir(char *dir, size_t len, const char *name);

/* ---- the pretend guest ---- */

/* Two RAM regions: a main one holding the rings and buffers, and a small
 * one right after a hole, so that buffers crossing a region end or
 * pointing into the hole are tried too. */
#define FG_RAM_GPA 0x100000ull
#define FG_RAM_SIZE (64u * 1024)
#define FG_RAM2_GPA (FG_RAM_GPA + FG_RAM_SIZE + 0x1000)
#define FG_RAM2_SIZE 4096u
/* Each queue's rings sit in a fixed 8 KiB slot at the start of RAM: the
 * descriptor table, then the avail ring, then the used ring, sized for
 * the largest queue. The data area (fg_alloc) follows the slots of the
 * device's queues, at least two of them: devices of one or two queues
 * keep the layout the seeds were written for (data from 0x4000). */
#define FG_QSLOT 0x2000u
#define FG_MAX_QUEUES 5 /* virtio-net: two queue pairs and the control queue */
#define FG_DATA_OFF(nqueues) (((nqueues) > 2 ? (nqueues) : 2u) * FG_QSLOT)
/* Watched fds: a device watches a handful (FG_DEFAULT_WATCH, more is a
 * leak) unless the target raises max_watch, as vsock does (one per
 * stream). */
#define FG_DEFAULT_WATCH 8
#define FG_MAX_WATCH 300

struct fuzz_guest {
	struct guest_mem mem;
	uint8_t *ram;
	uint8_t *ram2;
	struct virtio_dev *dev;
	uint16_t qsize;
	uint16_t nqueues;
	uint16_t avail_idx[FG_MAX_QUEUES];
	uint16_t next_desc[FG_MAX_QUEUES];
	uint16_t used_seen[FG_MAX_QUEUES];
	unsigned int irqs;
	/* fds the device asked to be woken on (dev_watch) and for what
	 * (EPOLLIN/EPOLLOUT), as a transport keeps them */
	int watch_fd[FG_MAX_WATCH];
	uint32_t watch_events[FG_MAX_WATCH];
	unsigned int nwatch;
	unsigned int max_watch; /* 0: FG_DEFAULT_WATCH; set after fg_init */
	uint32_t data_off;	/* FG_DATA_OFF(nqueues) */
	uint32_t data_next;	/* bump allocator over the data area (fg_alloc) */
};

/* One buffer of a chain to post. */
struct fg_seg {
	uint64_t gpa;
	uint32_t len;
	bool writable;
};
#define FG_MAX_SEGS 8

/* Allocates RAM. 0 or -ENOMEM. */
int fg_init(struct fuzz_guest *g);
void fg_fini(struct fuzz_guest *g);
uint64_t fg_gpa(uint32_t off);	     /* main-RAM offset to gpa */
void *fg_hva(struct fuzz_guest *g, uint64_t gpa, uint64_t len); /* NULL outside */

/* Binds dev to the guest the way a transport does, negotiates features
 * (offered & wanted | VERSION_1), sets up nqueues queues of `qsize`
 * entries (1..256) and sets DRIVER_OK, calling ops->activate. */
int fg_attach(struct fuzz_guest *g, struct virtio_dev *dev, uint64_t wanted, uint16_t qsize);

/* Main-RAM offset of len fresh bytes in the data area (after the rings);
 * wraps to its start when full, as a driver reusing buffers would. */
uint32_t fg_alloc(struct fuzz_guest *g, uint32_t len);

/* Posts a chain of n (<= FG_MAX_SEGS) buffers on queue q, direct or
 * through an indirect table at main-RAM offset table_off, and publishes
 * it. Returns the head. */
uint16_t fg_post(struct fuzz_guest *g, uint16_t q, const struct fg_seg *segs, unsigned int n,
		 bool indirect, uint32_t table_off);

/* queue_notify as the transport's device thread calls it: only for a live
 * device and a ready queue, under dev->lock. */
void fg_kick(struct fuzz_guest *g, uint16_t q);

/* A config-space access at offset off as the mmio transport makes it
 * (bounds-checked against dev->config_len; a read outside reads zeros, a
 * write outside is dropped; a write inside goes to ops->config_write),
 * under dev->lock. len is 1 to 8. */
void fg_config(struct fuzz_guest *g, uint32_t off, void *data, uint32_t len, bool is_write);

/* Operation codes of the common grammar, taken modulo FG_OP_COUNT. */
enum fg_op {
	FG_OP_RAM,	 /* u16 off, u8 len, bytes: driver writes RAM */
	FG_OP_DESC,	 /* u8 q, u8 slot, desc: one descriptor table entry */
	FG_OP_DESC_AT,	 /* u16 off, desc: a descriptor anywhere (indirect) */
	FG_OP_PUBLISH,	 /* u8 q, u16 head: avail entry + idx++ */
	FG_OP_AVAIL_IDX, /* u8 q, u16 idx: raw avail->idx (jumps) */
	FG_OP_SUPPRESS,	 /* u8 q, u16 flags, u16 used_event */
	FG_OP_KICK,	 /* u8 q: queue_notify */
	FG_OP_POLL,	 /* fd_ready for every watched fd that is readable */
	FG_OP_CHAIN,	 /* u8 q, u8 flags/n, n x (u16 off, u16 len): a
			  * well-formed chain, direct or indirect */
	FG_OP_RESET,	 /* device reset and re-initialisation */
	FG_OP_DEVICE,	 /* handed to the target's hook */
	FG_OP_CONFIG,	 /* u16 off, u8 len/dir, u64: a config-space access */
	FG_OP_WAKE,	 /* u8 i: fd_ready for watched fd i whether it is ready
			  * or not (epoll's spurious and stale wakeups) */
	FG_OP_COUNT,
};

typedef void (*fg_device_op)(struct fuzz_guest *g, struct fz *z, void *opaque);

/* Runs one operation from the input. */
void fg_step(struct fuzz_guest *g, struct fz *z, fg_device_op hook, void *opaque);

/* Checks what every device must keep true whatever the driver did: it
 * never returns more chains than it took, nor holds more than the queue
 * holds, and every used element names a valid head. */
void fg_check(struct fuzz_guest *g);

/* ops->reset, as the transport does when the driver writes status 0 (the
 * caller re-attaches if it wants a working device again). */
void fg_reset(struct fuzz_guest *g);

/* Runs a whole input through a freshly attached dev: the first byte picks
 * features (bit i of it enables wanted_bits[i]), the second the queue
 * size, the rest are operations. */
void fg_run(struct fuzz_guest *g, struct virtio_dev *dev, struct fz *z,
	    const uint64_t *wanted_bits, unsigned int nwanted, fg_device_op hook, void *opaque);
/* The same with `extra` (feature bits, as far as offered) wanted as well,
 * for devices with more features worth trying than the first byte has
 * bits: the target picks them from its input first. */
void fg_run_extra(struct fuzz_guest *g, struct virtio_dev *dev, struct fz *z,
		  const uint64_t *wanted_bits, unsigned int nwanted, uint64_t extra, fg_device_op hook,
		  void *opaque);

#endif
