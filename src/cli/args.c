/* The avp command line: a thin front end over the config's one adder
 * (src/config/config.c), with one option per entry of the device registry
 * (src/vmm/registry.c), read by the type's keys. Every rejection names the option, the value and
 * what would be accepted, on one line. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "avp/cli.h"
#include "avp/runtime/bundle.h"
#include "avp/vm.h"
#include "avp/vmm/registry.h"

/* A number in the usage text, from the constant that enforces it. */
#define AVP_STR_(x) #x
#define AVP_STR(x) AVP_STR_(x)

enum {
	OPT_KERNEL = 256,
	OPT_BUNDLE,
	OPT_CONFINE,
	OPT_INITRD,
	OPT_CMDLINE,
	OPT_CPUS,
	OPT_MEMORY,
	OPT_SERIAL,
	OPT_ON_REBOOT,
	OPT_API_SOCK,
	OPT_DESCRIBE,
	OPT_DUMP_DTB,
	OPT_TIMING,
	OPT_SECCOMP,
	OPT_JAIL,
	OPT_UID,
	OPT_GID,
	OPT_HELP,
	OPT_VERBOSE,
	OPT_TRANSPORT,
	/* The registry's devices, OPT_DEVICE + their index in it. */
	OPT_DEVICE,
};

/* The options that are not devices; the registry adds one per device. */
static const struct option base_options[] = {
	{ "bundle", required_argument, NULL, OPT_BUNDLE },
	{ "confine", no_argument, NULL, OPT_CONFINE },
	{ "kernel", required_argument, NULL, OPT_KERNEL },
	{ "initrd", required_argument, NULL, OPT_INITRD },
	{ "cmdline", required_argument, NULL, OPT_CMDLINE },
	{ "cpus", required_argument, NULL, OPT_CPUS },
	{ "memory", required_argument, NULL, OPT_MEMORY },
	{ "serial", required_argument, NULL, OPT_SERIAL },
	{ "on-reboot", required_argument, NULL, OPT_ON_REBOOT },
	{ "api-sock", required_argument, NULL, OPT_API_SOCK },
	{ "describe", no_argument, NULL, OPT_DESCRIBE },
	{ "dump-dtb", required_argument, NULL, OPT_DUMP_DTB },
	{ "timing", no_argument, NULL, OPT_TIMING },
	{ "seccomp", required_argument, NULL, OPT_SECCOMP },
	{ "jail", required_argument, NULL, OPT_JAIL },
	{ "uid", required_argument, NULL, OPT_UID },
	{ "gid", required_argument, NULL, OPT_GID },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "verbose", no_argument, NULL, OPT_VERBOSE },
	{ "transport", required_argument, NULL, OPT_TRANSPORT },
};

#define NBASE (sizeof(base_options) / sizeof(base_options[0]))
#define MAX_DEVICE_TYPES 32
#define MAX_RUN_OPTIONS (NBASE + MAX_DEVICE_TYPES + 1)

/* base_options, one option per registry entry, and the end marker. */
static void build_options(struct option *opts)
{
	const struct avp_device_type *t;
	size_t n = 0;

	for (size_t i = 0; i < NBASE; i++)
		opts[n++] = base_options[i];
	for (size_t i = 0; i < MAX_DEVICE_TYPES && (t = avp_device_type_at(i)); i++)
		opts[n++] = (struct option){
			.name = t->config->name,
			.has_arg = t->config->flags & AVP_TYPE_NO_VALUE ? no_argument
				   : t->config->flags & AVP_TYPE_OPTIONAL_VALUE ? optional_argument
										 : required_argument,
			.val = OPT_DEVICE + (int)i,
		};
	opts[n] = (struct option){ 0 };
}

