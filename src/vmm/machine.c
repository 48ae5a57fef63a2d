/* From config to a running guest and back. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <poll.h>
#include <unistd.h>

#include "avp/api.h"
#include "avp/arch.h"
#include "avp/hw/watchdog.h"
#include "avp/jail.h"
#include "avp/log.h"
#include "avp/virtio/mmio.h"
#include "avp/virtio/pci.h"
#include "avp/virtio/transport.h"
#include "avp/virtio/virtio_dev.h"
#include "avp/vmm/machine.h"
#include "avp/vmm/registry.h"
#include "avp/vmm/supervisor.h"

/* The transport reports why an attach failed (naming the cap it hit). */
static int attach_or_destroy(struct vm *vm, struct virtio_dev *dev)
{
	const struct virtio_transport_ops *t = vm->cfg->transport == AVP_TRANSPORT_PCI
						       ? &virtio_pci_transport
						       : &virtio_mmio_transport;
	int ret = virtio_transport_attach(t, vm, dev);

	if (ret)
		dev->ops->destroy(dev);
	return ret;
}

int machine_add_devices(struct vm *vm, const struct avp_config *cfg)
{
	/* The host bridge comes first: its windows are fixed, whatever
	 * devices follow. */
	if (cfg->transport == AVP_TRANSPORT_PCI) {
		int ret = arch_pci_init(vm);

		if (ret)
			return ret;
	}
	/* In declaration order: it fixes the addresses and interrupts the
	 * guest sees (docs/devices.md), so the same config always gives the
	 * same platform. */
	for (unsigned int i = 0; i < cfg->ndevices; i++) {
		const struct avp_device_entry *d = &cfg->devices[i];
		const struct avp_device_type *t = avp_device_type_of(d->type);
		struct virtio_dev *dev;
		int ret;

		if (!t)
			return -EINVAL;
		/* Not VIRTIO (the platform's watchdog, vsock peers): no window. */
		if (!t->create)
			continue;
		ret = t->create(&dev, cfg, d->opts);
		if (ret || (ret = attach_or_destroy(vm, dev)))
			return ret;
		/* Attached: the VM owns dev now, and its commands can name it. */
		if (t->register_api && (ret = t->register_api(vm, dev)))
			return ret;
	}
	return 0;
}

void machine_detach_devices(struct vm *vm)
{
	/* Workers may be running device code; the vCPUs go first so no
	 * register access reaches a device being destroyed. Last attached,
	 * first detached. */
	vm_stop_vcpus(vm);
	for (unsigned int i = vm->nmmio_devs; i-- > 0;) {
		struct virtio_dev *dev = vm->mmio_devs[i].dev;

		vm->mmio_devs[i].dev = NULL;
		if (dev)
			virtio_transport_detach(dev);
	}
}

/* SIGINT/SIGTERM/SIGHUP end the VM through the normal exit path, so the
 * terminal is restored and disks are closed cleanly. */
static enum vm_exit_reason wait_for_end(struct vm *vm, int sfd)
{
	struct pollfd fds[2] = {
		{ .fd = vm->exit_efd, .events = POLLIN },
		{ .fd = sfd, .events = POLLIN },
	};

	while (atomic_load(&vm->exit_reason) == VM_EXIT_NONE) {
		if (poll(fds, sfd >= 0 ? 2 : 1, -1) < 0 && errno != EINTR)
			break;
		if (sfd >= 0 && (fds[1].revents & POLLIN)) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				avp_warn("stopping the VM on signal %s", strsignal((int)si.ssi_signo));
				vm_request_exit(vm, VM_EXIT_SIGNAL);
			}
		}
	}
	return (enum vm_exit_reason)atomic_load(&vm->exit_reason);
}

static int boot(struct vm *vm, const struct avp_config *cfg, enum vm_exit_reason *reason)
{
	struct api_server *api = NULL;
	sigset_t set, old;
	int sfd;
	int ret;

	ret = vm_setup_memory(vm);
	if (ret)
		return ret;
	ret = arch_load_guest(vm);
	if (ret)
		return ret;
	ret = vm_create_vcpus(vm);
	if (ret)
		return ret;
	/* The control socket exists before the jail closes; its thread
	 * starts before the vCPUs and stops before the devices go away (their
	 * commands run on it). */
	if (cfg->api_sock) {
		ret = api_server_create(&api, vm, cfg->api_sock);
		if (ret)
			return ret;
	}

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	sfd = signalfd(-1, &set, SFD_CLOEXEC);
	/* Every file, device and tap the VM uses is open by now: close the
	 * jail before any guest code runs. vm_start_vcpus then confines the
	 * main thread with seccomp (src/core/vcpu.c says why there). */
	ret = jail_enter(cfg);
	for (unsigned int i = 0; ret == 0 && i < vm->nmmio_devs; i++)
		if (vm->mmio_devs[i].dev)
			ret = virtio_transport_start(vm->mmio_devs[i].dev);
	if (ret == 0 && api)
		ret = api_server_start(api);
	if (ret == 0)
		ret = vm_start_vcpus(vm);
	if (ret == 0)
		*reason = wait_for_end(vm, sfd);
	vm_stop_vcpus(vm);
	api_server_destroy(api);
	if (sfd >= 0)
		close(sfd);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return ret;
}

bool machine_boot_again(struct avp_config *cfg, enum vm_exit_reason reason)
{
	struct avp_watchdog_cfg *wdt = avp_config_device(cfg, &watchdog_config, 0);

	if (reason == VM_EXIT_REBOOT && cfg->on_reboot == AVP_REBOOT_RESTART) {
		avp_info("guest rebooted: restarting the VM");
		if (wdt)
			wdt->fired_before = false;
		return true;
	}
	/* --watchdog action=reset (the expiry is already reported); the next
	 * boot's watchdog says it caused the reset. */
	if (reason == VM_EXIT_WATCHDOG && wdt && wdt->action == AVP_WATCHDOG_RESET) {
		wdt->fired_before = true;
		return true;
	}
	return false;
}

int machine_run(const struct avp_config *cfg, FILE *out, enum vm_exit_reason *reason)
{
	struct vm vm;
	struct supervisor sup;
	bool in_child = false;
	int ret;

	*reason = VM_EXIT_NONE;
	/* With --jail, or a restart under seccomp, the VM runs in a child
	 * process and this one only waits (src/vmm/supervisor.c). */
	if (!cfg->describe && supervisor_needed(cfg)) {
		ret = supervisor_fork(&sup, cfg);
		if (ret)
			return ret;
		if (sup.child > 0)
			return supervisor_wait(&sup, reason);
		in_child = true;
	}
	ret = vm_create(&vm, cfg);
	/* Device workers start in boot(), after the jail closed. */
	vm.defer_device_threads = true;
	/* A description needs no UART on the terminal. */
	if (ret == 0 && !cfg->describe)
		ret = arch_platform_devices_init(&vm);
	if (ret == 0)
		ret = machine_add_devices(&vm, cfg);
	if (ret == 0) {
		if (cfg->dump_dtb)
			ret = arch_dump_dtb(&vm, cfg->dump_dtb);
		else if (cfg->describe)
			ret = machine_describe(&vm, out);
		else
			ret = boot(&vm, cfg, reason);
	}
	/* The machine built the devices and takes them down; vm_destroy
	 * then only frees the VM itself. */
	machine_detach_devices(&vm);
	vm_destroy(&vm);
	if (in_child)
		supervisor_child_exit(ret, *reason);
	return ret;
}
