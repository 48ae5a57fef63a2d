/* The per-role seccomp allowlists: each check runs in a forked child that
 * installs a role's filter and then makes one system call; the parent
 * looks at how the child ended. A forbidden call must kill the child with
 * SIGSYS, an allowed one must return normally. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "avp/config.h"
#include "avp/seccomp.h"
#include "avp/devices/virtio_net.h"
#include "avp/devices/virtio_snd.h"
#include "avp/devices/virtio_vsock.h"
#include "support/config_helper.h"

/* Child exit codes that tell the parent what went wrong. */
#define CHILD_APPLY_FAILED 100
#define CHILD_SURVIVED 101
#define CHILD_CALL_FAILED 102

static const enum avp_thread_role all_roles[] = {
	AVP_THREAD_MAIN, AVP_THREAD_VCPU,     AVP_THREAD_DEVICE,
	AVP_THREAD_UART_READER, AVP_THREAD_WATCHDOG, AVP_THREAD_API,
	AVP_THREAD_CHARDEV,
};
#define NROLES (sizeof(all_roles) / sizeof(all_roles[0]))

typedef int (*probe_fn)(void);

/* Forks; the child confines itself as role under mode, runs probe and
 * exits with its result. Returns the child's wait status. */
static int run_confined(enum avp_thread_role role, enum avp_seccomp_mode mode, probe_fn probe,
			const struct avp_config *base)
{
	struct avp_config cfg;
	int status = 0;
	pid_t pid;

	if (base)
		cfg = *base;
	else
		avp_config_init(&cfg);
	cfg.seccomp = mode;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (avp_seccomp_apply(role, &cfg))
			_exit(CHILD_APPLY_FAILED);
		_exit(probe());
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static void assert_killed_by_sigsys(int status, enum avp_thread_role role, const char *what)
{
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGSYS)
		fail_msg("%s role: %s was not killed by SIGSYS (%s %d)", avp_seccomp_role_name(role),
			 what, WIFSIGNALED(status) ? "signal" : "exit",
			 WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
}

static void assert_exited_ok(int status, enum avp_thread_role role, const char *what)
{
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("%s role: %s did not run normally (%s %d)", avp_seccomp_role_name(role),
			 what, WIFSIGNALED(status) ? "signal" : "exit",
			 WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
}

/* --- calls no role allows: raw syscall() so no library wrapper or
 * sanitizer interceptor runs in between --- */

static int probe_socket_inet(void)
{
	syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
	return CHILD_SURVIVED;
}

static int probe_execve(void)
{
	char *const argv[] = { "/bin/true", NULL };

	syscall(SYS_execve, "/bin/true", argv, NULL);
	return CHILD_SURVIVED;
}

static int probe_ptrace(void)
{
	syscall(SYS_ptrace, PTRACE_TRACEME, 0, NULL, NULL);
	return CHILD_SURVIVED;
}

/* openat is refused with EACCES rather than death (see seccomp.c). */
static int probe_openat_refused(void)
{
	long fd = syscall(SYS_openat, AT_FDCWD, "/etc/passwd", O_RDONLY);

	return fd < 0 && errno == EACCES ? 0 : CHILD_CALL_FAILED;
}

static int probe_fork(void)
{
	syscall(SYS_clone, SIGCHLD, 0, NULL, NULL, 0);
	return CHILD_SURVIVED;
}

static int probe_mmap_exec(void)
{
	syscall(SYS_mmap, NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return CHILD_SURVIVED;
}

static int probe_tgkill_other(void)
{
	/* Signal 0 to another process: only our own pid is allowed. */
	syscall(SYS_tgkill, getppid(), getppid(), 0);
	return CHILD_SURVIVED;
}

static void test_forbidden_calls_kill_every_role(void **state)
{
	static const struct {
		probe_fn fn;
		const char *what;
	} probes[] = {
		{ probe_socket_inet, "socket(AF_INET)" },
		{ probe_execve, "execve" },
		{ probe_ptrace, "ptrace" },
		{ probe_fork, "fork (clone without CLONE_THREAD)" },
		{ probe_mmap_exec, "mmap(PROT_EXEC)" },
		{ probe_tgkill_other, "tgkill to another process" },
	};

	(void)state;
	for (size_t r = 0; r < NROLES; r++)
		for (size_t p = 0; p < sizeof(probes) / sizeof(probes[0]); p++)
			assert_killed_by_sigsys(run_confined(all_roles[r], AVP_SECCOMP_KILL,
							     probes[p].fn, NULL),
						all_roles[r], probes[p].what);
}

static void test_openat_refused_in_every_role(void **state)
{
	(void)state;
	for (size_t r = 0; r < NROLES; r++)
		assert_exited_ok(run_confined(all_roles[r], AVP_SECCOMP_KILL, probe_openat_refused,
					      NULL),
				 all_roles[r], "openat(/etc/passwd) refused with EACCES");
}

/* --- what every role may do --- */

static int probe_prctl(void)
{
	syscall(SYS_prctl, PR_GET_SECCOMP, 0, 0, 0, 0);
	return CHILD_SURVIVED;
}

static int probe_memory_and_time(void)
{
	struct timespec ts;
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	void *big = malloc(1 << 20);

	if (!big)
		return CHILD_CALL_FAILED;
	memset(big, 1, 1 << 20);
	big = realloc(big, 4 << 20); /* mremap */
	if (!big)
		return CHILD_CALL_FAILED;
	free(big);
	pthread_mutex_lock(&m);
	pthread_mutex_unlock(&m);
	if (clock_gettime(CLOCK_MONOTONIC, &ts))
		return CHILD_CALL_FAILED;
	if (write(STDERR_FILENO, "", 0) < 0)
		return CHILD_CALL_FAILED;
	if (syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), 0))
		return CHILD_CALL_FAILED;
	return 0;
}

static void test_common_calls_work_in_every_role(void **state)
{
	(void)state;
	for (size_t r = 0; r < NROLES; r++)
		assert_exited_ok(run_confined(all_roles[r], AVP_SECCOMP_KILL, probe_memory_and_time,
					      NULL),
				 all_roles[r], "malloc/realloc/free, a mutex, clock_gettime, write");
	/* ...but not, say, prctl (after the filter it could only loosen
	 * things like dumpability). */
	assert_killed_by_sigsys(run_confined(AVP_THREAD_DEVICE, AVP_SECCOMP_KILL, probe_prctl, NULL),
				AVP_THREAD_DEVICE, "prctl");
}

/* --- role-specific: allowed in one role, refused in another --- */

static int probe_kvm_run(void)
{
	/* Allowed ioctl on a bad fd: EBADF, not death. */
	return ioctl(-1, KVM_RUN, 0) < 0 && errno == EBADF ? 0 : CHILD_CALL_FAILED;
}

static int probe_kvm_irq_line(void)
{
	return ioctl(-1, KVM_IRQ_LINE, 0) < 0 && errno == EBADF ? 0 : CHILD_CALL_FAILED;
}

static int probe_other_ioctl(void)
{
	int n;

	ioctl(-1, FIONREAD, &n);
	return CHILD_SURVIVED;
}

static int probe_fdatasync(void)
{
	return fdatasync(-1) < 0 && errno == EBADF ? 0 : CHILD_CALL_FAILED;
}

static int probe_getrandom(void)
{
	uint8_t b[16];

	return getrandom(b, sizeof(b), 0) == (ssize_t)sizeof(b) ? 0 : CHILD_CALL_FAILED;
}

static int probe_epoll_wait(void)
{
	struct epoll_event ev;

	return epoll_wait(-1, &ev, 1, 0) < 0 && errno == EBADF ? 0 : CHILD_CALL_FAILED;
}

static int probe_close(void)
{
	return close(-1) < 0 && errno == EBADF ? 0 : CHILD_CALL_FAILED;
}

static int probe_fcntl_getfl(void)
{
	return fcntl(STDERR_FILENO, F_GETFL) >= 0 ? 0 : CHILD_CALL_FAILED;
}

static int probe_fcntl_dupfd(void)
{
	syscall(SYS_fcntl, STDERR_FILENO, F_DUPFD, 0);
	return CHILD_SURVIVED;
}

static int probe_read(void)
{
	char c;

	return read(-1, &c, 1) < 0 && errno == EBADF ? 0 : CHILD_CALL_FAILED;
}

static void expect(enum avp_thread_role role, probe_fn fn, bool allowed, const char *what)
{
	int status = run_confined(role, AVP_SECCOMP_KILL, fn, NULL);

	if (allowed)
		assert_exited_ok(status, role, what);
	else
		assert_killed_by_sigsys(status, role, what);
}

static void test_vcpu_role(void **state)
{
	(void)state;
	expect(AVP_THREAD_VCPU, probe_kvm_run, true, "ioctl(KVM_RUN)");
	expect(AVP_THREAD_VCPU, probe_other_ioctl, false, "ioctl(FIONREAD)");
	expect(AVP_THREAD_VCPU, probe_read, true, "read");
	expect(AVP_THREAD_VCPU, probe_fdatasync, false, "fdatasync");
	expect(AVP_THREAD_VCPU, probe_close, false, "close");
}

static void test_device_role(void **state)
{
	(void)state;
	expect(AVP_THREAD_DEVICE, probe_fdatasync, true, "fdatasync");
	expect(AVP_THREAD_DEVICE, probe_getrandom, true, "getrandom");
	expect(AVP_THREAD_DEVICE, probe_epoll_wait, true, "epoll_wait");
	expect(AVP_THREAD_DEVICE, probe_kvm_run, false, "ioctl(KVM_RUN)");
	expect(AVP_THREAD_DEVICE, probe_close, false, "close");
}

static void test_uart_reader_role(void **state)
{
	(void)state;
	expect(AVP_THREAD_UART_READER, probe_read, true, "read");
	expect(AVP_THREAD_UART_READER, probe_epoll_wait, false, "epoll_wait");
	expect(AVP_THREAD_UART_READER, probe_getrandom, false, "getrandom");
	expect(AVP_THREAD_UART_READER, probe_kvm_run, false, "ioctl(KVM_RUN)");
	/* Typed input raises the UART's interrupt from this thread; a refused
	 * KVM_IRQ_LINE killed avp at the first key press. */
	expect(AVP_THREAD_UART_READER, probe_kvm_irq_line, true, "ioctl(KVM_IRQ_LINE)");
}

static void test_watchdog_role(void **state)
{
	(void)state;
	/* The timer thread only waits and ends the VM (an eventfd write,
	 * part of the common list). */
	expect(AVP_THREAD_WATCHDOG, probe_read, false, "read");
	expect(AVP_THREAD_WATCHDOG, probe_close, false, "close");
	expect(AVP_THREAD_WATCHDOG, probe_kvm_irq_line, false, "ioctl(KVM_IRQ_LINE)");
	expect(AVP_THREAD_WATCHDOG, probe_epoll_wait, false, "epoll_wait");
}

static int probe_api_socket_calls(void)
{
	char c;

	if (poll(NULL, 0, 0) != 0)
		return CHILD_CALL_FAILED;
	if (accept4(-1, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC) >= 0 || errno != EBADF)
		return CHILD_CALL_FAILED;
	if (recv(-1, &c, 1, MSG_DONTWAIT) >= 0 || errno != EBADF)
		return CHILD_CALL_FAILED;
	if (send(-1, &c, 1, MSG_NOSIGNAL | MSG_DONTWAIT) >= 0 || errno != EBADF)
		return CHILD_CALL_FAILED;
	return close(-1) < 0 && errno == EBADF ? 0 : CHILD_CALL_FAILED;
}

/* A directory for the screenshot probe, made before the child confines
 * itself. */
static char shot_dir[] = "/tmp/avp-seccomp-XXXXXX";

/* What a screenshot does (virtio_gpu.c write_png_file): a temporary file
 * next to the target, stdio writes, rename over the target, and the
 * control socket's cleanup (lstat, unlink). */
static int probe_api_screenshot_file(void)
{
	char tmp[sizeof(shot_dir) + 32], final[sizeof(shot_dir) + 32];
	struct stat st;
	FILE *f;
	int fd;

	snprintf(tmp, sizeof(tmp), "%s/shot.png.XXXXXX", shot_dir);
	snprintf(final, sizeof(final), "%s/shot.png", shot_dir);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0 || fchmod(fd, 0644) < 0)
		return CHILD_CALL_FAILED;
	f = fdopen(fd, "wb");
	if (!f || fwrite("\x89PNG", 1, 4, f) != 4 || fclose(f) != 0)
		return CHILD_CALL_FAILED;
	if (rename(tmp, final) < 0 || lstat(final, &st) < 0 || st.st_size != 4)
		return CHILD_CALL_FAILED;
	return unlink(final) == 0 ? 0 : CHILD_CALL_FAILED;
}

