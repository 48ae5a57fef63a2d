/* avp screenshot: a small client of the control socket (JSON lines over a
 * Unix stream socket, docs/api.md). It sends
 *     {"cmd":"screenshot","args":{"path":"/abs/out.png"}}
 * and reads the one reply line, {"ok":true,...} or {"ok":false,"error":..}.
 * The VM writes the file itself, so the path is made absolute here: avp
 * may run in another directory. */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "avp/api_client.h"
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

/* The request line, without its newline (malloc'd). */
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
		if (text)
			line = strdup(text);
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
	enum api_client_step step;
	int opt, ret;

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
	ret = api_client_request(sock_path, request, CLI_SCREENSHOT_MAX_REPLY,
				 CLI_SCREENSHOT_TIMEOUT_MS, &reply, &step);
	if (ret) {
		if (step == API_CLIENT_CONNECT)
			fprintf(stderr, "avp screenshot: cannot connect to %s: %s (is avp running "
					"with --api-sock %s?)\n", sock_path, strerror(-ret), sock_path);
		else if (step == API_CLIENT_SEND)
			fprintf(stderr, "avp screenshot: sending to %s: %s\n", sock_path,
				strerror(-ret));
		else
			fprintf(stderr, "avp screenshot: no reply from %s: %s\n", sock_path,
				strerror(-ret));
		goto done;
	}
	status = check_reply(reply, sock_path);
done:
	free(reply);
	free(request);
	free(out);
	return status;
}