void cli_usage(FILE *out)
{
	fputs("usage: avp COMMAND [OPTIONS]\n"
	      "\n"
	      "avp, the Automotive Virtual Platform: a KVM virtual machine monitor that\n"
	      "gives each guest the AVP profile's standard VIRTIO devices.\n"
	      "\n"
	      "commands:\n"
	      "  run        boot a guest (avp run --help for its options)\n"
	      "  create, start, state, kill, delete, list, spec\n"
	      "             manage VMs described by bundles (avp create --help)\n"
	      "  system     up/down/status of several VMs and their networks\n"
	      "  screenshot save a running VM's display as PNG:\n"
	      "             avp screenshot --api-sock PATH OUT.png\n"
	      "  attach     this terminal on a runtime VM's console: avp attach ID\n"
	      "             (Ctrl-] then q detaches)\n"
	      "  api        send one command to a running VM's control socket:\n"
	      "             avp api --api-sock PATH CMD ['{JSON ARGS}'] (docs/api.md),\n"
	      "             or avp api ID CMD ... for a runtime VM\n"
	      "\n"
	      "  -h, --help     this text\n"
	      "  -V, --version  print the version\n"
	      "  -v, --verbose  more diagnostics (repeat for debug)\n",
	      out);
}

/* One option of the usage text: its name and value, then its help at
 * column 24 (on the next line when the name is too long). */
static void usage_line(FILE *out, const char *name, const char *syntax, const char *help)
{
	char head[96];
	int len = snprintf(head, sizeof(head), "  --%s%s%s", name, syntax ? " " : "",
			   syntax ? syntax : "");

	fputs(head, out);
	if (len < 22)
		fprintf(out, "%*s", 23 - len, "");
	else
		fprintf(out, "\n%23s", "");
	for (const char *p = help; *p; p++) {
		fputc(*p, out);
		if (*p == '\n')
			fprintf(out, "%23s", "");
	}
	fputc('\n', out);
}

void cli_run_usage(FILE *out)
{
	const struct avp_device_type *t;

	fputs("usage: avp run --kernel BZIMAGE | --bundle DIR [OPTIONS]\n"
	      "\n"
	      "  --bundle DIR         the platform of DIR/config.json (docs/runtime.md); it\n"
	      "                       must come first: options after it adjust it or add\n"
	      "                       devices after the bundle's\n"
	      "  --confine            with --bundle: every file the bundle names must be\n"
	      "                       inside DIR (links followed), no host block devices\n"
	      "                       or taps (for bundles you do not trust, docs/security.md)\n"
	      "  --kernel PATH        Linux bzImage (x86-64 boot protocol 2.12+, 64-bit entry)\n"
	      "  --initrd PATH        initial ramdisk\n"
	      "  --cmdline TEXT       kernel command line (at most 4095 bytes)\n"
	      "  --cpus N             vCPUs, 1-64 (default 1)\n"
	      "  --memory MIB         guest RAM in MiB, 32-1048576 (default 256)\n"
	      "  --serial stdio|file:PATH|pty|socket=PATH|none\n"
	      "                       16550 UART at 0x3f8, IRQ 4 (default stdio); pty: a\n"
	      "                       new pseudo-terminal (its path printed on stderr);\n"
	      "                       socket=PATH: a Unix socket for one client at a time\n"
	      "                       (avp attach); output while none is connected keeps\n"
	      "                       the newest 64 KiB\n"
	      "  --on-reboot exit|restart\n"
	      "                       guest reboot ends avp with status 3 (default) or\n"
	      "                       restarts the VM\n"
	      "\n"
	      "devices (VIRTIO devices get MMIO windows and interrupts in the order\n"
	      "they are given, docs/devices.md; at most " AVP_STR(AVP_MAX_MMIO_DEVS)
	      " VIRTIO devices in all, one\nwindow and one interrupt each):\n",
	      out);
	for (size_t i = 0; i < MAX_DEVICE_TYPES && (t = avp_device_type_at(i)); i++)
		usage_line(out, t->config->name,
			   t->config->flags & AVP_TYPE_NO_VALUE ? NULL : t->config->syntax,
			   t->config->help);
	fputs("\n"
	      "  --api-sock PATH      control socket: JSON lines (status, shutdown, kill,\n"
	      "                       input, ...; see docs/api.md and avp api)\n"
	      "  --describe           print the platform the guest would see as JSON, and\n"
	      "                       exit without booting\n"
	      "  --dump-dtb FILE      arm64: write the device tree the guest would get to\n"
	      "                       FILE and exit without booting\n"
	      "  --timing             print start-up milestones on stderr\n"
	      "  --transport mmio|pci how VIRTIO devices reach the guest: virtio-mmio\n"
	      "                       (default) or virtio-pci functions with MSI-X\n"
	      "  --seccomp kill|log|off\n"
	      "                       what a system call outside a thread's allowlist does:\n"
	      "                       kill avp (default), log it to the kernel log, or no\n"
	      "                       filters (docs/security.md)\n"
	      "  --jail DIR --uid N --gid N\n"
	      "                       once everything is open, run the VM in new mount, PID,\n"
	      "                       network, IPC and UTS namespaces with DIR (created if\n"
	      "                       missing) as its root, as uid N and gid N (needs root)\n"
	      "  -v, --verbose        more diagnostics\n"
	      "\n"
	      "Options are spelled out in full (--cpus, not --cpu).\n"
	      "\n"
	      "exit status: 0 guest powered off, 1 bad arguments or inputs, 2 guest crashed,\n"
	      "3 guest rebooted, 4 host-side failure, 5 stopped by a signal,\n"
	      "6 watchdog expired\n",
	      out);
}

