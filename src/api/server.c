/* The control-socket server (avp/api.h has the contract, docs/api.md the
 * wire format). One thread polls the listening socket, the clients and a
 * wake-up eventfd; requests run on that thread, so a command handler that
 * takes a device lock waits at most for that device's current work and
 * never for the guest's vCPUs.
 *
 * Memory per client is bounded: an input buffer of API_MAX_REQUEST + 1
 * bytes, and one reply at a time (we stop reading a client's requests
 * until it has taken its previous reply). */
#include <errno.h>
#include <json-c/json.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "avp/api.h"
#include "avp/arch.h"
#include "avp/chardev.h"
#include "avp/log.h"
#include "avp/seccomp.h"
#include "avp/vm.h"

#define LISTEN_BACKLOG 16

struct api_client {
	int fd; /* -1: free slot */
	char *in;
	size_t in_len;
	char *out;
	size_t out_len;
	size_t out_off;
	bool eof;     /* no more input: close once the requests are answered */
	bool closing; /* close once the pending reply is out */
};

struct api_server {
	struct vm *vm;
	char *path;
	dev_t sock_dev; /* our socket file, so that we never unlink another */
	ino_t sock_ino;
	int listen_fd;
	int wake_fd;
	pthread_t thread;
	bool started;
	struct api_client clients[API_MAX_CLIENTS];
	/* "shutdown" with a timeout: force the VM off at this time. */
	bool force_armed;
	struct timespec force_at;
};

/* ---- built-in commands ---- */

static const char *exit_reason_name(int reason)
{
	switch (reason) {
	case VM_EXIT_POWEROFF:
		return "poweroff";
	case VM_EXIT_REBOOT:
		return "reboot";
	case VM_EXIT_CRASH:
		return "crash";
	case VM_EXIT_HOST_ERROR:
		return "host-error";
	case VM_EXIT_SIGNAL:
		return "stopped";
	default:
		return "none";
	}
}

static json_object *hex_string(uint64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "0x%llx", (unsigned long long)v);
	return json_object_new_string(buf);
}

/* What the log's rate limit held back is still visible here. */
static void add_guest_warnings(json_object *reply)
{
	struct avp_guest_warn_counts n;
	json_object *o = json_object_new_object();

	avp_guest_warn_counts(&n);
	json_object_object_add(o, "total", json_object_new_int64((int64_t)n.total));
	json_object_object_add(o, "not_shown", json_object_new_int64((int64_t)n.not_shown));
	json_object_object_add(reply, "guest_warnings", o);
}

/* Where to reach the serial port or the console given as pty or
 * socket=PATH (the pty's path is only known once avp opened it). */
static void add_consoles(json_object *reply)
{
	struct chardev_endpoint ep[4];
	size_t n = chardev_endpoints(ep, 4);
	json_object *arr = json_object_new_array();

	for (size_t i = 0; i < n; i++) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "device", json_object_new_string(ep[i].label));
		json_object_object_add(o, "backend", json_object_new_string(ep[i].backend));
		json_object_object_add(o, "path", json_object_new_string(ep[i].path));
		json_object_object_add(o, "connected", json_object_new_boolean(ep[i].connected));
		json_object_object_add(o, "dropped_bytes",
				       json_object_new_int64((int64_t)ep[i].dropped));
		json_object_array_add(arr, o);
	}
	json_object_object_add(reply, "consoles", arr);
}

