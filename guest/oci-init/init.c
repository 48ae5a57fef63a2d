/* avp's init for a container image booted as a VM (docs/oci.md, "A
 * container image as a VM"). PID 1 of an initramfs that holds the
 * container's root file system, this program (/.avp/init), the kernel
 * modules it needs and /.avp/config (include/avp/runtime/oci_guest.h):
 *
 *   1. mounts /proc, /sys, /dev; loads the modules in their load order;
 *   2. connects to the host by vsock: one stream each for the process's
 *      stdin, stdout and stderr, one for its exit status;
 *   3. runs process.args with process.env, cwd, uid/gid, hostname;
 *   4. turns the ACPI power button (KEY_POWER) into SIGTERM to it, so an
 *      engine's stop reaches the process as it would in a container;
 *   5. when it ends, writes "exit N" and powers the VM off.
 * Static, no library but libc: the container's own tree has whatever it
 * has. Failures before the process runs go to the console (avp's log) and
 * end in exit status 127 (not executable) or 255. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/input.h>
#include <linux/vm_sockets.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "avp/runtime/oci_guest.h"

#define MAX_ARGS 4096
#define MAX_BUTTONS 8
#define LONG_BITS (8 * sizeof(long))

/* Kept open here too, so that at the end everything the process wrote
 * can be seen delivered before the VM goes (power_off). */
static int status_fd = -1, out_fd = -1, err_fd = -1;

/* Ends our side of a stream and waits (up to ms) for the host to close
 * its side: then all that was written on it has arrived. */
