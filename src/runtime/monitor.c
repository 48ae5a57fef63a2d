/* The per-VM monitor process (see monitor.h). Single-threaded: one poll
 * loop over a signalfd (SIGCHLD, and SIGTERM & co. meaning "stop the VM"),
 * the control socket, one timerfd (restart backoff, shutdown timeout),
 * another for the deadline of a waiting `avp start`, the pipe that
 * carries the VM process's output into console.log, and console.sock.
 *
 * console.sock (`avp attach`): one client at a time gets a copy of what
 * goes into console.log, and what it sends is written to the VM process's
 * standard input, which the serial port (or the console) with "stdio"
 * reads. console.log comes first: a client that does not keep up misses
 * output (it is never waited for) but the log has all of it. A second
 * client is told the console is busy. The client stays through restarts.
 *
 * Readiness: the VM process runs with --timing, whose "first vCPU entry"
 * milestone vCPU 0 prints just before the guest's first instruction. It
 * cannot be faked by the guest: nothing the guest prints can come before
 * it. Until then, the last line the VM process printed is kept: it is the
 * reason when the process ends before its vCPUs ran. */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "avp/api_client.h"
#include "avp/runtime/console_log.h"
#include "avp/runtime/monitor.h"
#include "avp/runtime/policy.h"
#include "avp/runtime/state.h"
#include "avp/runtime/statedir.h"

/* After SIGTERM the VMM stops within milliseconds; this is the grace
 * before SIGKILL when it does not. */
#define TERM_GRACE_S 3
/* The VM's answer to "shutdown": {"ok":...} and at most a short error. */
#define SHUTDOWN_REPLY_MAX 512
#define SHUTDOWN_REPLY_TIMEOUT_MS 2000

/* What vCPU 0 prints before the guest's first instruction (vm_timing in
 * src/core/vcpu.c, enabled by --timing). */
#define READY_MARK "timing: first vCPU entry"

/* The pipe from the VM process: large, so a burst of guest output does not
 * stall a vCPU while the monitor is busy with a client. */
#define OUT_PIPE_SIZE (1024 * 1024)

const char *rt_vmm_program = "/proc/self/exe";

enum timer_purpose { TIMER_NONE, TIMER_RESTART, TIMER_FORCE_TERM, TIMER_FORCE_KILL };

struct monitor {
	const char *root;
	struct rt_state st;
	int sfd, lfd, tfd;
	int dfd;    /* deadline of the waiting start */
	int out_fd; /* read end of the VM process's stdout/stderr, or -1 */
	int in_fd;  /* write end of the VM process's stdin, or -1 */
	int cfd;    /* console.sock, listening */
	int afd;    /* the attached client, or -1 */
	pid_t child;
	enum timer_purpose timer;
	char ctl_path[PATH_MAX];
	char api_path[PATH_MAX];
	char console_path[PATH_MAX];
	/* Readiness of the current VM process (see the top of the file). */
	bool ready;
	char line[256];
	size_t line_len;
	char last_msg[256];
	/* An `avp start` waiting for the vCPUs: its connection, or -1. */
	int waiter;
	unsigned int wait_s;
};

/* One monitor per process; mlog needs its log without being handed it. */
static struct rt_console_log mon_log = { .fd = -1 };

static void mlog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Into console.log, between the VM's own lines. */
static void mlog(const char *fmt, ...)
{
	char buf[512];
	time_t now = time(NULL);
	struct tm tm;
	va_list ap;
	size_t n;

	n = strftime(buf, sizeof(buf), "avp-monitor %H:%M:%S: ", localtime_r(&now, &tm));
	va_start(ap, fmt);
	vsnprintf(buf + n, sizeof(buf) - n - 1, fmt, ap);
	va_end(ap);
	n = strlen(buf);
	buf[n++] = '\n';
	rt_console_log_write(&mon_log, buf, n);
}

static void save(struct monitor *m)
{
	int ret = rt_state_write(m->root, &m->st);

	if (ret)
		mlog("cannot write state.json: %s", strerror(-ret));
}

