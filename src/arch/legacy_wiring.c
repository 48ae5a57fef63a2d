/* The legacy devices' wiring both architectures share (legacy_wiring.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "arch/legacy_wiring.h"
#include "avp/chardev.h"
#include "avp/config.h"
#include "avp/hw/watchdog.h"
#include "avp/log.h"
#include "avp/seccomp.h"
#include "avp/vm.h"

void *legacy_platform_new(struct vm *vm, size_t size, const char *line_kind, int *err)
{
	struct legacy_wiring *w;

	*err = !vm ? -EINVAL : vm->platform ? -EEXIST : 0;
	if (*err)
		return NULL;
	w = calloc(1, size);
	if (!w) {
		*err = -ENOMEM;
		return NULL;
	}
	w->vm = vm;
	w->line_kind = line_kind;
	vm->platform = w;
	return w;
}

void legacy_set_line(struct legacy_wiring *w, uint32_t line, int level)
{
	int ret = vm_irq_line(w->vm, line, level);

	if (ret && ret != -ENODEV && !atomic_exchange(&w->irq_warned, true))
		avp_warn("platform: cannot drive %s %u: %s", w->line_kind, line, strerror(-ret));
}

static int confine(struct legacy_wiring *w, enum avp_thread_role role)
{
	int ret;

	if (w->vm->vm_fd < 0)
		return 0;
	ret = avp_seccomp_apply(role, w->vm->cfg);
	if (ret)
		vm_request_exit(w->vm, VM_EXIT_HOST_ERROR);
	return ret;
}

int legacy_uart_thread_start(void *opaque)
{
	return confine(opaque, AVP_THREAD_UART_READER);
}

/* Each only sleeps and moves an interrupt or reset line. */
int legacy_timer_thread_start(void *opaque)
{
	return confine(opaque, AVP_THREAD_WATCHDOG);
}

void legacy_uart_output(void *opaque)
{
	struct legacy_wiring *w = opaque;

	vm_note_console_output(w->vm);
}

const struct avp_watchdog_cfg *legacy_watchdog_cfg(const struct vm *vm)
{
	return vm->cfg ? avp_config_device(vm->cfg, &watchdog_config, 0) : NULL;
}

void legacy_watchdog_expired(void *opaque, uint32_t count)
{
	struct legacy_wiring *w = opaque;
	const struct avp_watchdog_cfg *cfg = legacy_watchdog_cfg(w->vm);
	bool reset = cfg && cfg->action == AVP_WATCHDOG_RESET;
	uint32_t ds = count * WATCHDOG_PERIOD_MS / 100;

	avp_warn("watchdog expired: the guest did not refresh it for %u.%u s; %s", ds / 10,
		 ds % 10, reset ? "resetting the VM" : "ending the VM");
	vm_request_exit(w->vm, VM_EXIT_WATCHDOG);
}

int legacy_open_serial(struct vm *vm, struct chardev **chr)
{
	static const struct avp_chardev_cfg no_serial = { .kind = AVP_CHR_NONE };
	const struct avp_chardev_cfg *cfg = vm->cfg ? &vm->cfg->serial : &no_serial;

	/* With --console stdio the keyboard belongs to hvc0; the UART only
	 * prints. A pty or socket relay confines itself like the other
	 * threads: only when there is a guest to be wary of. */
	return chardev_open_named(chr, cfg,
				  cfg->kind == AVP_CHR_STDIO &&
					  (!vm->cfg || !avp_config_stdio_device(vm->cfg)),
				  "serial", vm->vm_fd >= 0 ? vm->cfg : NULL);
}

int legacy_claim(struct io_bus *bus, const struct legacy_window *w, size_t n, const char *space)
{
	for (size_t i = 0; i < n; i++) {
		int ret;

		if (!w[i].opaque)
			continue;
		ret = io_bus_register(bus, w[i].base, w[i].len, w[i].fn, w[i].opaque, w[i].name);
		if (ret) {
			avp_err("cannot claim %s 0x%llx-0x%llx for %s: %s", space,
				(unsigned long long)w[i].base,
				(unsigned long long)(w[i].base + w[i].len - 1), w[i].name,
				strerror(-ret));
			return ret;
		}
	}
	return 0;
}

void legacy_forget(struct io_bus *bus, const void *const *owned, size_t n)
{
	unsigned int kept = 0;

	for (unsigned int i = 0; i < bus->nranges; i++) {
		const void *o = bus->ranges[i].opaque;
		bool ours = false;

		for (size_t j = 0; o && j < n && !ours; j++)
			ours = owned[j] == o;
		if (!ours)
			bus->ranges[kept++] = bus->ranges[i];
	}
	bus->nranges = kept;
}
