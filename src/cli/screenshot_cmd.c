/* avp screenshot: a small client of the control socket (JSON lines over a
 * Unix stream socket, docs/api.md). It sends
 *     {"cmd":"screenshot","args":{"path":"/abs/out.png"}}
 * and reads the one reply line, {"ok":true,...} or {"ok":false,"error":..}.
 * The VM writes the file itself, so the path is made absolute here: avp
 * may run in another directory. */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "avp/cli_screenshot.h"

/* As avp api's (docs/api.md). */
#define EXIT_OK 0
#define EXIT_USAGE 1
#define EXIT_REFUSED 2
#define EXIT_UNREACHABLE 4

static void usage(FILE *out)
{
	fputs("usage: avp screenshot --api-sock PATH OUT.png\n"
	      "\n"
	      "Saves the display of a running VM (avp run --gpu ... --api-sock PATH) as an\n"
	      "RGB PNG. OUT.png is written by the VM's avp process, replaced atomically.\n"
	      "\n"
	      "exit status: 0 saved, 1 bad arguments, 2 the VM could not save it (the\n"
	      "reason is printed), 4 the socket could not be reached or did not answer\n",
	      out);
}

/* OUT.png relative to our directory, as the VM must see it. */
static char *absolute(const char *path)
{
	char *cwd, *abs;
	size_t n;

	if (path[0] == '/')
		return strdup(path);
	cwd = getcwd(NULL, 0);
	if (!cwd)
		return NULL;
	n = strlen(cwd) + strlen(path) + 2;
	abs = malloc(n);
	if (abs)
		snprintf(abs, n, "%s/%s", cwd, path);
	free(cwd);
	return abs;
}

static int connect_to(const char *sock_path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(sock_path) >= sizeof(addr.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(addr.sun_path, sock_path, strlen(sock_path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		int err = errno;

		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

static int send_all(int fd, const char *buf, size_t len)
{
	while (len) {
		/* MSG_NOSIGNAL: a VM that went away is an error, not SIGPIPE. */
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads up to the first newline into a malloc'd string (without it).
 * NULL with errno: ETIMEDOUT, EMSGSIZE (too long), ECONNRESET (closed
 * before a full line). */
static char *read_line(int fd)
{
	char *buf = malloc(CLI_SCREENSHOT_MAX_REPLY + 1);
	long long deadline = now_ms() + CLI_SCREENSHOT_TIMEOUT_MS;
	size_t have = 0;

	if (!buf)
		return NULL;
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		long long left = deadline - now_ms();
		char *nl;
		ssize_t n;
		int r;

		if (left <= 0) {
			errno = ETIMEDOUT;
			break;
		}
		r = poll(&p, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = ETIMEDOUT;
			break;
		}
		if (have == CLI_SCREENSHOT_MAX_REPLY) {
			errno = EMSGSIZE;
			break;
		}
		n = read(fd, buf + have, CLI_SCREENSHOT_MAX_REPLY - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = ECONNRESET;
			break;
		}
		nl = memchr(buf + have, '\n', (size_t)n);
		have += (size_t)n;
		if (nl) {
			*nl = 0;
			return buf;
		}
	}
	free(buf);
	return NULL;
}

/* The request line, '\n' included (malloc'd). */
static char *make_request(const char *path)
{
	struct json_object *req = json_object_new_object();
	struct json_object *args = json_object_new_object();
	const char *text;
	char *line = NULL;

	if (req && args) {
		json_object_object_add(args, "path", json_object_new_string(path));
		json_object_object_add(req, "cmd", json_object_new_string("screenshot"));
		json_object_object_add(req, "args", args);
		args = NULL;
		text = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN |
								   JSON_C_TO_STRING_NOSLASHESCAPE);
		if (text && asprintf(&line, "%s\n", text) < 0)
			line = NULL;
	}
	json_object_put(args);
	json_object_put(req);
	return line;
}

/* The exit status a reply line means; prints why when it is not ok. */
static int check_reply(const char *line, const char *sock_path)
{
	struct json_object *reply = json_tokener_parse(line);
	struct json_object *ok = NULL, *err = NULL;
	int ret = EXIT_REFUSED;

	if (!reply || !json_object_is_type(reply, json_type_object) ||
	    !json_object_object_get_ex(reply, "ok", &ok) ||
	    !json_object_is_type(ok, json_type_boolean))
		fprintf(stderr, "avp screenshot: %s answered something that is not a reply: %.200s\n",
			sock_path, line), ret = EXIT_UNREACHABLE;
	else if (json_object_get_boolean(ok))
		ret = EXIT_OK;
	else if (json_object_object_get_ex(reply, "error", &err))
		fprintf(stderr, "avp screenshot: %s\n", json_object_get_string(err));
	else
		fprintf(stderr, "avp screenshot: the VM refused without saying why\n");
	json_object_put(reply);
	return ret;
}

static const struct option options[] = {
	{ "api-sock", required_argument, NULL, 's' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

int cli_screenshot(int argc, char **argv)
{
	const char *sock_path = NULL;
	char *out = NULL, *request = NULL, *reply = NULL;
	int status = EXIT_UNREACHABLE;
	int fd = -1, opt;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
		switch (opt) {
		case 's':
			sock_path = optarg;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		case ':':
			fprintf(stderr, "avp screenshot: option '%s' needs a value (see --help)\n",
				argv[optind - 1]);
			return EXIT_USAGE;
		default:
			fprintf(stderr, "avp screenshot: unknown option '%s' (see --help)\n",
				argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	if (!sock_path || !*sock_path) {
		fprintf(stderr, "avp screenshot: --api-sock PATH is required: the VM's control "
				"socket (avp run --api-sock)\n");
		return EXIT_USAGE;
	}
	if (optind != argc - 1 || !*argv[optind]) {
		fprintf(stderr, "avp screenshot: expected exactly one output file, e.g. out.png "
				"(see --help)\n");
		return EXIT_USAGE;
	}
	out = absolute(argv[optind]);
	request = out ? make_request(out) : NULL;
	if (!request) {
		fprintf(stderr, "avp screenshot: %s\n", strerror(errno ? errno : ENOMEM));
		goto done;
	}
	fd = connect_to(sock_path);
	if (fd < 0) {
		fprintf(stderr, "avp screenshot: cannot connect to %s: %s (is avp running with "
				"--api-sock %s?)\n", sock_path, strerror(errno), sock_path);
		goto done;
	}
	if (send_all(fd, request, strlen(request)) < 0) {
		fprintf(stderr, "avp screenshot: sending to %s: %s\n", sock_path, strerror(errno));
		goto done;
	}
	reply = read_line(fd);
	if (!reply) {
		fprintf(stderr, "avp screenshot: no reply from %s: %s\n", sock_path,
			strerror(errno));
		goto done;
	}
	status = check_reply(reply, sock_path);
done:
	if (fd >= 0)
		close(fd);
	free(reply);
	free(request);
	free(out);
	return status;
}
