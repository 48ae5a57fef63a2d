/* Guest CPUID: what KVM supports on this host, with the per-vCPU identity
 * and a topology of one socket with ncpus single-threaded cores. KVM's own
 * leaves at 0x40000000 ("KVMKVMKVM", kvmclock and PV features) are passed
 * through untouched so the guest finds the paravirtual clock. */
#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "arch/x86/x86_state.h"
#include "avp/log.h"
#include "avp/vm.h"

#define CPUID1_ECX_TSC_DEADLINE (1u << 24)
#define CPUID1_ECX_HYPERVISOR (1u << 31)
#define CPUID1_EDX_MTRR (1u << 12)
#define CPUID1_EDX_HTT (1u << 28)

/* Level types of leaves 0xB/0x1F (Intel SDM vol. 2A, CPUID leaf 0BH). */
#define TOPO_LEVEL_SMT 1
#define TOPO_LEVEL_CORE 2

/* Room for the entries x86_cpuid_patch may add beyond KVM's. */
#define CPUID_EXTRA_ENTRIES 8
#define CPUID_MAX_ENTRIES 4096

/* Bits of the APIC ID that number cores: ceil(log2(ncpus)). */
static unsigned int core_id_bits(unsigned int ncpus)
{
	unsigned int bits = 0;

	while ((1u << bits) < ncpus)
		bits++;
	return bits;
}

static bool vendor_is_amd(const struct kvm_cpuid2 *c)
{
	for (uint32_t i = 0; i < c->nent; i++) {
		const struct kvm_cpuid_entry2 *e = &c->entries[i];
		char v[12];

		if (e->function != 0)
			continue;
		/* The vendor string is EBX, EDX, ECX. */
		memcpy(v, &e->ebx, 4);
		memcpy(v + 4, &e->edx, 4);
		memcpy(v + 8, &e->ecx, 4);
		return !memcmp(v, "AuthenticAMD", 12) || !memcmp(v, "HygonGenuine", 12);
	}
	return false;
}

/* Leaves 0xB and 0x1F: SMT level with one thread, core level with ncpus,
 * then the terminating invalid level; EDX is the x2APIC ID on every
 * sub-leaf. */
static void topology_leaf(struct kvm_cpuid_entry2 *out, uint32_t function,
			  uint32_t apic_id, unsigned int ncpus)
{
	for (uint32_t sub = 0; sub < 3; sub++) {
		struct kvm_cpuid_entry2 *e = &out[sub];

		memset(e, 0, sizeof(*e));
		e->function = function;
		e->index = sub;
		e->flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
		e->edx = apic_id;
		e->ecx = sub;
		if (sub == 0) {
			e->eax = 0; /* one thread per core: no SMT bits */
			e->ebx = 1;
			e->ecx |= TOPO_LEVEL_SMT << 8;
		} else if (sub == 1) {
			e->eax = core_id_bits(ncpus);
			e->ebx = ncpus;
			e->ecx |= TOPO_LEVEL_CORE << 8;
		}
	}
}

static void patch_entry(struct kvm_cpuid_entry2 *e, uint32_t apic_id,
			unsigned int ncpus, bool amd)
{
	unsigned int bits = core_id_bits(ncpus);
	uint32_t ids = 1u << bits; /* addressable IDs in the package */

	switch (e->function) {
	case 1:
		/* EBX[31:24] initial APIC ID, EBX[23:16] addressable logical
		 * processor IDs, valid when EDX.HTT is set. */
		e->ebx = (e->ebx & 0xffff) | apic_id << 24 | (ids > 255 ? 255 : ids) << 16;
		if (ncpus > 1)
			e->edx |= CPUID1_EDX_HTT;
		else
			e->edx &= ~CPUID1_EDX_HTT;
		e->ecx |= CPUID1_ECX_HYPERVISOR;
		break;
	case 4:
		/* Deterministic cache parameters; type 0 means no more caches. */
		if ((e->eax & 0x1f) == 0)
			break;
		e->eax &= 0x3fff;
		e->eax |= (ids > 64 ? 63 : ids - 1) << 26;
		/* L1 and L2 per core; L3 shared by the whole socket. */
		if (((e->eax >> 5) & 7) >= 3)
			e->eax |= (ids - 1) << 14;
		break;
	case 0x80000008:
		/* AMD: ECX[7:0] cores - 1, ECX[15:12] APIC ID bits for cores. */
		if (amd)
			e->ecx = (e->ecx & ~0xf0ffu) | bits << 12 | (ncpus - 1);
		break;
	case 0x8000001e:
		/* AMD topology extensions: extended APIC ID, core ID, one
		 * thread per core, node 0 of 1. */
		if (amd) {
			e->eax = apic_id;
			e->ebx = apic_id & 0xff;
			e->ecx = 0;
		}
		break;
	default:
		break;
	}
}

