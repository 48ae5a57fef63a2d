/* `avp start` and console.log (issue 13, items 12 and 13), with a real
 * detached monitor and a stand-in for the VM process (a shell script the
 * monitor executes instead of avp run): start returns once the vCPUs run,
 * reports a VM that died at once with its reason, gives up at its
 * deadline, and waits across the restarts of a host error; console.log is
 * rotated at its cap, mode 0640, and never opened through a link. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "avp/runtime/console_log.h"
#include "avp/runtime/lifecycle.h"
#include "avp/runtime/monitor.h"
#include "avp/runtime/state.h"
#include "support/rt_fixture.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void read_text(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, len - 1, f);
	fclose(f);
	buf[n] = '\0';
}

static off_t file_size(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_size;
}

/* VM id with the given restart policy, whose VM process is the shell
 * script body; console.log capped at cap bytes (0: the default). */
static void create_vm_capped(const char *id, const char *restart, const char *body,
			     unsigned long long cap)
{
	char config[512];

	snprintf(config, sizeof(config), "{\"kernel\": \"bz\", \"restart\": %s}", restart);
	rtfx_create_vm(id, config, body, cap);
}

static void create_vm(const char *id, const char *restart, const char *body)
{
	create_vm_capped(id, restart, body, 0);
}

static void remove_vm(const char *id)
{
	struct jc_err e = { "" };

	assert_int_equal(rt_delete(rtfx_root, id, true, &e), 0);
}

static void test_start_returns_when_vcpus_run(void **state)
{
	struct jc_err e = { "" };
	struct rt_state st;
	double t0;

	(void)state;
	create_vm("ready", "{\"policy\": \"never\"}",
		  "echo 'avp: some start-up line'\nsleep 0.4\n" RTFX_MARK "exec sleep 60\n");
	t0 = now_s();
	assert_int_equal(rt_start(rtfx_root, "ready", 10, &e), 0);
	/* not before the mark, and not by sleeping out the deadline */
	assert_true(now_s() - t0 >= 0.35);
	assert_true(now_s() - t0 < 8);
	assert_int_equal(rt_state_get(rtfx_root, "ready", &st, &e), 0);
	assert_int_equal(st.status, RT_RUNNING);
	assert_true(rt_proc_alive(&st.vm));
	remove_vm("ready");
}

/* Before this, start said nothing and exited 0; the reason was only in
 * console.log. */
static void test_start_reports_a_vm_that_died(void **state)
{
	struct jc_err e = { "" };
	struct rt_state st;
	double t0;

	(void)state;
	create_vm("dies", "{\"policy\": \"never\"}",
		  "echo 'avp: error: cannot open /dev/kvm: No such file or directory' >&2\nexit 4\n");
	t0 = now_s();
	assert_int_equal(rt_start(rtfx_root, "dies", 10, &e), -EPERM);
	assert_true(now_s() - t0 < 8);
	if (!strstr(e.text, "host-error") || !strstr(e.text, "cannot open /dev/kvm"))
		fail_msg("start's error lacks the reason: '%s'", e.text);
	assert_int_equal(rt_state_get(rtfx_root, "dies", &st, &e), 0);
	assert_int_equal(st.status, RT_STOPPED);
	assert_non_null(strstr(st.last_exit_detail, "cannot open /dev/kvm"));
	remove_vm("dies");

	/* A config error is not retried even under "always". */
	e.text[0] = '\0';
	create_vm("badcfg", "{\"policy\": \"always\", \"backoff_ms\": 50}",
		  "echo 'avp: error: kernel bz: not a bzImage' >&2\nexit 1\n");
	assert_int_equal(rt_start(rtfx_root, "badcfg", 10, &e), -EPERM);
	assert_non_null(strstr(e.text, "config-error"));
	assert_non_null(strstr(e.text, "not a bzImage"));
	assert_int_equal(rt_state_get(rtfx_root, "badcfg", &st, &e), 0);
	assert_int_equal(st.restarts, 0);
	remove_vm("badcfg");
}

/* A host error (KVM not there yet) is retried by the policy, and start
 * waits through the retries: the third attempt comes up. */
static void test_start_waits_through_host_error_restarts(void **state)
{
	struct jc_err e = { "" };
	struct rt_state st;

	(void)state;
	create_vm("retry", "{\"policy\": \"on-failure\", \"backoff_ms\": 100}",
		  "echo x >>attempts\n"
		  "if [ $(wc -l <attempts) -lt 3 ]; then echo 'avp: error: cannot open /dev/kvm' >&2; exit 4; fi\n"
		  RTFX_MARK "exec sleep 60\n");
	assert_int_equal(rt_start(rtfx_root, "retry", 10, &e), 0);
	assert_int_equal(rt_state_get(rtfx_root, "retry", &st, &e), 0);
	assert_int_equal(st.status, RT_RUNNING);
	assert_int_equal(st.restarts, 2);
	remove_vm("retry");
}

