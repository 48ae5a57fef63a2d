/* Host ends of character devices: stdio, a file, a pseudo-terminal, a
 * Unix socket, or nothing. The pty and the socket get a relay thread
 * (chardev_relay.c); to the device they look like a pair of pipes.
 *
 * The terminal is process state, not VM state: whichever chardev puts the
 * controlling terminal into raw mode records the previous settings in the
 * one static slot below, so that an atexit handler and fatal-signal
 * handlers (which cannot be handed a pointer) can put it back. Only one
 * chardev may own the terminal at a time.
 *
 * Output never blocks its caller: the callers are vCPUs and device threads
 * holding a device lock, and a reader that stops reading (a suspended
 * terminal, a full pipe) must not stop the VM or keep SIGTERM from ending
 * it. Writes go to a file description of our own in non-blocking mode;
 * what the host does not take at once waits in a bounded buffer, and once
 * that is full chardev_write takes less than it was given: the device
 * pushes back on the guest as hardware would (a busy transmitter, transmit
 * buffers left in the queue). The device's own thread waits for
 * chardev_output_fd() to become writable and calls chardev_flush(). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "avp/chardev.h"
#include "avp/log.h"
#include "avp/outfile.h"
#include "chardev_relay.h"

struct chardev {
	enum avp_chardev_kind kind;
	int out_fd;
	int in_fd;
	bool own_out_fd;       /* a file or description we opened */
	bool own_in_fd;	       /* chardev_open_fds */
	bool restore_in_flags; /* we set O_NONBLOCK on in_fd */
	int saved_in_flags;
	bool restore_out_flags; /* we set O_NONBLOCK on a shared stdout */
	int saved_out_flags;
	bool owns_tty;

	/* Output not yet taken by the host: a ring of CHARDEV_OUT_BUF bytes.
	 * The lock is held only for memory copies and non-blocking writes. */
	pthread_mutex_t out_lock;
	uint8_t *ring;
	size_t ring_head, ring_count;
	bool out_closed; /* the reader went away: drop output */

	struct chardev_relay *relay; /* AVP_CHR_PTY, AVP_CHR_SOCKET */
	const char *label;	     /* "serial", "console": for status */
};

/* The chardevs with a relay, for the control socket's status: process
 * state like the terminal's. */
#define MAX_ENDPOINTS 8
static pthread_mutex_t endpoints_lock = PTHREAD_MUTEX_INITIALIZER;
static struct chardev *endpoints[MAX_ENDPOINTS];

static void endpoint_add(struct chardev *chr)
{
	pthread_mutex_lock(&endpoints_lock);
	for (size_t i = 0; i < MAX_ENDPOINTS; i++)
		if (!endpoints[i]) {
			endpoints[i] = chr;
			break;
		}
	pthread_mutex_unlock(&endpoints_lock);
}

static void endpoint_remove(struct chardev *chr)
{
	pthread_mutex_lock(&endpoints_lock);
	for (size_t i = 0; i < MAX_ENDPOINTS; i++)
		if (endpoints[i] == chr)
			endpoints[i] = NULL;
	pthread_mutex_unlock(&endpoints_lock);
}

size_t chardev_endpoints(struct chardev_endpoint *out, size_t max)
{
	size_t n = 0;

	pthread_mutex_lock(&endpoints_lock);
	for (size_t i = 0; i < MAX_ENDPOINTS && n < max; i++) {
		struct chardev *c = endpoints[i];

		if (!c)
			continue;
		out[n].label = c->label;
		out[n].backend = c->kind == AVP_CHR_PTY ? "pty" : "socket";
		snprintf(out[n].path, sizeof(out[n].path), "%s", chardev_relay_path(c->relay));
		out[n].connected = chardev_relay_connected(c->relay) != 0;
		out[n].dropped = chardev_relay_dropped(c->relay);
		n++;
	}
	pthread_mutex_unlock(&endpoints_lock);
	return n;
}

