/* avp api: a one-shot client of a running VM's control socket.
 *
 *   avp api --api-sock PATH [--timeout S] CMD ['{"json":"args"}']
 *
 * Sends {"cmd":CMD,"args":ARGS} as one line, prints the reply line on
 * stdout. Exit status: 0 the VM answered ok, 2 it answered with an error,
 * 1 bad usage, 4 the socket could not be reached or did not answer in
 * time (docs/api.md). */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "avp/api.h"
#include "avp/cli.h"

#define CLIENT_EXIT_OK 0
#define CLIENT_EXIT_USAGE 1
#define CLIENT_EXIT_REFUSED 2
#define CLIENT_EXIT_UNREACHABLE 4
#define CLIENT_DEFAULT_TIMEOUT_S 30
/* Replies can carry data (a device may return a picture): generous, but a
 * broken server cannot make us allocate without end. */
#define CLIENT_MAX_REPLY (64u << 20)

static void client_usage(FILE *out)
{
	fputs("usage: avp api --api-sock PATH [--timeout S] CMD ['{JSON ARGS}']\n"
	      "\n"
	      "Sends one command to the control socket of a VM started with\n"
	      "'avp run --api-sock PATH' and prints its JSON reply.\n"
	      "\n"
	      "  --api-sock PATH   the VM's control socket\n"
	      "  --timeout S       give up after S seconds (default 30)\n"
	      "\n"
	      "commands: status, shutdown ['{\"timeout\":S}'], kill, and those the VM's\n"
	      "devices add (status lists them), e.g. input '{\"key\":\"KEY_A\"}'\n"
	      "\n"
	      "exit status: 0 ok, 1 bad usage, 2 the VM refused the command,\n"
	      "4 the socket could not be reached or did not answer\n",
	      out);
}

static long long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Waits for events on fd until the deadline. 1 ready, 0 timed out, -1 error. */
static int wait_fd(int fd, short events, long long deadline)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = events };
		long long left = deadline - now_ms();
		int r;

		if (left <= 0)
			return 0;
		r = poll(&p, 1, left > 60000 ? 60000 : (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r > 0)
			return 1;
	}
}

static int connect_to(const char *path, FILE *err)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(addr.sun_path)) {
		fprintf(err, "avp api: --api-sock %s: path too long for a Unix socket\n", path);
		return -1;
	}
	memcpy(addr.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr))) {
		fprintf(err, "avp api: cannot connect to %s: %s (is 'avp run --api-sock %s' running?)\n",
			path, strerror(errno), path);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static int send_all(int fd, const char *buf, size_t len, long long deadline)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (wait_fd(fd, POLLOUT, deadline) <= 0)
				return -1;
			continue;
		}
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Reads one line (newline excluded) into a malloc'd string. */
static char *recv_line(int fd, long long deadline, const char **why)
{
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);

	while (buf) {
		ssize_t n;
		char *nl;
		int w = wait_fd(fd, POLLIN, deadline);

		if (w <= 0) {
			*why = w == 0 ? "no reply in time" : strerror(errno);
			break;
		}
		if (len + 1 >= cap) {
			char *bigger;

			if (cap >= CLIENT_MAX_REPLY) {
				*why = "reply too long";
				break;
			}
			bigger = realloc(buf, cap * 2);
			if (!bigger)
				break;
			buf = bigger;
			cap *= 2;
		}
		n = recv(fd, buf + len, cap - len - 1, MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0) {
			*why = n == 0 ? "the VM closed the connection without replying" : strerror(errno);
			break;
		}
		nl = memchr(buf + len, '\n', (size_t)n);
		len += (size_t)n;
		if (nl) {
			*nl = 0;
			return buf;
		}
	}
	if (!buf)
		*why = "out of memory";
	free(buf);
	return NULL;
}

static const struct option client_options[] = {
	{ "api-sock", required_argument, NULL, 's' },
	{ "timeout", required_argument, NULL, 't' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

int api_client_main(int argc, char **argv, FILE *out, FILE *err)
{
	const char *path = NULL, *cmd, *args_text = NULL;
	long timeout_s = CLIENT_DEFAULT_TIMEOUT_S;
	json_object *req, *args = NULL, *reply, *ok;
	const char *why = NULL;
	long long deadline;
	char *line, *answer;
	size_t len = 0;
	int opt, fd, status;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":h", client_options, NULL)) != -1) {
		char *end;

		switch (opt) {
		case 's':
			path = optarg;
			break;
		case 't':
			errno = 0;
			timeout_s = strtol(optarg, &end, 10);
			if (errno || *end || timeout_s < 1 || timeout_s > 3600) {
				fprintf(err, "avp api: --timeout: expected 1-3600 seconds, got '%s'\n",
					optarg);
				return CLIENT_EXIT_USAGE;
			}
			break;
		case 'h':
			client_usage(out);
			return CLIENT_EXIT_OK;
		default:
			fprintf(err, "avp api: bad option '%s' (see avp api --help)\n", argv[optind - 1]);
			return CLIENT_EXIT_USAGE;
		}
	}
	if (!path) {
		fprintf(err, "avp api: --api-sock PATH is required (see avp api --help)\n");
		return CLIENT_EXIT_USAGE;
	}
	if (optind >= argc || optind + 2 < argc) {
		fprintf(err, "avp api: expected CMD and at most one JSON argument object "
			     "(see avp api --help)\n");
		return CLIENT_EXIT_USAGE;
	}
	cmd = argv[optind];
	if (optind + 1 < argc)
		args_text = argv[optind + 1];
	if (args_text) {
		enum json_tokener_error jerr;

		args = json_tokener_parse_verbose(args_text, &jerr);
		if (!args || !json_object_is_type(args, json_type_object)) {
			fprintf(err, "avp api: the arguments must be one JSON object, e.g. "
				     "'{\"key\":\"KEY_A\"}'%s%s\n",
				args ? "" : ": ", args ? "" : json_tokener_error_desc(jerr));
			json_object_put(args);
			return CLIENT_EXIT_USAGE;
		}
	}
	req = json_object_new_object();
	json_object_object_add(req, "cmd", json_object_new_string(cmd));
	if (args)
		json_object_object_add(req, "args", args);
	line = api_reply_format(req, &len); /* same one-line encoding */
	json_object_put(req);
	if (!line) {
		fprintf(err, "avp api: out of memory\n");
		return CLIENT_EXIT_UNREACHABLE;
	}
	if (len - 1 > API_MAX_REQUEST) {
		fprintf(err, "avp api: the request is %zu bytes; the VM takes at most %d\n", len - 1,
			API_MAX_REQUEST);
		free(line);
		return CLIENT_EXIT_USAGE;
	}

	fd = connect_to(path, err);
	if (fd < 0) {
		free(line);
		return CLIENT_EXIT_UNREACHABLE;
	}
	deadline = now_ms() + timeout_s * 1000;
	answer = NULL;
	if (send_all(fd, line, len, deadline))
		why = "cannot send the request";
	else
		answer = recv_line(fd, deadline, &why);
	free(line);
	close(fd);
	if (!answer) {
		fprintf(err, "avp api: %s: %s\n", path, why ? why : "no reply");
		return CLIENT_EXIT_UNREACHABLE;
	}
	fprintf(out, "%s\n", answer);
	reply = json_tokener_parse(answer);
	status = reply && json_object_object_get_ex(reply, "ok", &ok) && json_object_get_boolean(ok)
			 ? CLIENT_EXIT_OK
			 : CLIENT_EXIT_REFUSED;
	json_object_put(reply);
	free(answer);
	return status;
}
