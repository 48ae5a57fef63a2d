/* The WDAT with --watchdog: found through RSDP -> XSDT, checksum, header
 * fields as Linux's drivers/acpi/acpi_watchdog.c and wdat_wdt.c check them,
 * every action entry, and iasl's disassembly when iasl exists. Then the
 * table is *run*: a small interpreter with wdat_wdt's semantics executes
 * its actions against the platform's real ports (arch_platform_devices_init
 * on a VM without KVM), driving the watchdog the way the Linux driver and
 * watchdog core do: probe, start, ping, set_timeout, get_timeleft, stop,
 * and an expiry that ends the VM with VM_EXIT_WATCHDOG. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "arch/x86/x86.h"
#include "avp/arch.h"
#include "avp/vm.h"
#include "avp/hw/watchdog.h"
#include "support/config_helper.h"

#define RAM_SIZE (1u << 20)

/* WDAT action and instruction numbers (Hardware Watchdog Timers Design
 * Specification; ACPICA's enum acpi_wdat_actions / instructions). */
enum {
	RESET = 0x01,
	QUERY_CURRENT_COUNTDOWN = 0x04,
	QUERY_COUNTDOWN = 0x05,
	SET_COUNTDOWN = 0x06,
	QUERY_RUNNING = 0x08,
	SET_RUNNING = 0x09,
	QUERY_STOPPED = 0x0a,
	SET_STOPPED = 0x0b,
	QUERY_REBOOT = 0x10,
	SET_REBOOT = 0x11,
	QUERY_STATUS = 0x20,
	SET_STATUS = 0x21,
};
enum { READ_VALUE = 0, READ_COUNTDOWN = 1, WRITE_VALUE = 2, WRITE_COUNTDOWN = 3 };
#define PRESERVE 0x80

struct fixture {
	struct avp_config cfg;
	struct vm vm;
	uint8_t *ram;
	bool platform;
};

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)le16(p) | (uint32_t)le16(p + 2) << 16;
}

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static uint8_t sum8(const uint8_t *p, size_t len)
{
	uint8_t s = 0;

	for (size_t i = 0; i < len; i++)
		s = (uint8_t)(s + p[i]);
	return s;
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0)
		;
}

static struct fixture *make(bool watchdog, bool fired_before, bool platform)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->ram = malloc(RAM_SIZE);
	assert_non_null(f->ram);
	memset(f->ram, 0xa5, RAM_SIZE);
	assert_int_equal(gm_add_region(&f->vm.mem, 0, RAM_SIZE, f->ram), 0);
	f->cfg.cpus = 1;
	f->cfg.serial.kind = AVP_CHR_NONE;
	if (watchdog) {
		struct avp_watchdog_cfg *w = test_add_device(&f->cfg, &watchdog_config, NULL);

		w->fired_before = fired_before;
	}
	f->vm.cfg = &f->cfg;
	f->vm.ncpus = 1;
	f->vm.kvm_fd = f->vm.vm_fd = -1;
	f->vm.exit_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	assert_true(f->vm.exit_efd >= 0);
	if (platform) {
		assert_int_equal(arch_platform_devices_init(&f->vm), 0);
		f->platform = true;
	}
	return f;
}

static void unmake(struct fixture *f)
{
	if (f->platform) {
		arch_platform_devices_destroy(&f->vm);
		assert_int_equal(f->vm.pio.nranges, 0);
	}
	close(f->vm.exit_efd);
	avp_config_free(&f->cfg);
	free(f->ram);
	free(f);
}

