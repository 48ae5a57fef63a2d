/* libFuzzer target: the WDAT watchdog (src/hw/watchdog.c) through the x86
 * platform's port bus (src/arch/x86/platform.c, on a VM without KVM, as
 * tests/unit/test_acpi_wdat.c builds it), and the table that tells the
 * guest how to drive it (src/arch/x86/acpi_wdat.c).
 *
 * Input: operations until the input ends:
 *   0 register  u8 offset (from 4 ports before the watchdog's range to 4
 *               after it), u8 width/direction, u64 value: one port access
 *   1 action    u8 action, u32 parameter: one WDAT action run the way
 *               Linux's wdat_wdt runs it, entry by entry from the table
 *               x86_wdat_fill wrote (READ_VALUE, READ_COUNTDOWN,
 *               WRITE_VALUE, WRITE_COUNTDOWN, PRESERVE_REGISTER)
 *   2 port      u16 port (mostly one of the platform's), u8 width/dir,
 *               u32 value: any legacy port, the watchdog's neighbours
 *   3 state     the watchdog's state, checked
 *
 * Beyond the sanitizers: every access in the watchdog's range is claimed;
 * after an action the queries answer as the action left the device
 * (unless it expired meanwhile): a set countdown reads back clamped to
 * [WATCHDOG_MIN_COUNT, WATCHDOG_MAX_COUNT], running/stopped/status read
 * as set, reboot is always on; COUNT never exceeds RELOAD and reads 0
 * while stopped. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/acpi_wdat.h"
#include "arch/x86/x86.h"
#include "avp/arch.h"
#include "avp/hw/watchdog.h"
#include "avp/log.h"
#include "avp/vm.h"
#include "fuzz_guest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

struct wd_ctx {
	struct avp_config cfg;
	struct vm vm;
	struct watchdog *wdt;
	uint8_t *table;
	size_t table_len;
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	avp_log_set_level(AVP_LOG_ERROR);
	return 0;
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t port_rw(struct wd_ctx *c, uint64_t port, uint32_t len, bool is_write, uint64_t v)
{
	bool claimed = io_bus_dispatch(&c->vm.pio, port, &v, len, is_write);

	if (port >= X86_WDT_PORT && port + len <= X86_WDT_PORT + WATCHDOG_NPORTS)
		FUZZ_CHECK(claimed);
	if (len < 8)
		v &= (1ull << (8 * len)) - 1;
	return v;
}

/* One WDAT action, as drivers/watchdog/wdat_wdt.c runs it: the entries
 * of that action in table order; the last READ's result is the answer. */
static uint32_t run_action(struct wd_ctx *c, uint8_t action, uint32_t param, bool *found)
{
	const uint8_t *t = c->table;
	uint32_t n = le32(t + WDAT_ACPI_HEADER_LEN + 28);
	uint32_t ret = 0;

	*found = false;
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *e = t + WDAT_ACPI_HEADER_LEN + 32 + i * WDAT_ENTRY_LEN;
		uint8_t ins = e[1] & ~WDAT_PRESERVE_REGISTER;
		uint8_t bit = e[6];
		uint32_t width = e[7] ? 1u << (e[7] - 1) : 4; /* GAS access size */
		uint64_t port = e[8] | (uint64_t)e[9] << 8;
		uint32_t value = le32(e + 16), mask = le32(e + 20);
		uint64_t x;

		FUZZ_CHECK(WDAT_ACPI_HEADER_LEN + 32 + (i + 1) * WDAT_ENTRY_LEN <= c->table_len);
		if (e[0] != action)
			continue;
		*found = true;
		switch (ins) {
		case WDAT_READ_VALUE:
			x = port_rw(c, port, width, false, 0);
			ret = ((x >> bit) & mask) == value;
			break;
		case WDAT_READ_COUNTDOWN:
			x = port_rw(c, port, width, false, 0);
			ret = (uint32_t)((x >> bit) & mask);
			break;
		case WDAT_WRITE_VALUE:
		case WDAT_WRITE_COUNTDOWN:
			x = (uint64_t)((ins == WDAT_WRITE_VALUE ? value : param) & mask) << bit;
			if (e[1] & WDAT_PRESERVE_REGISTER)
				x |= port_rw(c, port, width, false, 0) & ~((uint64_t)mask << bit);
			port_rw(c, port, width, true, x);
			break;
		default:
			FUZZ_CHECK(!"unknown WDAT instruction");
		}
	}
	return ret;
}

