/* Argument handling and output of the runtime commands; the work is in
 * src/runtime/. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "avp/runtime/bundle.h"
#include "avp/runtime/cli.h"
#include "avp/runtime/console_log.h"
#include "avp/runtime/lifecycle.h"
#include "avp/runtime/monitor.h"
#include "avp/runtime/oci.h"
#include "avp/runtime/oci_cli.h"
#include "avp/runtime/system.h"

static const char *const commands[] = { "create", "start", "state",  "kill",   "delete",
					"list",	  "spec",  "system", "attach", "ps", NULL };

bool runtime_cli_handles(const char *command)
{
	for (size_t i = 0; command && commands[i]; i++)
		if (strcmp(commands[i], command) == 0)
			return true;
	return command && oci_cli_handles(command);
}

void runtime_cli_usage(FILE *out)
{
	fputs("usage: avp COMMAND ... [--root DIR]\n"
	      "\n"
	      "VM lifecycle (OCI-style; docs/runtime.md):\n"
	      "  create ID --bundle DIR [--console-max SIZE] [--confine]\n"
	      "                           check DIR/config.json and set up VM ID (created);\n"
	      "                           console.log is rotated at SIZE (default 1M);\n"
	      "                           --confine: every file the bundle names must be\n"
	      "                           inside DIR, no host block devices or taps\n"
	      "  start ID [--timeout SECONDS]\n"
	      "                           boot it (running); returns once its vCPUs run, or\n"
	      "                           fails with the reason when the VM stops first or\n"
	      "                           SECONDS pass (default 10; 0: do not wait)\n"
	      "  state ID                 its state as JSON\n"
	      "  kill ID [TERM|KILL] [--wait]\n"
	      "                           TERM: graceful (guest power button, else SIGTERM to\n"
	      "                           the VMM), forced off after shutdown_timeout_s;\n"
	      "                           KILL: at once. --wait: until stopped\n"
	      "  delete ID [--force]      forget a stopped VM (--force: kill it first)\n"
	      "  attach ID                this terminal on the VM's console (its standard\n"
	      "                           I/O: serial or console \"stdio\"); Ctrl-] then q\n"
	      "                           detaches\n"
	      "  list [--json]            every VM (avp's and OCI ones)\n"
	      "  spec [DIR]               write a commented default DIR/config.json\n"
	      "  system up|down|status FILE [--timeout SECONDS]\n"
	      "                           several VMs, the networks and vsock links between\n"
	      "                           them (up starts each VM as start does)\n"
	      "\n"
	      "  --root DIR   where state lives (default $AVP_RUNTIME_ROOT or /run/avp)\n"
	      "  (ROOT and ROOT/ID must be yours and writable by nobody else)\n"
	      "exit status: 0 done, 1 refused or failed (the message says why)\n"
	      "\n"
	      "OCI bundles (config.json with \"ociVersion\"; docs/oci.md): runc's command line\n"
	      "  avp [--root DIR] [--log FILE] [--log-format text|json] [--systemd-cgroup]\n"
	      "      create ID --bundle DIR [--pid-file F] [--console-socket S]\n"
	      "             [--preserve-fds N] [--no-pivot] [--no-new-keyring]\n"
	      "      start ID | state ID | kill [--all] ID [SIGNAL] | delete [--force] ID\n"
	      "      ps [--format table|json] ID | list [--format table|json] [--quiet]\n"
	      "      features | --version\n"
	      "  the container process exits with the VM's outcome: 0 poweroff, 128+N a\n"
	      "  signal, 255 a guest crash or VMM failure (the reason in the log)\n",
	      out);
}

struct rt_args {
	const char *root;
	const char *bundle;
	bool wait, force, json, confine;
	/* runc's create and kill options (docs/oci.md) */
	const char *pid_file, *console_socket;
	unsigned int preserve_fds;
	bool all;
	const char *format; /* runc's list and ps: "table" or "json" */
	bool quiet;	    /* runc's list: the IDs alone */
	unsigned int timeout_s; /* start */
	unsigned long long console_max; /* create */
	const char *pos[3];
	int npos;
};