static void cmd_status(struct api_server *s, json_object *reply)
{
	struct vm *vm = s->vm;
	int reason = atomic_load(&vm->exit_reason);
	json_object *devs = json_object_new_array();
	json_object *cmds = json_object_new_array();

	json_object_object_add(reply, "state",
			       json_object_new_string(reason == VM_EXIT_NONE ? "running" : "stopping"));
	if (reason != VM_EXIT_NONE)
		json_object_object_add(reply, "exit_reason",
				       json_object_new_string(exit_reason_name(reason)));
	json_object_object_add(reply, "uptime_ms", json_object_new_int64((int64_t)vm_elapsed_ms(vm)));
	json_object_object_add(reply, "vcpus", json_object_new_int((int)vm->ncpus));
	if (vm->cfg)
		json_object_object_add(reply, "memory_mib",
				       json_object_new_int64((int64_t)vm->cfg->memory_mib));
	/* The device table is fixed before the server starts. */
	for (unsigned int i = 0; i < vm->nmmio_devs; i++) {
		const struct platform_mmio_dev *d = &vm->mmio_devs[i];
		json_object *o = json_object_new_object();

		json_object_object_add(o, "type", json_object_new_string(d->type ? d->type : ""));
		json_object_object_add(o, "virtio_id", json_object_new_int((int)d->virtio_id));
		json_object_object_add(o, "address", hex_string(d->base));
		json_object_object_add(o, "interrupt", json_object_new_int((int)d->gsi));
		json_object_array_add(devs, o);
	}
	json_object_object_add(reply, "devices", devs);
	add_guest_warnings(reply);
	add_consoles(reply);
	json_object_array_add(cmds, json_object_new_string("status"));
	json_object_array_add(cmds, json_object_new_string("shutdown"));
	json_object_array_add(cmds, json_object_new_string("kill"));
	for (unsigned int i = 0; i < vm->napi_cmds; i++)
		json_object_array_add(cmds, json_object_new_string(vm->api_cmds[i].name));
	json_object_object_add(reply, "commands", cmds);
}

/* Reads an optional number of seconds in (0, API_MAX_SHUTDOWN_TIMEOUT_S]. */
static int arg_timeout(json_object *args, double *out, json_object *reply)
{
	json_object *t;
	double v;

	*out = 0;
	if (!args || !json_object_object_get_ex(args, "timeout", &t) || !t)
		return 0;
	if (!json_object_is_type(t, json_type_int) && !json_object_is_type(t, json_type_double)) {
		api_reply_fail(reply, "\"timeout\" must be a number of seconds");
		return -EINVAL;
	}
	v = json_object_get_double(t);
	if (!(v > 0 && v <= API_MAX_SHUTDOWN_TIMEOUT_S)) {
		api_reply_fail(reply, "\"timeout\" must be more than 0 and at most 3600 seconds");
		return -EINVAL;
	}
	*out = v;
	return 0;
}

/* AVP-PM-1: ask the guest to power off (ACPI power button); with
 * "timeout", force it off if it has not gone by then. A guest without a
 * handler for the button ignores it, which is why the timeout exists. */
static void cmd_shutdown(struct api_server *s, json_object *args, json_object *reply)
{
	double timeout;
	int ret;

	if (arg_timeout(args, &timeout, reply))
		return;
	ret = arch_power_button(s->vm);
	if (ret) {
		char msg[96];

		snprintf(msg, sizeof(msg), "cannot press the power button: %s", strerror(-ret));
		api_reply_fail(reply, msg);
		return;
	}
	avp_info("control socket: power button pressed%s", timeout > 0 ? " (forced off after timeout)" : "");
	json_object_object_add(reply, "method", json_object_new_string("acpi-power-button"));
	if (timeout > 0) {
		struct timespec now;
		long long ns;

		clock_gettime(CLOCK_MONOTONIC, &now);
		ns = (long long)now.tv_nsec + (long long)(timeout * 1e9);
		s->force_at.tv_sec = now.tv_sec + (time_t)(ns / 1000000000);
		s->force_at.tv_nsec = (long)(ns % 1000000000);
		s->force_armed = true;
		json_object_object_add(reply, "force_off_after_s", json_object_new_double(timeout));
	}
}

/* Forced stop, as SIGTERM would: avp exits with status 5. */
static void cmd_kill(struct api_server *s, json_object *reply)
{
	(void)reply;
	avp_warn("stopping the VM: 'kill' on the control socket");
	vm_request_exit(s->vm, VM_EXIT_SIGNAL);
}

/* ---- dispatch ---- */

