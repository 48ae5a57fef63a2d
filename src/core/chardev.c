/* Host ends of character devices: stdio, a file, or nothing.
 *
 * The terminal is process state, not VM state: whichever chardev puts the
 * controlling terminal into raw mode records the previous settings in the
 * one static slot below, so that an atexit handler and fatal-signal
 * handlers (which cannot be handed a pointer) can put it back. Only one
 * chardev may own the terminal at a time. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "avp/chardev.h"
#include "avp/log.h"

struct chardev {
	enum avp_chardev_kind kind;
	int out_fd;
	int in_fd;
	bool own_out_fd;      /* a file we opened */
	bool restore_in_flags; /* we set O_NONBLOCK on in_fd */
	int saved_in_flags;
	bool owns_tty;
	atomic_bool out_closed; /* reader went away (EPIPE): drop output */
};

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

static int open_stdio(struct chardev *chr, bool want_input)
{
	chr->out_fd = STDOUT_FILENO;
	/* Output to a pipe whose reader died must not kill the VM with
	 * SIGPIPE; chardev_write sees EPIPE instead and drops the output. */
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		return -errno;
	if (!want_input)
		return 0;
	chr->in_fd = STDIN_FILENO;
	if (isatty(STDIN_FILENO)) {
		int ret = tty_make_raw(STDIN_FILENO);

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

int chardev_open(struct chardev **out, const struct avp_chardev_cfg *cfg, bool want_input)
{
	struct chardev *chr;
	int ret = 0;

	if (!out || !cfg)
		return -EINVAL;
	*out = NULL;
	chr = calloc(1, sizeof(*chr));
	if (!chr)
		return -ENOMEM;
	chr->kind = cfg->kind;
	chr->out_fd = -1;
	chr->in_fd = -1;
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
		chr->out_fd = open(cfg->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (chr->out_fd < 0) {
			ret = -errno;
			avp_err("cannot open %s: %s", cfg->path, strerror(-ret));
		} else {
			chr->own_out_fd = true;
		}
		break;
	default:
		ret = -EINVAL;
	}
	if (ret) {
		chardev_close(chr);
		return ret;
	}
	*out = chr;
	return 0;
}

ssize_t chardev_write(struct chardev *chr, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	size_t done = 0;

	if (!chr || (!buf && len))
		return -EINVAL;
	if (chr->out_fd < 0 || atomic_load(&chr->out_closed))
		return (ssize_t)len;
	while (done < len) {
		ssize_t n = write(chr->out_fd, p + done, len - done);

		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			/* stdout may share its file description with the
			 * non-blocking stdin; wait until it drains. */
			struct pollfd pfd = { .fd = chr->out_fd, .events = POLLOUT };

			if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
				return -errno;
			continue;
		}
		if (n < 0 && errno == EPIPE) {
			atomic_store(&chr->out_closed, true);
			return (ssize_t)len;
		}
		return n < 0 ? -errno : -EIO;
	}
	return (ssize_t)len;
}

int chardev_input_fd(const struct chardev *chr)
{
	return chr ? chr->in_fd : -1;
}

void chardev_close(struct chardev *chr)
{
	if (!chr)
		return;
	if (chr->restore_in_flags)
		fcntl(chr->in_fd, F_SETFL, chr->saved_in_flags);
	if (chr->owns_tty) {
		tty_restore();
		tty_remove_handlers();
	}
	if (chr->own_out_fd)
		close(chr->out_fd);
	free(chr);
}
