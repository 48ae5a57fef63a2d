/* Relay between a device's fixed pipes and a host end that users connect
 * to and leave: a pseudo-terminal (--serial pty) or a Unix stream socket
 * (--serial socket=PATH).
 *
 * The UART and virtio-console wait on fixed fds from their own threads;
 * a client that comes and goes would change those fds under them. So the
 * device gets two pipes, and one thread here owns everything that changes:
 * the listening socket, the connected client, the pty master.
 *
 * Flow: with a client connected, the relay reads the device's output pipe
 * only while its buffer has room, so a slow client pushes back on the
 * guest the way a slow terminal does with stdio. With nobody connected,
 * guest output must not stop the guest: the newest CHARDEV_OUT_BUF bytes
 * are kept for the next client and older ones are dropped and counted.
 *
 * One client at a time: a second connection to the socket is told the
 * console is busy and closed; the first keeps it (stealing a console from
 * under someone typing in it would be worse than having to detach). A pty
 * has no notion of clients: whoever has the slave open shares it. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "avp/chardev.h"
#include "avp/log.h"
#include "avp/seccomp.h"
#include "chardev_relay.h"

/* While nobody has the pty open, how often the relay looks again: a pty
 * master reports POLLHUP for as long as no slave is open, so it cannot
 * be polled for "someone opened it". */
#define PTY_RECHECK_MS 100
/* How long the end waits for the connected client to take the rest. */
#define RELAY_CLOSE_WAIT_MS 300
#define BUSY_MSG "avp: this console already has a client; try again once it detached\r\n"

struct chardev_relay {
	enum avp_chardev_kind kind;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	const struct avp_config *confine;
	int pipe_out; /* read end of the device's output pipe */
	int pipe_in;  /* write end of the device's input pipe */
	int listen_fd;
	int client_fd; /* socket: the client; pty: the master */
	bool connected;
	int stop_fd; /* eventfd: chardev_relay_close */
	pthread_t thread;
	bool thread_started;
	bool created; /* the socket file is ours to remove */
	dev_t sock_dev;
	ino_t sock_ino;

	/* Guest output for the client, a ring of CHARDEV_OUT_BUF. */
	uint8_t *ring;
	size_t ring_head, ring_count;
	/* Client input on its way to the device. */
	uint8_t in_buf[4096];
	size_t in_off, in_len;
	atomic_uint_fast64_t dropped;
	atomic_int client_state;
};

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

/* Appends to the ring; while nobody is connected the oldest bytes make
 * room for the newest. */
static void ring_put(struct chardev_relay *r, const uint8_t *p, size_t n)
{
	if (n > CHARDEV_OUT_BUF) {
		atomic_fetch_add(&r->dropped, n - CHARDEV_OUT_BUF);
		p += n - CHARDEV_OUT_BUF;
		n = CHARDEV_OUT_BUF;
	}
	if (r->ring_count + n > CHARDEV_OUT_BUF) {
		size_t drop = r->ring_count + n - CHARDEV_OUT_BUF;

		atomic_fetch_add(&r->dropped, drop);
		r->ring_head = (r->ring_head + drop) % CHARDEV_OUT_BUF;
		r->ring_count -= drop;
	}
	while (n) {
		size_t tail = (r->ring_head + r->ring_count) % CHARDEV_OUT_BUF;
		size_t chunk = CHARDEV_OUT_BUF - tail;

		if (chunk > n)
			chunk = n;
		memcpy(r->ring + tail, p, chunk);
		r->ring_count += chunk;
		p += chunk;
		n -= chunk;
	}
}

/* Reads the device's output pipe: with a client only what fits, without
 * one everything (keeping the newest). false at end of file. */