static json_object *dispatch(struct api_server *s, const char *line, size_t len)
{
	struct api_request req;
	char err[160];
	json_object *reply;
	const struct api_command *cmd;
	int ret;

	ret = api_request_parse(line, len, &req, err, sizeof(err));
	reply = api_reply_new(ret ? NULL : &req);
	if (!reply) {
		if (!ret)
			api_request_free(&req);
		return NULL;
	}
	if (ret) {
		api_reply_fail(reply, err);
		return reply;
	}
	if (strcmp(req.cmd, "status") == 0) {
		cmd_status(s, reply);
	} else if (strcmp(req.cmd, "shutdown") == 0) {
		cmd_shutdown(s, req.args, reply);
	} else if (strcmp(req.cmd, "kill") == 0) {
		cmd_kill(s, reply);
	} else if ((cmd = vm_api_find(s->vm, req.cmd))) {
		ret = cmd->fn(cmd->opaque, req.args, reply);
		if (ret) {
			json_object *e;

			if (json_object_object_get_ex(reply, "error", &e))
				api_reply_fail(reply, NULL);
			else
				api_reply_fail(reply, strerror(ret < 0 ? -ret : ret));
		} else {
			/* A handler must not flip the outcome by itself. */
			json_object_object_add(reply, "ok", json_object_new_boolean(1));
		}
	} else {
		snprintf(err, sizeof(err), "unknown command \"%s\" (\"status\" lists the commands)",
			 req.cmd);
		api_reply_fail(reply, err);
	}
	api_request_free(&req);
	return reply;
}

/* ---- clients ---- */

static void client_close(struct api_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->in);
	free(c->out);
	*c = (struct api_client){ .fd = -1 };
}

/* Sends what is pending; -1 when the client is gone. */
static int client_flush(struct api_client *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n <= 0)
			return -1;
		c->out_off += (size_t)n;
	}
	free(c->out);
	c->out = NULL;
	c->out_len = c->out_off = 0;
	return 0;
}

static void client_queue(struct api_client *c, json_object *reply)
{
	size_t len = 0;
	char *line = api_reply_format(reply, &len);

	json_object_put(reply);
	if (!line) {
		/* Out of memory: the client would wait forever for a reply it
		 * cannot get, so end the conversation. */
		c->closing = true;
		return;
	}
	c->out = line;
	c->out_len = len;
	c->out_off = 0;
}

static void client_reply_error(struct api_client *c, const char *msg)
{
	json_object *reply = api_reply_new(NULL);

	api_reply_fail(reply, msg);
	client_queue(c, reply);
}

/* Runs the complete lines in the input buffer, one reply at a time. */
static void client_process(struct api_server *s, struct api_client *c)
{
	while (!c->out && !c->closing) {
		char *nl = memchr(c->in, '\n', c->in_len);
		size_t len;

		if (!nl) {
			if (c->in_len > API_MAX_REQUEST) {
				/* No way to find where this request ends: answer
				 * and hang up. */
				client_reply_error(c, "request too long (at most 65536 bytes per line); "
						      "closing the connection");
				c->closing = true;
			}
			return;
		}
		len = (size_t)(nl - c->in);
		if (len && c->in[len - 1] == '\r')
			len--;
		if (len > 0)
			client_queue(c, dispatch(s, c->in, len));
		c->in_len -= (size_t)(nl - c->in) + 1;
		memmove(c->in, nl + 1, c->in_len);
		if (c->out && client_flush(c)) {
			/* The client is gone; drop what it asked for. */
			free(c->out);
			c->out = NULL;
			c->out_len = c->out_off = 0;
			c->closing = true;
			return;
		}
	}
}

static void client_read(struct api_server *s, struct api_client *c)
{
	size_t room = API_MAX_REQUEST + 1 - c->in_len;
	ssize_t n;

	if (room == 0)
		return; /* client_process has answered (too long) or will */
	n = recv(c->fd, c->in + c->in_len, room, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n < 0) {
		c->closing = true;
		return;
	}
	if (n == 0) {
		/* End of requests (maybe only a half-close: the client still
		 * waits for its replies). A last line without its newline
		 * counts too. */
		if (c->in_len > 0 && c->in_len <= API_MAX_REQUEST &&
		    !memchr(c->in, '\n', c->in_len))
			c->in[c->in_len++] = '\n';
		c->eof = true;
		client_process(s, c);
		return;
	}
	c->in_len += (size_t)n;
	client_process(s, c);
}

