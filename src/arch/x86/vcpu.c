/* Per-vCPU x86 setup: CPUID, MSRs, FPU, LAPIC, and for the bootstrap
 * processor the 64-bit long-mode state the Linux 64-bit boot protocol
 * expects at the kernel entry point (boot.rst, "64-bit Boot Protocol").
 * Application processors keep KVM's reset state: the guest wakes them with
 * INIT/SIPI through the in-kernel LAPIC. */
#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "arch/x86/x86.h"
#include "arch/x86/x86_state.h"
#include "avp/arch.h"
#include "avp/guest_mem.h"
#include "avp/log.h"
#include "avp/vm.h"

/* MSR numbers (Intel SDM vol. 4). */
#define MSR_IA32_TSC 0x10
#define MSR_IA32_SYSENTER_CS 0x174
#define MSR_IA32_SYSENTER_ESP 0x175
#define MSR_IA32_SYSENTER_EIP 0x176
#define MSR_IA32_MISC_ENABLE 0x1a0
#define MSR_MTRR_DEF_TYPE 0x2ff
#define MSR_STAR 0xc0000081
#define MSR_LSTAR 0xc0000082
#define MSR_CSTAR 0xc0000083
#define MSR_SYSCALL_MASK 0xc0000084
#define MSR_KERNEL_GS_BASE 0xc0000102

#define MISC_ENABLE_FAST_STRING 0x1ull
/* IA32_MTRR_DEF_TYPE: E (bit 11) set, default memory type 6 = write-back,
 * so all RAM is cacheable without variable MTRRs. */
#define MTRR_DEF_TYPE_WB_ENABLED 0x806ull

#define CR0_PE (1ull << 0)
#define CR0_ET (1ull << 4)
#define CR0_NE (1ull << 5)
#define CR0_PG (1ull << 31)
#define CR4_PAE (1ull << 5)
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)
#define RFLAGS_RESERVED_1 (1ull << 1)

#define PTE_PRESENT 0x1ull
#define PTE_RW 0x2ull
#define PTE_PS 0x80ull /* 2 MiB page in a PD entry */

/* LAPIC register offsets and LVT fields (Intel SDM vol. 3A, 11.5.1). */
#define APIC_LVT0 0x350
#define APIC_LVT1 0x360
#define APIC_LVT_DELIVERY_MASK (7u << 8)
#define APIC_LVT_MASKED (1u << 16)
#define APIC_DM_NMI (4u << 8)
#define APIC_DM_EXTINT (7u << 8)

#define FPU_FCW_DEFAULT 0x37f /* FNINIT: all exceptions masked */
#define MXCSR_DEFAULT 0x1f80  /* all SSE exceptions masked */

/* Stack for the first instructions of the kernel: the top of the free page
 * between the zero page (0x7000) and the PML4 (0x9000). */
#define BOOT_STACK_GPA 0x8ff0

int x86_write_boot_tables(const struct guest_mem *mem)
{
	/* Entries 0 and 1 stay null: the protocol fixes __BOOT_CS at 0x10. */
	const uint64_t gdt[X86_GDT_ENTRIES] = {
		[X86_BOOT_CS / 8] = X86_GDT_CODE64,
		[X86_BOOT_DS / 8] = X86_GDT_DATA,
	};
	uint64_t *page;
	int err;

	err = gm_write(mem, X86_GDT_GPA, gdt, sizeof(gdt));
	if (err)
		return err;

	page = calloc(512, sizeof(*page));
	if (!page)
		return -ENOMEM;
	page[0] = X86_PDPT_GPA | PTE_PRESENT | PTE_RW;
	err = gm_write(mem, X86_PML4_GPA, page, 4096);
	if (!err) {
		memset(page, 0, 4096);
		for (unsigned int i = 0; i < 4; i++)
			page[i] = (X86_PD_GPA + i * 4096ull) | PTE_PRESENT | PTE_RW;
		err = gm_write(mem, X86_PDPT_GPA, page, 4096);
	}
	/* Four page directories of 512 2 MiB pages: 0-4 GiB identity. */
	for (unsigned int d = 0; d < 4 && !err; d++) {
		for (unsigned int i = 0; i < 512; i++)
			page[i] = ((uint64_t)(d * 512 + i) << 21) | PTE_PRESENT | PTE_RW | PTE_PS;
		err = gm_write(mem, X86_PD_GPA + d * 4096ull, page, 4096);
	}
	free(page);
	return err;
}