/* The WDAT through the XSDT, or NULL when the XSDT lists none. */
static const uint8_t *find_wdat(struct fixture *f, uint32_t *len)
{
	uint64_t rsdp = 0;
	const uint8_t *r, *x, *w = NULL;
	uint32_t xlen;

	assert_int_equal(x86_acpi_build(&f->vm, &rsdp), 0);
	r = gm_ptr(&f->vm.mem, rsdp, 36);
	assert_non_null(r);
	assert_int_equal(sum8(r, 36), 0);
	x = gm_ptr(&f->vm.mem, le64(r + 24), 36);
	assert_non_null(x);
	assert_memory_equal(x, "XSDT", 4);
	xlen = le32(x + 4);
	x = gm_ptr(&f->vm.mem, le64(r + 24), xlen);
	assert_non_null(x);
	assert_int_equal(sum8(x, xlen), 0);
	for (uint32_t off = 36; off + 8 <= xlen; off += 8) {
		uint64_t gpa = le64(x + off);
		const uint8_t *h = gm_ptr(&f->vm.mem, gpa, 36);

		assert_non_null(h);
		if (memcmp(h, "WDAT", 4) != 0)
			continue;
		assert_null(w); /* only one */
		*len = le32(h + 4);
		assert_true(gpa >= X86_ACPI_GPA && gpa + *len <= X86_ACPI_GPA + X86_ACPI_SIZE);
		w = gm_ptr(&f->vm.mem, gpa, *len);
		assert_non_null(w);
	}
	return w;
}

static void test_no_wdat_without_watchdog(void **state)
{
	struct fixture *f = make(false, false, true);
	uint32_t len = 0;
	uint32_t v = 0;

	(void)state;
	assert_null(find_wdat(f, &len));
	/* Nor any ports: an absent device reads all ones. */
	assert_false(io_bus_dispatch(&f->vm.pio, X86_WDT_PORT, &v, 4, false));
	assert_int_equal(v, 0xffffffffu);
	unmake(f);
}

/* One expected entry; register offsets relative to X86_WDT_PORT. */
struct want {
	uint8_t action, instruction;
	uint16_t reg;
	uint32_t value, mask;
};

static void test_wdat_contents(void **state)
{
	/* What the register map in include/avp/hw/watchdog.h calls for,
	 * written out by hand here: CONTROL 0x0 (bit 0 running, bit 1
	 * reboot), RELOAD 0x4, COUNT 0x8, REFRESH 0xc, STATUS 0x10. */
	static const struct want want[] = {
		{ RESET, WRITE_VALUE, 0x0c, 1, 1 },
		{ QUERY_CURRENT_COUNTDOWN, READ_COUNTDOWN, 0x08, 0, 0xffffffffu },
		{ QUERY_COUNTDOWN, READ_COUNTDOWN, 0x04, 0, 0xffffffffu },
		{ SET_COUNTDOWN, WRITE_COUNTDOWN, 0x04, 0, 0xffffffffu },
		{ QUERY_RUNNING, READ_VALUE, 0x00, 1, 1 },
		{ SET_RUNNING, WRITE_VALUE | PRESERVE, 0x00, 1, 1 },
		{ QUERY_STOPPED, READ_VALUE, 0x00, 0, 1 },
		{ SET_STOPPED, WRITE_VALUE | PRESERVE, 0x00, 0, 1 },
		{ QUERY_REBOOT, READ_VALUE, 0x00, 2, 2 },
		{ SET_REBOOT, WRITE_VALUE | PRESERVE, 0x00, 2, 2 },
		{ QUERY_STATUS, READ_VALUE, 0x10, 1, 1 },
		{ SET_STATUS, WRITE_VALUE, 0x10, 1, 1 },
	};
	const size_t nwant = sizeof(want) / sizeof(want[0]);
	struct fixture *f = make(true, false, false);
	const uint8_t *w, *e;
	uint32_t len = 0, n;
	bool seen[sizeof(want) / sizeof(want[0])] = { false };

	(void)state;
	w = find_wdat(f, &len);
	assert_non_null(w);
	assert_int_equal(sum8(w, len), 0);
	assert_int_equal(w[8], 1); /* revision */
	assert_memory_equal(w + 10, "AVP   ", 6);
	assert_int_equal(le32(w + 36), 32);     /* watchdog header length */
	assert_int_equal(le16(w + 40), 0xff);   /* PCI segment: not PCI */
	assert_int_equal(w[42], 0xff);
	assert_int_equal(w[43], 0xff);
	assert_int_equal(w[44], 0xff);
	assert_int_equal(le32(w + 48), 100);    /* timer period, ms */
	assert_int_equal(le32(w + 52), 36000);  /* max count: 3600 s */
	assert_int_equal(le32(w + 56), 1);      /* min count */
	assert_true(le32(w + 56) <= le32(w + 52));
	assert_int_equal(w[60] & 0x01, 0x01);   /* enabled */
	n = le32(w + 64);
	assert_int_equal(len, 68 + n * 24);
	assert_int_equal(n, nwant);

	for (uint32_t i = 0; i < n; i++) {
		bool found = false;
		uint64_t addr;

		e = w + 68 + i * 24;
		/* The register: SystemIO, 32 bits at bit 0, dword access, one
		 * of ours and none of the RTC's (which Linux refuses). */
		assert_int_equal(e[4], 1);
		assert_int_equal(e[5], 32);
		assert_int_equal(e[6], 0);
		assert_int_equal(e[7], 3);
		addr = le64(e + 8);
		assert_true(addr >= X86_WDT_PORT && addr + 4 <= X86_WDT_PORT + 0x14);
		assert_false(addr >= 0x70 && addr <= 0x73);
		for (size_t k = 0; k < nwant; k++) {
			if (want[k].action != e[0])
				continue;
			assert_false(seen[k]);
			seen[k] = true;
			found = true;
			assert_int_equal(e[1], want[k].instruction);
			assert_int_equal(addr, X86_WDT_PORT + want[k].reg);
			assert_int_equal(le32(e + 16), want[k].value);
			assert_int_equal(le32(e + 20), want[k].mask);
		}
		if (!found)
			fail_msg("unexpected WDAT action 0x%x", e[0]);
	}
	for (size_t k = 0; k < nwant; k++)
		if (!seen[k])
			fail_msg("WDAT action 0x%x missing", want[k].action);
	unmake(f);
}