static const int fatal_signals[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT,
				     SIGTERM, SIGINT, SIGHUP, SIGQUIT };
#define NFATAL (sizeof(fatal_signals) / sizeof(fatal_signals[0]))

/* The saved terminal state; read from signal handlers, hence the plain
 * types and the atomic flag that publishes it. */
static struct {
	struct termios saved;
	int fd;
	atomic_bool active;
	bool handler_installed[NFATAL];
	bool atexit_registered;
} tty_state = { .fd = -1 };

static void tty_restore(void)
{
	/* tcsetattr is async-signal-safe (POSIX.1-2017, section 2.4.3). */
	if (atomic_exchange(&tty_state.active, false))
		tcsetattr(tty_state.fd, TCSAFLUSH, &tty_state.saved);
}

static void tty_fatal_signal(int sig)
{
	int saved_errno = errno;

	tty_restore();
	errno = saved_errno;
	/* SA_RESETHAND put back the default action: re-raise so the process
	 * ends exactly as it would have without us. */
	raise(sig);
}

static void tty_install_handlers(void)
{
	if (!tty_state.atexit_registered && atexit(tty_restore) == 0)
		tty_state.atexit_registered = true;
	for (size_t i = 0; i < NFATAL; i++) {
		struct sigaction old, sa;

		if (tty_state.handler_installed[i])
			continue;
		/* Only where nobody else decided: the CLI handles SIGINT and
		 * SIGTERM itself (and blocks them for signalfd), sanitizers
		 * catch SIGSEGV. */
		if (sigaction(fatal_signals[i], NULL, &old) < 0 || old.sa_handler != SIG_DFL ||
		    (old.sa_flags & SA_SIGINFO))
			continue;
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = tty_fatal_signal;
		sa.sa_flags = SA_RESETHAND | SA_NODEFER;
		sigemptyset(&sa.sa_mask);
		if (sigaction(fatal_signals[i], &sa, NULL) == 0)
			tty_state.handler_installed[i] = true;
	}
}

static void tty_remove_handlers(void)
{
	for (size_t i = 0; i < NFATAL; i++) {
		struct sigaction cur, dfl;

		if (!tty_state.handler_installed[i])
			continue;
		tty_state.handler_installed[i] = false;
		/* Leave alone a handler someone installed after ours. */
		if (sigaction(fatal_signals[i], NULL, &cur) < 0 ||
		    cur.sa_handler != tty_fatal_signal)
			continue;
		memset(&dfl, 0, sizeof(dfl));
		dfl.sa_handler = SIG_DFL;
		sigaction(fatal_signals[i], &dfl, NULL);
	}
}

/* Raw input for the guest, but ^C and ^\ still signal avp so the user can
 * always stop it; ^Z is passed to the guest, because a stopped avp would
 * leave the terminal raw under the shell. Output post-processing stays
 * off: the guest sends its own CR LF. */
static int tty_make_raw(int fd)
{
	struct termios raw;

	if (atomic_load(&tty_state.active))
		return -EBUSY;
	if (tcgetattr(fd, &tty_state.saved) < 0)
		return -errno;
	raw = tty_state.saved;
	cfmakeraw(&raw);
	raw.c_lflag |= ISIG;
	raw.c_cc[VSUSP] = _POSIX_VDISABLE;
	raw.c_cc[VMIN] = 1;
	raw.c_cc[VTIME] = 0;
	tty_state.fd = fd;
	tty_install_handlers();
	atomic_store(&tty_state.active, true);
	if (tcsetattr(fd, TCSAFLUSH, &raw) < 0) {
		int err = errno;

		atomic_store(&tty_state.active, false);
		tty_remove_handlers();
		return -err;
	}
	return 0;
}

/* A non-blocking way to write to stdout that leaves the file description
 * it shares with the shell (and often with stdin and stderr) alone: pipes,
 * FIFOs and terminals are opened again through /proc, which gives a new
 * description of the same pipe or terminal. A regular file never makes a
 * writer wait for a reader, so it is used as it is. Anything else (a
 * socket, no /proc) gets O_NONBLOCK on the shared description, put back
 * by chardev_close. */