/* KVM's view of a GDT descriptor: limit expanded to bytes when G is set. */
static struct kvm_segment segment_from_gdt(uint64_t desc, uint16_t selector)
{
	uint32_t limit = (uint32_t)((desc & 0xffff) | ((desc >> 32) & 0xf0000));
	struct kvm_segment s = {
		.base = ((desc >> 16) & 0xffffff) | ((desc >> 32) & 0xff000000),
		.selector = selector,
		.type = (desc >> 40) & 0xf,
		.s = (desc >> 44) & 1,
		.dpl = (desc >> 45) & 3,
		.present = (desc >> 47) & 1,
		.avl = (desc >> 52) & 1,
		.l = (desc >> 53) & 1,
		.db = (desc >> 54) & 1,
		.g = (desc >> 55) & 1,
	};

	s.limit = s.g ? (limit << 12) | 0xfff : limit;
	return s;
}

static int vcpu_ioctl(struct vcpu *vcpu, unsigned long req, void *arg, const char *what)
{
	if (ioctl(vcpu->fd, req, arg) < 0) {
		int err = -errno;

		avp_err("vcpu %u: %s: %s", vcpu->index, what, strerror(-err));
		return err;
	}
	return 0;
}

static int set_msrs(struct vcpu *vcpu, bool has_mtrr)
{
	static const struct {
		uint32_t index;
		uint64_t data;
	} boot_msrs[] = {
		{ MSR_IA32_SYSENTER_CS, 0 },	{ MSR_IA32_SYSENTER_ESP, 0 },
		{ MSR_IA32_SYSENTER_EIP, 0 },	{ MSR_STAR, 0 },
		{ MSR_LSTAR, 0 },		{ MSR_CSTAR, 0 },
		{ MSR_SYSCALL_MASK, 0 },	{ MSR_KERNEL_GS_BASE, 0 },
		{ MSR_IA32_TSC, 0 },
		{ MSR_IA32_MISC_ENABLE, MISC_ENABLE_FAST_STRING },
		{ MSR_MTRR_DEF_TYPE, MTRR_DEF_TYPE_WB_ENABLED },
	};
	const unsigned int max = sizeof(boot_msrs) / sizeof(boot_msrs[0]);
	struct kvm_msrs *msrs;
	unsigned int n = 0;
	int ret, err = 0;

	msrs = calloc(1, sizeof(*msrs) + max * sizeof(msrs->entries[0]));
	if (!msrs)
		return -ENOMEM;
	for (unsigned int i = 0; i < max; i++) {
		if (boot_msrs[i].index == MSR_MTRR_DEF_TYPE && !has_mtrr)
			continue;
		msrs->entries[n].index = boot_msrs[i].index;
		msrs->entries[n].data = boot_msrs[i].data;
		n++;
	}
	msrs->nmsrs = n;
	/* KVM_SET_MSRS returns how many MSRs it set, stopping at the first
	 * one it refuses (api.rst). */
	ret = ioctl(vcpu->fd, KVM_SET_MSRS, msrs);
	if (ret < 0) {
		err = -errno;
		avp_err("vcpu %u: KVM_SET_MSRS: %s", vcpu->index, strerror(-err));
	} else if ((unsigned int)ret < n) {
		avp_err("vcpu %u: KVM_SET_MSRS: KVM refused MSR 0x%x", vcpu->index,
			msrs->entries[ret].index);
		err = -EINVAL;
	}
	free(msrs);
	return err;
}

static int set_fpu(struct vcpu *vcpu)
{
	struct kvm_fpu fpu;

	memset(&fpu, 0, sizeof(fpu));
	fpu.fcw = FPU_FCW_DEFAULT;
	fpu.mxcsr = MXCSR_DEFAULT;
	return vcpu_ioctl(vcpu, KVM_SET_FPU, &fpu, "KVM_SET_FPU");
}