static void arm(struct monitor *m, enum timer_purpose purpose, unsigned int ms)
{
	struct itimerspec its = { 0 };

	m->timer = purpose;
	if (purpose != TIMER_NONE) {
		/* 0 would disarm the timer: fire after 1 ms instead. */
		ms = ms ? ms : 1;
		its.it_value.tv_sec = ms / 1000;
		its.it_value.tv_nsec = (long)(ms % 1000) * 1000000;
	}
	timerfd_settime(m->tfd, 0, &its, NULL);
}

/* In the child: become `avp run --bundle ... [--vsock-peer CID:PATH ...]
 * [--can-bus bus=NAME,if=IF...]`.
 * Never returns. */
static void exec_vmm(struct monitor *m, int out, int in)
{
	char peer_args[AVP_VSOCK_MAX_PEERS][128];
	char can_args[AVP_MAX_CANS][2 * RT_CAN_RULES_MAX + 64];
	/* --timing after --bundle, which would replace what comes before. */
	char *argv[8 + 2 * AVP_VSOCK_MAX_PEERS + 2 * AVP_MAX_CANS + 1] = {
		"avp", "run", "--bundle", m->st.bundle, "--api-sock", m->api_path, "--timing",
	};
	unsigned int argc = 7;
	sigset_t none;

	if (m->st.confine)
		argv[argc++] = "--confine";
	for (unsigned int i = 0; i < m->st.npeers && i < AVP_VSOCK_MAX_PEERS; i++) {
		snprintf(peer_args[i], sizeof(peer_args[i]), "%u:%s", m->st.peers[i].cid,
			 m->st.peers[i].socket);
		argv[argc++] = "--vsock-peer";
		argv[argc++] = peer_args[i];
	}
	/* The CAN buses of the system file (docs/can.md). */
	for (unsigned int i = 0; i < m->st.ncan && i < AVP_MAX_CANS; i++) {
		const struct rt_can_bus *c = &m->st.can[i];

		snprintf(can_args[i], sizeof(can_args[i]), "bus=%s,if=%s%s%s%s%s", c->bus, c->ifname,
			 c->tx[0] ? ",tx=" : "", c->tx, c->rx[0] ? ",rx=" : "", c->rx);
		argv[argc++] = "--can-bus";
		argv[argc++] = can_args[i];
	}
	argv[argc] = NULL;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	prctl(PR_SET_NAME, "avp-vm", 0, 0, 0);
	if (dup2(out, STDOUT_FILENO) < 0 || dup2(out, STDERR_FILENO) < 0 ||
	    dup2(in, STDIN_FILENO) < 0)
		_exit(127);
	execv(rt_vmm_program, argv);
	fprintf(stderr, "avp-monitor: cannot execute avp run: %s\n", strerror(errno));
	_exit(127);
}

static int launch(struct monitor *m)
{
	int out[2], in[2];
	pid_t pid;

	unlink(m->api_path); /* a stale socket of the last run */
	if (pipe2(out, O_CLOEXEC)) {
		int err = errno;

		mlog("cannot make the VM process's output pipe: %s", strerror(err));
		return -err;
	}
	if (pipe2(in, O_CLOEXEC)) {
		int err = errno;

		close(out[0]);
		close(out[1]);
		mlog("cannot make the VM process's input pipe: %s", strerror(err));
		return -err;
	}
	fcntl(in[1], F_SETFL, O_NONBLOCK);
	fcntl(out[0], F_SETPIPE_SZ, OUT_PIPE_SIZE); /* best effort */
	fcntl(out[0], F_SETFL, O_NONBLOCK);
	pid = fork();
	if (pid < 0) {
		int err = errno;

		close(out[0]);
		close(out[1]);
		close(in[0]);
		close(in[1]);
		mlog("cannot fork the VM process: %s", strerror(err));
		return -err;
	}
	if (pid == 0)
		exec_vmm(m, out[1], in[0]);
	close(out[1]);
	close(in[0]);
	if (m->in_fd >= 0)
		close(m->in_fd);
	m->in_fd = in[1];
	m->out_fd = out[0];
	m->ready = false;
	m->line_len = 0;
	m->last_msg[0] = '\0';
	m->child = pid;
	m->st.vm.pid = pid;
	/* Read even if the child is already a zombie: it is still ours. */
	if (rt_proc_get(pid, &m->st.vm))
		m->st.vm.start = 0;
	m->st.status = RT_RUNNING;
	m->st.started = time(NULL);
	mlog("started the VM process, pid %d (avp run --bundle %s)", (int)pid, m->st.bundle);
	save(m);
	return 0;
}