/* --- the table, run as Linux's wdat_wdt runs it ------------------------ */

struct wdat_run {
	struct fixture *f;
	const uint8_t *tbl;
	uint32_t nentries;
	uint32_t period;
};

static int reg_io(struct wdat_run *r, const uint8_t *e, uint32_t *v, bool is_write)
{
	uint32_t width;

	switch (e[7]) { /* wdat_wdt_read/write: access size 1, 2, 3 */
	case 1:
		width = 1;
		break;
	case 2:
		width = 2;
		break;
	case 3:
		width = 4;
		break;
	default:
		return -EINVAL;
	}
	if (!is_write)
		*v = 0;
	assert_true(io_bus_dispatch(&r->f->vm.pio, le64(e + 8), v, width, is_write));
	return 0;
}

/* wdat_wdt_run_action: -EOPNOTSUPP for an action the table lacks. */
static int run_action(struct wdat_run *r, uint8_t action, uint32_t param, uint32_t *retval)
{
	bool any = false;

	for (uint32_t i = 0; i < r->nentries; i++) {
		const uint8_t *e = r->tbl + 68 + i * 24;
		uint8_t bit = e[6];
		uint32_t value = le32(e + 16), mask = le32(e + 20), x, y;
		bool preserve = e[1] & PRESERVE;

		if (e[0] != action)
			continue;
		any = true;
		switch (e[1] & ~PRESERVE) {
		case READ_VALUE:
			assert_int_equal(reg_io(r, e, &x, false), 0);
			x = (x >> bit) & mask;
			if (retval)
				*retval = x == value;
			break;
		case READ_COUNTDOWN:
			assert_int_equal(reg_io(r, e, &x, false), 0);
			if (retval)
				*retval = (x >> bit) & mask;
			break;
		case WRITE_VALUE:
		case WRITE_COUNTDOWN:
			x = ((e[1] & ~PRESERVE) == WRITE_VALUE ? value : param) & mask;
			x <<= bit;
			if (preserve) {
				assert_int_equal(reg_io(r, e, &y, false), 0);
				x |= y & ~(mask << bit);
			}
			assert_int_equal(reg_io(r, e, &x, true), 0);
			break;
		default:
			return -EINVAL;
		}
	}
	return any ? 0 : -EOPNOTSUPP;
}