static void hand_over(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char buf[64];

	if (fd < 0)
		return;
	shutdown(fd, SHUT_WR);
	while (poll(&p, 1, ms) > 0 && read(fd, buf, sizeof(buf)) > 0)
		;
	close(fd);
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void say(const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	int fd = open("/dev/console", O_WRONLY | O_NOCTTY | O_CLOEXEC);

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (fd >= 0) {
		dprintf(fd, "avp-oci-init: %s\n", msg);
		close(fd);
	}
}

static __attribute__((noreturn)) void power_off(int code)
{
	/* A daemon the process left behind may hold them: bounded waits. */
	hand_over(out_fd, 2000);
	hand_over(err_fd, 2000);
	if (status_fd >= 0) {
		dprintf(status_fd, "exit %d\n", code);
		hand_over(status_fd, 2000);
	}
	sync();
	reboot(RB_POWER_OFF);
	for (;;)
		pause();
}

static void load_modules(void)
{
	char name[128], path[256];
	FILE *f = fopen(OCI_GUEST_MODULES "/load-order", "r");

	if (!f)
		return;
	while (fgets(name, sizeof(name), f)) {
		int fd;

		name[strcspn(name, "\n")] = '\0';
		if (!name[0])
			continue;
		snprintf(path, sizeof(path), "%s/%s.ko", OCI_GUEST_MODULES, name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || (syscall(SYS_finit_module, fd, "", 0) && errno != EEXIST))
			say("module %s: %s", name, strerror(errno));
		if (fd >= 0)
			close(fd);
	}
	fclose(f);
}

/* A stream to the host's port, retried while the vsock driver probes. */
static int connect_host(unsigned int port)
{
	struct sockaddr_vm sa = { .svm_family = AF_VSOCK, .svm_cid = OCI_HOST_CID,
				  .svm_port = port };

	for (int tries = 0; tries < 100; tries++) {
		int s = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (s >= 0 && connect(s, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return s;
		if (s >= 0)
			close(s);
		usleep(50 * 1000);
	}
	say("cannot reach the host on vsock port %u: %s", port, strerror(errno));
	return -1;
}

struct config {
	char *args[MAX_ARGS + 1], *env[MAX_ARGS + 1];
	const char *cwd, *hostname;
	long uid, gid;
};

static int read_config(struct config *c)
{
	static char buf[1 << 20];
	int na = 0, ne = 0, fd = open(OCI_GUEST_CONFIG, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);

	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	memset(c, 0, sizeof(*c));
	c->cwd = "/";
	c->uid = c->gid = -1;
	for (char *p = buf; p < buf + n;) {
		char tag = *p++, *v = p;

		p += strlen(p) + 1;
		if (tag == 'A' && na < MAX_ARGS)
			c->args[na++] = v;
		else if (tag == 'E' && ne < MAX_ARGS)
			c->env[ne++] = v;
		else if (tag == 'C')
			c->cwd = v;
		else if (tag == 'U')
			c->uid = atol(v);
		else if (tag == 'G')
			c->gid = atol(v);
		else if (tag == 'H')
			c->hostname = v;
	}
	return na ? 0 : -1;
}

/* Input devices that can send KEY_POWER (the ACPI button driver's). */
static int find_buttons(struct pollfd *pf, int max)
{
	int n = 0;

	for (int i = 0; i < 32 && n < max; i++) {
		unsigned long keys[KEY_CNT / LONG_BITS + 1] = { 0 };
		char path[32];
		int fd;

		snprintf(path, sizeof(path), "/dev/input/event%d", i);
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
		if (fd < 0)
			continue;
		if (ioctl(fd, EVIOCGBIT(EV_KEY, sizeof(keys)), keys) < 0 ||
		    !((keys[KEY_POWER / LONG_BITS] >> (KEY_POWER % LONG_BITS)) & 1)) {
			close(fd);
			continue;
		}
		pf[n++] = (struct pollfd){ .fd = fd, .events = POLLIN };
	}
	return n;
}

static bool power_pressed(int fd)
{
	struct input_event ev;
	bool pressed = false;

	while (read(fd, &ev, sizeof(ev)) == sizeof(ev))
		pressed |= ev.type == EV_KEY && ev.code == KEY_POWER && ev.value == 1;
	return pressed;
}

static __attribute__((noreturn)) void run_process(const struct config *c, const int io[3],
						  const sigset_t *orig)
{
	sigprocmask(SIG_SETMASK, orig, NULL);
	setsid();
	for (int i = 0; i < 3; i++)
		if (dup2(io[i], i) < 0)
			_exit(255);
	if (c->gid >= 0 && setgid((gid_t)c->gid))
		_exit(255);
	if (c->uid >= 0 && setuid((uid_t)c->uid))
		_exit(255);
	if (chdir(c->cwd)) {
		dprintf(2, "avp: process.cwd %s: %s\n", c->cwd, strerror(errno));
		_exit(127);
	}
	/* execvpe looks args[0] up in this process's PATH: the container's. */
	for (int i = 0; c->env[i]; i++)
		if (strncmp(c->env[i], "PATH=", 5) == 0)
			setenv("PATH", c->env[i] + 5, 1);
	execvpe(c->args[0], c->args, (char **)c->env);
	dprintf(2, "avp: cannot execute %s: %s\n", c->args[0], strerror(errno));
	_exit(errno == ENOENT ? 127 : 126);
}

int main(void)
{
	struct pollfd pf[MAX_BUTTONS + 1];
	sigset_t set, orig;
	struct config c;
	int io[3], nbuttons = 0, code = 255;
	time_t next_scan = 0;
	pid_t child;

	mkdir("/proc", 0555);
	mkdir("/sys", 0555);
	mkdir("/dev", 0755);
	mkdir("/tmp", 01777);
	mount("proc", "/proc", "proc", 0, NULL);
	mount("sysfs", "/sys", "sysfs", 0, NULL);
	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	mkdir("/dev/pts", 0755);
	mount("devpts", "/dev/pts", "devpts", 0, NULL);
	load_modules();
	if (read_config(&c)) {
		say("no process in %s", OCI_GUEST_CONFIG);
		power_off(255);
	}
	if (c.hostname)
		sethostname(c.hostname, strlen(c.hostname));
	/* The button before the streams: the host presses it only once we
	 * have connected (an engine's stop during boot waits for that). */
	for (int tries = 0; tries < 20 && nbuttons == 0; tries++) {
		nbuttons = find_buttons(pf + 1, MAX_BUTTONS);
		if (!nbuttons)
			usleep(50 * 1000);
	}
	next_scan = time(NULL) + 1;
	status_fd = connect_host(OCI_PORT_STATUS);
	io[0] = connect_host(OCI_PORT_STDIN);
	io[1] = connect_host(OCI_PORT_STDOUT);
	io[2] = connect_host(OCI_PORT_STDERR);
	if (status_fd < 0 || io[0] < 0 || io[1] < 0 || io[2] < 0)
		power_off(255);
	/* Our end of stdin only reads. */
	shutdown(io[0], SHUT_WR);
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, &orig);
	pf[0] = (struct pollfd){ .fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK), .events = POLLIN };
	child = fork();
	if (child == 0)
		run_process(&c, io, &orig);
	close(io[0]);
	out_fd = io[1];
	err_fd = io[2];
	if (child < 0)
		power_off(255);
	for (;;) {
		struct signalfd_siginfo si;
		int ws;
		pid_t p;

		/* The button driver may probe after we start: look again. */
		if (nbuttons == 0 && time(NULL) >= next_scan) {
			nbuttons = find_buttons(pf + 1, MAX_BUTTONS);
			next_scan = time(NULL) + 1;
		}
		if (poll(pf, (nfds_t)nbuttons + 1, nbuttons ? -1 : 1000) < 0 && errno != EINTR)
			power_off(255);
		for (int i = 1; i <= nbuttons; i++)
			if ((pf[i].revents & POLLIN) && power_pressed(pf[i].fd))
				kill(child, SIGTERM);
		if (!(pf[0].revents & POLLIN))
			continue;
		while (read(pf[0].fd, &si, sizeof(si)) == sizeof(si))
			;
		/* PID 1 reaps every orphan; the process's own end ends the VM. */
		while ((p = waitpid(-1, &ws, WNOHANG)) > 0)
			if (p == child) {
				code = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
				power_off(code);
			}
	}
}