static void reply_to(int fd, const char *error, pid_t pid);

/* Answers the waiting `avp start`, if any. */
static void answer_waiter(struct monitor *m, const char *error)
{
	struct itimerspec off = { 0 };

	if (m->waiter < 0)
		return;
	reply_to(m->waiter, error, error ? 0 : m->st.vm.pid);
	close(m->waiter);
	m->waiter = -1;
	timerfd_settime(m->dfd, 0, &off, NULL);
}

static void on_line(struct monitor *m)
{
	while (m->line_len && (m->line[m->line_len - 1] == '\r' || m->line[m->line_len - 1] == ' '))
		m->line_len--;
	m->line[m->line_len] = '\0';
	if (strstr(m->line, READY_MARK)) {
		m->ready = true;
		mlog("the VM's vCPUs run (pid %d)", (int)m->st.vm.pid);
		answer_waiter(m, NULL);
	} else if (m->line_len) {
		memcpy(m->last_msg, m->line, m->line_len + 1);
	}
	m->line_len = 0;
}

/* Lines before readiness: the mark, or the last thing said. */
static void scan_output(struct monitor *m, const char *p, size_t n)
{
	for (size_t i = 0; i < n && !m->ready; i++) {
		if (p[i] == '\n')
			on_line(m);
		else if (m->line_len + 1 < sizeof(m->line))
			m->line[m->line_len++] = p[i];
	}
}

static void detach_client(struct monitor *m)
{
	if (m->afd >= 0)
		close(m->afd);
	m->afd = -1;
}

/* A copy for the attached client, never waited for. */
static void to_client(struct monitor *m, const char *buf, size_t n)
{
	while (m->afd >= 0 && n) {
		ssize_t w = send(m->afd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (w > 0) {
			buf += w;
			n -= (size_t)w;
		} else if (w < 0 && errno == EINTR) {
			continue;
		} else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			return; /* it is behind: this part is only in console.log */
		} else {
			detach_client(m);
		}
	}
}

#define BUSY_MSG "avp: this VM's console already has a client attached\r\n"