enum {
	OPT_ROOT = 300,
	OPT_BUNDLE,
	OPT_WAIT,
	OPT_FORCE,
	OPT_JSON,
	OPT_HELP,
	OPT_TIMEOUT,
	OPT_CONSOLE_MAX,
	OPT_CONFINE,
	OPT_PID_FILE,
	OPT_CONSOLE_SOCKET,
	OPT_PRESERVE_FDS,
	OPT_IGNORED, /* --no-pivot, --no-new-keyring: nothing to do for a VM */
	OPT_ALL,
	OPT_FORMAT,
	OPT_QUIET,
};

static const struct option rt_options[] = {
	{ "root", required_argument, NULL, OPT_ROOT },
	{ "bundle", required_argument, NULL, OPT_BUNDLE },
	{ "wait", no_argument, NULL, OPT_WAIT },
	{ "force", no_argument, NULL, OPT_FORCE },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "console-max", required_argument, NULL, OPT_CONSOLE_MAX },
	{ "confine", no_argument, NULL, OPT_CONFINE },
	{ "pid-file", required_argument, NULL, OPT_PID_FILE },
	{ "console-socket", required_argument, NULL, OPT_CONSOLE_SOCKET },
	{ "preserve-fds", required_argument, NULL, OPT_PRESERVE_FDS },
	{ "no-pivot", no_argument, NULL, OPT_IGNORED },
	{ "no-new-keyring", no_argument, NULL, OPT_IGNORED },
	{ "all", no_argument, NULL, OPT_ALL },
	{ "format", required_argument, NULL, OPT_FORMAT },
	{ "quiet", no_argument, NULL, OPT_QUIET },
	{ NULL, 0, NULL, 0 },
};

/* BYTES, or N followed by K, M or G (binary), within what create takes. */
static int parse_size(const char *s, unsigned long long *out)
{
	unsigned long long v, unit = 1;
	char *end;

	errno = 0;
	if (!isdigit((unsigned char)s[0]))
		return -EINVAL;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	if (*end && !end[1])
		unit = *end == 'K' || *end == 'k'   ? 1ull << 10
		       : *end == 'M' || *end == 'm' ? 1ull << 20
		       : *end == 'G' || *end == 'g' ? 1ull << 30
						    : 0;
	else if (*end)
		unit = 0;
	if (!unit || v > RT_CONSOLE_LOG_MAX_CAP / unit || v * unit < RT_CONSOLE_LOG_MIN_CAP ||
	    v * unit > RT_CONSOLE_LOG_MAX_CAP)
		return -EINVAL;
	*out = v * unit;
	return 0;
}

/* A decimal number from 0 to max: 0 or -EINVAL. */
static int parse_uint(const char *s, unsigned long max, unsigned int *out)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v > max)
		return -EINVAL;
	*out = (unsigned int)v;
	return 0;
}