static int open_stdout(struct chardev *chr)
{
	struct stat st;
	int fl;

	chr->out_fd = STDOUT_FILENO;
	/* A closed stdout fails every write: dropped, said once. */
	if (fstat(STDOUT_FILENO, &st) < 0 || S_ISREG(st.st_mode) || S_ISBLK(st.st_mode))
		return 0;
	if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode)) {
		char path[32];
		int fd;

		snprintf(path, sizeof(path), "/proc/self/fd/%d", STDOUT_FILENO);
		fd = open(path, O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
		if (fd >= 0) {
			chr->out_fd = fd;
			chr->own_out_fd = true;
			return 0;
		}
		/* ENXIO: a pipe nobody reads any more; writes fail with EPIPE
		 * and the output is dropped. */
	}
	fl = fcntl(STDOUT_FILENO, F_GETFL);
	if (fl < 0)
		return -errno;
	if (!(fl & O_NONBLOCK)) {
		if (fcntl(STDOUT_FILENO, F_SETFL, fl | O_NONBLOCK) < 0)
			return -errno;
		chr->saved_out_flags = fl;
		chr->restore_out_flags = true;
	}
	return 0;
}

static int open_stdio(struct chardev *chr, bool want_input)
{
	int ret;

	ret = open_stdout(chr);
	if (ret)
		return ret;
	if (!want_input)
		return 0;
	chr->in_fd = STDIN_FILENO;
	if (isatty(STDIN_FILENO)) {
		ret = tty_make_raw(STDIN_FILENO);
		if (ret) {
			avp_err("cannot put the terminal into raw mode: %s", strerror(-ret));
			return ret;
		}
		chr->owns_tty = true;
	}
	chr->saved_in_flags = fcntl(STDIN_FILENO, F_GETFL);
	if (chr->saved_in_flags < 0)
		return -errno;
	if (!(chr->saved_in_flags & O_NONBLOCK)) {
		if (fcntl(STDIN_FILENO, F_SETFL, chr->saved_in_flags | O_NONBLOCK) < 0)
			return -errno;
		chr->restore_in_flags = true;
	}
	return 0;
}

static struct chardev *chardev_new(enum avp_chardev_kind kind)
{
	struct chardev *chr = calloc(1, sizeof(*chr));

	if (!chr)
		return NULL;
	if (pthread_mutex_init(&chr->out_lock, NULL)) {
		free(chr);
		return NULL;
	}
	chr->kind = kind;
	chr->out_fd = -1;
	chr->in_fd = -1;
	return chr;
}

/* The output buffer, once there is an output to buffer for. */
static int out_ready(struct chardev *chr)
{
	if (chr->out_fd < 0)
		return 0;
	/* Output to a pipe or FIFO whose reader died must not kill the VM
	 * with SIGPIPE; chardev_write sees EPIPE instead and drops it. */
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		return -errno;
	chr->ring = malloc(CHARDEV_OUT_BUF);
	return chr->ring ? 0 : -ENOMEM;
}

/* The end of every open: the output made ready, or the chardev closed
 * again on any failure so far. */
static int open_done(struct chardev *chr, int ret, struct chardev **out)
{
	if (!ret)
		ret = out_ready(chr);
	if (ret) {
		chardev_close(chr);
		return ret;
	}
	*out = chr;
	return 0;
}

int chardev_open(struct chardev **out, const struct avp_chardev_cfg *cfg, bool want_input)
{
	return chardev_open_named(out, cfg, want_input, NULL, NULL);
}

