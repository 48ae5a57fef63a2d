/* The container process of an OCI VM (oci.h): forked by `avp create`, it
 * waits for `avp start` on ROOT/ID/start.fifo, then runs `avp run --bundle
 * DIR` as its child, turns the engine's signals into what they mean for a
 * VM, and exits with the VM's outcome as the container's exit status.
 * Engines wait for this very process (conmon and containerd's shim are
 * subreapers: it becomes their child when `avp create` exits). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "avp/api_client.h"
#include "avp/runtime/monitor.h"
#include "avp/runtime/oci.h"
#include "avp/runtime/oci_guest.h"
#include "avp/runtime/oci_image.h"
#include "avp/runtime/oci_process.h"
#include "avp/runtime/oci_streams.h"

#define SHUTDOWN_REPLY_MAX 256
#define SHUTDOWN_REPLY_TIMEOUT_MS 2000

/* The signals the process handles itself (signalfd); the others keep
 * their default action. */
static const int handled[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGPWR, SIGCHLD,
			       SIGUSR1, SIGUSR2, SIGWINCH, SIGALRM, SIGCONT, SIGURG };

static bool graceful(int sig)
{
	return sig == SIGTERM || sig == SIGINT || sig == SIGHUP || sig == SIGQUIT ||
	       sig == SIGPWR;
}

static void say(const struct oci_proc_args *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* To the container's stderr (the engine's log of it) and runc's log. */
static void say(const struct oci_proc_args *a, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "avp: %s\n", msg);
	oci_log_append(&a->log, "(container)", msg);
}

/* Closes every descriptor from 3 on but the preserved ones and keep[]
 * (runc's --preserve-fds: the engine's other descriptors must not live on
 * in the container, or a pipe it waits on would never close). */
static void close_inherited(unsigned int preserve, const int *keep, size_t nkeep)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		int fd = atoi(de->d_name);
		bool kept = fd < 3 + (int)preserve || fd == dirfd(d);

		for (size_t i = 0; i < nkeep; i++)
			kept |= fd == keep[i];
		if (de->d_name[0] != '.' && !kept)
			close(fd);
	}
	closedir(d);
}

static void exec_vmm(const struct oci_proc_args *a, const sigset_t *orig)
{
	char vsock[160], serial[PATH_MAX + 8], memory[24];
	const char *argv[16] = { "avp", "run", "--bundle", a->bundle, "--api-sock", a->api_path };
	int n = 6;

	if (a->image) {
		snprintf(vsock, sizeof(vsock), "cid=%u,socket=%s", OCI_GUEST_CID, a->vsock);
		snprintf(serial, sizeof(serial), "file:%s", a->console);
		snprintf(memory, sizeof(memory), "%llu", a->memory_mib);
		argv[n++] = "--initrd";
		argv[n++] = a->initrd;
		argv[n++] = "--vsock";
		argv[n++] = vsock;
		argv[n++] = "--serial";
		argv[n++] = serial;
		argv[n++] = "--memory";
		argv[n++] = memory;
	}
	argv[n] = NULL;
	sigprocmask(SIG_SETMASK, orig, NULL);
	/* Whatever ends this process (SIGKILL from the engine) ends the VM. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != a->self)
		_exit(OCI_EXIT_VM_FAILURE);
	/* The streams are the guest's business now: the VMM's own output
	 * (avp's messages) goes to the container's stderr, and it reads
	 * nothing of the container's stdin. */
	if (a->image) {
		int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

		dup2(2, 1);
		if (null >= 0)
			dup2(null, 0);
	}
	execv(rt_vmm_program, (char **)argv);
	fprintf(stderr, "avp: cannot execute %s: %s\n", rt_vmm_program, strerror(errno));
	_exit(127);
}

/* The container's exit status: the guest's word for its process when a
 * container image ran and powered off, else the VMM's outcome. */
static int container_status(const struct oci_proc_args *a, const struct oci_streams *st,
			    int ws, char *why, size_t len)
{
	int code = oci_exit_status(ws, why, len);

	if (!a->image || code != 0)
		return code;
	if (st->status >= 0) {
		snprintf(why, len, "the process exited with status %d", st->status);
		return st->status;
	}
	snprintf(why, len, "the guest powered off without the process's exit status (its "
		 "console: " OCI_CONSOLE_LOG " in the state directory)");
	return OCI_EXIT_VM_FAILURE;
}

static void press_power_button(const struct oci_proc_args *a, pid_t vmm, bool *pressed)
{
	char *reply = NULL;

	if (!*pressed && api_client_request(a->api_path, "{\"cmd\":\"shutdown\"}",
					    SHUTDOWN_REPLY_MAX, SHUTDOWN_REPLY_TIMEOUT_MS, &reply,
					    NULL) == 0) {
		struct json_object *r = json_tokener_parse(reply);

		*pressed = r && json_object_get_boolean(json_object_object_get(r, "ok"));
		json_object_put(r);
		free(reply);
		if (*pressed)
			return;
	}
	/* Asked twice, or no control socket: avp stops the VM on the host
	 * side (disks flushed), exit status 5. */
	kill(vmm, SIGTERM);
}

/* Before start: only the fifo and the signals that end a created
 * container. Opened before create returns, so that a `start` right after
 * it finds its reader. */
