/* avp attach ID: the user's terminal on a runtime VM's console.
 *
 * The VM's monitor serves ROOT/ID/console.sock (src/runtime/monitor.c):
 * what the VM prints comes from it, what the user types goes to it. The
 * terminal is raw while attached, so every key reaches the guest (^C
 * included); Ctrl-] then q detaches, Ctrl-] twice sends one Ctrl-].
 * The terminal is put back however this ends: detach, the VM's side
 * closing, or a signal. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "avp/runtime/cli.h"
#include "avp/runtime/lifecycle.h"

#define ESCAPE_KEY 0x1d /* Ctrl-] */

static struct termios saved_tty;
static atomic_bool tty_raw;

static void tty_restore(void)
{
	if (atomic_exchange(&tty_raw, false))
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tty);
}

static void on_fatal(int sig)
{
	tty_restore();
	signal(sig, SIG_DFL);
	raise(sig);
}

static int tty_make_raw(void)
{
	static const int sigs[] = { SIGTERM, SIGHUP, SIGQUIT, SIGINT, SIGSEGV, SIGABRT };
	struct termios raw;

	if (tcgetattr(STDIN_FILENO, &saved_tty) < 0)
		return -errno;
	raw = saved_tty;
	cfmakeraw(&raw);
	raw.c_cc[VMIN] = 1;
	raw.c_cc[VTIME] = 0;
	atexit(tty_restore);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		signal(sigs[i], on_fatal);
	atomic_store(&tty_raw, true);
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw) < 0) {
		atomic_store(&tty_raw, false);
		return -errno;
	}
	return 0;
}

/* All of p to fd: a socket without SIGPIPE, anything else with write. */
static int put_all(int fd, const char *p, size_t n, bool sock)
{
	while (n) {
		ssize_t w = sock ? send(fd, p, n, MSG_NOSIGNAL) : write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int cli_attach_relay(int sock, int in_fd, int out_fd)
{
	bool escape = false, in_open = true;
	char buf[4096], keys[2 * sizeof(buf)];

	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = sock, .events = POLLIN },
			{ .fd = in_open ? in_fd : -1, .events = POLLIN },
		};
		ssize_t n;

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (pfd[0].revents) {
			n = recv(sock, buf, sizeof(buf), 0);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return CLI_ATTACH_CLOSED;
			if (put_all(out_fd, buf, (size_t)n, false))
				return -EIO;
		}
		if (!pfd[1].revents)
			continue;
		n = read(in_fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			/* End of input (a pipe, not a terminal): keep showing
			 * output until the VM's side closes. */
			in_open = false;
			shutdown(sock, SHUT_WR);
			continue;
		}
		size_t k = 0;

		for (ssize_t i = 0; i < n; i++) {
			char c = buf[i];

			if (escape) {
				escape = false;
				if (c == 'q' || c == 'Q' || c == '.')
					return put_all(sock, keys, k, true) ? -EIO : CLI_ATTACH_DETACHED;
				/* Ctrl-] Ctrl-] is one Ctrl-]; anything else goes
				 * with the Ctrl-] before it. */
				if (c != ESCAPE_KEY)
					keys[k++] = ESCAPE_KEY;
				keys[k++] = c;
			} else if (c == ESCAPE_KEY) {
				escape = true;
			} else {
				keys[k++] = c;
			}
		}
		if (k && put_all(sock, keys, k, true))
			return CLI_ATTACH_CLOSED;
	}
}

int cli_attach(const char *root, const char *id, FILE *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct jc_err e = { "" };
	char path[sizeof(sa.sun_path)];
	bool tty = isatty(STDIN_FILENO);
	int fd, ret;

	ret = rt_vm_socket(root, id, "console.sock", path, sizeof(path), &e);
	if (ret) {
		fprintf(err, "avp attach: %s\n", e.text);
		return 1;
	}
	memcpy(sa.sun_path, path, sizeof(path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(err, "avp attach: VM '%s': cannot connect to its console (%s): is it "
			     "running?\n",
			id, strerror(errno));
		if (fd >= 0)
			close(fd);
		return 1;
	}
	fprintf(err, "avp: attached to VM '%s'; Ctrl-] then q detaches%s", id,
		tty ? "\r\n" : "\n");
	fflush(err);
	if (tty && (ret = tty_make_raw()) < 0) {
		fprintf(err, "avp attach: cannot put the terminal into raw mode: %s\n",
			strerror(-ret));
		close(fd);
		return 1;
	}
	ret = cli_attach_relay(fd, STDIN_FILENO, STDOUT_FILENO);
	tty_restore();
	close(fd);
	if (ret == CLI_ATTACH_DETACHED) {
		fprintf(err, "\navp: detached from VM '%s'\n", id);
		return 0;
	}
	if (ret == CLI_ATTACH_CLOSED) {
		fprintf(err, "\navp: VM '%s': its console closed (the VM stopped?)\n", id);
		return 0;
	}
	fprintf(err, "\navp attach: %s\n", strerror(-ret));
	return 1;
}