static uint32_t lapic_reg(const struct kvm_lapic_state *l, unsigned int off)
{
	uint32_t v;

	memcpy(&v, &l->regs[off], sizeof(v));
	return v;
}

static void lapic_set_reg(struct kvm_lapic_state *l, unsigned int off, uint32_t v)
{
	memcpy(&l->regs[off], &v, sizeof(v));
}

/* Virtual-wire mode (MP spec 1.4, 3.6.2.2): the BSP's LINT0 takes the
 * 8259's ExtINT and LINT1 takes NMI, so the PIC and NMIs work before the
 * guest programs its I/O APIC. Linux leaves LINT1 masked on the APs too. */
static int set_lapic(struct vcpu *vcpu)
{
	struct kvm_lapic_state lapic;
	uint32_t lvt0, lvt1;
	int err;

	err = vcpu_ioctl(vcpu, KVM_GET_LAPIC, &lapic, "KVM_GET_LAPIC");
	if (err)
		return err;
	lvt0 = lapic_reg(&lapic, APIC_LVT0);
	lvt1 = lapic_reg(&lapic, APIC_LVT1);
	lvt0 = (lvt0 & ~(APIC_LVT_DELIVERY_MASK | APIC_LVT_MASKED)) | APIC_DM_EXTINT;
	lvt1 = (lvt1 & ~(APIC_LVT_DELIVERY_MASK | APIC_LVT_MASKED)) | APIC_DM_NMI;
	lapic_set_reg(&lapic, APIC_LVT0, lvt0);
	lapic_set_reg(&lapic, APIC_LVT1, lvt1);
	return vcpu_ioctl(vcpu, KVM_SET_LAPIC, &lapic, "KVM_SET_LAPIC");
}

/* boot.rst "64-bit Boot Protocol": 64-bit mode, paging on with the loaded
 * range, zero page and command line identity-mapped, CS = __BOOT_CS and
 * DS/ES/SS = __BOOT_DS (4 GiB flat), interrupts off, RSI = zero page. */
static int set_long_mode(struct vcpu *vcpu, uint64_t entry)
{
	struct kvm_segment code = segment_from_gdt(X86_GDT_CODE64, X86_BOOT_CS);
	struct kvm_segment data = segment_from_gdt(X86_GDT_DATA, X86_BOOT_DS);
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	int err;

	err = x86_write_boot_tables(&vcpu->vm->mem);
	if (err) {
		avp_err("vcpu %u: GDT/page tables do not fit in guest RAM", vcpu->index);
		return err;
	}
	err = vcpu_ioctl(vcpu, KVM_GET_SREGS, &sregs, "KVM_GET_SREGS");
	if (err)
		return err;
	sregs.cs = code;
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
	sregs.gdt.base = X86_GDT_GPA;
	sregs.gdt.limit = X86_GDT_ENTRIES * 8 - 1;
	/* No IDT: the kernel loads its own before it enables interrupts. */
	sregs.idt.base = 0;
	sregs.idt.limit = 0;
	sregs.cr0 = CR0_PE | CR0_ET | CR0_NE | CR0_PG;
	sregs.cr3 = X86_PML4_GPA;
	sregs.cr4 = CR4_PAE;
	sregs.efer = EFER_LME | EFER_LMA;
	err = vcpu_ioctl(vcpu, KVM_SET_SREGS, &sregs, "KVM_SET_SREGS");
	if (err)
		return err;

	memset(&regs, 0, sizeof(regs));
	regs.rip = entry;
	regs.rsi = X86_BOOT_PARAMS_GPA;
	regs.rsp = BOOT_STACK_GPA;
	regs.rbp = BOOT_STACK_GPA;
	regs.rflags = RFLAGS_RESERVED_1; /* IF clear */
	return vcpu_ioctl(vcpu, KVM_SET_REGS, &regs, "KVM_SET_REGS");
}