static void on_attach(struct monitor *m)
{
	int fd = accept4(m->cfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	int sndbuf = 256 * 1024;

	if (fd < 0)
		return;
	if (m->afd >= 0) {
		(void)!send(fd, BUSY_MSG, sizeof(BUSY_MSG) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		close(fd);
		return;
	}
	/* Room for a burst of output while the client's terminal catches up. */
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	m->afd = fd;
}

/* Keys from the client to the VM's standard input; dropped while no VM
 * process runs or while it does not read. */
static void on_client_input(struct monitor *m)
{
	char buf[4096];
	ssize_t n = recv(m->afd, buf, sizeof(buf), MSG_DONTWAIT);

	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
		detach_client(m);
		return;
	}
	if (n > 0 && m->in_fd >= 0 && write(m->in_fd, buf, (size_t)n) < 0 && errno == EPIPE) {
		close(m->in_fd);
		m->in_fd = -1;
	}
}

/* Moves what the VM process printed into console.log; all of it when
 * drain (the process has ended: nothing more will come). */
static void on_output(struct monitor *m, bool drain)
{
	char buf[65536];

	while (m->out_fd >= 0) {
		ssize_t n = read(m->out_fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n > 0) {
			rt_console_log_write(&mon_log, buf, (size_t)n);
			to_client(m, buf, (size_t)n);
			if (!m->ready)
				scan_output(m, buf, (size_t)n);
			if (drain)
				continue;
			return;
		}
		if (n < 0 && errno == EAGAIN && !drain)
			return;
		/* EOF, an error, or drained */
		close(m->out_fd);
		m->out_fd = -1;
	}
	if (drain && !m->ready && m->line_len)
		on_line(m);
}

static void finish_stopped(struct monitor *m)
{
	m->st.status = RT_STOPPED;
	m->st.vm.pid = 0;
	m->st.vm.start = 0;
	m->st.stopped = time(NULL);
	arm(m, TIMER_NONE, 0);
	save(m);
	mlog("stopped: %s%s%s", m->st.last_exit_reason[0] ? m->st.last_exit_reason : "never started",
	     m->st.stop_requested[0] ? ", stop requested with " : "", m->st.stop_requested);
	if (m->waiter >= 0) {
		char why[512];

		snprintf(why, sizeof(why), "the VM stopped: %s (%s)%s",
			 m->st.last_exit_reason[0] ? m->st.last_exit_reason : "stopped",
			 m->st.last_exit_detail[0] ? m->st.last_exit_detail : "see console.log",
			 m->st.stop_requested[0] ? ", stop requested" : "");
		answer_waiter(m, why);
	}
}

static void on_child_exit(struct monitor *m, int wstatus)
{
	struct rt_exit ex;
	bool stop = m->st.stop_requested[0] != '\0';

	rt_exit_describe(wstatus, &ex);
	m->child = 0;
	/* Its last words come before its end in console.log. */
	on_output(m, true);
	snprintf(m->st.last_exit_reason, sizeof(m->st.last_exit_reason), "%s", ex.reason);
	/* Ended before the guest ran: what it said last is the reason
	 * ("cannot open /dev/kvm: ..."), more use than a general detail. */
	if (!m->ready && m->last_msg[0])
		snprintf(m->st.last_exit_detail, sizeof(m->st.last_exit_detail),
			 "before its vCPUs ran: %s", m->last_msg);
	else
		snprintf(m->st.last_exit_detail, sizeof(m->st.last_exit_detail), "%s", ex.detail);
	mlog("the VM process ended: %s (%s)", ex.reason, m->st.last_exit_detail);
	unlink(m->api_path);
	if (rt_should_restart(m->st.restart, m->st.max_restarts, ex.outcome, m->st.restarts, stop)) {
		unsigned int ms = rt_backoff_ms(m->st.backoff_ms, m->st.restarts);

		m->st.status = RT_RESTARTING;
		m->st.vm.pid = 0;
		m->st.vm.start = 0;
		save(m);
		mlog("restart policy %s: restarting in %u ms (restart %u)",
		     bundle_restart_name(m->st.restart), ms, m->st.restarts + 1);
		arm(m, TIMER_RESTART, ms);
		return;
	}
	if (!stop && ex.outcome != RT_OUT_CLEAN && m->st.max_restarts &&
	    m->st.restarts >= m->st.max_restarts && m->st.restart != AVP_RESTART_NEVER)
		mlog("restart limit reached (%u restarts)", m->st.restarts);
	finish_stopped(m);
}

/* Graceful stop: the guest's power button through the VM's control socket
 * when it answers, otherwise SIGTERM to the VMM (which stops the VM
 * cleanly on the host side); forced off after shutdown_timeout_s. */
static void stop_gracefully(struct monitor *m)
{
	struct json_object *r;
	bool pressed = false;
	char *reply;

	if (api_client_request(m->api_path, "{\"cmd\":\"shutdown\"}", SHUTDOWN_REPLY_MAX,
			       SHUTDOWN_REPLY_TIMEOUT_MS, &reply, NULL) == 0) {
		r = json_tokener_parse(reply);
		pressed = r && json_object_get_boolean(json_object_object_get(r, "ok"));
		json_object_put(r);
		free(reply);
	}
	if (pressed) {
		mlog("asked the guest to shut down (power button); forced off in %u s",
		     m->st.shutdown_timeout_s);
		arm(m, TIMER_FORCE_TERM, m->st.shutdown_timeout_s * 1000);
		return;
	}
	mlog("no control socket answer: SIGTERM to the VM process; SIGKILL in %u s",
	     m->st.shutdown_timeout_s);
	kill(m->child, SIGTERM);
	arm(m, TIMER_FORCE_KILL, m->st.shutdown_timeout_s * 1000);
}

/* Returns NULL on success or the error for the client. */
static const char *do_kill(struct monitor *m, const char *sig)
{
	bool hard = strcmp(sig, "KILL") == 0;

	if (!hard && strcmp(sig, "TERM") != 0)
		return "signal must be TERM or KILL";
	if (m->st.status == RT_STOPPED)
		return "the VM is stopped";
	/* A KILL after a TERM upgrades it; nothing else is repeated. */
	if (m->st.stop_requested[0] && !hard)
		return NULL;
	snprintf(m->st.stop_requested, sizeof(m->st.stop_requested), "%s", sig);
	if (!m->child) { /* created, or waiting to restart */
		if (m->st.status == RT_CREATED)
			snprintf(m->st.last_exit_reason, sizeof(m->st.last_exit_reason),
				 "never-started");
		finish_stopped(m);
		return NULL;
	}
	save(m);
	if (hard) {
		mlog("SIGKILL to the VM process (avp kill KILL)");
		kill(m->child, SIGKILL);
		arm(m, TIMER_NONE, 0);
	} else {
		stop_gracefully(m);
	}
	return NULL;
}

static void on_timer(struct monitor *m)
{
	uint64_t n;
	enum timer_purpose t = m->timer;

	if (read(m->tfd, &n, sizeof(n)) != sizeof(n))
		return;
	m->timer = TIMER_NONE;
	switch (t) {
	case TIMER_RESTART:
		m->st.restarts++;
		if (launch(m)) {
			snprintf(m->st.last_exit_reason, sizeof(m->st.last_exit_reason), "host-error");
			finish_stopped(m);
		}
		break;
	case TIMER_FORCE_TERM:
		if (m->child) {
			mlog("the guest did not shut down in time: SIGTERM to the VM process");
			kill(m->child, SIGTERM);
			arm(m, TIMER_FORCE_KILL, TERM_GRACE_S * 1000);
		}
		break;
	case TIMER_FORCE_KILL:
		if (m->child) {
			mlog("the VM process is still there: SIGKILL");
			kill(m->child, SIGKILL);
		}
		break;
	default:
		break;
	}
}

/* The waiting start's deadline passed without the vCPUs running. */
static void on_deadline(struct monitor *m)
{
	char why[512];
	uint64_t n;

	if (read(m->dfd, &n, sizeof(n)) != sizeof(n) || m->waiter < 0)
		return;
	if (m->st.status == RT_RESTARTING)
		snprintf(why, sizeof(why), "its vCPUs did not run within %u s: the VM process ended "
			 "(%s: %s); the restart policy tries again (restarts so far: %u)", m->wait_s,
			 m->st.last_exit_reason, m->st.last_exit_detail, m->st.restarts);
	else
		snprintf(why, sizeof(why), "its vCPUs did not run within %u s; the VM process "
			 "(pid %d) is still starting (see console.log; `avp kill` stops it)",
			 m->wait_s, (int)m->st.vm.pid);
	mlog("start: %s", why);
	answer_waiter(m, why);
}

static void reply_to(int fd, const char *error, pid_t pid)
{
	struct json_object *r = json_object_new_object();
	const char *text;

	json_object_object_add(r, "ok", json_object_new_boolean(!error));
	if (error)
		json_object_object_add(r, "error", json_object_new_string(error));
	if (pid)
		json_object_object_add(r, "pid", json_object_new_int(pid));
	text = json_object_to_json_string_ext(r, JSON_C_TO_STRING_PLAIN |
						      JSON_C_TO_STRING_NOSLASHESCAPE);
	if (send(fd, text, strlen(text), MSG_NOSIGNAL) < 0 || send(fd, "\n", 1, MSG_NOSIGNAL) < 0)
		mlog("cannot answer a client: %s", strerror(errno));
	json_object_put(r);
}

static void on_client(struct monitor *m)
{
	struct timeval tv = { .tv_sec = 2 };
	char line[1024];
	struct json_object *req;
	const char *cmd, *error = NULL;
	ssize_t n;
	size_t got = 0;
	int fd = accept4(m->lfd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		return;
	/* A client that connects and says nothing must not stall the VM's
	 * monitor. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (got + 1 < sizeof(line) && (n = recv(fd, line + got, sizeof(line) - 1 - got, 0)) > 0) {
		got += (size_t)n;
		line[got] = '\0';
		if (strchr(line, '\n'))
			break;
	}
	line[got] = '\0';
	req = json_tokener_parse(line);
	cmd = req ? json_object_get_string(json_object_object_get(req, "cmd")) : NULL;
	if (!cmd) {
		error = "expected {\"cmd\":\"start\"} or {\"cmd\":\"kill\",\"signal\":\"TERM\"}";
	} else if (strcmp(cmd, "start") == 0) {
		int64_t wait_s = json_object_get_int64(json_object_object_get(req, "wait_s"));

		if (m->st.status != RT_CREATED)
			error = "the VM is not in the created state";
		else if (wait_s < 0 || wait_s > RT_START_WAIT_MAX_S)
			error = "wait_s out of range";
		else if (launch(m))
			error = "cannot start the VM process (see console.log)";
		else if (wait_s > 0 && !m->ready) {
			/* Answered once the vCPUs run, the VM stops, or the
			 * deadline passes. */
			struct itimerspec its = { .it_value.tv_sec = wait_s };

			m->waiter = fd;
			m->wait_s = (unsigned int)wait_s;
			timerfd_settime(m->dfd, 0, &its, NULL);
			json_object_put(req);
			return;
		}
	} else if (strcmp(cmd, "kill") == 0) {
		const char *sig = json_object_get_string(json_object_object_get(req, "signal"));

		error = do_kill(m, sig ? sig : "TERM");
	} else {
		error = "unknown command (start, kill)";
	}
	reply_to(fd, error, error ? 0 : m->st.vm.pid);
	json_object_put(req);
	close(fd);
}