static uint32_t query(struct wd_ctx *c, uint8_t action)
{
	bool found;
	uint32_t v = run_action(c, action, 0, &found);

	FUZZ_CHECK(found); /* wdat_wdt needs every query it makes */
	return v;
}

static void check_state(struct wd_ctx *c)
{
	struct watchdog_state st;

	watchdog_get_state(c->wdt, &st);
	FUZZ_CHECK(st.reload >= WATCHDOG_MIN_COUNT && st.reload <= WATCHDOG_MAX_COUNT);
	/* Not <= reload: a new RELOAD only counts from the next refresh. */
	FUZZ_CHECK(st.count <= WATCHDOG_MAX_COUNT);
	FUZZ_CHECK(st.running || st.count == 0);
}

static void action_op(struct wd_ctx *c, struct fz *z)
{
	static const uint8_t actions[] = {
		WDAT_RESET,	       WDAT_QUERY_CURRENT_COUNTDOWN_PERIOD, WDAT_QUERY_COUNTDOWN_PERIOD, WDAT_SET_COUNTDOWN_PERIOD,
		WDAT_QUERY_RUNNING_STATE, WDAT_SET_RUNNING_STATE,		WDAT_QUERY_STOPPED_STATE,	 WDAT_SET_STOPPED_STATE,
		WDAT_QUERY_REBOOT,  WDAT_SET_REBOOT,		WDAT_QUERY_WATCHDOG_STATUS,	 WDAT_SET_WATCHDOG_STATUS,
		0x02,	       0x22,			WDAT_SET_COUNTDOWN_PERIOD,	 WDAT_RESET,
	};
	uint8_t a = actions[fz_u8(z) % 16];
	uint8_t how = fz_u8(z);
	/* wdat_wdt passes seconds * 1000 / period: mostly in range. */
	uint32_t param = how & 0x80 ? fz_u32(z) : fz_u16(z) % (WATCHDOG_MAX_COUNT + 10);
	struct watchdog_state before, after;
	uint32_t running, stopped, status, left, period;
	bool found;

	watchdog_get_state(c->wdt, &before);
	run_action(c, a, param, &found);
	FUZZ_CHECK(query(c, WDAT_QUERY_REBOOT) == 1);
	running = query(c, WDAT_QUERY_RUNNING_STATE);
	stopped = query(c, WDAT_QUERY_STOPPED_STATE);
	status = query(c, WDAT_QUERY_WATCHDOG_STATUS);
	left = query(c, WDAT_QUERY_CURRENT_COUNTDOWN_PERIOD);
	period = query(c, WDAT_QUERY_COUNTDOWN_PERIOD);
	watchdog_get_state(c->wdt, &after);
	/* An expiry meanwhile (the timer thread runs on its own) changes
	 * running and status: nothing to compare then. */
	if (after.expiries != before.expiries)
		return;
	FUZZ_CHECK(running != stopped);
	switch (a) {
	case WDAT_SET_COUNTDOWN_PERIOD:
		FUZZ_CHECK(period == (param < WATCHDOG_MIN_COUNT   ? WATCHDOG_MIN_COUNT
				      : param > WATCHDOG_MAX_COUNT ? WATCHDOG_MAX_COUNT
								   : param));
		break;
	case WDAT_SET_RUNNING_STATE:
		FUZZ_CHECK(running == 1);
		/* Freshly started: counting down from RELOAD. */
		if (!before.running)
			FUZZ_CHECK(left >= 1 && left <= period);
		break;
	case WDAT_SET_STOPPED_STATE:
		FUZZ_CHECK(stopped == 1 && left == 0);
		break;
	case WDAT_SET_WATCHDOG_STATUS:
		FUZZ_CHECK(status == 0);
		break;
	case WDAT_RESET:
		FUZZ_CHECK(after.refreshes == before.refreshes + (before.running ? 1 : 0));
		break;
	default:
		break;
	}
}