/* 0, 1 (help printed) or -EINVAL (message printed). */
static int parse_args(int argc, char **argv, struct rt_args *a, FILE *out, FILE *err)
{
	const char *env = getenv("AVP_RUNTIME_ROOT");
	int opt;

	memset(a, 0, sizeof(*a));
	a->root = env && *env ? env : RT_DEFAULT_ROOT;
	a->timeout_s = RT_START_WAIT_DEFAULT_S;
	optind = 1;
	opterr = 0;
	/* "+" would stop at the first operand; options may come anywhere. */
	while ((opt = getopt_long(argc, argv, ":hb:faq", rt_options, NULL)) != -1) {
		const char *only = opt == OPT_PID_FILE || opt == OPT_CONSOLE_SOCKET ||
						   opt == OPT_PRESERVE_FDS || opt == OPT_IGNORED
					   ? "create"
				   : opt == OPT_ALL || opt == 'a' ? "kill"
				   : opt == OPT_QUIET || opt == 'q' ? "list"
								  : NULL;

		if (opt == OPT_FORMAT && strcmp(argv[0], "list") && strcmp(argv[0], "ps")) {
			fprintf(err, "avp %s: --format is an option of avp list and avp ps\n",
				argv[0]);
			return -EINVAL;
		}
		if (only && strcmp(argv[0], only) != 0) {
			fprintf(err, "avp %s: %s is an option of avp %s\n", argv[0], argv[optind - 1],
				only);
			return -EINVAL;
		}
		switch (opt) {
		case OPT_ROOT:
			a->root = optarg;
			break;
		case 'b':
		case OPT_BUNDLE:
			a->bundle = optarg;
			break;
		case OPT_PID_FILE:
			a->pid_file = optarg;
			break;
		case OPT_CONSOLE_SOCKET:
			a->console_socket = optarg;
			break;
		case OPT_PRESERVE_FDS:
			if (parse_uint(optarg, 1024, &a->preserve_fds)) {
				fprintf(err, "avp create: --preserve-fds: expected 0 to 1024, got "
					"'%s'\n", optarg);
				return -EINVAL;
			}
			break;
		case OPT_IGNORED:
			break;
		case 'a':
		case OPT_ALL:
			a->all = true;
			break;
		case OPT_FORMAT:
			if (strcmp(optarg, "table") && strcmp(optarg, "json")) {
				fprintf(err, "avp %s: --format: expected table or json, got '%s'\n",
					argv[0], optarg);
				return -EINVAL;
			}
			a->format = optarg;
			break;
		case 'q':
		case OPT_QUIET:
			a->quiet = true;
			break;
		case OPT_WAIT:
			a->wait = true;
			break;
		case 'f':
		case OPT_FORCE:
			a->force = true;
			break;
		case OPT_JSON:
			a->json = true;
			break;
		case OPT_TIMEOUT:
			if (strcmp(argv[0], "start") != 0 && strcmp(argv[0], "system") != 0) {
				fprintf(err, "avp %s: --timeout is an option of avp start and avp system "
					"up\n", argv[0]);
				return -EINVAL;
			}
			if (parse_uint(optarg, RT_START_WAIT_MAX_S, &a->timeout_s)) {
				fprintf(err, "avp %s: --timeout: expected seconds from 0 to %d, got "
					"'%s'\n", argv[0], RT_START_WAIT_MAX_S, optarg);
				return -EINVAL;
			}
			break;
		case OPT_CONSOLE_MAX:
			if (strcmp(argv[0], "create") != 0) {
				fprintf(err, "avp %s: --console-max is an option of avp create\n",
					argv[0]);
				return -EINVAL;
			}
			if (parse_size(optarg, &a->console_max)) {
				fprintf(err, "avp create: --console-max: expected a size from 4K to 1G "
					"(bytes, or with K or M or G), got '%s'\n", optarg);
				return -EINVAL;
			}
			break;
		case OPT_CONFINE:
			if (strcmp(argv[0], "create") != 0) {
				fprintf(err, "avp %s: --confine is an option of avp create\n", argv[0]);
				return -EINVAL;
			}
			a->confine = true;
			break;
		case 'h':
		case OPT_HELP:
			runtime_cli_usage(out);
			return 1;
		case ':':
			fprintf(err, "avp %s: option '%s' needs a value\n", argv[0], argv[optind - 1]);
			return -EINVAL;
		default:
			fprintf(err, "avp %s: unknown option '%s' (see avp %s --help)\n", argv[0],
				argv[optind - 1], argv[0]);
			return -EINVAL;
		}
	}
	for (; optind < argc; optind++) {
		if (a->npos >= 3) {
			fprintf(err, "avp %s: unexpected argument '%s'\n", argv[0], argv[optind]);
			return -EINVAL;
		}
		a->pos[a->npos++] = argv[optind];
	}
	if (!*a->root) {
		fprintf(err, "avp %s: --root is empty\n", argv[0]);
		return -EINVAL;
	}
	/* The monitor works from "/": it needs the root as an absolute path. */
	if (a->root[0] != '/') {
		static char abs_root[PATH_MAX];
		char cwd[PATH_MAX];

		if (!getcwd(cwd, sizeof(cwd)) ||
		    snprintf(abs_root, sizeof(abs_root), "%s/%s", cwd, a->root) >=
			    (int)sizeof(abs_root)) {
			fprintf(err, "avp %s: --root %s: cannot make it an absolute path\n", argv[0],
				a->root);
			return -EINVAL;
		}
		a->root = abs_root;
	}
	return 0;
}

/* Exactly n operands (named for the message). */
static bool need(const struct rt_args *a, int n, const char *cmd, const char *what, FILE *err)
{
	if (a->npos == n)
		return true;
	fprintf(err, "avp %s: expected %s (see avp %s --help)\n", cmd, what, cmd);
	return false;
}