int chardev_open_named(struct chardev **out, const struct avp_chardev_cfg *cfg, bool want_input,
		       const char *label, const struct avp_config *confine)
{
	struct chardev *chr;
	int ret = 0;

	if (!out || !cfg)
		return -EINVAL;
	*out = NULL;
	chr = chardev_new(cfg->kind);
	if (!chr)
		return -ENOMEM;
	switch (cfg->kind) {
	case AVP_CHR_NONE:
		break;
	case AVP_CHR_STDIO:
		ret = open_stdio(chr, want_input);
		break;
	case AVP_CHR_FILE:
		if (!cfg->path || !*cfg->path) {
			ret = -EINVAL;
			break;
		}
		/* No link followed, only a regular file emptied (outfile.h). */
		chr->out_fd = avp_open_output("output file", cfg->path);
		if (chr->out_fd < 0) {
			ret = chr->out_fd;
			chr->out_fd = -1;
			break;
		}
		chr->own_out_fd = true;
		/* Only matters for a FIFO: its reader may stall. */
		if (fcntl(chr->out_fd, F_SETFL, O_NONBLOCK) < 0)
			ret = -errno;
		break;
	case AVP_CHR_PTY:
	case AVP_CHR_SOCKET:
		/* Input always: that is what these are for. */
		ret = chardev_relay_open(&chr->relay, cfg, confine, &chr->out_fd, &chr->in_fd);
		if (ret)
			break;
		chr->own_out_fd = chr->own_in_fd = true;
		chr->label = label ? label : "console";
		endpoint_add(chr);
		if (label)
			avp_say("%s on %s", label, chardev_relay_path(chr->relay));
		break;
	default:
		ret = -EINVAL;
	}
	return open_done(chr, ret, out);
}