static int probe_openat_write(void)
{
	/* Opening an existing file for writing is not what a screenshot
	 * does (it creates a new file with O_EXCL). */
	long fd = syscall(SYS_openat, AT_FDCWD, "/dev/null", O_WRONLY | O_CLOEXEC);

	return fd < 0 && errno == EACCES ? 0 : CHILD_CALL_FAILED;
}

static int probe_json_objects(void)
{
	json_object *o = json_object_new_object();
	const char *text;
	int ok;

	json_object_object_add(o, "ok", json_object_new_boolean(1));
	text = json_object_to_json_string(o);
	ok = text && strstr(text, "\"ok\"") != NULL;
	json_object_put(o);
	return ok ? 0 : CHILD_CALL_FAILED;
}

/* glibc's malloc opens /proc/sys/vm/overcommit_memory once per process,
 * lazily, in the first thread whose own heap it shrinks (arena.c,
 * check_may_shrink_heap): a screenshot's large buffer freed in the
 * control thread did that, and its filter killed avp. */
static void *trim_thread_heap(void *arg)
{
	enum avp_thread_role role = *(enum avp_thread_role *)arg;
	void *blocks[16];

	if (avp_seccomp_apply(role, NULL))
		_exit(CHILD_APPLY_FAILED);
	/* Below the mmap threshold, so they come from this thread's heap. */
	for (size_t i = 0; i < 16; i++) {
		blocks[i] = malloc(100 * 1024);
		if (!blocks[i])
			_exit(CHILD_CALL_FAILED);
		memset(blocks[i], 1, 100 * 1024);
	}
	for (size_t i = 16; i-- > 0;)
		free(blocks[i]);
	_exit(0);
	return NULL;
}