static void test_start_deadline(void **state)
{
	struct jc_err e = { "" };
	struct rt_state st;
	double t0;

	(void)state;
	/* never ready */
	create_vm("slow", "{\"policy\": \"never\"}", "exec sleep 60\n");
	t0 = now_s();
	assert_int_equal(rt_start(rtfx_root, "slow", 1, &e), -EPERM);
	assert_true(now_s() - t0 >= 0.9);
	assert_true(now_s() - t0 < 6);
	if (!strstr(e.text, "did not run within 1 s") || !strstr(e.text, "still starting"))
		fail_msg("deadline message: '%s'", e.text);
	remove_vm("slow");

	/* always failing on the host side: the policy keeps going */
	e.text[0] = '\0';
	create_vm("flaky", "{\"policy\": \"on-failure\", \"backoff_ms\": 100, \"max_restarts\": 0}",
		  "echo 'avp: error: cannot open /dev/kvm' >&2\nexit 4\n");
	assert_int_equal(rt_start(rtfx_root, "flaky", 1, &e), -EPERM);
	if (!strstr(e.text, "restart policy tries again") || !strstr(e.text, "cannot open /dev/kvm"))
		fail_msg("deadline message: '%s'", e.text);
	assert_int_equal(rt_state_get(rtfx_root, "flaky", &st, &e), 0);
	assert_true(st.restarts >= 1);
	remove_vm("flaky");

	/* --timeout 0: no waiting at all, as before */
	create_vm("nowait", "{\"policy\": \"never\"}", "exec sleep 60\n");
	assert_int_equal(rt_start(rtfx_root, "nowait", 0, &e), 0);
	remove_vm("nowait");
}

/* 3 MB of guest output: console.log and console.log.1, each at most
 * 1 MiB, mode 0640, the newest lines (and the monitor's) in console.log. */
