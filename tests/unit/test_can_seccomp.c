/* The CAN device's paths run where the device worker's seccomp filter
 * allows them: a frame out (write), a frame in with the kernel's drop
 * count (recvmsg), a link message (read), the control queue, the retry
 * timer of a full host queue (timerfd_settime, read), in a forked
 * child confined as the worker of a VM with one CAN device. The backend is
 * the socketpair one (no CAN interface needed): the same calls on the
 * same kinds of fds as a raw CAN socket and a netlink socket take. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <endian.h>
#include <linux/can.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "avp/config.h"
#include "avp/seccomp.h"
#include "support/can_fixture.h"
#include "support/config_helper.h"

/* A request on q and its one-byte result, without cmocka (in the child). */
static int result_of(struct can_fixture *f, uint16_t q, const void *req, size_t len)
{
	uint64_t in = canf_request(f, q, req, len, 1);
	uint32_t id, used;

	if (!vqh_used(&f->h, f->dev, q, &id, &used) || used != 1)
		return -1;
	return *(uint8_t *)vqh_hva(&f->h, in);
}

static int child(struct can_fixture *f)
{
	struct avp_config cfg;
	const uint8_t start[2] = { 0x01, 0x02 };
	struct virtio_can_hdr tx = { .msg_type = htole16(VIRTIO_CAN_TX), .length = htole16(2),
				     .can_id = htole32(0x123) };
	uint8_t msg[VIRTIO_CAN_HDR_LEN + 2] = { 0 };
	uint32_t id, used;

	avp_config_init(&cfg);
	cfg.seccomp = AVP_SECCOMP_KILL;
	test_add_device(&cfg, &virtio_can_config, "if=vcan0");
	if (avp_seccomp_apply(AVP_THREAD_DEVICE, &cfg))
		return 11;
	/* START reads the link socket first. */
	if (result_of(f, VIRTIO_CAN_CTRLQ, start, sizeof(start)) != VIRTIO_CAN_RESULT_OK)
		return 12;
	memcpy(msg, &tx, sizeof(tx));
	msg[16] = 0xab;
	if (result_of(f, VIRTIO_CAN_TXQ, msg, sizeof(msg)) != VIRTIO_CAN_RESULT_OK)
		return 13;
	/* The parent queued a frame: this buffer gets it through recvmsg. */
	canf_post_rx(f, VIRTIO_CAN_HDR_LEN + 64);
	if (!vqh_used(&f->h, f->dev, VIRTIO_CAN_RXQ, &id, &used) || used != VIRTIO_CAN_HDR_LEN + 1)
		return 14;
	canf_fd_ready(f, f->link_fd);
	/* A burst the host's (small) queue cannot take: the device arms its
	 * retry timer, and the timer's wakeup reads it. */
	for (int i = 0; i < 12; i++)
		canf_request(f, VIRTIO_CAN_TXQ, msg, sizeof(msg), 1);
	if (f->timer_fd < 0)
		return 15;
	canf_fd_ready(f, f->timer_fd);
	return 0;
}

static void test_can_paths_in_worker_role(void **state)
{
	static struct avp_can_cfg cfg;
	struct can_fixture *f = canf_new(&cfg, 0, true);
	struct can_frame cf = { .can_id = 0x321, .len = 1 };
	int status = 0;
	pid_t pid;

	(void)state;
	assert_int_equal(send(f->host, &cf, sizeof(cf), 0), (ssize_t)sizeof(cf));
	assert_int_equal(setsockopt(f->frame_fd, SOL_SOCKET, SO_SNDBUF, &(int){ 1 }, sizeof(int)), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(child(f));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status))
		fail_msg("killed by signal %d%s", WTERMSIG(status),
			 WTERMSIG(status) == SIGSYS ? " (a call outside the worker's role)" : "");
	if (WEXITSTATUS(status))
		fail_msg("child exit %d", WEXITSTATUS(status));
	/* The frame the confined worker sent is on the bus. */
	memset(&cf, 0, sizeof(cf));
	assert_int_equal(canf_host_recv(f, &cf, sizeof(cf)), CAN_MTU);
	assert_int_equal(cf.can_id, 0x123);
	assert_int_equal(cf.data[0], 0xab);
	canf_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_can_paths_in_worker_role),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
