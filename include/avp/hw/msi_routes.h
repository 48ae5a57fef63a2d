/* KVM's GSI routing table with message-signalled entries (KVM API,
 * KVM_SET_GSI_ROUTING with KVM_IRQ_ROUTING_MSI): each MSI-X vector of a
 * device gets a GSI whose route is the message the guest programmed, and
 * an irqfd on that GSI lets the device thread interrupt without a vCPU.
 *
 * KVM_SET_GSI_ROUTING replaces the whole table, so the architecture
 * hands over the irqchip routes it relies on (the default ones) at
 * creation and every commit sends them again in front of the MSI routes.
 *
 * Where the MSI controller is an ITS (arm64), a message alone does not
 * say who sent it: each route and each injected message then carries the
 * requester's DeviceID (its PCI bus/device/function) with
 * KVM_MSI_VALID_DEVID; the architecture asks for it at creation
 * (msi_routes_need_devid). x86's routes carry none. */
#ifndef AVP_MSI_ROUTES_H
#define AVP_MSI_ROUTES_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stdint.h>

#define MSI_ROUTES_MAX 256

struct msi_routes;

/* base: the nbase irqchip routes kept as they are; MSI GSIs are handed
 * out from first_gsi, at most count (<= MSI_ROUTES_MAX) of them. 0 or
 * -errno. vm_fd may be -1 (no KVM): routes are then only recorded. */
int msi_routes_create(int vm_fd, const struct kvm_irq_routing_entry *base, unsigned int nbase,
		      uint32_t first_gsi, uint32_t count, struct msi_routes **out);
void msi_routes_destroy(struct msi_routes *r);
/* Every route and injection names its requester from now on (before the
 * first route is set). */
void msi_routes_need_devid(struct msi_routes *r);
/* Whether they do (false for r NULL). */
bool msi_routes_devid(const struct msi_routes *r);
/* The next free GSI for one vector (its route stays absent until set).
 * 0, or -ENOSPC when every GSI is taken. */
int msi_routes_alloc(struct msi_routes *r, uint32_t *gsi);
/* Points gsi at the message (addr, data) from requester devid (ignored
 * unless msi_routes_need_devid) and commits the table. 0 or -errno
 * (-EINVAL for a GSI never allocated). Any thread. */
int msi_routes_set(struct msi_routes *r, uint32_t gsi, uint64_t addr, uint32_t data,
		   uint32_t devid);
/* Injects one message at once (KVM_SIGNAL_MSI), where no irqfd is
 * wired; with devid when r needs one (r may be NULL). 0 or -errno
 * (-ENODEV without KVM). */
int msi_signal(int vm_fd, const struct msi_routes *r, uint64_t addr, uint32_t data,
	       uint32_t devid);
/* How many times the table went to KVM (tests). */
unsigned int msi_routes_commits(const struct msi_routes *r);

#endif