static void accept_clients(struct api_server *s)
{
	for (;;) {
		int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct api_client *c = NULL;

		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
			    errno != ECONNABORTED)
				avp_warn("control socket: accept: %s", strerror(errno));
			return;
		}
		for (unsigned int i = 0; i < API_MAX_CLIENTS && !c; i++)
			if (s->clients[i].fd < 0)
				c = &s->clients[i];
		if (c) {
			c->in = malloc(API_MAX_REQUEST + 2);
			if (c->in) {
				c->fd = fd;
				continue;
			}
		}
		/* Full (or out of memory): tell the client why, best effort. */
		{
			static const char busy[] =
				"{\"ok\":false,\"error\":\"too many control-socket clients\"}\n";

			if (send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
				/* Nothing more we can do for this client. */
			}
			close(fd);
		}
	}
}

/* ---- the thread ---- */

static int ms_until(const struct timespec *t)
{
	struct timespec now;
	long long ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (long long)(t->tv_sec - now.tv_sec) * 1000 + (t->tv_nsec - now.tv_nsec) / 1000000;
	if (ms < 0)
		return 0;
	return ms > 60000 ? 60000 : (int)ms + 1;
}

static void check_force_off(struct api_server *s)
{
	if (!s->force_armed || ms_until(&s->force_at) > 0)
		return;
	s->force_armed = false;
	if (atomic_load(&s->vm->exit_reason) != VM_EXIT_NONE)
		return;
	avp_warn("the guest did not shut down in time after the power button: forcing it off");
	vm_request_exit(s->vm, VM_EXIT_SIGNAL);
}

/* Disconnects the clients, closes the listening socket and removes its
 * file if it is still ours (another avp may have taken the path since). */
static void server_cleanup(struct api_server *s)
{
	struct stat st;

	for (unsigned int i = 0; i < API_MAX_CLIENTS; i++)
		if (s->clients[i].fd >= 0)
			client_close(&s->clients[i]);
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	s->listen_fd = -1;
	if (lstat(s->path, &st) == 0 && st.st_dev == s->sock_dev && st.st_ino == s->sock_ino)
		unlink(s->path);
}

static void *server_thread(void *arg)
{
	struct api_server *s = arg;
	struct pollfd fds[2 + API_MAX_CLIENTS];
	struct api_client *owner[2 + API_MAX_CLIENTS];

	/* Confined before the first client's bytes are parsed
	 * (docs/security.md). A VM without KVM (unit tests) runs no guest and
	 * keeps the test process unconfined. */
	if (s->vm->vm_fd >= 0 && avp_seccomp_apply(AVP_THREAD_API, s->vm->cfg)) {
		vm_request_exit(s->vm, VM_EXIT_HOST_ERROR);
		server_cleanup(s);
		return NULL;
	}
	for (;;) {
		nfds_t n = 0;
		int timeout = s->force_armed ? ms_until(&s->force_at) : -1;
		int ret;

		fds[n++] = (struct pollfd){ .fd = s->wake_fd, .events = POLLIN };
		fds[n++] = (struct pollfd){ .fd = s->listen_fd, .events = POLLIN };
		for (unsigned int i = 0; i < API_MAX_CLIENTS; i++) {
			struct api_client *c = &s->clients[i];
			short ev = 0;

			if (c->fd < 0)
				continue;
			if (!c->out && (c->closing || (c->eof && !memchr(c->in, '\n', c->in_len)))) {
				client_close(c);
				continue;
			}
			if (c->out)
				ev = POLLOUT;
			else if (!c->eof)
				ev = POLLIN;
			owner[n] = c;
			fds[n++] = (struct pollfd){ .fd = c->fd, .events = ev };
		}
		ret = poll(fds, n, timeout);
		if (ret < 0 && errno != EINTR) {
			avp_err("control socket: poll: %s", strerror(errno));
			break;
		}
		if (fds[0].revents)
			break;
		check_force_off(s);
		if (ret <= 0)
			continue;
		if (fds[1].revents & POLLIN)
			accept_clients(s);
		for (nfds_t i = 2; i < n; i++) {
			struct api_client *c = owner[i];

			if (!fds[i].revents)
				continue;
			if (fds[i].revents & POLLOUT) {
				if (client_flush(c)) {
					client_close(c);
					continue;
				}
				/* Requests that arrived meanwhile are waiting. */
				client_process(s, c);
			} else if (fds[i].revents & POLLIN) {
				client_read(s, c);
			} else if (fds[i].revents & (POLLHUP | POLLERR | POLLNVAL)) {
				client_close(c);
			}
		}
	}
	/* The cleanup's calls (close, lstat, unlink) happen here rather than
	 * in api_server_destroy: by then the main thread runs under its
	 * seccomp filter (docs/security.md), this thread does not. */
	server_cleanup(s);
	return NULL;
}