static void on_signal(struct monitor *m)
{
	struct signalfd_siginfo si;

	if (read(m->sfd, &si, sizeof(si)) != sizeof(si))
		return;
	if (si.ssi_signo != SIGCHLD) {
		mlog("monitor got signal %s: stopping the VM", strsignal((int)si.ssi_signo));
		do_kill(m, "TERM");
		return;
	}
	for (;;) {
		int wstatus;
		pid_t pid = waitpid(-1, &wstatus, WNOHANG);

		if (pid <= 0)
			break;
		if (pid == m->child)
			on_child_exit(m, wstatus);
	}
}

static int listen_at(const char *path, int type_flags)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	strcpy(addr.sun_path, path);
	unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | type_flags, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) || listen(fd, 8)) {
		int err = errno;

		close(fd);
		return -err;
	}
	return fd;
}

static void monitor_loop(struct monitor *m)
{
	while (m->st.status != RT_STOPPED) {
		struct pollfd fds[7] = {
			{ .fd = m->sfd, .events = POLLIN },
			{ .fd = m->lfd, .events = POLLIN },
			{ .fd = m->tfd, .events = POLLIN },
			{ .fd = m->dfd, .events = POLLIN },
			{ .fd = m->out_fd, .events = POLLIN }, /* ignored while -1 */
			{ .fd = m->cfd, .events = POLLIN },
			{ .fd = m->afd, .events = POLLIN },
		};

		if (poll(fds, 7, -1) < 0) {
			if (errno == EINTR)
				continue;
			mlog("poll: %s", strerror(errno));
			break;
		}
		/* Output first: the ready mark may come just before an exit. */
		if (fds[4].revents)
			on_output(m, false);
		if (fds[6].revents && m->afd >= 0)
			on_client_input(m);
		if (fds[5].revents & POLLIN)
			on_attach(m);
		if (fds[0].revents & POLLIN)
			on_signal(m);
		if (fds[2].revents & POLLIN)
			on_timer(m);
		if (fds[3].revents & POLLIN)
			on_deadline(m);
		if ((fds[1].revents & POLLIN) && m->st.status != RT_STOPPED)
			on_client(m);
	}
}