static void test_thread_heap_trim_in_every_role(void **state)
{
	(void)state;
	for (size_t r = 0; r < NROLES; r++) {
		enum avp_thread_role role = all_roles[r];
		int status = 0;
		pid_t pid = fork();

		assert_true(pid >= 0);
		if (pid == 0) {
			pthread_t t;

			if (pthread_create(&t, NULL, trim_thread_heap, &role))
				_exit(CHILD_CALL_FAILED);
			pthread_join(t, NULL);
			_exit(CHILD_CALL_FAILED);
		}
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_exited_ok(status, role, "malloc/free shrinking a thread's heap");
	}
}

static void test_api_role(void **state)
{
	(void)state;
	assert_non_null(mkdtemp(shot_dir));
	expect(AVP_THREAD_API, probe_api_socket_calls, true, "poll/accept4/recv/send/close");
	expect(AVP_THREAD_API, probe_api_screenshot_file, true, "a screenshot's file calls");
	/* The power button is an interrupt pulse. */
	expect(AVP_THREAD_API, probe_kvm_irq_line, true, "ioctl(KVM_IRQ_LINE)");
	expect(AVP_THREAD_API, probe_openat_write, true, "openat(O_WRONLY) of an existing file refused (EACCES)");
	expect(AVP_THREAD_API, probe_kvm_run, false, "ioctl(KVM_RUN)");
	expect(AVP_THREAD_API, probe_fdatasync, false, "fdatasync");
	/* json-c seeds its hash tables with getrandom on the first object a
	 * process makes: refused, it killed avp at the first request. */
	expect(AVP_THREAD_API, probe_json_objects, true, "json-c objects (getrandom seed)");
	expect(AVP_THREAD_API, probe_epoll_wait, false, "epoll_wait");
	rmdir(shot_dir);
}