static int replace_string(char **slot, const char *value)
{
	free(*slot);
	*slot = strdup(value);
	return *slot ? 0 : -ENOMEM;
}

#define FAIL(...)                                         \
	do {                                              \
		fprintf(err, "avp run: " __VA_ARGS__);    \
		fputc('\n', err);                         \
		return -EINVAL;                           \
	} while (0)

int cli_add_device(struct avp_config *cfg, const struct avp_config_type *t, const char *text,
		   struct avp_config_err *e)
{
	void *opts;
	uint32_t given;
	int ret;

	*e = (struct avp_config_err){ 0 };
	opts = avp_opts_new(t);
	if (!opts)
		return -ENOMEM;
	ret = avp_opts_parse_text(t, text, opts, &given);
	if (ret) {
		avp_opts_free(t, opts);
		free(opts);
		return ret;
	}
	return avp_config_add_device(cfg, t, opts, given, e);
}

/* A device option: "none" where the type allows it, else cli_add_device. */
static int device_option(const struct avp_config_type *t, const char *arg, struct avp_config *cfg,
			 FILE *err)
{
	struct avp_config_err e;
	int ret;

	if ((t->flags & AVP_TYPE_NONE_REMOVES) && arg && strcmp(arg, "none") == 0) {
		avp_config_remove_devices(cfg, t);
		return 0;
	}
	ret = cli_add_device(cfg, t, arg, &e);
	if (ret == -ENOMEM)
		return ret;
	if (ret && e.text[0])
		FAIL("--%s: %s", t->name, e.text);
	if (ret)
		FAIL("--%s: expected %s, got '%s'", t->name, t->syntax, arg ? arg : "");
	return 0;
}

/* A word after an option whose value may be left out (--watchdog) that
 * is one of its keys' KEY=VALUE: the option's value. */
static bool is_key_value(const struct avp_config_type *t, const char *word)
{
	for (const struct avp_key *k = t->keys; k && k->name; k++) {
		size_t len = strlen(k->name);

		if (strncmp(word, k->name, len) == 0 && word[len] == '=')
			return true;
	}
	return false;
}

static const char *const reboot_actions[] = { [AVP_REBOOT_EXIT] = "exit",
					       [AVP_REBOOT_RESTART] = "restart", NULL };
static const char *const seccomp_modes[] = { [AVP_SECCOMP_KILL] = "kill", [AVP_SECCOMP_LOG] = "log",
					      [AVP_SECCOMP_OFF] = "off", NULL };