static uint32_t query(struct wdat_run *r, uint8_t action)
{
	uint32_t v = 0xdeadbeef;

	assert_int_equal(run_action(r, action, 0, &v), 0);
	return v;
}

static void setup_run(struct wdat_run *r, struct fixture *f)
{
	uint32_t len = 0;

	r->f = f;
	r->tbl = find_wdat(f, &len);
	assert_non_null(r->tbl);
	r->nentries = le32(r->tbl + 64);
	r->period = le32(r->tbl + 48);
}

static bool exit_signalled(struct fixture *f)
{
	struct pollfd p = { .fd = f->vm.exit_efd, .events = POLLIN };

	return poll(&p, 1, 0) == 1;
}

/* wdat_wdt_set_timeout: periods = timeout * 1000 / period. */
static void set_timeout(struct wdat_run *r, unsigned int seconds)
{
	assert_int_equal(run_action(r, SET_COUNTDOWN, seconds * 1000 / r->period, NULL), 0);
}

static void test_linux_driver_sequence(void **state)
{
	struct fixture *f = make(true, false, true);
	struct wdat_run r;
	uint32_t left;

	(void)state;
	setup_run(&r, f);

	/* Probe: boot status, clear it, running?, enable reboot, initial
	 * timeout (the module's default 30 s). */
	assert_int_equal(query(&r, QUERY_STATUS), 0);
	assert_int_equal(run_action(&r, SET_STATUS, 0, NULL), 0);
	assert_int_equal(query(&r, QUERY_RUNNING), 0);
	assert_int_equal(query(&r, QUERY_STOPPED), 1);
	assert_int_equal(run_action(&r, SET_REBOOT, 0, NULL), 0);
	assert_int_equal(query(&r, QUERY_REBOOT), 1);
	set_timeout(&r, 30);
	assert_int_equal(query(&r, QUERY_COUNTDOWN), 300);

	/* WDIOC_SETTIMEOUT 1 s, open (start), then pings every 300 ms for
	 * 1.5 s: alive. get_timeleft in between. */
	set_timeout(&r, 1);
	assert_int_equal(query(&r, QUERY_COUNTDOWN), 10);
	assert_int_equal(run_action(&r, SET_RUNNING, 0, NULL), 0);
	assert_int_equal(query(&r, QUERY_RUNNING), 1);
	assert_int_equal(query(&r, QUERY_STOPPED), 0);
	assert_int_equal(query(&r, QUERY_REBOOT), 1); /* preserved by start */
	for (int i = 0; i < 5; i++) {
		sleep_ms(300);
		/* wdat_wdt_ping passes the timeout in seconds; RESET must
		 * not use it as a count. */
		assert_int_equal(run_action(&r, RESET, 1, NULL), 0);
	}
	left = query(&r, QUERY_CURRENT_COUNTDOWN) * r.period / 1000;
	assert_true(left <= 1);
	assert_true(query(&r, QUERY_CURRENT_COUNTDOWN) >= 8);
	assert_false(exit_signalled(f));
	assert_int_equal(atomic_load(&f->vm.exit_reason), VM_EXIT_NONE);

	/* Magic close: stop. Nothing fires however long it stays stopped. */
	assert_int_equal(run_action(&r, SET_STOPPED, 0, NULL), 0);
	assert_int_equal(query(&r, QUERY_STOPPED), 1);
	assert_int_equal(query(&r, QUERY_REBOOT), 1); /* preserved by stop */
	sleep_ms(1300);
	assert_false(exit_signalled(f));

	/* Opened again and never pinged: the VM ends with the watchdog as
	 * the reason, and the status says the watchdog fired. */
	assert_int_equal(run_action(&r, SET_RUNNING, 0, NULL), 0);
	for (int t = 0; t < 300 && !exit_signalled(f); t++)
		sleep_ms(10);
	assert_true(exit_signalled(f));
	assert_int_equal(atomic_load(&f->vm.exit_reason), VM_EXIT_WATCHDOG);
	assert_int_equal(query(&r, QUERY_RUNNING), 0);
	assert_int_equal(query(&r, QUERY_STATUS), 1);
	unmake(f);
}