static void test_main_role(void **state)
{
	(void)state;
	expect(AVP_THREAD_MAIN, probe_close, true, "close");
	expect(AVP_THREAD_MAIN, probe_read, true, "read");
	expect(AVP_THREAD_MAIN, probe_fcntl_getfl, true, "fcntl(F_GETFL)");
	expect(AVP_THREAD_MAIN, probe_fcntl_dupfd, false, "fcntl(F_DUPFD)");
	expect(AVP_THREAD_MAIN, probe_kvm_run, false, "ioctl(KVM_RUN)");
	expect(AVP_THREAD_MAIN, probe_epoll_wait, false, "epoll_wait");
}

static int probe_gmtime(void)
{
	time_t t = 1700000000;
	struct tm tm;

	/* The first gmtime_r of a process loads the time zone: the filter
	 * must have had that done beforehand. */
	return gmtime_r(&t, &tm) && tm.tm_year == 123 ? 0 : CHILD_CALL_FAILED;
}

static void test_rtc_time_conversion_in_vcpu(void **state)
{
	(void)state;
	expect(AVP_THREAD_VCPU, probe_gmtime, true, "gmtime_r (RTC read)");
}

/* --- devices that bring their own calls --- */

static int probe_socket_unix(void)
{
	int fd = (int)syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0);

	return fd >= 0 && close(fd) == 0 ? 0 : CHILD_CALL_FAILED;
}

