/* virtio-i2c's transfers run on the device worker (src/devices/i2c_host.c):
 * its seccomp filter allows I2C_RDWR, I2C_SMBUS and I2C_SLAVE when the VM
 * has an i2c device, and only then. Each call is made in a forked child
 * confined as the worker, on /dev/null (the kernel answers ENOTTY: the
 * call getting through is what is checked). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/i2c-dev.h>
#include <linux/i2c.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "avp/config.h"
#include "avp/devices/virtio_i2c.h"
#include "avp/seccomp.h"
#include "support/config_helper.h"

static int child(bool with_i2c)
{
	struct avp_config cfg;
	struct i2c_rdwr_ioctl_data rdwr = { 0 };
	struct i2c_smbus_ioctl_data smbus = { 0 };
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return 10;
	avp_config_init(&cfg);
	cfg.seccomp = AVP_SECCOMP_KILL;
	if (with_i2c)
		test_add_device(&cfg, &virtio_i2c_config, "dev=/dev/null,allow=0x50");
	if (avp_seccomp_apply(AVP_THREAD_DEVICE, &cfg))
		return 11;
	if (ioctl(fd, I2C_SLAVE, 0x50UL) == 0 || errno != ENOTTY)
		return 12;
	if (ioctl(fd, I2C_SMBUS, &smbus) == 0 || errno != ENOTTY)
		return 13;
	if (ioctl(fd, I2C_RDWR, &rdwr) == 0 || errno != ENOTTY)
		return 14;
	return 0;
}

static int run(bool with_i2c)
{
	int status = 0;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(child(with_i2c));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static void test_worker_may_transfer(void **state)
{
	int status = run(true);

	(void)state;
	if (WIFSIGNALED(status))
		fail_msg("killed by signal %d%s", WTERMSIG(status),
			 WTERMSIG(status) == SIGSYS ? " (an I2C ioctl outside the worker's filter)" : "");
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_not_without_the_device(void **state)
{
	int status = run(false);

	(void)state;
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGSYS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_worker_may_transfer),
		cmocka_unit_test(test_not_without_the_device),
	};

	return cmocka_run_group_tests_name("i2c_seccomp", tests, NULL, NULL);
}