/* Everything of the monitor after the double fork; reports readiness on
 * ready_fd ("ok" or an error line) and never returns. */
static void monitor_main(const char *root, const char *id, int ready_fd)
{
	struct monitor m = { .root = root, .sfd = -1, .lfd = -1, .tfd = -1, .dfd = -1,
			     .out_fd = -1, .in_fd = -1, .cfd = -1, .afd = -1, .waiter = -1 };
	struct jc_err de = { "" };
	char logp[PATH_MAX];
	const char *fail = NULL;
	sigset_t set;
	int fd;

	prctl(PR_SET_NAME, "avp-monitor", 0, 0, 0);
	if (chdir("/"))
		fail = "chdir /";
	umask(022);
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		dup2(fd, STDIN_FILENO);
		close(fd);
	}
	if (!fail && (rt_root_check(root, false, &de) || rt_vmdir_check(root, id, &de)))
		fail = de.text[0] ? de.text : "the state directory is gone";
	if (!fail && rt_state_read(root, id, &m.st))
		fail = "cannot read state.json";
	if (!fail && (rt_path(logp, sizeof(logp), root, id, "console.log") ||
		      rt_console_log_open(&mon_log, logp, m.st.console_max)))
		fail = "cannot open console.log (not a regular file?)";
	/* Everything written goes through mon_log, which keeps it bounded;
	 * stray output of this process goes nowhere. */
	fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		close(fd);
	}
	if (!fail && (rt_path(m.ctl_path, sizeof(m.ctl_path), root, id, "ctl.sock") ||
		      rt_path(m.api_path, sizeof(m.api_path), root, id, "api.sock") ||
		      rt_path(m.console_path, sizeof(m.console_path), root, id, "console.sock")))
		fail = "state directory path too long";
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (!fail && (m.sfd = signalfd(-1, &set, SFD_CLOEXEC)) < 0)
		fail = "signalfd";
	if (!fail && ((m.tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC)) < 0 ||
		      (m.dfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC)) < 0))
		fail = "timerfd";
	if (!fail && (m.lfd = listen_at(m.ctl_path, 0)) < 0)
		fail = "cannot listen on ctl.sock";
	/* Only the owner may attach (the state directory is its alone too). */
	if (!fail && ((m.cfd = listen_at(m.console_path, SOCK_NONBLOCK)) < 0 ||
		      chmod(m.console_path, 0600) < 0))
		fail = "cannot listen on console.sock";
	if (!fail) {
		m.st.monitor.pid = getpid();
		if (rt_proc_get(getpid(), &m.st.monitor))
			fail = "cannot read /proc/self/stat";
	}
	if (!fail) {
		m.st.status = RT_CREATED;
		if (rt_state_write(root, &m.st))
			fail = "cannot write state.json";
	}
	if (dprintf(ready_fd, "%s\n", fail ? fail : "ok") < 0 || fail)
		_exit(1);
	close(ready_fd);
	mlog("monitoring VM %s (bundle %s, restart %s)", id, m.st.bundle,
	     bundle_restart_name(m.st.restart));
	monitor_loop(&m);
	unlink(m.ctl_path);
	unlink(m.api_path);
	unlink(m.console_path);
	_exit(0);
}

