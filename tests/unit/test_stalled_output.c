/* End to end: `avp run` whose standard output is a pipe nobody reads ends
 * promptly on SIGTERM. The guest is a tiny bzImage made here, whose 64-bit
 * entry writes to the UART without end (rep outsb to 0x3f8), so the pipe
 * fills within moments. Before the fix the vCPU blocked in write() with
 * the UART's lock held and avp could only be killed with SIGKILL; with
 * stderr on the same pipe, the main thread also blocked logging "stopping
 * the VM on signal".
 *
 * The default seccomp filters stay on, so the new output paths are run
 * under them too. Needs /dev/kvm and the avp binary beside the test
 * binaries (make check builds it first); skipped, saying why, without
 * them. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "avp/le.h"

#define SETUP_SECTS 1

/* A protocol-2.15 x86-64 bzImage (as in test_bzimage.c) whose protected-
 * mode part is 4 KiB loaded at 1 MiB, with this at its 64-bit entry
 * (offset 0x200):
 *   start: mov esi, 0x100000 ; mov ecx, 0x1000 ; mov dx, 0x3f8
 *          rep outsb ; jmp start */
static void write_image(const char *path)
{
	static const uint8_t code[] = {
		0xbe, 0x00, 0x00, 0x10, 0x00, /* mov esi, 0x100000 */
		0xb9, 0x00, 0x10, 0x00, 0x00, /* mov ecx, 0x1000 */
		0x66, 0xba, 0xf8, 0x03,	      /* mov dx, 0x3f8 */
		0xf3, 0x6e,		      /* rep outsb */
		0xeb, 0xee,		      /* jmp start */
	};
	static uint8_t img[(SETUP_SECTS + 1) * 512 + 4096];
	uint8_t *pm = img + (SETUP_SECTS + 1) * 512;
	FILE *f;

	memset(img, 0, sizeof(img));
	img[0x1f1] = SETUP_SECTS;
	put_le32(img + 0x1f4, 4096 / 16); /* syssize */
	put_le16(img + 0x1fe, 0xaa55);
	img[0x200] = 0xeb;
	img[0x201] = 0x6a;
	memcpy(img + 0x202, "HdrS", 4);
	put_le16(img + 0x206, 0x020f);
	img[0x211] = 0x01; /* LOADED_HIGH */
	put_le32(img + 0x22c, 0x7fffffff);
	put_le32(img + 0x230, 0x200000);
	img[0x234] = 1;
	img[0x235] = 21;
	put_le16(img + 0x236, 0x0003); /* XLF_KERNEL_64 | ABOVE_4G */
	put_le32(img + 0x238, 2047);
	put_le64(img + 0x258, 0x1000000);
	put_le32(img + 0x260, 0x300000);
	memcpy(pm + 0x200, code, sizeof(code));
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(img, 1, sizeof(img), f), sizeof(img));
	assert_int_equal(fclose(f), 0);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* build/tests/test_x -> build/avp (build/san/... with SAN=1). */
static bool find_avp(char *out, size_t len)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n <= 0)
		return false;
	self[n] = '\0';
	snprintf(out, len, "%s/../avp", dirname(self));
	return access(out, X_OK) == 0;
}

/* stderr_too: `avp run ... 2>&1 | reader`: the log has nowhere to go
 * either, the "stopping the VM on signal" line included. */
static void run_stalled(bool stderr_too)
{
	char avp[PATH_MAX + 8], dir[] = "/tmp/avp-stall-XXXXXX", kernel[64], fifo[64];
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	int rd, status = 0, pending = 0, pipe_size;
	double deadline, t0;
	pid_t pid;

	if (kvm < 0) {
		print_message("no usable /dev/kvm (%s): the end-to-end check needs a guest\n",
			      strerror(errno));
		skip();
	}
	close(kvm);
	if (!find_avp(avp, sizeof(avp))) {
		print_message("no avp binary beside the tests: run it through make check\n");
		skip();
	}
	assert_non_null(mkdtemp(dir));
	snprintf(kernel, sizeof(kernel), "%s/tiny.bzImage", dir);
	snprintf(fifo, sizeof(fifo), "%s/out", dir);
	write_image(kernel);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	/* The reader: open all along, never reads. */
	rd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	assert_true(rd >= 0);
	pipe_size = fcntl(rd, F_GETPIPE_SZ);
	assert_true(pipe_size > 0);

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int out = open(fifo, O_WRONLY);
		int null = open("/dev/null", O_RDWR);

		if (out < 0 || null < 0 || dup2(out, STDOUT_FILENO) < 0 ||
		    dup2(null, STDIN_FILENO) < 0 ||
		    dup2(stderr_too ? out : null, STDERR_FILENO) < 0)
			_exit(100);
		/* LeakSanitizer's exit-time check needs calls the main
		 * thread's filter refuses (docs/security.md); the filters
		 * themselves stay on, they are part of what is tested. */
		setenv("ASAN_OPTIONS", "detect_leaks=0", 1);
		execl(avp, "avp", "run", "--kernel", kernel, "--memory", "64", "--cpus", "2",
		      (char *)NULL);
		_exit(101);
	}
	/* Wait until the guest filled the pipe, then give it time to fill
	 * what avp buffers and to find the transmitter busy. */
	deadline = now_s() + 30;
	while (now_s() < deadline && ioctl(rd, FIONREAD, &pending) == 0 && pending < pipe_size) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			fail_msg("avp ended before its output stalled (status 0x%x)", status);
		usleep(10000);
	}
	assert_int_equal(pending, pipe_size);
	usleep(500000);

	/* Typically 0.5 s (what the stalled reader is given at the end,
	 * CHARDEV_CLOSE_WAIT_MS) plus the kernel's VM teardown, which took
	 * up to 6 s on a loaded nested host: the bound only has to tell
	 * "ends" from "hangs until SIGKILL". */
	t0 = now_s();
	assert_int_equal(kill(pid, SIGTERM), 0);
	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (now_s() - t0 > 20.0) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			fail_msg("avp still ran 20 s after SIGTERM with a stalled standard output");
		}
		usleep(10000);
	}
	print_message("avp ended %.2f s after SIGTERM\n", now_s() - t0);
	/* Ended by its own exit path (status 5: stopped by a signal), not
	 * by the signal's default action. */
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 5);

	close(rd);
	unlink(fifo);
	unlink(kernel);
	rmdir(dir);
}

static void test_sigterm_with_stalled_stdout(void **state)
{
	(void)state;
	run_stalled(false);
}

/* The VM side passes this too (avp_log drops what stderr does not take),
 * but src/cli/main.c's last line, fprintf(stderr, "avp: %s\r\n", ...)
 * after the VM is gone, still blocks on the full pipe. Unskip once that
 * line goes through avp_log or a non-blocking write. */
static void test_sigterm_with_stalled_stdout_and_stderr(void **state)
{
	(void)state;
	run_stalled(true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sigterm_with_stalled_stdout),
		cmocka_unit_test(test_sigterm_with_stalled_stdout_and_stderr),
	};

	return cmocka_run_group_tests_name("stalled_output", tests, NULL, NULL);
}