static uint32_t width(uint8_t how)
{
	return 1u << (how & 3); /* 1, 2, 4 or 8 */
}

static void run(struct wd_ctx *c, struct fz *z)
{
	static const uint16_t ports[] = {
		X86_COM1_PORT, X86_COM1_PORT + 5, X86_RTC_PORT, X86_RTC_PORT + 1,
		X86_I8042_DATA_PORT, X86_I8042_CMD_PORT, 0x61, 0x80,
		X86_ACPI_SLEEP_CTL_PORT, X86_ACPI_SLEEP_STS_PORT, X86_ACPI_RESET_PORT,
		X86_WDT_PORT - 1, X86_WDT_PORT + WATCHDOG_NPORTS, X86_WDT_PORT + 0x0c,
	};

	for (unsigned int i = 0; i < 4096 && !fz_empty(z); i++) {
		switch (fz_u8(z) % 4) {
		case 0: {
			uint64_t port = X86_WDT_PORT - 4 + fz_u8(z) % (WATCHDOG_NPORTS + 8);
			uint8_t how = fz_u8(z);
			uint64_t v = fz_u64(z);

			port_rw(c, port, width(how), how & 4, v);
			break;
		}
		case 1:
			action_op(c, z);
			break;
		case 2: {
			uint8_t sel = fz_u8(z);
			uint64_t port = sel & 0x80 ? fz_u16(z) : ports[sel % 14];
			uint8_t how = fz_u8(z);
			uint32_t v = fz_u32(z);

			/* Only widths the port bus can see from KVM (1, 2, 4). */
			port_rw(c, port, width(how & 1 ? how & 2 : how % 3), how & 4, v);
			break;
		}
		case 3:
			check_state(c);
			break;
		}
	}
	check_state(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wd_ctx *c = calloc(1, sizeof(*c));
	struct fz z = { data, size };
	struct avp_watchdog_cfg *wdt;

	if (!c)
		return 0;
	avp_config_init(&c->cfg);
	c->cfg.serial.kind = AVP_CHR_NONE;
	/* The first byte: whether the previous run of this VM ended on
	 * expiry (FIRED starts set). */
	wdt = avp_opts_new(&watchdog_config);
	if (!wdt || avp_config_add_device(&c->cfg, &watchdog_config, wdt, 0, NULL))
		goto out;
	wdt->fired_before = fz_u8(&z) & 1;
	c->vm.cfg = &c->cfg;
	c->vm.kvm_fd = c->vm.vm_fd = c->vm.exit_efd = -1;
	c->table_len = x86_wdat_len();
	c->table = calloc(1, c->table_len);
	if (!c->table || x86_wdat_fill(c->table, c->table_len) ||
	    arch_platform_devices_init(&c->vm))
		goto out;
	for (unsigned int i = 0; i < c->vm.pio.nranges; i++)
		if (c->vm.pio.ranges[i].fn == watchdog_io)
			c->wdt = c->vm.pio.ranges[i].opaque;
	FUZZ_CHECK(c->wdt);
	FUZZ_CHECK(query(c, WDAT_QUERY_WATCHDOG_STATUS) == wdt->fired_before);
	run(c, &z);
	arch_platform_devices_destroy(&c->vm);
	FUZZ_CHECK(c->vm.pio.nranges == 0);
out:
	free(c->table);
	avp_config_free(&c->cfg);
	free(c);
	return 0;
}