/* runc's --log, for the failures of this command. */
static const struct oci_log *run_log;

static int fail(FILE *err, const char *cmd, const struct jc_err *e, int ret)
{
	const char *msg = e->text[0] ? e->text : strerror(-ret);

	fprintf(err, "avp %s: %s\n", cmd, msg);
	oci_log_append(run_log, cmd, msg);
	return 1;
}

/* "TERM", "SIGTERM", "15" -> "TERM"; likewise KILL. */
static const char *signal_word(const char *s)
{
	if (!strcmp(s, "TERM") || !strcmp(s, "SIGTERM") || !strcmp(s, "15"))
		return "TERM";
	if (!strcmp(s, "KILL") || !strcmp(s, "SIGKILL") || !strcmp(s, "9"))
		return "KILL";
	return NULL;
}

/* An OCI VM's row in avp's own list (docs/oci.md): its OCI status, no
 * restarts or exit reasons of avp's (the engine keeps those). */
static void list_oci(const struct rt_args *a, const char *id, struct json_object *arr, FILE *out)
{
	struct jc_err e = { "" };
	struct json_object *o;

	if (oci_state(a->root, id, &o, &e))
		return;
	if (a->json) {
		json_object_array_add(arr, o);
		return;
	}
	fprintf(out, "%-20s %-10s %-8d %-8s %-14s %s\n", id,
		json_object_get_string(json_object_object_get(o, "status")),
		json_object_get_int(json_object_object_get(o, "pid")), "-", "-",
		json_object_get_string(json_object_object_get(o, "bundle")));
	json_object_put(o);
}

static int cmd_list(const struct rt_args *a, const struct oci_globals *g, FILE *out, FILE *err)
{
	struct json_object *arr;
	struct jc_err le = { "" };
	char **ids;
	size_t n;
	int ret;

	/* runc's callers (a global option, --format or --quiet) get runc's
	 * list; avp's own keep avp's. */
	if (g->runc || a->format || a->quiet) {
		if (a->json) {
			fprintf(err, "avp list: --json is avp's; runc's list takes --format json\n");
			return 1;
		}
		ret = oci_cli_list(a->root, a->format && !strcmp(a->format, "json"), a->quiet, out,
				   &le);
		return ret ? fail(err, "list", &le, ret) : 0;
	}
	ret = rt_list_ids_with(a->root, OCI_STATE_FILE, &ids, &n, &le);
	if (ret)
		return fail(err, "list", &le, ret);
	arr = json_object_new_array();
	if (!a->json)
		fprintf(out, "%-20s %-10s %-8s %-8s %-14s %s\n", "ID", "STATUS", "PID", "RESTARTS",
			"LAST-EXIT", "BUNDLE");
	for (size_t i = 0; i < n; i++) {
		struct jc_err e = { "" };
		struct rt_state st;

		if (oci_is_oci_vm(a->root, ids[i]))
			list_oci(a, ids[i], arr, out);
		else if (rt_state_get(a->root, ids[i], &st, &e) == 0) {
			if (a->json)
				json_object_array_add(arr, rt_state_to_json(&st, false));
			else
				fprintf(out, "%-20s %-10s %-8d %-8u %-14s %s\n", st.id,
					rt_status_name(st.status), (int)st.vm.pid, st.restarts,
					st.last_exit_reason[0] ? st.last_exit_reason : "-",
					st.bundle);
		}
		free(ids[i]);
	}
	free(ids);
	if (a->json)
		fprintf(out, "%s\n", json_object_to_json_string_ext(arr, RT_JSON_PRETTY));
	json_object_put(arr);
	return 0;
}