static int probe_pwrite(void)
{
	return pwrite(-1, "", 1, 0) < 0 && errno == EBADF ? 0 : CHILD_CALL_FAILED;
}

static int probe_tunsetoffload(void)
{
	return ioctl(-1, TUNSETOFFLOAD, 0ul) < 0 && errno == EBADF ? 0 : CHILD_CALL_FAILED;
}

static void test_device_extras_follow_the_config(void **state)
{
	struct avp_config cfg;

	(void)state;
	avp_config_init(&cfg);
	/* Without the devices: refused. */
	assert_killed_by_sigsys(run_confined(AVP_THREAD_DEVICE, AVP_SECCOMP_KILL, probe_socket_unix,
					     &cfg),
				AVP_THREAD_DEVICE, "socket(AF_UNIX) without vsock");
	assert_killed_by_sigsys(run_confined(AVP_THREAD_DEVICE, AVP_SECCOMP_KILL, probe_pwrite, &cfg),
				AVP_THREAD_DEVICE, "pwrite without sound");
	/* vsock: Unix sockets only. */
	test_add_device(&cfg, &virtio_vsock_config, "cid=3,socket=/v");
	assert_exited_ok(run_confined(AVP_THREAD_DEVICE, AVP_SECCOMP_KILL, probe_socket_unix, &cfg),
			 AVP_THREAD_DEVICE, "socket(AF_UNIX) with vsock");
	assert_killed_by_sigsys(run_confined(AVP_THREAD_DEVICE, AVP_SECCOMP_KILL, probe_socket_inet,
					     &cfg),
				AVP_THREAD_DEVICE, "socket(AF_INET) with vsock");
	assert_killed_by_sigsys(run_confined(AVP_THREAD_VCPU, AVP_SECCOMP_KILL, probe_socket_unix,
					     &cfg),
				AVP_THREAD_VCPU, "socket(AF_UNIX) in a vCPU with vsock");
	avp_config_remove_devices(&cfg, &virtio_vsock_config);
	/* sound: WAV writes from the worker, the vCPU (reset) and main. */
	test_add_device(&cfg, &virtio_snd_config, "out=o.wav");
	for (size_t r = 0; r < 3; r++)
		assert_exited_ok(run_confined(all_roles[r], AVP_SECCOMP_KILL, probe_pwrite, &cfg),
				 all_roles[r], "pwrite with sound");
	assert_killed_by_sigsys(run_confined(AVP_THREAD_UART_READER, AVP_SECCOMP_KILL, probe_pwrite,
					     &cfg),
				AVP_THREAD_UART_READER, "pwrite in the UART reader");
	avp_config_remove_devices(&cfg, &virtio_snd_config);
	/* net: the tap's offloads, set from a vCPU (activation, reset). */
	assert_killed_by_sigsys(run_confined(AVP_THREAD_VCPU, AVP_SECCOMP_KILL, probe_tunsetoffload,
					     &cfg),
				AVP_THREAD_VCPU, "TUNSETOFFLOAD without a NIC");
	test_add_device(&cfg, &virtio_net_config, "tap=t0");
	assert_exited_ok(run_confined(AVP_THREAD_VCPU, AVP_SECCOMP_KILL, probe_tunsetoffload, &cfg),
			 AVP_THREAD_VCPU, "TUNSETOFFLOAD with a NIC");
	assert_killed_by_sigsys(run_confined(AVP_THREAD_DEVICE, AVP_SECCOMP_KILL, probe_tunsetoffload,
					     &cfg),
				AVP_THREAD_DEVICE, "TUNSETOFFLOAD in a device worker");
	avp_config_free(&cfg);
}

