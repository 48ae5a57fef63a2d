/* avp api: a one-shot client of a running VM's control socket.
 *
 *   avp api --api-sock PATH [--timeout S] CMD ['{"json":"args"}']
 *   avp api ID [--root DIR] [--timeout S] CMD ['{"json":"args"}']
 *   avp api --vm ID [--root DIR] ...
 *
 * The ID forms reach a runtime VM (avp create/start) through ROOT/ID/
 * api.sock, where the runtime has its VM process listen.
 *
 * Sends {"cmd":CMD,"args":ARGS} as one line, prints the reply line on
 * stdout. Exit status: 0 the VM answered ok, 2 it answered with an error,
 * 1 bad usage, 4 the socket could not be reached or did not answer in
 * time (docs/api.md). */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "avp/api.h"
#include "avp/api_client.h"
#include "avp/cli.h"
#include "avp/runtime/lifecycle.h"
#include "avp/runtime/state.h"

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
	      "       avp api ID [--root DIR] [--timeout S] CMD ['{JSON ARGS}']\n"
	      "\n"
	      "Sends one command to the control socket of a VM started with\n"
	      "'avp run --api-sock PATH', or of the runtime's VM ID (avp start),\n"
	      "and prints its JSON reply.\n"
	      "\n"
	      "  --api-sock PATH   the VM's control socket\n"
	      "  --vm ID           the runtime's VM ID (the same as giving ID first)\n"
	      "  --root DIR        the runtime's state (default $AVP_RUNTIME_ROOT or\n"
	      "                    " RT_DEFAULT_ROOT ")\n"
	      "  --timeout S       give up after S seconds (default 30)\n"
	      "\n"
	      "commands: status, shutdown ['{\"timeout\":S}'], kill, and those the VM's\n"
	      "devices add (status lists them), e.g. input '{\"key\":\"KEY_A\"}'\n"
	      "\n"
	      "exit status: 0 ok, 1 bad usage, 2 the VM refused the command,\n"
	      "4 the socket could not be reached or did not answer\n",
	      out);
}

/* The reason for a failed exchange, in the words of this command. */
static const char *failure(enum api_client_step step, int ret)
{
	if (step == API_CLIENT_SEND)
		return "cannot send the request";
	switch (ret) {
	case -ETIMEDOUT:
		return "no reply in time";
	case -EMSGSIZE:
		return "reply too long";
	case -ECONNRESET:
		return "the VM closed the connection without replying";
	case -ENOMEM:
		return "out of memory";
	default:
		return strerror(-ret);
	}
}

static const struct option client_options[] = {
	{ "api-sock", required_argument, NULL, 's' },
	{ "vm", required_argument, NULL, 'v' },
	{ "root", required_argument, NULL, 'r' },
	{ "timeout", required_argument, NULL, 't' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

int api_client_main(int argc, char **argv, FILE *out, FILE *err)
{
	const char *path = NULL, *cmd, *args_text = NULL, *vm = NULL, *root = NULL;
	char vm_path[PATH_MAX];
	long timeout_s = CLIENT_DEFAULT_TIMEOUT_S;
	json_object *req, *args = NULL, *reply, *ok;
	enum api_client_step step;
	char *line, *answer;
	size_t len = 0;
	int opt, ret, status;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":h", client_options, NULL)) != -1) {
		char *end;

		switch (opt) {
		case 's':
			path = optarg;
			break;
		case 'v':
			vm = optarg;
			break;
		case 'r':
			root = optarg;
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
	if (path && vm) {
		fprintf(err, "avp api: give either --api-sock PATH or a VM ID, not both\n");
		return CLIENT_EXIT_USAGE;
	}
	if (!path && !vm && optind + 1 < argc)
		vm = argv[optind++]; /* avp api ID CMD */
	if (!path && !vm) {
		fprintf(err, "avp api: expected a VM ID or --api-sock PATH (see avp api --help)\n");
		return CLIENT_EXIT_USAGE;
	}
	if (root && !vm) {
		fprintf(err, "avp api: --root only applies to a VM ID\n");
		return CLIENT_EXIT_USAGE;
	}
	if (vm) {
		const char *env = getenv("AVP_RUNTIME_ROOT");
		struct jc_err e = { "" };

		if (!root)
			root = env && *env ? env : RT_DEFAULT_ROOT;
		if (rt_vm_socket(root, vm, "api.sock", vm_path, sizeof(vm_path), &e)) {
			fprintf(err, "avp api: %s\n", e.text);
			return CLIENT_EXIT_UNREACHABLE;
		}
		path = vm_path;
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

	line[len - 1] = '\0'; /* the client adds the newline */
	ret = api_client_request(path, line, CLIENT_MAX_REPLY, (int)timeout_s * 1000, &answer,
				 &step);
	free(line);
	if (ret && step == API_CLIENT_CONNECT) {
		if (ret == -ENAMETOOLONG)
			fprintf(err, "avp api: --api-sock %s: path too long for a Unix socket\n",
				path);
		else if (vm)
			fprintf(err, "avp api: VM '%s': cannot connect to %s: %s (is its VM process "
				     "still starting? see avp state %s)\n",
				vm, path, strerror(-ret), vm);
		else
			fprintf(err, "avp api: cannot connect to %s: %s (is 'avp run --api-sock %s' "
				     "running?)\n", path, strerror(-ret), path);
		return CLIENT_EXIT_UNREACHABLE;
	}
	if (ret) {
		fprintf(err, "avp api: %s: %s\n", path, failure(step, ret));
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