/* ---- lifetime ---- */

/* Binds path; replaces a socket nobody listens on (left by a dead avp),
 * refuses a live one or any other kind of file. */
static int bind_socket(int fd, const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct stat st;
	int probe, err;

	memcpy(addr.sun_path, path, strlen(path) + 1);
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0)
		return 0;
	err = errno;
	if (err != EADDRINUSE)
		return -err;
	if (lstat(path, &st) || !S_ISSOCK(st.st_mode))
		return -EEXIST;
	probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (probe < 0)
		return -errno;
	err = connect(probe, (struct sockaddr *)&addr, sizeof(addr)) == 0 ? EADDRINUSE : errno;
	close(probe);
	if (err != ECONNREFUSED)
		return -EADDRINUSE;
	if (unlink(path) && errno != ENOENT)
		return -errno;
	return bind(fd, (struct sockaddr *)&addr, sizeof(addr)) ? -errno : 0;
}

int api_server_create(struct api_server **out, struct vm *vm, const char *path)
{
	struct api_server *s;
	struct stat st;
	int ret;

	*out = NULL;
	if (!vm || !path || !*path)
		return -EINVAL;
	if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		avp_err("--api-sock %s: a Unix socket path has at most %zu bytes", path,
			sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
		return -ENAMETOOLONG;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->vm = vm;
	s->listen_fd = s->wake_fd = -1;
	for (unsigned int i = 0; i < API_MAX_CLIENTS; i++)
		s->clients[i].fd = -1;
	s->path = strdup(path);
	s->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (!s->path || s->listen_fd < 0 || s->wake_fd < 0) {
		ret = s->path ? -errno : -ENOMEM;
		avp_err("--api-sock %s: %s", path, strerror(-ret));
		goto fail;
	}
	ret = bind_socket(s->listen_fd, path);
	if (ret) {
		avp_err("--api-sock %s: %s", path,
			ret == -EADDRINUSE ? "another process is serving this socket"
			: ret == -EEXIST   ? "the path exists and is not a socket"
					   : strerror(-ret));
		goto fail;
	}
	/* Anyone who can connect can stop the VM: owner only. */
	if (chmod(path, 0600) || listen(s->listen_fd, LISTEN_BACKLOG) || stat(path, &st)) {
		ret = -errno;
		avp_err("--api-sock %s: %s", path, strerror(-ret));
		unlink(path);
		goto fail;
	}
	s->sock_dev = st.st_dev;
	s->sock_ino = st.st_ino;
	*out = s;
	return 0;
fail:
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	if (s->wake_fd >= 0)
		close(s->wake_fd);
	free(s->path);
	free(s);
	return ret;
}

int api_server_start(struct api_server *s)
{
	sigset_t all, old;
	int ret;

	if (!s || s->started)
		return -EINVAL;
	/* Signals belong to the main thread's signalfd. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = pthread_create(&s->thread, NULL, server_thread, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret) {
		avp_err("control socket: cannot start its thread: %s", strerror(ret));
		return -ret;
	}
	s->started = true;
	return 0;
}

void api_server_destroy(struct api_server *s)
{
	uint64_t one = 1;

	if (!s)
		return;
	if (s->started) {
		/* The thread cleans up before it ends. */
		if (write(s->wake_fd, &one, sizeof(one)) < 0)
			avp_warn("control socket: wake-up: %s", strerror(errno));
		pthread_join(s->thread, NULL);
	} else {
		server_cleanup(s);
	}
	close(s->wake_fd);
	free(s->path);
	free(s);
}
