/* PCI functions and the ECAM host bridge (PCI Local Bus 3.0, chapter 6
 * "Configuration Space"; PCI Express Base, "Enhanced Configuration Access
 * Mechanism"). Bus 0 only, one function per device, 32-bit memory BARs.
 *
 * A function's configuration header lives in pci_fn.cfg; pci_fn.wmask
 * says which bits the driver may change, which is all BAR sizing needs:
 * writing all ones to a BAR leaves exactly the address bits set. The host
 * dispatches ECAM accesses to the function and accesses to the BAR window
 * to the function whose enabled BAR covers them, wherever the guest moved
 * it. Everything is guest-controlled: every access is bounds- and
 * alignment-checked here, before a function sees it. */
#ifndef AVP_HW_PCI_H
#define AVP_HW_PCI_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define PCI_CFG_SPACE 256	   /* conventional space; ECAM's rest reads 0 */
#define PCI_ECAM_FN_SIZE 0x1000	   /* 4 KiB per function */
#define PCI_ECAM_BUS_SIZE 0x100000 /* 32 devices x 8 functions */
#define PCI_MAX_SLOTS 32
#define PCI_NUM_BARS 6

/* Header offsets (type 0) and bits. */
#define PCI_VENDOR_ID 0x00
#define PCI_DEVICE_ID 0x02
#define PCI_COMMAND 0x04
#define PCI_STATUS 0x06
#define PCI_REVISION_ID 0x08
#define PCI_CLASS_PROG 0x09
#define PCI_HEADER_TYPE 0x0e
#define PCI_BAR0 0x10
#define PCI_SUBSYSTEM_VENDOR_ID 0x2c
#define PCI_SUBSYSTEM_ID 0x2e
#define PCI_CAPABILITY_LIST 0x34
#define PCI_INTERRUPT_LINE 0x3c
#define PCI_INTERRUPT_PIN 0x3d
#define PCI_CAP_START 0x40

#define PCI_COMMAND_MEMORY 0x0002
#define PCI_COMMAND_MASTER 0x0004
#define PCI_COMMAND_INTX_DISABLE 0x0400
#define PCI_STATUS_INTERRUPT 0x0008
#define PCI_STATUS_CAP_LIST 0x0010

#define PCI_CAP_ID_MSIX 0x11
#define PCI_CAP_ID_VNDR 0x09

struct pci_fn;

struct pci_fn_ops {
	/* An access inside BAR bar at offset off (off + len <= the BAR's
	 * size, len 1, 2, 4 or 8). Reads fill data. */
	void (*bar_access)(void *opaque, unsigned int bar, uint64_t off, void *data, uint32_t len,
			   bool is_write);
	/* Configuration bytes [off, off + len) are about to be read (refresh
	 * them) or were just written (act on them), inside the function's
	 * capabilities; optional. Called with the host's lock held. */
	void (*cfg_read)(void *opaque, uint32_t off, uint32_t len);
	void (*cfg_written)(void *opaque, uint32_t off, uint32_t len);
	/* BAR bar now decodes at base (0: not at all: memory decoding off,
	 * or outside the window); optional. */
	void (*bar_moved)(void *opaque, unsigned int bar, uint64_t base);
};

struct pci_fn {
	uint8_t cfg[PCI_CFG_SPACE];
	uint8_t wmask[PCI_CFG_SPACE];
	uint32_t bar_size[PCI_NUM_BARS]; /* 0: not implemented */
	uint64_t bar_live[PCI_NUM_BARS]; /* where it decodes now, 0: nowhere */
	uint8_t next_cap;		 /* where the next capability goes */
	uint8_t *last_cap_next;		 /* the list's tail pointer */
	uint8_t slot;
	const struct pci_fn_ops *ops;
	void *opaque;
};

/* Fills the header: ids, class (24 bits: class, subclass, prog-if),
 * interrupt pin A, capability list empty. */
void pci_fn_init(struct pci_fn *fn, uint16_t vendor, uint16_t device, uint8_t revision,
		 uint32_t class_code, uint16_t subsys_vendor, uint16_t subsys_id,
		 const struct pci_fn_ops *ops, void *opaque);
/* A 32-bit non-prefetchable memory BAR of size bytes (a power of two,
 * at least 16) at base. 0 or -EINVAL. */
int pci_fn_add_bar(struct pci_fn *fn, unsigned int bar, uint64_t base, uint32_t size);
/* Appends a capability of len bytes with id to the list; its offset in
 * *off. The caller fills bytes 2.. and opens them with pci_fn_writable.
 * 0 or -ENOSPC. */
int pci_fn_add_cap(struct pci_fn *fn, uint8_t id, uint8_t len, uint8_t *off);
/* Lets the driver write mask at [off, off + n). */
void pci_fn_writable(struct pci_fn *fn, uint32_t off, const uint8_t *mask, uint32_t n);
/* A configuration access at off (0..4095) as ECAM delivers it: len 1, 2
 * or 4, naturally aligned, or the access is dropped (reads give all
 * ones, as for a malformed request). Caller holds the host lock. */
void pci_fn_cfg_access(struct pci_fn *fn, uint32_t off, void *data, uint32_t len, bool is_write,
		       uint64_t win_base, uint64_t win_size);

static inline uint16_t pci_fn_command(const struct pci_fn *fn)
{
	return (uint16_t)(fn->cfg[PCI_COMMAND] | fn->cfg[PCI_COMMAND + 1] << 8);
}

/* The function's requester ID on bus 0 (bus << 8 | device << 3 |
 * function): what an ITS knows it by (its DeviceID, arm64). */
static inline uint16_t pci_fn_bdf(const struct pci_fn *fn)
{
	return (uint16_t)(fn->slot << 3);
}

struct io_bus;

/* The host bridge: ECAM for bus 0 at ecam_base, and the window BARs are
 * placed in (and decode only inside). */
struct pci_host {
	pthread_mutex_t lock; /* configuration accesses and BAR moves */
	uint64_t ecam_base;
	uint64_t win_base;
	uint64_t win_size;
	uint64_t win_next; /* next free BAR address */
	struct pci_fn *slots[PCI_MAX_SLOTS];
	unsigned int nfns;
};

/* Creates the host and claims its ECAM and BAR windows on bus. 0 or -errno. */
int pci_host_create(struct io_bus *bus, uint64_t ecam_base, uint64_t win_base, uint64_t win_size,
		    struct pci_host **out);
/* Frees the host; the functions must be gone (removed) first. */
void pci_host_destroy(struct pci_host *h);
/* Puts fn at the next free slot (from 1: slot 0 is where a root-complex
 * function would be), with room for bar_bytes of BARs taken from the
 * window in *bar_base. 0, -ENOSPC (no slot or window left). */
int pci_host_reserve(struct pci_host *h, uint32_t bar_bytes, uint8_t *slot, uint64_t *bar_base);
/* Makes fn (already reserved at fn->slot) visible to the guest. */
void pci_host_plug(struct pci_host *h, struct pci_fn *fn);
/* Removes fn; its BARs stop decoding. */
void pci_host_unplug(struct pci_host *h, struct pci_fn *fn);
/* The two bus handlers (exported for the fuzz target and unit tests). */
void pci_host_ecam_access(void *opaque, uint64_t off, void *data, uint32_t len, bool is_write);
void pci_host_window_access(void *opaque, uint64_t off, void *data, uint32_t len, bool is_write);

#endif