static int open_start_fifo(const struct oci_proc_args *a, int *rfd, int *wfd)
{
	/* Our own writer keeps the fifo from reading as closed (POLLHUP)
	 * until start writes; start opening it non-blocking fails (ENXIO)
	 * once we are gone, so a dead container is never "started". */
	*rfd = open(a->fifo_path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	*wfd = *rfd < 0 ? -1 : open(a->fifo_path, O_WRONLY | O_CLOEXEC);
	return *wfd < 0 ? -errno : 0;
}

static int wait_for_start(int rfd, int wfd, int sfd)
{
	for (;;) {
		struct pollfd p[2] = { { .fd = rfd, .events = POLLIN }, { .fd = sfd, .events = POLLIN } };
		struct signalfd_siginfo si;
		char c;

		if (poll(p, 2, -1) < 0 && errno != EINTR)
			return -errno;
		if ((p[0].revents & POLLIN) && read(rfd, &c, 1) == 1)
			break;
		if ((p[1].revents & POLLIN) && read(sfd, &si, sizeof(si)) == sizeof(si) &&
		    si.ssi_signo != SIGCHLD && si.ssi_signo != SIGWINCH && si.ssi_signo != SIGURG &&
		    si.ssi_signo != SIGCONT)
			/* What the default action would have done: the
			 * created container ends, never having run. */
			_exit(128 + (int)si.ssi_signo);
	}
	close(rfd);
	close(wfd);
	return 0;
}

void oci_process_main(const struct oci_proc_args *a, int ready_fd)
{
	struct oci_streams streams = { .status = -1 };
	sigset_t set, orig;
	bool pressed = false, stop_pending = false;
	pid_t vmm;
	int sfd, rfd = -1, wfd = -1, keep[2];

	/* 0, 1 and 2 are the container's streams even when the engine gave
	 * none: /dev/null, never a descriptor we open later. */
	for (int fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) != fd)
			_exit(OCI_EXIT_VM_FAILURE);
	sigemptyset(&set);
	for (size_t i = 0; i < sizeof(handled) / sizeof(handled[0]); i++)
		sigaddset(&set, handled[i]);
	sigprocmask(SIG_BLOCK, &set, &orig);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &set, SFD_CLOEXEC);
	keep[0] = ready_fd;
	keep[1] = sfd;
	close_inherited(a->preserve_fds, keep, 2);
	if (sfd < 0 || chdir("/") || open_start_fifo(a, &rfd, &wfd)) {
		dprintf(ready_fd, "cannot set up the container process: %s", strerror(errno));
		_exit(OCI_EXIT_VM_FAILURE);
	}
	/* Ready: create writes the pid file and returns. */
	if (write(ready_fd, "", 1) != 1)
		_exit(OCI_EXIT_VM_FAILURE);
	close(ready_fd);
	if (wait_for_start(rfd, wfd, sfd)) {
		say(a, "cannot wait for start on %s: %s", a->fifo_path, strerror(errno));
		_exit(OCI_EXIT_VM_FAILURE);
	}
	if (a->image && oci_streams_listen(&streams, a->vsock)) {
		say(a, "cannot listen on %s_N: %s", a->vsock, strerror(errno));
		_exit(OCI_EXIT_VM_FAILURE);
	}
	vmm = fork();
	if (vmm == 0)
		exec_vmm(a, &orig);
	if (vmm < 0) {
		say(a, "cannot start the VMM: %s", strerror(errno));
		_exit(OCI_EXIT_VM_FAILURE);
	}
	for (;;) {
		struct pollfd p[1 + 2 * OCI_STREAMS];
		struct signalfd_siginfo si;
		char why[200];
		int ws, code, n = 1;

		p[0] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		if (a->image)
			n += oci_streams_fds(&streams, p + 1);
		if (poll(p, (nfds_t)n, -1) < 0) {
			if (errno == EINTR)
				continue;
			kill(vmm, SIGKILL);
			_exit(OCI_EXIT_VM_FAILURE);
		}
		if (a->image)
			oci_streams_run(&streams, p + 1, n - 1);
		if (stop_pending && oci_streams_guest_ready(&streams)) {
			stop_pending = false;
			press_power_button(a, vmm, &pressed);
		}
		if (!(p[0].revents & POLLIN) || read(sfd, &si, sizeof(si)) != sizeof(si))
			continue;
		if (graceful((int)si.ssi_signo) && a->image && !oci_streams_guest_ready(&streams) &&
		    !stop_pending) {
			/* Pressed while the guest boots, the button would go
			 * unseen: pressed once its init is there. */
			stop_pending = true;
		} else if (graceful((int)si.ssi_signo)) {
			press_power_button(a, vmm, &pressed);
		} else if (si.ssi_signo == SIGCHLD) {
			if (waitpid(vmm, &ws, WNOHANG) != vmm)
				continue;
			if (a->image)
				oci_streams_finish(&streams);
			code = container_status(a, &streams, ws, why, sizeof(why));
			if (code && (!a->image || streams.status != code))
				say(a, "the VM ended: %s; container exit status %d", why, code);
			unlink(a->api_path);
			_exit(code);
		} else if (si.ssi_signo != SIGWINCH && si.ssi_signo != SIGURG &&
			   si.ssi_signo != SIGCONT) {
			say(a, "signal %d (%s) means nothing to a VM: ignored", (int)si.ssi_signo,
			    strsignal((int)si.ssi_signo));
		}
	}
}
