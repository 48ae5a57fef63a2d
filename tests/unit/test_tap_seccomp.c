/* The tap backend's paths run where their roles allow them (issue 13
 * item 1): frames in and out on the device worker, the offload change a
 * driver's negotiation makes on a vCPU, and a multi-queue tap's queue
 * detached and attached again in both (a reset on a vCPU, VQ_PAIRS_SET on
 * the worker), each in a forked child confined as that role for a VM with
 * one net device. Needs a tap: root and
 * /dev/net/tun; skipped, saying why, without them. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "avp/config.h"
#include "avp/log.h"
#include "avp/net/tap.h"
#include "avp/seccomp.h"
#include "avp/devices/virtio_net.h"
#include "support/config_helper.h"

/* With a queue fd set, the child switches that queue instead. */
static int queue_fd = -1;

static int child(int fd, enum avp_thread_role role)
{
	struct avp_config cfg;
	uint8_t frame[TAP_VNET_HDR_LEN + 60], buf[2048];
	struct iovec iov = { .iov_base = frame, .iov_len = sizeof(frame) };
	ssize_t n;

	avp_config_init(&cfg);
	cfg.seccomp = AVP_SECCOMP_KILL;
	test_add_device(&cfg, &virtio_net_config, "tap=avpsecc0");
	if (avp_seccomp_apply(role, &cfg))
		return 11;
	if (queue_fd >= 0)
		return tap_set_queue(queue_fd, false) || tap_set_queue(queue_fd, true) ? 15 : 0;
	if (role == AVP_THREAD_VCPU)
		return tap_set_offload(fd, TAP_OFFLOAD_CSUM | TAP_OFFLOAD_TSO4) ? 12 : 0;
	/* The worker: a frame out (the interface is down, so the kernel
	 * answers EIO: the call itself is what is checked), and a read that
	 * finds nothing. */
	memset(frame, 0, sizeof(frame));
	memset(frame + TAP_VNET_HDR_LEN, 0xff, 6);
	n = writev(fd, &iov, 1);
	if (n != (ssize_t)sizeof(frame) && !(n < 0 && errno == EIO))
		return 13;
	n = read(fd, buf, sizeof(buf));
	return n < 0 && errno != EAGAIN ? 14 : 0;
}

static void run_role(int fd, enum avp_thread_role role, const char *what)
{
	int status = 0;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(child(fd, role));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status))
		fail_msg("%s: killed by signal %d%s", what, WTERMSIG(status),
			 WTERMSIG(status) == SIGSYS ? " (a call outside its role)" : "");
	if (WEXITSTATUS(status))
		fail_msg("%s: child exit %d", what, WEXITSTATUS(status));
}

static void test_tap_paths_in_their_roles(void **state)
{
	char ifname[IFNAMSIZ];
	int fd;

	(void)state;
	if (geteuid() != 0 || access("/dev/net/tun", R_OK | W_OK)) {
		print_message("skipped: a tap needs root and /dev/net/tun\n");
		skip();
	}
	fd = tap_open("avpsecc%d", ifname);
	if (fd < 0) {
		print_message("skipped: cannot create a tap here (%s)\n", strerror(-fd));
		skip();
	}
	run_role(fd, AVP_THREAD_DEVICE, "tap frames on the device worker");
	run_role(fd, AVP_THREAD_VCPU, "tap offloads on a vCPU");
	close(fd); /* a non-persistent tap goes away with its last fd */
}

static void test_tap_queues_in_their_roles(void **state)
{
	char ifname[IFNAMSIZ];
	int fds[2], n;

	(void)state;
	if (geteuid() != 0 || access("/dev/net/tun", R_OK | W_OK)) {
		print_message("skipped: a tap needs root and /dev/net/tun\n");
		skip();
	}
	n = tap_open_queues("avpsecq%d", ifname, fds, 2);
	if (n < 0) {
		print_message("skipped: cannot create a tap here (%s)\n", strerror(-n));
		skip();
	}
	assert_int_equal(n, 2);
	queue_fd = fds[1];
	run_role(fds[0], AVP_THREAD_DEVICE, "tap queue switched on the device worker");
	run_role(fds[0], AVP_THREAD_VCPU, "tap queue switched on a vCPU");
	queue_fd = -1;
	close(fds[0]);
	close(fds[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tap_paths_in_their_roles),
		cmocka_unit_test(test_tap_queues_in_their_roles),
	};

	avp_log_set_level(AVP_LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