static void test_console_log_rotated(void **state)
{
	char log[PATH_MAX], old[PATH_MAX + 8], tail[256];
	struct jc_err e = { "" };
	struct rt_state st;
	struct stat sb;
	FILE *f;

	(void)state;
	create_vm("chatty", "{\"policy\": \"never\"}",
		  RTFX_MARK "i=0; while [ $i -lt 3000 ]; do printf '%01000d\\n' $i; i=$((i+1)); done\n"
		  "echo guest-said-goodbye\nexit 0\n");
	assert_int_equal(rt_start(rtfx_root, "chatty", 10, &e), 0);
	assert_int_equal(rt_wait_status(rtfx_root, "chatty", 1u << RT_STOPPED, 30000, &st), 0);
	assert_string_equal(st.last_exit_reason, "poweroff");
	snprintf(log, sizeof(log), "%s/chatty/console.log", rtfx_root);
	snprintf(old, sizeof(old), "%s.1", log);
	assert_true(file_size(log) <= RT_CONSOLE_LOG_MAX);
	assert_true(file_size(old) <= RT_CONSOLE_LOG_MAX);
	assert_true(file_size(old) > RT_CONSOLE_LOG_MAX - 1100);
	assert_int_equal(stat(log, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, RT_CONSOLE_LOG_MODE);
	assert_int_equal(stat(old, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, RT_CONSOLE_LOG_MODE);
	/* the end is in console.log, and every rotation cut between lines */
	f = fopen(log, "r");
	assert_non_null(f);
	while (fgets(tail, sizeof(tail), f))
		if (strstr(tail, "guest-said-goodbye"))
			break;
	fclose(f);
	assert_non_null(strstr(tail, "guest-said-goodbye"));
	read_text(log, tail, 8);
	assert_true(tail[0] == '0' || strncmp(tail, "avp", 3) == 0);
	remove_vm("chatty");
}

/* avp create --console-max: the cap the state records is the monitor's. */
static void test_console_log_cap_configurable(void **state)
{
	char log[PATH_MAX], old[PATH_MAX + 8];
	struct jc_err e = { "" };
	struct rt_state st;

	(void)state;
	create_vm_capped("capped", "{\"policy\": \"never\"}",
			 RTFX_MARK "i=0; while [ $i -lt 100 ]; do printf '%0100d\\n' $i; i=$((i+1)); done\n"
			 "exit 0\n", 4096);
	assert_int_equal(rt_state_get(rtfx_root, "capped", &st, &e), 0);
	assert_int_equal(st.console_max, 4096);
	assert_int_equal(rt_start(rtfx_root, "capped", 10, &e), 0);
	assert_int_equal(rt_wait_status(rtfx_root, "capped", 1u << RT_STOPPED, 30000, &st), 0);
	snprintf(log, sizeof(log), "%s/capped/console.log", rtfx_root);
	snprintf(old, sizeof(old), "%s.1", log);
	assert_true(file_size(log) <= 4096);
	assert_true(file_size(old) <= 4096);
	assert_true(file_size(old) > 4096 - 102);
	remove_vm("capped");

	e.text[0] = '\0';
	assert_int_equal(rt_create_capped(rtfx_root, "tiny", rtfx_tmpdir, NULL, 0, 100, &e), -EINVAL);
	assert_non_null(strstr(e.text, "console.log cap of 100 bytes"));
}

static void test_console_log_unit(void **state)
{
	char path[PATH_MAX], old[PATH_MAX + 8], victim[PATH_MAX], buf[512];
	struct rt_console_log l;
	struct stat sb;

	(void)state;
	snprintf(victim, sizeof(victim), "%s/victim", rtfx_tmpdir);
	rtfx_write_text(victim, "precious\n", 0644);
	/* console.log as a link: refused, the target untouched */
	snprintf(path, sizeof(path), "%s/link.log", rtfx_tmpdir);
	assert_int_equal(symlink(victim, path), 0);
	assert_int_equal(rt_console_log_open(&l, path, 64), -EPERM);
	read_text(victim, buf, sizeof(buf));
	assert_string_equal(buf, "precious\n");

	/* an old world-readable log becomes 0640; cuts come after whole lines */
	snprintf(path, sizeof(path), "%s/small.log", rtfx_tmpdir);
	rtfx_write_text(path, "old line\n", 0644);
	snprintf(old, sizeof(old), "%s.1", path);
	/* a link planted as console.log.1 is replaced, never written through */
	assert_int_equal(symlink(victim, old), 0);
	assert_int_equal(rt_console_log_open(&l, path, 32), 0);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0640);
	assert_int_equal(rt_console_log_write(&l, "aaaaaaaaaa\nbbbbbbbbbb\n", 22), 0);
	assert_int_equal(file_size(path), 31);
	assert_int_equal(rt_console_log_write(&l, "cccccccccc\ndd", 13), 0);
	read_text(old, buf, sizeof(buf));
	assert_string_equal(buf, "old line\naaaaaaaaaa\nbbbbbbbbbb\n");
	read_text(path, buf, sizeof(buf));
	assert_string_equal(buf, "cccccccccc\ndd");
	read_text(victim, buf, sizeof(buf));
	assert_string_equal(buf, "precious\n");
	/* one line longer than the cap is cut at the cap */
	assert_int_equal(rt_console_log_write(&l, "0123456789012345678901234567890123456789\n", 41),
			 0);
	read_text(old, buf, sizeof(buf));
	assert_string_equal(buf, "01234567890123456789012345678901");
	read_text(path, buf, sizeof(buf));
	assert_string_equal(buf, "23456789\n");
	rt_console_log_close(&l);
}

/* A VM avp system up creates on a CAN bus: its VM process gets the bus's
 * interface and this VM's rules as --can-bus (recorded in the state before
 * the monitor read it; docs/can.md). */
static void test_system_vm_gets_can_bus(void **state)
{
	static char script[PATH_MAX + 32];
	char bundle[PATH_MAX], path[PATH_MAX + 32], text[8192], args[4096] = "";
	struct rt_can_bus bus = { .bus = "body", .ifname = "avpcan-body", .tx = "both:0x300-0x3ff" };
	struct jc_err e = { "" };
	FILE *f;

	(void)state;
	snprintf(bundle, sizeof(bundle), "%s/b-canvm", rtfx_tmpdir);
	assert_int_equal(mkdir(bundle, 0755), 0);
	snprintf(path, sizeof(path), "%s/bz", bundle);
	rtfx_write_text(path, "kernel", 0644);
	snprintf(path, sizeof(path), "%s/config.json", bundle);
	rtfx_write_text(path, "{\"kernel\": \"bz\", \"devices\": [{\"type\": \"can\", \"bus\": \"body\"}]}",
			0644);
	snprintf(script, sizeof(script), "%s/vmm.sh", bundle);
	snprintf(text, sizeof(text), "#!/bin/sh\ncd '%s'\necho \"$@\" >args.txt\n" RTFX_MARK
		 "exec sleep 60\n", bundle);
	rtfx_write_text(script, text, 0755);
	rt_vmm_program = script;
	assert_int_equal(rt_create_system(rtfx_root, "canvm", bundle, NULL, 0, &bus, 1, &e), 0);
	assert_int_equal(rt_start(rtfx_root, "canvm", 10, &e), 0);
	snprintf(path, sizeof(path), "%s/args.txt", bundle);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(args, sizeof(args), f));
	fclose(f);
	if (!strstr(args, "--can-bus bus=body,if=avpcan-body,tx=both:0x300-0x3ff"))
		fail_msg("the VM process got: %s", args);
	remove_vm("canvm");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_start_returns_when_vcpus_run),
		cmocka_unit_test(test_system_vm_gets_can_bus),
		cmocka_unit_test(test_start_reports_a_vm_that_died),
		cmocka_unit_test(test_start_waits_through_host_error_restarts),
		cmocka_unit_test(test_start_deadline),
		cmocka_unit_test(test_console_log_rotated),
		cmocka_unit_test(test_console_log_cap_configurable),
		cmocka_unit_test(test_console_log_unit),
	};

	return cmocka_run_group_tests(tests, rtfx_setup, rtfx_teardown);
}
