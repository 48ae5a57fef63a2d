/* KVM GSI routing for MSI vectors (avp/hw/msi_routes.h). */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "avp/hw/msi_routes.h"

struct msi_route {
	uint64_t addr;
	uint32_t data;
	uint32_t devid;
	bool set;
};

struct msi_routes {
	int vm_fd;
	pthread_mutex_t lock;
	struct kvm_irq_routing_entry *base;
	unsigned int nbase;
	uint32_t first_gsi;
	uint32_t count;
	uint32_t used;
	bool devid; /* routes and injections name their requester */
	atomic_uint commits;
	struct msi_route routes[MSI_ROUTES_MAX];
};

int msi_routes_create(int vm_fd, const struct kvm_irq_routing_entry *base, unsigned int nbase,
		      uint32_t first_gsi, uint32_t count, struct msi_routes **out)
{
	struct msi_routes *r;

	if (!out || count == 0 || count > MSI_ROUTES_MAX || (nbase && !base) ||
	    first_gsi > UINT32_MAX - count)
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	if (nbase) {
		r->base = calloc(nbase, sizeof(*base));
		if (!r->base) {
			free(r);
			return -ENOMEM;
		}
		memcpy(r->base, base, nbase * sizeof(*base));
	}
	r->vm_fd = vm_fd;
	r->nbase = nbase;
	r->first_gsi = first_gsi;
	r->count = count;
	pthread_mutex_init(&r->lock, NULL);
	*out = r;
	return 0;
}

void msi_routes_need_devid(struct msi_routes *r)
{
	r->devid = true;
}

bool msi_routes_devid(const struct msi_routes *r)
{
	return r && r->devid;
}

void msi_routes_destroy(struct msi_routes *r)
{
	if (!r)
		return;
	pthread_mutex_destroy(&r->lock);
	free(r->base);
	free(r);
}

int msi_routes_alloc(struct msi_routes *r, uint32_t *gsi)
{
	int ret = -ENOSPC;

	pthread_mutex_lock(&r->lock);
	if (r->used < r->count) {
		*gsi = r->first_gsi + r->used++;
		ret = 0;
	}
	pthread_mutex_unlock(&r->lock);
	return ret;
}

/* Caller holds r->lock. */
static int commit(struct msi_routes *r)
{
	struct kvm_irq_routing *t;
	unsigned int n = r->nbase;
	int ret = 0;

	atomic_fetch_add(&r->commits, 1);
	if (r->vm_fd < 0)
		return 0;
	t = calloc(1, sizeof(*t) + (r->nbase + r->used) * sizeof(t->entries[0]));
	if (!t)
		return -ENOMEM;
	if (r->nbase)
		memcpy(t->entries, r->base, r->nbase * sizeof(t->entries[0]));
	for (uint32_t i = 0; i < r->used; i++) {
		if (!r->routes[i].set)
			continue;
		t->entries[n] = (struct kvm_irq_routing_entry){
			.gsi = r->first_gsi + i,
			.type = KVM_IRQ_ROUTING_MSI,
			.u.msi = { .address_lo = (uint32_t)r->routes[i].addr,
				   .address_hi = (uint32_t)(r->routes[i].addr >> 32),
				   .data = r->routes[i].data },
		};
		/* An ITS translates (DeviceID, EventID): KVM takes the
		 * DeviceID from the route only with the flag (api.rst,
		 * KVM_SET_GSI_ROUTING). */
		if (r->devid) {
			t->entries[n].flags = KVM_MSI_VALID_DEVID;
			t->entries[n].u.msi.devid = r->routes[i].devid;
		}
		n++;
	}
	t->nr = n;
	if (ioctl(r->vm_fd, KVM_SET_GSI_ROUTING, t) < 0)
		ret = -errno;
	free(t);
	return ret;
}

int msi_routes_set(struct msi_routes *r, uint32_t gsi, uint64_t addr, uint32_t data,
		   uint32_t devid)
{
	struct msi_route *e;
	int ret = 0;

	pthread_mutex_lock(&r->lock);
	if (gsi < r->first_gsi || gsi - r->first_gsi >= r->used) {
		ret = -EINVAL;
	} else {
		e = &r->routes[gsi - r->first_gsi];
		/* Re-sending an unchanged table costs KVM an SRCU grace
		 * period; skip it. */
		if (!r->devid)
			devid = 0;
		if (!e->set || e->addr != addr || e->data != data || e->devid != devid) {
			*e = (struct msi_route){
				.addr = addr, .data = data, .devid = devid, .set = true
			};
			ret = commit(r);
		}
	}
	pthread_mutex_unlock(&r->lock);
	return ret;
}

unsigned int msi_routes_commits(const struct msi_routes *r)
{
	return atomic_load(&r->commits);
}

int msi_signal(int vm_fd, const struct msi_routes *r, uint64_t addr, uint32_t data,
	       uint32_t devid)
{
	struct kvm_msi msi = { .address_lo = (uint32_t)addr,
			       .address_hi = (uint32_t)(addr >> 32),
			       .data = data };

	/* api.rst, KVM_SIGNAL_MSI: an ITS needs the DeviceID here too. */
	if (msi_routes_devid(r)) {
		msi.flags = KVM_MSI_VALID_DEVID;
		msi.devid = devid;
	}
	if (vm_fd < 0)
		return -ENODEV;
	/* > 0: delivered; 0: the guest blocked it (masked at the APIC). */
	return ioctl(vm_fd, KVM_SIGNAL_MSI, &msi) < 0 ? -errno : 0;
}
