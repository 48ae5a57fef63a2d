/* MSI-X for a PCI function (PCI Local Bus 3.0, section 6.8.2): the
 * capability's Message Control word, the vector table and the Pending
 * Bit Array, with function and per-vector masking.
 *
 * A vector that fires while masked sets its pending bit and is delivered
 * when it is unmasked (6.8.2.9). Delivery goes through ops->deliver with
 * the message the guest programmed; the table lock is held, so deliver
 * must not call back into msix. */
#ifndef AVP_HW_MSIX_H
#define AVP_HW_MSIX_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define MSIX_MAX_VECTORS 64
#define MSIX_ENTRY_SIZE 16
#define MSIX_CAP_LEN 12
#define MSIX_CTRL_ENABLE 0x8000
#define MSIX_CTRL_FMASK 0x4000
#define MSIX_VEC_MASKED 1u

struct msix_ops {
	/* Sends vector's message; 0 or -errno. */
	int (*deliver)(void *opaque, uint16_t vector, uint64_t addr, uint32_t data);
	/* vector is unmasked with this message: prepare its route, so that
	 * deliver (on a device thread) need not. Called after every table
	 * or control write for every unmasked vector; optional. */
	void (*route)(void *opaque, uint16_t vector, uint64_t addr, uint32_t data);
};

struct msix_entry {
	uint32_t addr_lo;
	uint32_t addr_hi;
	uint32_t data;
	uint32_t ctrl;
};

struct msix {
	pthread_mutex_t lock;
	uint16_t nvec;
	bool enabled;
	bool fmask;
	struct msix_entry table[MSIX_MAX_VECTORS];
	uint64_t pba;
	uint32_t delivered[MSIX_MAX_VECTORS]; /* per vector, for tests and stats */
	const struct msix_ops *ops;
	void *opaque;
};

/* nvec 1..MSIX_MAX_VECTORS; every vector starts masked. 0 or -EINVAL. */
int msix_init(struct msix *m, uint16_t nvec, const struct msix_ops *ops, void *opaque);
void msix_fini(struct msix *m);
/* Function reset: disabled, every vector masked, nothing pending. */
void msix_reset(struct msix *m);
/* Fills the capability body at cap (MSIX_CAP_LEN bytes, from the ID):
 * table and PBA in BAR bir at the given offsets. */
void msix_fill_cap(const struct msix *m, uint8_t *cap, uint8_t bir, uint32_t table_off,
		   uint32_t pba_off);
/* The driver wrote Message Control (the cap's bytes 2-3): takes the
 * enable and function-mask bits; unmasking delivers what is pending. */
void msix_write_ctrl(struct msix *m, uint16_t ctrl);
/* Accesses to the table ([0, nvec * 16)) and to the PBA: DWORD or QWORD,
 * naturally aligned (6.8.2: other accesses are undefined; here reads give
 * 0 and writes are dropped). */
void msix_table_access(struct msix *m, uint64_t off, void *data, uint32_t len, bool is_write);
void msix_pba_access(struct msix *m, uint64_t off, void *data, uint32_t len, bool is_write);
/* Signals vector: delivers it, or marks it pending when masked. false
 * when MSI-X is disabled (the caller falls back to INTx) ; true otherwise,
 * including for a vector out of range, which is dropped. */
bool msix_notify(struct msix *m, uint16_t vector);
bool msix_enabled(struct msix *m);

#endif