static int probe_gsi_routing(void)
{
	return ioctl(-1, KVM_SET_GSI_ROUTING, 0) < 0 && errno == EBADF ? 0 : CHILD_CALL_FAILED;
}

static int probe_ioeventfd(void)
{
	return ioctl(-1, KVM_IOEVENTFD, 0) < 0 && errno == EBADF ? 0 : CHILD_CALL_FAILED;
}

/* --transport pci: MSI-X routing and BAR moves from the vCPUs, INTx and
 * messages from the workers; none of it on mmio. */
static void test_pci_extras_follow_the_transport(void **state)
{
	struct avp_config cfg;

	(void)state;
	avp_config_init(&cfg);
	assert_killed_by_sigsys(run_confined(AVP_THREAD_VCPU, AVP_SECCOMP_KILL, probe_gsi_routing,
					     &cfg),
				AVP_THREAD_VCPU, "KVM_SET_GSI_ROUTING on mmio");
	assert_killed_by_sigsys(run_confined(AVP_THREAD_DEVICE, AVP_SECCOMP_KILL, probe_kvm_irq_line,
					     &cfg),
				AVP_THREAD_DEVICE, "KVM_IRQ_LINE in a worker on mmio");
	cfg.transport = AVP_TRANSPORT_PCI;
	assert_exited_ok(run_confined(AVP_THREAD_VCPU, AVP_SECCOMP_KILL, probe_gsi_routing, &cfg),
			 AVP_THREAD_VCPU, "KVM_SET_GSI_ROUTING on pci");
	assert_exited_ok(run_confined(AVP_THREAD_VCPU, AVP_SECCOMP_KILL, probe_ioeventfd, &cfg),
			 AVP_THREAD_VCPU, "KVM_IOEVENTFD on pci");
	assert_exited_ok(run_confined(AVP_THREAD_DEVICE, AVP_SECCOMP_KILL, probe_kvm_irq_line, &cfg),
			 AVP_THREAD_DEVICE, "KVM_IRQ_LINE in a worker on pci");
	assert_killed_by_sigsys(run_confined(AVP_THREAD_API, AVP_SECCOMP_KILL, probe_gsi_routing,
					     &cfg),
				AVP_THREAD_API, "KVM_SET_GSI_ROUTING in the API thread");
	avp_config_free(&cfg);
}

/* --- modes --- */

static void test_log_mode_does_not_kill(void **state)
{
	(void)state;
	for (size_t r = 0; r < NROLES; r++) {
		int status = run_confined(all_roles[r], AVP_SECCOMP_LOG, probe_socket_inet, NULL);

		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), CHILD_SURVIVED);
	}
}

static int probe_unconfined(void)
{
	return prctl(PR_GET_SECCOMP) == 0 ? 0 : CHILD_CALL_FAILED;
}