static int parse_run_option(int opt, const char *arg, struct avp_config *cfg, FILE *err)
{
	uint32_t v;
	int i;

	if (opt >= OPT_DEVICE) {
		const struct avp_device_type *t = avp_device_type_at((size_t)(opt - OPT_DEVICE));

		return t ? device_option(t->config, arg, cfg, err) : -EINVAL;
	}
	switch (opt) {
	case OPT_KERNEL:
		return replace_string(&cfg->kernel, arg);
	case OPT_INITRD:
		return replace_string(&cfg->initrd, arg);
	case OPT_CMDLINE:
		if (strlen(arg) > AVP_MAX_CMDLINE)
			FAIL("--cmdline: %zu bytes is too long (at most %d)", strlen(arg),
			     AVP_MAX_CMDLINE);
		return replace_string(&cfg->cmdline, arg);
	case OPT_CPUS:
		if (avp_parse_u32(arg, 1, AVP_MAX_CPUS, &v))
			FAIL("--cpus: expected a number from 1 to %d, got '%s'", AVP_MAX_CPUS, arg);
		cfg->cpus = v;
		return 0;
	case OPT_MEMORY:
		if (avp_parse_u32(arg, AVP_MIN_MEMORY_MIB, AVP_MAX_MEMORY_MIB, &v))
			FAIL("--memory: expected MiB from %d to %d, got '%s'", AVP_MIN_MEMORY_MIB,
			     AVP_MAX_MEMORY_MIB, arg);
		cfg->memory_mib = v;
		return 0;
	case OPT_SERIAL: {
		int ret = avp_parse_chardev(arg, NULL, &cfg->serial);

		if (ret == -EINVAL)
			FAIL("--serial: expected stdio, file:PATH, pty, socket=PATH or none, got '%s'",
			     arg);
		return ret;
	}
	case OPT_ON_REBOOT:
		if ((i = avp_word_index(reboot_actions, arg)) < 0)
			FAIL("--on-reboot: expected exit or restart, got '%s'", arg);
		cfg->on_reboot = (enum avp_reboot_action)i;
		return 0;
	case OPT_API_SOCK:
		if (!*arg)
			FAIL("--api-sock: expected a path for the control socket");
		return replace_string(&cfg->api_sock, arg);
	case OPT_SECCOMP:
		if ((i = avp_word_index(seccomp_modes, arg)) < 0)
			FAIL("--seccomp: expected kill, log or off, got '%s'", arg);
		cfg->seccomp = (enum avp_seccomp_mode)i;
		return 0;
	case OPT_JAIL:
		if (!*arg || strlen(arg) >= sizeof(cfg->jail.dir))
			FAIL("--jail: expected a directory path (at most %zu bytes), got '%s'",
			     sizeof(cfg->jail.dir) - 1, arg);
		strcpy(cfg->jail.dir, arg);
		cfg->jail.enabled = true;
		return 0;
	case OPT_UID:
	case OPT_GID:
		/* (uid_t)-1 means "unchanged" to setuid and friends. */
		if (avp_parse_u32(arg, 0, UINT32_MAX - 1, &v))
			FAIL("--%s: expected a number from 0 to %u, got '%s'",
			     opt == OPT_UID ? "uid" : "gid", UINT32_MAX - 1, arg);
		if (opt == OPT_UID) {
			cfg->jail.uid = v;
			cfg->jail.uid_set = true;
		} else {
			cfg->jail.gid = v;
			cfg->jail.gid_set = true;
		}
		return 0;
	case OPT_DESCRIBE:
		cfg->describe = true;
		return 0;
	case OPT_DUMP_DTB:
		if (!*arg)
			FAIL("--dump-dtb: expected a file path, got ''");
		cfg->describe = true;
		return replace_string(&cfg->dump_dtb, arg);
	case OPT_TIMING:
		cfg->timing = true;
		return 0;
	case OPT_TRANSPORT:
		if ((i = avp_word_index(avp_transport_names, arg)) < 0)
			FAIL("--transport: expected mmio or pci, got '%s'", arg);
		cfg->transport = (enum avp_transport)i;
		return 0;
	default:
		return -EINVAL;
	}
}

/* getopt_long takes any unambiguous prefix (--cpu for --cpus); avp wants
 * the whole name, so that a typo is not silently another option. word is
 * the argument getopt just read. */