int x86_cpuid_patch(struct kvm_cpuid2 *cpuid, unsigned int capacity,
		    unsigned int index, unsigned int ncpus)
{
	uint32_t apic_id = x86_apic_id(index);
	bool has_b = false, has_1f = false, amd;
	unsigned int n = 0, need;

	if (!cpuid || ncpus == 0 || index >= ncpus || cpuid->nent > capacity)
		return -EINVAL;
	for (uint32_t i = 0; i < cpuid->nent; i++) {
		has_b |= cpuid->entries[i].function == 0xb;
		has_1f |= cpuid->entries[i].function == 0x1f;
	}
	need = cpuid->nent + (has_b ? 3 : 0) + (has_1f ? 3 : 0);
	if (need > capacity)
		return -E2BIG;

	amd = vendor_is_amd(cpuid);
	/* KVM reports the host's topology sub-leaves for 0xB/0x1F; drop them
	 * and append ours, which describe the guest. */
	for (uint32_t i = 0; i < cpuid->nent; i++) {
		struct kvm_cpuid_entry2 e = cpuid->entries[i];

		if (e.function == 0xb || e.function == 0x1f)
			continue;
		patch_entry(&e, apic_id, ncpus, amd);
		cpuid->entries[n++] = e;
	}
	if (has_b) {
		topology_leaf(&cpuid->entries[n], 0xb, apic_id, ncpus);
		n += 3;
	}
	if (has_1f) {
		topology_leaf(&cpuid->entries[n], 0x1f, apic_id, ncpus);
		n += 3;
	}
	cpuid->nent = n;
	return 0;
}

/* Asks KVM for its supported CPUID, growing the table until it fits
 * (api.rst: KVM_GET_SUPPORTED_CPUID fails with E2BIG when nent is too
 * small). The table has CPUID_EXTRA_ENTRIES spare slots. */
static int get_supported_cpuid(int kvm_fd, struct kvm_cpuid2 **out, unsigned int *capacity)
{
	for (unsigned int nent = 128; nent <= CPUID_MAX_ENTRIES; nent *= 2) {
		unsigned int cap = nent + CPUID_EXTRA_ENTRIES;
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + cap * sizeof(c->entries[0]));

		if (!c)
			return -ENOMEM;
		c->nent = nent;
		if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0) {
			*out = c;
			*capacity = cap;
			return 0;
		}
		free(c);
		if (errno != E2BIG) {
			int err = -errno;

			avp_err("KVM_GET_SUPPORTED_CPUID: %s", strerror(-err));
			return err;
		}
	}
	avp_err("KVM_GET_SUPPORTED_CPUID: more than %d entries", CPUID_MAX_ENTRIES);
	return -E2BIG;
}

int x86_cpuid_init(struct vcpu *vcpu, bool *has_mtrr)
{
	struct vm *vm = vcpu->vm;
	struct kvm_cpuid2 *c = NULL;
	unsigned int cap = 0;
	bool tsc_deadline;
	int err;

	err = get_supported_cpuid(vm->kvm_fd, &c, &cap);
	if (err)
		return err;
	err = x86_cpuid_patch(c, cap, vcpu->index, vm->ncpus);
	if (err) {
		avp_err("vcpu %u: patching CPUID failed: %s", vcpu->index, strerror(-err));
		goto out;
	}
	/* The in-kernel LAPIC emulates the TSC-deadline timer even when
	 * KVM_GET_SUPPORTED_CPUID leaves the bit clear (api.rst,
	 * KVM_CAP_TSC_DEADLINE_TIMER); it is Linux's preferred clockevent. */
	tsc_deadline = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_TSC_DEADLINE_TIMER) > 0;
	*has_mtrr = false;
	for (uint32_t i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		if (e->function != 1)
			continue;
		if (tsc_deadline)
			e->ecx |= CPUID1_ECX_TSC_DEADLINE;
		*has_mtrr = (e->edx & CPUID1_EDX_MTRR) != 0;
	}
	if (ioctl(vcpu->fd, KVM_SET_CPUID2, c) < 0) {
		err = -errno;
		avp_err("vcpu %u: KVM_SET_CPUID2: %s", vcpu->index, strerror(-err));
	}
out:
	free(c);
	return err;
}