static int set_nonblock(int fd)
{
	int fl;

	if (fd < 0)
		return 0;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

int chardev_open_fds(struct chardev **out, int out_fd, int in_fd)
{
	struct chardev *chr;
	int ret = 0;

	if (!out) {
		ret = -EINVAL;
		goto fail;
	}
	*out = NULL;
	chr = chardev_new(AVP_CHR_FILE);
	if (!chr) {
		ret = -ENOMEM;
		goto fail;
	}
	chr->out_fd = out_fd;
	chr->in_fd = in_fd;
	chr->own_out_fd = out_fd >= 0;
	chr->own_in_fd = in_fd >= 0;
	ret = set_nonblock(out_fd);
	if (!ret)
		ret = set_nonblock(in_fd);
	return open_done(chr, ret, out);
fail:
	if (out_fd >= 0)
		close(out_fd);
	if (in_fd >= 0)
		close(in_fd);
	return ret;
}

/* The host end will never take output again: drop what waits and what
 * comes, and say so once. */
static void out_gone(struct chardev *chr, int err)
{
	chr->out_closed = true;
	chr->ring_count = 0;
	avp_warn("%s: %s; dropping the guest's output to it from now on",
		 chr->kind == AVP_CHR_STDIO ? "standard output"
		 : chr->relay		     ? "console relay"
					     : "console output file",
		 strerror(err));
}

/* One non-blocking write. Bytes written, 0 when the host takes nothing
 * now, or -1 when the reader is gone (then the output was dropped). */
static ssize_t out_write(struct chardev *chr, const uint8_t *p, size_t len)
{
	for (;;) {
		ssize_t n = write(chr->out_fd, p, len);

		if (n > 0)
			return n;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		/* EPIPE: the pipe's reader exited; EIO: the terminal hung up;
		 * anything else would fail again the same way. */
		out_gone(chr, n < 0 ? errno : EIO);
		return -1;
	}
}

/* Writes out of the ring what the host takes now, oldest first. */
static void flush_locked(struct chardev *chr)
{
	while (chr->ring_count && !chr->out_closed) {
		size_t chunk = CHARDEV_OUT_BUF - chr->ring_head;
		ssize_t n;

		if (chunk > chr->ring_count)
			chunk = chr->ring_count;
		n = out_write(chr, chr->ring + chr->ring_head, chunk);
		if (n <= 0)
			return;
		chr->ring_head = (chr->ring_head + (size_t)n) % CHARDEV_OUT_BUF;
		chr->ring_count -= (size_t)n;
	}
	if (!chr->ring_count)
		chr->ring_head = 0;
}

ssize_t chardev_write(struct chardev *chr, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	size_t done = 0;

	if (!chr || (!buf && len))
		return -EINVAL;
	if (chr->out_fd < 0 || !len)
		return (ssize_t)len;
	pthread_mutex_lock(&chr->out_lock);
	flush_locked(chr);
	/* Straight to the host when nothing older waits. */
	if (!chr->ring_count && !chr->out_closed) {
		ssize_t n = out_write(chr, p, len);

		if (n > 0)
			done = (size_t)n;
	}
	if (chr->out_closed) {
		done = len;
	} else {
		size_t tail = (chr->ring_head + chr->ring_count) % CHARDEV_OUT_BUF;
		size_t take = CHARDEV_OUT_BUF - chr->ring_count;

		if (take > len - done)
			take = len - done;
		/* Up to two copies: to the end of the ring, then from its start. */
		for (size_t n; take; take -= n, done += n) {
			n = CHARDEV_OUT_BUF - tail;
			if (n > take)
				n = take;
			memcpy(chr->ring + tail, p + done, n);
			chr->ring_count += n;
			tail = 0;
		}
	}
	pthread_mutex_unlock(&chr->out_lock);
	return (ssize_t)done;
}

size_t chardev_flush(struct chardev *chr)
{
	size_t left;

	if (!chr || chr->out_fd < 0)
		return 0;
	pthread_mutex_lock(&chr->out_lock);
	flush_locked(chr);
	left = chr->ring_count;
	pthread_mutex_unlock(&chr->out_lock);
	return left;
}

size_t chardev_write_room(struct chardev *chr)
{
	size_t room;

	if (!chr || chr->out_fd < 0)
		return SIZE_MAX;
	pthread_mutex_lock(&chr->out_lock);
	room = chr->out_closed ? SIZE_MAX : CHARDEV_OUT_BUF - chr->ring_count;
	pthread_mutex_unlock(&chr->out_lock);
	return room;
}

int chardev_output_fd(const struct chardev *chr)
{
	return chr ? chr->out_fd : -1;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* At the end the reader gets a short while to take what is left: the
 * guest's last words ("reboot: Power down") usually are. A reader that
 * takes nothing for that long is not waited for: avp must end promptly
 * on SIGTERM whatever its output is connected to. */
static void final_flush(struct chardev *chr)
{
	int64_t deadline = now_ms() + CHARDEV_CLOSE_WAIT_MS;
	size_t left;

	if (!chr->ring)
		return;
	for (;;) {
		struct pollfd pfd = { .fd = chr->out_fd, .events = POLLOUT };
		int64_t wait = deadline - now_ms();

		left = chardev_flush(chr);
		if (!left || wait <= 0)
			break;
		if (poll(&pfd, 1, (int)wait) < 0 && errno != EINTR)
			break;
	}
	if (left)
		avp_warn("%zu bytes of guest output dropped: the reader did not take them "
			 "within %d ms of the end",
			 left, CHARDEV_CLOSE_WAIT_MS);
}

int chardev_input_fd(const struct chardev *chr)
{
	return chr ? chr->in_fd : -1;
}

void chardev_close(struct chardev *chr)
{
	if (!chr)
		return;
	if (chr->out_fd >= 0)
		final_flush(chr);
	if (chr->restore_in_flags)
		fcntl(chr->in_fd, F_SETFL, chr->saved_in_flags);
	if (chr->restore_out_flags)
		fcntl(chr->out_fd, F_SETFL, chr->saved_out_flags);
	if (chr->owns_tty) {
		tty_restore();
		tty_remove_handlers();
	}
	if (chr->own_out_fd)
		close(chr->out_fd);
	if (chr->own_in_fd)
		close(chr->in_fd);
	if (chr->relay) {
		endpoint_remove(chr);
		chardev_relay_close(chr->relay);
	}
	pthread_mutex_destroy(&chr->out_lock);
	free(chr->ring);
	free(chr);
}