static bool pull_output(struct chardev_relay *r)
{
	uint8_t buf[4096];

	for (;;) {
		size_t want = sizeof(buf);
		ssize_t n;

		if (r->connected) {
			want = CHARDEV_OUT_BUF - r->ring_count;
			if (want > sizeof(buf))
				want = sizeof(buf);
			if (!want)
				return true;
		}
		n = read(r->pipe_out, buf, want);
		if (n > 0) {
			ring_put(r, buf, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		return n < 0; /* EAGAIN: all read; 0: the device closed it */
	}
}

static void disconnect(struct chardev_relay *r)
{
	r->connected = false;
	atomic_store(&r->client_state, 0);
	r->in_off = r->in_len = 0;
	if (r->kind == AVP_CHR_SOCKET && r->client_fd >= 0) {
		close(r->client_fd);
		r->client_fd = -1;
	}
}

/* Guest output to the client, as much as it takes now. */
static void push_output(struct chardev_relay *r)
{
	while (r->connected && r->ring_count) {
		size_t chunk = CHARDEV_OUT_BUF - r->ring_head;
		ssize_t n;

		if (chunk > r->ring_count)
			chunk = r->ring_count;
		n = r->kind == AVP_CHR_SOCKET
			    ? send(r->client_fd, r->ring + r->ring_head, chunk, MSG_NOSIGNAL)
			    : write(r->client_fd, r->ring + r->ring_head, chunk);
		if (n > 0) {
			r->ring_head = (r->ring_head + (size_t)n) % CHARDEV_OUT_BUF;
			r->ring_count -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		disconnect(r);
	}
	if (!r->ring_count)
		r->ring_head = 0;
}

/* Client input, when the device has taken the previous. */
static void pull_input(struct chardev_relay *r)
{
	ssize_t n;

	if (!r->connected || r->in_off < r->in_len)
		return;
	n = read(r->client_fd, r->in_buf, sizeof(r->in_buf));
	if (n > 0) {
		r->in_off = 0;
		r->in_len = (size_t)n;
	} else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
		/* A pty whose last reader closed gives EIO; a socket, 0. */
		disconnect(r);
	}
}

static void push_input(struct chardev_relay *r)
{
	while (r->in_off < r->in_len) {
		ssize_t n = write(r->pipe_in, r->in_buf + r->in_off, r->in_len - r->in_off);

		if (n > 0) {
			r->in_off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN)
			r->in_off = r->in_len; /* the device is gone: drop it */
		return;
	}
	r->in_off = r->in_len = 0;
}

static void accept_client(struct chardev_relay *r)
{
	int fd = accept4(r->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return;
	if (r->connected) {
		(void)!send(fd, BUSY_MSG, sizeof(BUSY_MSG) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		close(fd);
		return;
	}
	r->client_fd = fd;
	r->connected = true;
	atomic_store(&r->client_state, 1);
}

/* Whether someone has the pty's slave open now. */
static void pty_check(struct chardev_relay *r)
{
	struct pollfd p = { .fd = r->client_fd, .events = POLLIN };
	bool open_now = poll(&p, 1, 0) >= 0 && !(p.revents & POLLHUP);

	if (open_now && !r->connected) {
		r->connected = true;
		atomic_store(&r->client_state, 1);
	} else if (!open_now && r->connected) {
		disconnect(r);
	}
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The end: what the device wrote last goes to the client if it takes it
 * soon. */
static void final_push(struct chardev_relay *r)
{
	int64_t deadline = now_ms() + RELAY_CLOSE_WAIT_MS;
	bool more = r->pipe_out >= 0;

	while (more || r->ring_count) {
		struct pollfd p = { .fd = r->client_fd, .events = POLLOUT };
		int64_t wait = deadline - now_ms();

		if (more)
			more = pull_output(r) && r->ring_count == CHARDEV_OUT_BUF;
		if (r->kind == AVP_CHR_PTY)
			pty_check(r);
		push_output(r);
		if (!r->connected || wait <= 0 || (!r->ring_count && !more))
			break;
		if (poll(&p, 1, (int)wait) < 0 && errno != EINTR)
			break;
	}
}

/* Only the socket we bound: not one another process put there since. In
 * the relay's own thread at its end (its seccomp role has the calls), or
 * by relay_free when the thread never ran. */
static void remove_socket(struct chardev_relay *r)
{
	struct stat st;

	if (r->created && fstatat(AT_FDCWD, r->path, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    st.st_dev == r->sock_dev && st.st_ino == r->sock_ino)
		unlinkat(AT_FDCWD, r->path, 0);
	r->created = false;
}

static void *relay_thread(void *arg)
{
	struct chardev_relay *r = arg;

	if (r->confine && avp_seccomp_apply(AVP_THREAD_CHARDEV, r->confine)) {
		avp_err("%s: cannot confine the console relay; it stays closed", r->path);
		remove_socket(r);
		return NULL;
	}
	for (;;) {
		struct pollfd pfd[4];
		nfds_t n = 0;
		int timeout = -1;
		int ip = -1, ic = -1, il = -1;

		if (r->kind == AVP_CHR_PTY)
			pty_check(r);
		pfd[n++] = (struct pollfd){ .fd = r->stop_fd, .events = POLLIN };
		if (r->pipe_out >= 0 && (!r->connected || r->ring_count < CHARDEV_OUT_BUF))
			ip = (int)n, pfd[n++] = (struct pollfd){ .fd = r->pipe_out, .events = POLLIN };
		if (r->in_off < r->in_len)
			pfd[n++] = (struct pollfd){ .fd = r->pipe_in, .events = POLLOUT };
		if (r->connected) {
			short ev = (short)(r->ring_count ? POLLOUT : 0);

			if (r->in_off >= r->in_len)
				ev |= POLLIN;
			ic = (int)n, pfd[n++] = (struct pollfd){ .fd = r->client_fd, .events = ev };
		} else if (r->kind == AVP_CHR_PTY) {
			timeout = PTY_RECHECK_MS;
		}
		if (r->listen_fd >= 0)
			il = (int)n, pfd[n++] = (struct pollfd){ .fd = r->listen_fd, .events = POLLIN };
		if (poll(pfd, n, timeout) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[0].revents)
			break;
		if (ip >= 0 && pfd[ip].revents && !pull_output(r)) {
			/* The device closed its end. */
			close(r->pipe_out);
			r->pipe_out = -1;
		}
		if (il >= 0 && pfd[il].revents)
			accept_client(r);
		if (ic >= 0 && (pfd[ic].revents & (POLLIN | POLLERR)))
			pull_input(r);
		if (ic >= 0 && (pfd[ic].revents & POLLHUP) && r->kind == AVP_CHR_SOCKET &&
		    !(pfd[ic].revents & POLLIN))
			disconnect(r);
		push_input(r);
		push_output(r);
	}
	if (r->pipe_out >= 0 || r->ring_count)
		final_push(r);
	remove_socket(r);
	return NULL;
}

/* A Unix socket of our own at path: an existing socket nobody listens on
 * (left by a crashed avp) is replaced; anything else is refused. */
static int bind_socket(struct chardev_relay *r, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, ret;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		avp_err("socket path %s is too long (at most %zu bytes)", path,
			sizeof(sa.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (lstat(path, &st) == 0) {
		int probe;

		if (!S_ISSOCK(st.st_mode)) {
			avp_err("%s exists and is not a socket: choose another path for the "
				"console socket",
				path);
			return -EEXIST;
		}
		probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe < 0)
			return -errno;
		ret = connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0 ? 0 : errno;
		close(probe);
		if (ret != ECONNREFUSED) {
			avp_err("%s is a socket in use (another avp?): choose another path", path);
			return -EADDRINUSE;
		}
		if (unlink(path) < 0 && errno != ENOENT)
			return -errno;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4) < 0) {
		ret = -errno;
		avp_err("cannot listen on %s: %s", path, strerror(-ret));
		close(fd);
		return ret;
	}
	if (stat(path, &st) == 0) {
		r->created = true;
		r->sock_dev = st.st_dev;
		r->sock_ino = st.st_ino;
	}
	r->listen_fd = fd;
	return 0;
}

static int open_pty(struct chardev_relay *r)
{
	struct termios t;
	const char *name;
	int fd, slave, ret = 0;

	fd = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (grantpt(fd) < 0 || unlockpt(fd) < 0 || !(name = ptsname(fd)) ||
	    strlen(name) >= sizeof(r->path)) {
		ret = errno ? -errno : -EINVAL;
		goto fail;
	}
	strcpy(r->path, name);
	/* Raw both ways: the guest does its own echo and line endings. The
	 * slave is opened once so that the master reports POLLHUP from now
	 * on while nobody has it open (before a first open it does not). */
	slave = open(r->path, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0) {
		ret = -errno;
		goto fail;
	}
	if (tcgetattr(slave, &t) == 0) {
		cfmakeraw(&t);
		tcsetattr(slave, TCSANOW, &t);
	}
	close(slave);
	ret = set_nonblock(fd);
	if (ret)
		goto fail;
	r->client_fd = fd;
	return 0;
fail:
	avp_err("cannot open a pseudo-terminal: %s", strerror(-ret));
	close(fd);
	return ret;
}

static void relay_free(struct chardev_relay *r)
{
	if (r->listen_fd >= 0)
		close(r->listen_fd);
	if (r->client_fd >= 0)
		close(r->client_fd);
	if (r->pipe_out >= 0)
		close(r->pipe_out);
	if (r->pipe_in >= 0)
		close(r->pipe_in);
	if (r->stop_fd >= 0)
		close(r->stop_fd);
	remove_socket(r);
	free(r->ring);
	free(r);
}

int chardev_relay_open(struct chardev_relay **out, const struct avp_chardev_cfg *cfg,
		       const struct avp_config *confine, int *dev_out, int *dev_in)
{
	struct chardev_relay *r;
	int out_pipe[2] = { -1, -1 }, in_pipe[2] = { -1, -1 };
	int ret;

	*out = NULL;
	if (cfg->kind != AVP_CHR_PTY && (cfg->kind != AVP_CHR_SOCKET || !cfg->path))
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->kind = cfg->kind;
	r->confine = confine;
	r->listen_fd = r->client_fd = r->pipe_out = r->pipe_in = -1;
	r->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	r->ring = malloc(CHARDEV_OUT_BUF);
	if (r->stop_fd < 0 || !r->ring) {
		ret = r->ring ? -errno : -ENOMEM;
		goto fail;
	}
	if (cfg->kind == AVP_CHR_SOCKET) {
		snprintf(r->path, sizeof(r->path), "%s", cfg->path);
		ret = bind_socket(r, cfg->path);
	} else {
		ret = open_pty(r);
	}
	if (ret)
		goto fail;
	if (pipe2(out_pipe, O_CLOEXEC | O_NONBLOCK) || pipe2(in_pipe, O_CLOEXEC | O_NONBLOCK)) {
		ret = -errno;
		goto fail;
	}
	r->pipe_out = out_pipe[0];
	r->pipe_in = in_pipe[1];
	/* Signals are the main thread's (signalfd): a relay that could take
	 * SIGTERM would end avp by the default action, skipping teardown. */
	{
		sigset_t all, old;

		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		ret = -pthread_create(&r->thread, NULL, relay_thread, r);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	if (ret)
		goto fail;
	r->thread_started = true;
	*dev_out = out_pipe[1];
	*dev_in = in_pipe[0];
	*out = r;
	return 0;
fail:
	if (r->pipe_out < 0) {
		if (out_pipe[0] >= 0)
			close(out_pipe[0]);
		if (in_pipe[1] >= 0)
			close(in_pipe[1]);
	}
	if (out_pipe[1] >= 0)
		close(out_pipe[1]);
	if (in_pipe[0] >= 0)
		close(in_pipe[0]);
	relay_free(r);
	return ret;
}

const char *chardev_relay_path(const struct chardev_relay *r)
{
	return r ? r->path : NULL;
}

uint64_t chardev_relay_dropped(const struct chardev_relay *r)
{
	return r ? atomic_load(&((struct chardev_relay *)r)->dropped) : 0;
}

int chardev_relay_connected(const struct chardev_relay *r)
{
	return r ? atomic_load(&((struct chardev_relay *)r)->client_state) : 0;
}

void chardev_relay_close(struct chardev_relay *r)
{
	uint64_t one = 1;

	if (!r)
		return;
	if (r->thread_started) {
		(void)!write(r->stop_fd, &one, sizeof(one));
		pthread_join(r->thread, NULL);
	}
	relay_free(r);
}