int arch_vcpu_init(struct vcpu *vcpu)
{
	struct x86_state *st = x86_state_of(vcpu);
	bool has_mtrr = false;
	int err;

	if (!st) {
		avp_err("vcpu %u: x86 state missing (arch_vm_init not called)",
			vcpu ? vcpu->index : 0);
		return -EINVAL;
	}
	err = x86_cpuid_init(vcpu, &has_mtrr);
	if (!err)
		err = set_msrs(vcpu, has_mtrr);
	if (!err)
		err = set_fpu(vcpu);
	if (err || vcpu->index != 0)
		return err;

	err = set_lapic(vcpu);
	if (err)
		return err;
	if (!st->guest_loaded) {
		avp_err("vcpu 0: no kernel loaded (arch_load_guest must run first)");
		return -EINVAL;
	}
	return set_long_mode(vcpu, st->entry_gpa);
}

static const char *exit_reason_name(uint32_t reason)
{
	switch (reason) {
	case KVM_EXIT_UNKNOWN: return "UNKNOWN";
	case KVM_EXIT_EXCEPTION: return "EXCEPTION";
	case KVM_EXIT_IO: return "IO";
	case KVM_EXIT_HLT: return "HLT";
	case KVM_EXIT_MMIO: return "MMIO";
	case KVM_EXIT_SHUTDOWN: return "SHUTDOWN (triple fault)";
	case KVM_EXIT_FAIL_ENTRY: return "FAIL_ENTRY";
	case KVM_EXIT_INTR: return "INTR";
	case KVM_EXIT_INTERNAL_ERROR: return "INTERNAL_ERROR";
	case KVM_EXIT_SYSTEM_EVENT: return "SYSTEM_EVENT";
	default: return "other";
	}
}

static void dump_segment(FILE *out, const char *name, const struct kvm_segment *s)
{
	fprintf(out, "%-3s sel=%04x base=%016llx limit=%08x type=%x%s%s%s%s\n", name,
		s->selector, (unsigned long long)s->base, s->limit, s->type,
		s->present ? " P" : "", s->l ? " L" : "", s->db ? " DB" : "",
		s->unusable ? " unusable" : "");
}

void arch_vcpu_dump(struct vcpu *vcpu, FILE *out)
{
	struct kvm_regs r;
	struct kvm_sregs s;

	if (!vcpu || !out)
		return;
	fprintf(out, "--- vcpu %u", vcpu->index);
	if (vcpu->run)
		fprintf(out, ", exit reason %u (%s)", vcpu->run->exit_reason,
			exit_reason_name(vcpu->run->exit_reason));
	fprintf(out, " ---\n");
	if (ioctl(vcpu->fd, KVM_GET_REGS, &r) < 0) {
		fprintf(out, "KVM_GET_REGS: %s\n", strerror(errno));
		return;
	}
	fprintf(out, "rax=%016llx rbx=%016llx rcx=%016llx rdx=%016llx\n",
		r.rax, r.rbx, r.rcx, r.rdx);
	fprintf(out, "rsi=%016llx rdi=%016llx rbp=%016llx rsp=%016llx\n",
		r.rsi, r.rdi, r.rbp, r.rsp);
	fprintf(out, "r8 =%016llx r9 =%016llx r10=%016llx r11=%016llx\n",
		r.r8, r.r9, r.r10, r.r11);
	fprintf(out, "r12=%016llx r13=%016llx r14=%016llx r15=%016llx\n",
		r.r12, r.r13, r.r14, r.r15);
	fprintf(out, "rip=%016llx rflags=%016llx\n", r.rip, r.rflags);
	if (ioctl(vcpu->fd, KVM_GET_SREGS, &s) < 0) {
		fprintf(out, "KVM_GET_SREGS: %s\n", strerror(errno));
		return;
	}
	fprintf(out, "cr0=%016llx cr2=%016llx cr3=%016llx cr4=%016llx\n",
		s.cr0, s.cr2, s.cr3, s.cr4);
	fprintf(out, "efer=%016llx apic_base=%016llx cr8=%llx\n", s.efer, s.apic_base, s.cr8);
	dump_segment(out, "cs", &s.cs);
	dump_segment(out, "ds", &s.ds);
	dump_segment(out, "es", &s.es);
	dump_segment(out, "fs", &s.fs);
	dump_segment(out, "gs", &s.gs);
	dump_segment(out, "ss", &s.ss);
	dump_segment(out, "tr", &s.tr);
	fprintf(out, "gdt=%016llx/%04x idt=%016llx/%04x\n", s.gdt.base, s.gdt.limit,
		s.idt.base, s.idt.limit);
}