static int cmd_system(const struct rt_args *a, FILE *out, FILE *err)
{
	struct jc_err e = { "" };
	struct avp_system sys;
	const char *verb = a->pos[0];
	int ret;

	if (!need(a, 2, "system", "up, down or status and a system file", err))
		return 1;
	if (strcmp(verb, "up") && strcmp(verb, "down") && strcmp(verb, "status")) {
		fprintf(err, "avp system: expected up, down or status, got '%s'\n", verb);
		return 1;
	}
	ret = system_load(a->pos[1], &sys, &e);
	if (ret)
		return fail(err, "system", &e, ret);
	if (strcmp(verb, "up") == 0)
		ret = system_up(a->root, &sys, a->timeout_s, &e);
	else if (strcmp(verb, "down") == 0)
		ret = system_down(a->root, &sys, &e);
	else
		ret = system_status(a->root, &sys, out);
	system_free(&sys);
	return ret ? fail(err, "system", &e, ret) : 0;
}

/* create: an OCI bundle takes the runc-compatible path (docs/oci.md),
 * an avp bundle the monitor's. */
static int cmd_create(const struct rt_args *a, const struct oci_globals *g, struct jc_err *e)
{
	const char *bundle = a->bundle;
	bool is_oci = false;
	int ret;

	/* runc: the bundle defaults to the working directory. */
	if (!bundle && g->runc)
		bundle = ".";
	if (!bundle)
		return jc_fail(e, "", "--bundle DIR is required");
	ret = oci_bundle_is_oci(bundle, &is_oci, e);
	if (ret)
		return ret;
	if (is_oci) {
		struct oci_create_opts o = {
			.root = a->root, .id = a->pos[0], .bundle = bundle,
			.pid_file = a->pid_file, .console_socket = a->console_socket,
			.preserve_fds = a->preserve_fds, .log = &g->log,
		};

		return oci_create(&o, e);
	}
	if (a->pid_file || a->console_socket || a->preserve_fds)
		return jc_fail(e, "", "bundle %s: --pid-file, --console-socket and --preserve-fds "
			       "need an OCI bundle (config.json with \"ociVersion\")", bundle);
	return rt_create_ex(a->root, a->pos[0], bundle, NULL, 0, a->console_max,
			    a->confine ? BUNDLE_CONFINE : 0, e);
}

static int cmd_state(const struct rt_args *a, const struct oci_globals *g, FILE *out,
		     struct jc_err *e)
{
	struct json_object *o;
	struct rt_state st;
	int ret;

	if (oci_is_oci_vm(a->root, a->pos[0])) {
		ret = oci_state(a->root, a->pos[0], &o, e);
	} else {
		ret = rt_state_get(a->root, a->pos[0], &st, e);
		if (ret)
			return ret;
		/* runc's callers read the OCI shape; avp's own keep theirs. */
		o = g->runc ? oci_state_from_rt(&st) : rt_state_to_json(&st, true);
		if (!g->runc) {
			struct json_object *can =
				system_vm_can(a->root, &st, SYSTEM_VM_CAN_WAIT_MS);

			if (can)
				json_object_object_add(o, "can", can);
		}
	}
	if (ret == 0)
		fprintf(out, "%s\n", json_object_to_json_string_ext(o, RT_JSON_PRETTY));
	if (ret == 0)
		json_object_put(o);
	return ret;
}

static int cmd_kill(const struct rt_args *a, FILE *err, struct jc_err *e)
{
	const char *word = a->npos == 2 ? a->pos[1] : "TERM";
	struct rt_state st;
	const char *sig;
	int ret;

	if (a->npos < 1 || a->npos > 2) {
		fprintf(err, "avp kill: expected an ID and an optional signal\n");
		return 1;
	}
	if (oci_is_oci_vm(a->root, a->pos[0])) {
		int n = oci_signal_number(word);

		/* --all: the container process relays to the whole VM anyway. */
		if (n < 0)
			return jc_fail(e, "", "signal '%s': expected a name (TERM, SIGKILL, ...) "
				       "or a number", word);
		return oci_kill(a->root, a->pos[0], n, e);
	}
	sig = signal_word(word);
	if (!sig)
		return jc_fail(e, "", "signal '%s': expected TERM (graceful) or KILL", word);
	ret = rt_state_get(a->root, a->pos[0], &st, e);
	if (ret == 0)
		ret = rt_kill(a->root, a->pos[0], sig, a->wait ? st.shutdown_timeout_s + 10 : 0, e);
	return ret;
}