static void test_boot_status_after_watchdog_reset(void **state)
{
	struct fixture *f = make(true, true, true);
	struct wdat_run r;

	(void)state;
	setup_run(&r, f);
	/* wdat_wdt_boot_status: reports WDIOF_CARDRESET, then clears. */
	assert_int_equal(query(&r, QUERY_STATUS), 1);
	assert_int_equal(run_action(&r, SET_STATUS, 0, NULL), 0);
	assert_int_equal(query(&r, QUERY_STATUS), 0);
	assert_int_equal(query(&r, QUERY_RUNNING), 0);
	unmake(f);
}

/* Garbage from the guest at the watchdog's ports through the bus. The
 * VM may end (a guest can always make its own watchdog fire) but avp
 * does not crash, hang or leak. */
static void test_garbage_at_the_ports(void **state)
{
	struct fixture *f = make(true, false, true);
	unsigned int seed = 99;

	(void)state;
	for (int i = 0; i < 100000; i++) {
		static const uint32_t widths[] = { 1, 2, 4 };
		uint32_t len = widths[rand_r(&seed) % 3];
		uint32_t v = (uint32_t)rand_r(&seed) * 2654435761u;
		uint64_t port = X86_WDT_PORT - 4 + (uint64_t)(rand_r(&seed) % 0x1c);

		io_bus_dispatch(&f->vm.pio, port, &v, len, (rand_r(&seed) & 1) != 0);
	}
	unmake(f);
}

static bool have_iasl(void)
{
	return system("command -v iasl >/dev/null 2>&1") == 0;
}

static void test_iasl_accepts_wdat(void **state)
{
	struct fixture *f;
	char dir[] = "/tmp/avp-wdat-XXXXXX";
	char cmd[1024];
	const uint8_t *w;
	uint32_t len = 0;
	FILE *fp;
	int status;

	(void)state;
	if (!have_iasl()) {
		print_message("iasl not installed (Debian: acpica-tools): disassembly check skipped\n");
		skip();
	}
	f = make(true, false, false);
	w = find_wdat(f, &len);
	assert_non_null(w);
	assert_non_null(mkdtemp(dir));
	snprintf(cmd, sizeof(cmd), "%s/wdat.dat", dir);
	fp = fopen(cmd, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(w, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
	snprintf(cmd, sizeof(cmd),
		 "cd %s && iasl -d wdat.dat >iasl.log 2>&1 && "
		 "! grep -Eiq 'error|invalid|incorrect|warning' iasl.log wdat.dsl && "
		 "grep -q 'Watchdog Action Table' wdat.dsl && "
		 "grep -Eq 'Timer Period : 00000064' wdat.dsl && "
		 "grep -Eq 'Watchdog Entry Count : 0000000C' wdat.dsl && "
		 "test $(grep -c 'Space ID : 01 \\[SystemIO\\]' wdat.dsl) -eq 12 && "
		 "grep -Eq 'Address : 0000000000000610' wdat.dsl",
		 dir);
	status = system(cmd);
	if (status != 0) {
		snprintf(cmd, sizeof(cmd), "cat %s/iasl.log %s/wdat.dsl", dir, dir);
		if (system(cmd) != 0)
			print_message("(no iasl output)\n");
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		print_message("could not remove %s\n", dir);
	assert_int_equal(status, 0);
	unmake(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_wdat_without_watchdog),
		cmocka_unit_test(test_wdat_contents),
		cmocka_unit_test(test_linux_driver_sequence),
		cmocka_unit_test(test_boot_status_after_watchdog_reset),
		cmocka_unit_test(test_garbage_at_the_ports),
		cmocka_unit_test(test_iasl_accepts_wdat),
	};

	return cmocka_run_group_tests_name("acpi-wdat", tests, NULL, NULL);
}