static void test_off_mode_installs_nothing(void **state)
{
	(void)state;
	assert_exited_ok(run_confined(AVP_THREAD_VCPU, AVP_SECCOMP_OFF, probe_unconfined, NULL),
			 AVP_THREAD_VCPU, "prctl(PR_GET_SECCOMP) with --seccomp=off");
	/* Nothing installed, so the forbidden call goes through. */
	assert_int_equal(WEXITSTATUS(run_confined(AVP_THREAD_VCPU, AVP_SECCOMP_OFF,
						  probe_socket_inet, NULL)),
			 CHILD_SURVIVED);
}

static void test_default_config_kills(void **state)
{
	struct avp_config cfg;

	(void)state;
	avp_config_init(&cfg);
	assert_int_equal(cfg.seccomp, AVP_SECCOMP_KILL);
	/* NULL means the defaults too. */
	pid_t pid = fork();
	int status;

	assert_true(pid >= 0);
	if (pid == 0) {
		if (avp_seccomp_apply(AVP_THREAD_DEVICE, NULL))
			_exit(CHILD_APPLY_FAILED);
		_exit(probe_socket_inet());
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_killed_by_sigsys(status, AVP_THREAD_DEVICE, "socket with a NULL config");
}

/* --- the jail's ID drop, repeated by glibc on every thread --- */

static int probe_setuid_jail(void)
{
	/* Allowed (may fail with EPERM when the tests do not run as root,
	 * but must not kill). */
	syscall(SYS_setgroups, 0, NULL);
	syscall(SYS_setgid, 65534);
	syscall(SYS_setuid, 65534);
	return 0;
}

static int probe_setuid_root(void)
{
	syscall(SYS_setuid, 0);
	return CHILD_SURVIVED;
}

static void test_jail_id_drop_only_to_configured_ids(void **state)
{
	struct avp_config cfg;

	(void)state;
	avp_config_init(&cfg);
	cfg.jail.enabled = true;
	cfg.jail.uid = cfg.jail.gid = 65534;
	cfg.jail.uid_set = cfg.jail.gid_set = true;
	assert_exited_ok(run_confined(AVP_THREAD_DEVICE, AVP_SECCOMP_KILL, probe_setuid_jail, &cfg),
			 AVP_THREAD_DEVICE, "setgroups/setgid/setuid to the jail's IDs");
	assert_exited_ok(run_confined(AVP_THREAD_UART_READER, AVP_SECCOMP_KILL, probe_setuid_jail,
				      &cfg),
			 AVP_THREAD_UART_READER, "setgroups/setgid/setuid to the jail's IDs");
	/* The watchdog's timer thread is created with the platform, before
	 * the jail; the control socket's thread starts after it. */
	assert_exited_ok(run_confined(AVP_THREAD_WATCHDOG, AVP_SECCOMP_KILL, probe_setuid_jail,
				      &cfg),
			 AVP_THREAD_WATCHDOG, "setgroups/setgid/setuid to the jail's IDs");
	assert_killed_by_sigsys(run_confined(AVP_THREAD_API, AVP_SECCOMP_KILL, probe_setuid_jail,
					     &cfg),
				AVP_THREAD_API, "setuid in the control socket's thread");
	assert_killed_by_sigsys(run_confined(AVP_THREAD_DEVICE, AVP_SECCOMP_KILL,
					     probe_setuid_root, &cfg),
				AVP_THREAD_DEVICE, "setuid(0)");
	/* Without the jail no role may change IDs at all. */
	assert_killed_by_sigsys(run_confined(AVP_THREAD_DEVICE, AVP_SECCOMP_KILL,
					     probe_setuid_jail, NULL),
				AVP_THREAD_DEVICE, "setuid without --jail");
	/* The vCPU threads start after the drop: they never need it. */
	assert_killed_by_sigsys(run_confined(AVP_THREAD_VCPU, AVP_SECCOMP_KILL, probe_setuid_jail,
					     &cfg),
				AVP_THREAD_VCPU, "setuid in a vCPU thread");
}

/* --- only the calling thread is confined (no TSYNC) --- */

static void *confine_self(void *arg)
{
	*(int *)arg = avp_seccomp_apply(AVP_THREAD_DEVICE, NULL);
	return NULL;
}

static void test_filter_binds_only_the_calling_thread(void **state)
{
	pid_t pid;
	int status;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		pthread_t t;
		int ret = -1;

		if (pthread_create(&t, NULL, confine_self, &ret) || pthread_join(t, NULL) || ret)
			_exit(CHILD_APPLY_FAILED);
		/* This thread is not confined: the call is merely refused by
		 * the kernel or works, and the process lives on. */
		int fd = (int)syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);

		if (fd >= 0)
			close(fd);
		_exit(prctl(PR_GET_SECCOMP) == 0 ? 0 : CHILD_CALL_FAILED);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_exited_ok(status, AVP_THREAD_DEVICE, "the main thread after another confined itself");
}

