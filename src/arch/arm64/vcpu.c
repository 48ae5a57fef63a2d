/* Per-vCPU arm64 setup (api.rst, KVM_ARM_VCPU_INIT and KVM_SET_ONE_REG):
 * the host's preferred target with PSCI 0.2 (KVM answers the guest's PSCI
 * calls itself and reports SYSTEM_OFF/SYSTEM_RESET as system events);
 * vCPU 0 enters the kernel as booting.rst asks, the others stay powered
 * off until the guest starts them with PSCI CPU_ON. */
#include <errno.h>
#include <linux/kvm.h>
#include <stddef.h>
#include <string.h>
#include <sys/ioctl.h>

#include "arch/arm64/arm64.h"
#include "avp/arch.h"
#include "avp/log.h"
#include "avp/vm.h"

/* PSTATE at entry (booting.rst, "CPU mode"): EL1 with SP_EL1 (EL1h), all
 * of D, A, I and F masked. */
#define PSTATE_EL1H_DAIF_MASKED 0x3c5ull

#define CORE_REG(name) \
	(KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | KVM_REG_ARM_CORE_REG(name))

static int set_reg(struct vcpu *vcpu, uint64_t id, uint64_t val, const char *name)
{
	struct kvm_one_reg r = { .id = id, .addr = (uintptr_t)&val };

	if (ioctl(vcpu->fd, KVM_SET_ONE_REG, &r) < 0) {
		int err = -errno;

		avp_err("vcpu %u: setting %s: %s", vcpu->index, name, strerror(-err));
		return err;
	}
	return 0;
}

static int get_reg(struct vcpu *vcpu, uint64_t id, uint64_t *val)
{
	struct kvm_one_reg r = { .id = id, .addr = (uintptr_t)val };

	return ioctl(vcpu->fd, KVM_GET_ONE_REG, &r) < 0 ? -errno : 0;
}

/* booting.rst, "Call the kernel image": x0 = the device tree's physical
 * address, x1-x3 = 0, MMU and caches off (KVM's reset state), PC = the
 * Image's first byte. */
static int set_boot_regs(struct vcpu *vcpu, const struct arm64_state *st)
{
	int err = set_reg(vcpu, CORE_REG(regs.pstate), PSTATE_EL1H_DAIF_MASKED, "PSTATE");

	if (!err)
		err = set_reg(vcpu, CORE_REG(regs.regs[0]), st->fdt_gpa, "x0");
	for (unsigned int i = 1; i < 4 && !err; i++)
		err = set_reg(vcpu, CORE_REG(regs.regs[i]), 0, "x1-x3");
	if (!err)
		err = set_reg(vcpu, CORE_REG(regs.pc), st->entry_gpa, "PC");
	return err;
}

int arch_vcpu_init(struct vcpu *vcpu)
{
	struct arm64_state *st = vcpu && vcpu->vm ? vcpu->vm->arch : NULL;
	struct kvm_vcpu_init init;
	int err;

	if (!st) {
		avp_err("vcpu %u: arm64 state missing (arch_vm_init not called)",
			vcpu ? vcpu->index : 0);
		return -EINVAL;
	}
	memset(&init, 0, sizeof(init));
	if (ioctl(vcpu->vm->vm_fd, KVM_ARM_PREFERRED_TARGET, &init) < 0) {
		err = -errno;
		avp_err("KVM_ARM_PREFERRED_TARGET: %s", strerror(-err));
		return err;
	}
	init.features[0] |= 1u << KVM_ARM_VCPU_PSCI_0_2;
	if (vcpu->index != 0)
		init.features[0] |= 1u << KVM_ARM_VCPU_POWER_OFF;
	if (ioctl(vcpu->fd, KVM_ARM_VCPU_INIT, &init) < 0) {
		err = -errno;
		avp_err("vcpu %u: KVM_ARM_VCPU_INIT (target %u, PSCI 0.2): %s", vcpu->index,
			init.target, strerror(-err));
		return err;
	}
	if (vcpu->index == 0) {
		if (!st->guest_loaded) {
			avp_err("vcpu 0: no kernel loaded (arch_load_guest must run first)");
			return -EINVAL;
		}
		err = set_boot_regs(vcpu, st);
		if (err)
			return err;
	}
	/* The GIC is initialised once every vCPU exists (arm-vgic-v3.rst). */
	if (vcpu->index + 1 == vcpu->vm->ncpus)
		return arm64_gic_finish(vcpu->vm);
	return 0;
}

void arch_vcpu_dump(struct vcpu *vcpu, FILE *out)
{
	uint64_t v[31], sp = 0, pc = 0, pstate = 0;

	if (!vcpu || !out)
		return;
	fprintf(out, "--- vcpu %u", vcpu->index);
	if (vcpu->run)
		fprintf(out, ", exit reason %u", vcpu->run->exit_reason);
	fprintf(out, " ---\n");
	for (unsigned int i = 0; i < 31; i++) {
		if (get_reg(vcpu, CORE_REG(regs.regs[i]), &v[i])) {
			fprintf(out, "KVM_GET_ONE_REG: %s\n", strerror(errno));
			return;
		}
	}
	get_reg(vcpu, CORE_REG(regs.sp), &sp);
	get_reg(vcpu, CORE_REG(regs.pc), &pc);
	get_reg(vcpu, CORE_REG(regs.pstate), &pstate);
	for (unsigned int i = 0; i < 31; i++)
		fprintf(out, "x%-2u=%016llx%s", i, (unsigned long long)v[i],
			i % 4 == 3 || i == 30 ? "\n" : " ");
	fprintf(out, "sp =%016llx pc =%016llx pstate=%016llx\n", (unsigned long long)sp,
		(unsigned long long)pc, (unsigned long long)pstate);
}