int rt_monitor_spawn(const char *root, const char *id, struct jc_err *e)
{
	char buf[256] = "";
	int pipefd[2];
	pid_t mid;
	ssize_t n;
	size_t got = 0;
	int wstatus;

	if (pipe2(pipefd, O_CLOEXEC))
		return -errno;
	fflush(NULL); /* no buffered CLI output may be written twice */
	mid = fork();
	if (mid < 0) {
		int err = errno;

		close(pipefd[0]);
		close(pipefd[1]);
		return -err;
	}
	if (mid == 0) {
		/* Intermediate: a new session without a terminal, then let go
		 * of the grandchild so it is nobody's child but init's. */
		pid_t mon;

		close(pipefd[0]);
		setsid();
		mon = fork();
		if (mon < 0)
			_exit(1);
		if (mon > 0)
			_exit(0);
		/* Only the readiness pipe and stdio survive into the monitor. */
		if (pipefd[1] != 3) {
			dup2(pipefd[1], 3);
			close(pipefd[1]);
		}
		close_range(4, ~0U, 0);
		monitor_main(root, id, 3);
	}
	close(pipefd[1]);
	waitpid(mid, &wstatus, 0);
	while (got + 1 < sizeof(buf) && (n = read(pipefd[0], buf + got, sizeof(buf) - 1 - got)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		got += (size_t)n;
	}
	close(pipefd[0]);
	buf[got] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	if (strcmp(buf, "ok") == 0)
		return 0;
	return jc_fail(e, "", "the monitor did not start: %s", buf[0] ? buf : "it died"), -EIO;
}