static void test_bad_arguments(void **state)
{
	struct avp_config cfg;

	(void)state;
	avp_config_init(&cfg);
	assert_int_equal(avp_seccomp_apply(AVP_THREAD_NROLES, &cfg), -EINVAL);
	cfg.seccomp = (enum avp_seccomp_mode)42;
	assert_int_equal(avp_seccomp_apply(AVP_THREAD_VCPU, &cfg), -EINVAL);
	assert_string_equal(avp_seccomp_role_name(AVP_THREAD_VCPU), "vcpu");
	assert_string_equal(avp_seccomp_role_name(AVP_THREAD_UART_READER), "uart-reader");
	assert_string_equal(avp_seccomp_role_name(AVP_THREAD_WATCHDOG), "watchdog");
	assert_string_equal(avp_seccomp_role_name(AVP_THREAD_API), "api");
	assert_string_equal(avp_seccomp_role_name(AVP_THREAD_NROLES), "unknown");
	/* Nothing was installed on this (the test's) thread. */
	assert_int_equal(prctl(PR_GET_SECCOMP), 0);
}

/* The relay of a pty or socket console (its real path runs confined in
 * test_chardev_seccomp.c): no sockets of its own, no KVM, no files. */
static void test_chardev_role(void **state)
{
	(void)state;
	expect(AVP_THREAD_CHARDEV, probe_close, true, "close");
	expect(AVP_THREAD_CHARDEV, probe_read, true, "read");
	expect(AVP_THREAD_CHARDEV, probe_socket_unix, false, "socket(AF_UNIX)");
	expect(AVP_THREAD_CHARDEV, probe_kvm_run, false, "ioctl(KVM_RUN)");
	expect(AVP_THREAD_CHARDEV, probe_kvm_irq_line, false, "ioctl(KVM_IRQ_LINE)");
	expect(AVP_THREAD_CHARDEV, probe_fdatasync, false, "fdatasync");
	expect(AVP_THREAD_CHARDEV, probe_epoll_wait, false, "epoll_wait");
	expect(AVP_THREAD_CHARDEV, probe_fcntl_getfl, false, "fcntl(F_GETFL)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forbidden_calls_kill_every_role),
		cmocka_unit_test(test_openat_refused_in_every_role),
		cmocka_unit_test(test_common_calls_work_in_every_role),
		cmocka_unit_test(test_vcpu_role),
		cmocka_unit_test(test_device_role),
		cmocka_unit_test(test_uart_reader_role),
		cmocka_unit_test(test_watchdog_role),
		cmocka_unit_test(test_api_role),
		cmocka_unit_test(test_chardev_role),
		cmocka_unit_test(test_thread_heap_trim_in_every_role),
		cmocka_unit_test(test_main_role),
		cmocka_unit_test(test_rtc_time_conversion_in_vcpu),
		cmocka_unit_test(test_device_extras_follow_the_config),
		cmocka_unit_test(test_pci_extras_follow_the_transport),
		cmocka_unit_test(test_log_mode_does_not_kill),
		cmocka_unit_test(test_off_mode_installs_nothing),
		cmocka_unit_test(test_default_config_kills),
		cmocka_unit_test(test_jail_id_drop_only_to_configured_ids),
		cmocka_unit_test(test_filter_binds_only_the_calling_thread),
		cmocka_unit_test(test_bad_arguments),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