static bool spelled_out(const char *word, const char *name)
{
	size_t len = strcspn(word + 2, "=");

	return strncmp(word, "--", 2) != 0 || (len == strlen(name) &&
					       strncmp(word + 2, name, len) == 0);
}

static int parse_run(int argc, char **argv, struct avp_config *cfg, FILE *err)
{
	struct option opts[MAX_RUN_OPTIONS];
	struct avp_config_err e = { 0 };
	bool adjusted = false, bundled = false, confine = false;
	int opt, longindex;

	/* --confine changes how --bundle reads its bundle, wherever it is. */
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		confine |= strcmp(argv[i], "--confine") == 0;

	build_options(opts);
	/* 0, not 1: glibc then also forgets where it was inside a cluster of
	 * short options ("-vx"), which otherwise points into the argv of an
	 * earlier call that stopped there (found by fuzz/fuzz_cli.c). '+'
	 * stops at the first word that is no option, so that argv[word] is
	 * always the one getopt read. */
	optind = 0;
	opterr = 0;
	for (;;) {
		int word = optind ? optind : 1;
		int ret;

		longindex = -1;
		opt = getopt_long(argc, argv, "+:hv", opts, &longindex);
		if (opt == -1)
			break;
		if (longindex >= 0 && word < argc && !spelled_out(argv[word], opts[longindex].name))
			FAIL("unknown option '%.*s': did you mean --%s? (options are spelled out in "
			     "full, see avp run --help)", (int)strcspn(argv[word], "="), argv[word],
			     opts[longindex].name);
		if (opt == 'h' || opt == OPT_HELP)
			return CLI_RUN_HELP;
		if (opt == 'v' || opt == OPT_VERBOSE) {
			cfg->verbose++;
			continue;
		}
		if (opt == '?')
			FAIL("unknown option '%s' (see avp run --help)", argv[optind - 1]);
		if (opt == ':')
			FAIL("option '%s' needs a value (see avp run --help)", argv[optind - 1]);
		/* The bundle replaces the whole platform: an option before it
		 * would be dropped, so it is refused instead (docs/runtime.md). */
		if (opt == OPT_BUNDLE && (adjusted || bundled))
			FAIL("--bundle must come first and only once: the bundle replaces the "
			     "platform, so give the options that adjust it after --bundle");
		if (opt == OPT_CONFINE)
			continue; /* read above */
		if (opt == OPT_BUNDLE) {
			bundled = true;
			ret = bundle_load_config(optarg, confine ? BUNDLE_CONFINE : 0, cfg, err);
			if (ret)
				return ret;
			continue;
		}
		adjusted = true;
		/* An optional value (--watchdog) may also be the next word. */
		if (longindex >= 0 && opt >= OPT_DEVICE && opts[longindex].has_arg ==
		    optional_argument && !optarg && optind < argc &&
		    is_key_value(avp_device_type_at((size_t)(opt - OPT_DEVICE))->config,
				 argv[optind]))
			optarg = argv[optind++];
		ret = parse_run_option(opt, optarg, cfg, err);
		if (ret)
			return ret;
	}
	if (optind < argc)
		FAIL("unexpected argument '%s' (see avp run --help)", argv[optind]);
	if (confine && !bundled)
		FAIL("--confine goes with --bundle: it confines what a bundle may name");
	if (!cfg->kernel)
		FAIL("--kernel is required: the bzImage to boot (see avp run --help)");
	if (avp_config_check(cfg, &e))
		FAIL("%s", e.text);
	return CLI_RUN;
}

int cli_parse(int argc, char **argv, struct avp_config *cfg, FILE *err)
{
	if (argc < 2) {
		fprintf(err, "avp: no command given (see avp --help)\n");
		return -EINVAL;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0)
		return CLI_HELP;
	if (strcmp(argv[1], "-V") == 0 || strcmp(argv[1], "--version") == 0)
		return CLI_VERSION;
	if (strcmp(argv[1], "run") == 0)
		return parse_run(argc - 1, argv + 1, cfg, err);
	fprintf(err, "avp: unknown command '%s' (see avp --help)\n", argv[1]);
	return -EINVAL;
}