int runtime_cli_main(int argc, char **argv, FILE *out, FILE *err)
{
	struct oci_globals g;
	struct jc_err e = { "" };
	const char *cmd;
	char *nargv[64];
	int nargc = 0, first, ret;
	struct rt_args a;

	first = oci_cli_globals(argc, argv, &g, err);
	if (first < 0)
		return 1;
	if (first >= argc || strcmp(argv[first], "--help") == 0 || strcmp(argv[first], "-h") == 0) {
		runtime_cli_usage(first >= argc ? err : out);
		return first >= argc;
	}
	if (strcmp(argv[first], "--version") == 0) {
		oci_cli_version(out);
		return 0;
	}
	cmd = argv[first];
	if (argc - first + 4 > (int)(sizeof(nargv) / sizeof(nargv[0]))) {
		fprintf(err, "avp %s: too many arguments\n", cmd);
		return 1;
	}
	/* The command's own arguments, with runc's global --root among them. */
	nargv[nargc++] = argv[0];
	nargv[nargc++] = (char *)cmd;
	if (g.root) {
		nargv[nargc++] = (char *)"--root";
		nargv[nargc++] = (char *)g.root;
	}
	for (int i = first + 1; i < argc; i++)
		nargv[nargc++] = argv[i];
	nargv[nargc] = NULL;
	run_log = &g.log;
	if (!runtime_cli_handles(cmd) || (g.runc && strcmp(cmd, "run") == 0)) {
		fprintf(err, "avp: '%s' is not a runtime command (runc's run: use create, then "
			"start)\n", cmd);
		return 1;
	}
	ret = parse_args(nargc - 1, nargv + 1, &a, out, err);
	if (ret)
		return ret > 0 ? 0 : 1;
	ret = oci_cli_other(cmd, a.npos, out, err);
	if (ret >= 0)
		return ret;
	if (strcmp(cmd, "create") == 0) {
		if (!need(&a, 1, cmd, "an ID", err))
			return 1;
		ret = cmd_create(&a, &g, &e);
	} else if (strcmp(cmd, "start") == 0) {
		if (!need(&a, 1, cmd, "an ID", err))
			return 1;
		ret = oci_is_oci_vm(a.root, a.pos[0]) ? oci_start(a.root, a.pos[0], &e)
						      : rt_start(a.root, a.pos[0], a.timeout_s, &e);
	} else if (strcmp(cmd, "state") == 0) {
		if (!need(&a, 1, cmd, "an ID", err))
			return 1;
		ret = cmd_state(&a, &g, out, &e);
	} else if (strcmp(cmd, "kill") == 0) {
		ret = cmd_kill(&a, err, &e);
		if (ret > 0)
			return ret;
	} else if (strcmp(cmd, "delete") == 0) {
		if (!need(&a, 1, cmd, "an ID", err))
			return 1;
		ret = oci_is_oci_vm(a.root, a.pos[0]) ? oci_delete(a.root, a.pos[0], a.force, &e)
						      : rt_delete(a.root, a.pos[0], a.force, &e);
		/* runc: `delete --force` of a container that is gone succeeds;
		 * containerd's shim calls it again after its own delete. */
		if (ret == -ENOENT && a.force && g.runc)
			ret = 0;
	} else if (strcmp(cmd, "ps") == 0) {
		if (!need(&a, 1, cmd, "an ID", err))
			return 1;
		ret = oci_cli_ps(a.root, a.pos[0], a.format && !strcmp(a.format, "json"), out, &e);
	} else if (strcmp(cmd, "attach") == 0) {
		if (!need(&a, 1, cmd, "an ID", err))
			return 1;
		return cli_attach(a.root, a.pos[0], err);
	} else if (strcmp(cmd, "list") == 0) {
		if (!need(&a, 0, cmd, "no arguments", err))
			return 1;
		return cmd_list(&a, &g, out, err);
	} else if (strcmp(cmd, "spec") == 0) {
		if (a.npos > 1) {
			fprintf(err, "avp spec: expected at most one directory\n");
			return 1;
		}
		ret = bundle_write_default(a.npos ? a.pos[0] : ".", &e);
	} else if (strcmp(cmd, "system") == 0) {
		return cmd_system(&a, out, err);
	} else {
		fprintf(err, "avp: unknown command '%s'\n", cmd);
		return 1;
	}
	return ret ? fail(err, cmd, &e, ret) : 0;
}
