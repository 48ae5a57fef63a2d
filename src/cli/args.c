/* The avp command line. Every rejection names the option, the value and
 * what would be accepted, on one line. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "avp/cli.h"
#include "avp/runtime/bundle.h"
#include "avp/devices/virtio_gpu.h"

enum {
	OPT_KERNEL = 256,
	OPT_BUNDLE,
	OPT_INITRD,
	OPT_CMDLINE,
	OPT_CPUS,
	OPT_MEMORY,
	OPT_DISK,
	OPT_NET,
	OPT_RNG,
	OPT_SERIAL,
	OPT_CONSOLE,
	OPT_ON_REBOOT,
	OPT_WATCHDOG,
	OPT_API_SOCK,
	OPT_VSOCK,
	OPT_VSOCK_PEER,
	OPT_INPUT,
	OPT_SOUND,
	OPT_GPU,
	OPT_DESCRIBE,
	OPT_TIMING,
	OPT_SECCOMP,
	OPT_JAIL,
	OPT_UID,
	OPT_GID,
	OPT_HELP,
	OPT_VERBOSE,
};

static const struct option run_options[] = {
	{ "bundle", required_argument, NULL, OPT_BUNDLE },
	{ "kernel", required_argument, NULL, OPT_KERNEL },
	{ "initrd", required_argument, NULL, OPT_INITRD },
	{ "cmdline", required_argument, NULL, OPT_CMDLINE },
	{ "cpus", required_argument, NULL, OPT_CPUS },
	{ "memory", required_argument, NULL, OPT_MEMORY },
	{ "disk", required_argument, NULL, OPT_DISK },
	{ "net", required_argument, NULL, OPT_NET },
	{ "rng", no_argument, NULL, OPT_RNG },
	{ "serial", required_argument, NULL, OPT_SERIAL },
	{ "console", required_argument, NULL, OPT_CONSOLE },
	{ "on-reboot", required_argument, NULL, OPT_ON_REBOOT },
	{ "watchdog", optional_argument, NULL, OPT_WATCHDOG },
	{ "api-sock", required_argument, NULL, OPT_API_SOCK },
	{ "vsock", required_argument, NULL, OPT_VSOCK },
	{ "vsock-peer", required_argument, NULL, OPT_VSOCK_PEER },
	{ "input", required_argument, NULL, OPT_INPUT },
	{ "sound", required_argument, NULL, OPT_SOUND },
	{ "gpu", required_argument, NULL, OPT_GPU },
	{ "describe", no_argument, NULL, OPT_DESCRIBE },
	{ "timing", no_argument, NULL, OPT_TIMING },
	{ "seccomp", required_argument, NULL, OPT_SECCOMP },
	{ "jail", required_argument, NULL, OPT_JAIL },
	{ "uid", required_argument, NULL, OPT_UID },
	{ "gid", required_argument, NULL, OPT_GID },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "verbose", no_argument, NULL, OPT_VERBOSE },
	{ NULL, 0, NULL, 0 },
};

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
	      "  api        send one command to a running VM's control socket:\n"
	      "             avp api --api-sock PATH CMD ['{JSON ARGS}'] (docs/api.md)\n"
	      "\n"
	      "  -h, --help     this text\n"
	      "  -V, --version  print the version\n"
	      "  -v, --verbose  more diagnostics (repeat for debug)\n",
	      out);
}

void cli_run_usage(FILE *out)
{
	fputs("usage: avp run --kernel BZIMAGE | --bundle DIR [OPTIONS]\n"
	      "\n"
	      "  --bundle DIR         the platform of DIR/config.json (docs/runtime.md);\n"
	      "                       options after it adjust it, options before it are replaced\n"
	      "  --kernel PATH        Linux bzImage (x86-64 boot protocol 2.12+, 64-bit entry)\n"
	      "  --initrd PATH        initial ramdisk\n"
	      "  --cmdline TEXT       kernel command line (at most 4095 bytes)\n"
	      "  --cpus N             vCPUs, 1-64 (default 1)\n"
	      "  --memory MIB         guest RAM in MiB, 32-1048576 (default 256)\n"
	      "  --disk PATH[,ro]     virtio-blk on a raw image; repeat for more (up to 8)\n"
	      "  --net tap=NAME[,mac=XX:XX:XX:XX:XX:XX]\n"
	      "                       virtio-net on an existing or new tap; repeat (up to 4)\n"
	      "  --rng                virtio-rng fed by the host's getrandom()\n"
	      "  --gpu on|width=W,height=H\n"
	      "                       virtio-gpu 2D, one display (default 1280x720); the\n"
	      "                       control socket's screenshot command saves it as PNG\n"
	      "  --serial stdio|file:PATH|none\n"
	      "                       16550 UART at 0x3f8, IRQ 4 (default stdio)\n"
	      "  --console stdio|file:PATH|none\n"
	      "                       virtio-console, the guest's hvc0 (default none); with\n"
	      "                       stdio it takes the keyboard and the UART only prints\n"
	      "  --on-reboot exit|restart\n"
	      "                       guest reboot ends avp with status 3 (default) or\n"
	      "                       restarts the VM\n"
	      "  --watchdog [action=exit|reset]\n"
	      "                       a watchdog the guest's standard driver (Linux\n"
	      "                       wdat_wdt) arms and feeds; when it expires avp ends\n"
	      "                       with status 6 (exit, the default) or resets the VM\n"
	      "  --api-sock PATH      control socket: JSON lines (status, shutdown, kill,\n"
	      "                       input, ...; see docs/api.md and avp api)\n"
	      "  --vsock cid=N,socket=PATH\n"
	      "                       virtio-vsock with guest CID N (3-4294967294); host\n"
	      "                       programs connect to PATH and send 'CONNECT <port>\\n';\n"
	      "                       the guest's connections to CID 2 port P reach PATH_P\n"
	      "  --vsock-peer CID:PATH\n"
	      "                       let the guest reach the VM with CID (whose --vsock\n"
	      "                       socket is PATH) by vsock; repeat (up to 16); other\n"
	      "                       CIDs are refused (avp system up sets these)\n"
	      "  --input keyboard | touch[,width=W,height=H]\n"
	      "                       virtio-input keyboard or multi-touch screen (default\n"
	      "                       1280x720), fed through the control socket's input\n"
	      "                       command; one of each\n"
	      "  --sound out=OUT.wav[,in=IN.wav]\n"
	      "                       virtio-sound: what the guest plays is written to\n"
	      "                       OUT.wav, what it records is read from IN.wav (looped);\n"
	      "                       either may be left out (output dropped, input silent)\n"
	      "  --describe           print the platform the guest would see as JSON, and\n"
	      "                       exit without booting\n"
	      "  --timing             print start-up milestones on stderr\n"
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
	      "exit status: 0 guest powered off, 1 bad arguments or inputs, 2 guest crashed,\n"
	      "3 guest rebooted, 4 host-side failure, 5 stopped by a signal,\n"
	      "6 watchdog expired\n",
	      out);
}

/* strtoull that insists on a whole decimal number within [min, max]. */
static int parse_u64(const char *text, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!text || !*text || *text == '-' || *text == '+')
		return -EINVAL;
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

int cli_parse_mac(const char *text, uint8_t mac[6])
{
	unsigned int b[6];
	char tail;

	if (strlen(text) != 17 ||
	    sscanf(text, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
		   &tail) != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++) {
		/* sscanf's %x accepts signs and spaces; a MAC has neither. */
		if (!strchr("0123456789abcdefABCDEF", text[i * 3]) ||
		    !strchr("0123456789abcdefABCDEF", text[i * 3 + 1]))
			return -EINVAL;
		mac[i] = (uint8_t)b[i];
	}
	/* Multicast bit set: no NIC may own such an address. */
	if (mac[0] & 1)
		return -EINVAL;
	return 0;
}

static char *dup_or_null(const char *s, size_t n)
{
	return n ? strndup(s, n) : NULL;
}

int cli_parse_disk(const char *text, struct avp_disk_cfg *disk)
{
	const char *comma = strchr(text, ',');
	size_t path_len = comma ? (size_t)(comma - text) : strlen(text);

	if (path_len == 0)
		return -EINVAL;
	disk->read_only = false;
	if (comma) {
		if (strcmp(comma + 1, "ro") == 0)
			disk->read_only = true;
		else if (strcmp(comma + 1, "rw") != 0)
			return -EINVAL;
	}
	disk->path = dup_or_null(text, path_len);
	return disk->path ? 0 : -ENOMEM;
}

int cli_parse_net(const char *text, struct avp_net_cfg *net)
{
	char *copy = strdup(text);
	char *save = NULL;
	int ret = 0;

	if (!copy)
		return -ENOMEM;
	memset(net, 0, sizeof(*net));
	for (char *kv = strtok_r(copy, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		if (strncmp(kv, "tap=", 4) == 0 && kv[4] && !net->tap) {
			net->tap = strdup(kv + 4);
			if (!net->tap)
				ret = -ENOMEM;
		} else if (strncmp(kv, "mac=", 4) == 0 && !net->mac_set) {
			ret = cli_parse_mac(kv + 4, net->mac);
			net->mac_set = ret == 0;
		} else {
			ret = -EINVAL;
		}
		if (ret)
			break;
	}
	free(copy);
	if (!ret && !net->tap)
		ret = -EINVAL;
	if (ret) {
		free(net->tap);
		net->tap = NULL;
	}
	return ret;
}

int cli_parse_chardev(const char *text, struct avp_chardev_cfg *chr)
{
	free(chr->path);
	chr->path = NULL;
	if (strcmp(text, "stdio") == 0) {
		chr->kind = AVP_CHR_STDIO;
	} else if (strcmp(text, "none") == 0) {
		chr->kind = AVP_CHR_NONE;
	} else if (strncmp(text, "file:", 5) == 0 && text[5]) {
		chr->kind = AVP_CHR_FILE;
		chr->path = strdup(text + 5);
		if (!chr->path)
			return -ENOMEM;
	} else {
		return -EINVAL;
	}
	return 0;
}

/* --sound: out=PATH and in=PATH, each at most once, at least one of them,
 * never the same file (we would read what we are writing). */
static int parse_sound(const char *text, struct avp_sound_cfg *snd)
{
	char *copy = strdup(text);
	char *rest = copy;
	int ret = 0;

	if (!copy)
		return -ENOMEM;
	/* strsep, not strtok: an empty item ("out=a,") is a mistake to report. */
	for (char *kv = strsep(&rest, ","); kv && !ret; kv = strsep(&rest, ",")) {
		bool is_out = strncmp(kv, "out=", 4) == 0;
		char **slot = is_out ? &snd->out_path
			      : strncmp(kv, "in=", 3) == 0 ? &snd->in_path : NULL;
		const char *val = slot ? kv + (is_out ? 4 : 3) : NULL;

		if (!slot || *slot || !*val)
			ret = -EINVAL;
		else if (!(*slot = strdup(val)))
			ret = -ENOMEM;
	}
	free(copy);
	if (!ret && !snd->out_path && !snd->in_path)
		ret = -EINVAL;
	if (!ret && snd->out_path && snd->in_path && strcmp(snd->out_path, snd->in_path) == 0)
		ret = -EINVAL;
	if (ret) {
		free(snd->out_path);
		free(snd->in_path);
		snd->out_path = snd->in_path = NULL;
		return ret;
	}
	snd->enabled = true;
	return 0;
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

static int parse_run_option(int opt, const char *arg, struct avp_config *cfg, FILE *err)
{
	uint64_t v;

	switch (opt) {
	case OPT_BUNDLE:
		return bundle_load_config(arg, cfg, err);
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
		if (parse_u64(arg, 1, AVP_MAX_CPUS, &v))
			FAIL("--cpus: expected a number from 1 to %d, got '%s'", AVP_MAX_CPUS, arg);
		cfg->cpus = (unsigned int)v;
		return 0;
	case OPT_MEMORY:
		if (parse_u64(arg, AVP_MIN_MEMORY_MIB, AVP_MAX_MEMORY_MIB, &v))
			FAIL("--memory: expected MiB from %d to %d, got '%s'", AVP_MIN_MEMORY_MIB,
			     AVP_MAX_MEMORY_MIB, arg);
		cfg->memory_mib = v;
		return 0;
	case OPT_DISK:
		if (cfg->ndisks >= AVP_MAX_DISKS)
			FAIL("--disk: at most %d disks", AVP_MAX_DISKS);
		if (cli_parse_disk(arg, &cfg->disks[cfg->ndisks]))
			FAIL("--disk: expected PATH or PATH,ro, got '%s'", arg);
		for (unsigned int i = 0; i < cfg->ndisks; i++)
			if (strcmp(cfg->disks[i].path, cfg->disks[cfg->ndisks].path) == 0) {
				free(cfg->disks[cfg->ndisks].path);
				cfg->disks[cfg->ndisks].path = NULL;
				FAIL("--disk: '%s' is given twice", arg);
			}
		cfg->ndisks++;
		return 0;
	case OPT_NET:
		if (cfg->nnets >= AVP_MAX_NETS)
			FAIL("--net: at most %d network devices", AVP_MAX_NETS);
		if (cli_parse_net(arg, &cfg->nets[cfg->nnets]))
			FAIL("--net: expected tap=NAME[,mac=XX:XX:XX:XX:XX:XX] (unicast MAC), got '%s'",
			     arg);
		for (unsigned int i = 0; i < cfg->nnets; i++)
			if (strcmp(cfg->nets[i].tap, cfg->nets[cfg->nnets].tap) == 0) {
				free(cfg->nets[cfg->nnets].tap);
				cfg->nets[cfg->nnets].tap = NULL;
				FAIL("--net: tap '%s' is given twice", cfg->nets[i].tap);
			}
		cfg->nnets++;
		return 0;
	case OPT_RNG:
		cfg->rng = true;
		return 0;
	case OPT_GPU:
		if (virtio_gpu_parse_opt(arg, &cfg->gpu))
			FAIL("--gpu: expected on or width=W,height=H (each %u-%u, at most %u pixels), "
			     "got '%s'", VIRTIO_GPU_MIN_DISPLAY_DIM, VIRTIO_GPU_MAX_DISPLAY_DIM,
			     VIRTIO_GPU_MAX_DISPLAY_PIXELS, arg);
		return 0;
	case OPT_SERIAL:
		if (cli_parse_chardev(arg, &cfg->serial))
			FAIL("--serial: expected stdio, file:PATH or none, got '%s'", arg);
		return 0;
	case OPT_CONSOLE:
		if (cli_parse_chardev(arg, &cfg->console))
			FAIL("--console: expected stdio, file:PATH or none, got '%s'", arg);
		return 0;
	case OPT_ON_REBOOT:
		if (strcmp(arg, "exit") == 0)
			cfg->on_reboot = AVP_REBOOT_EXIT;
		else if (strcmp(arg, "restart") == 0)
			cfg->on_reboot = AVP_REBOOT_RESTART;
		else
			FAIL("--on-reboot: expected exit or restart, got '%s'", arg);
		return 0;
	case OPT_API_SOCK:
		if (!*arg)
			FAIL("--api-sock: expected a path for the control socket");
		return replace_string(&cfg->api_sock, arg);
	case OPT_VSOCK:
		if (cfg->vsock.cid)
			FAIL("--vsock: at most one vsock device (one CID per VM)");
		if (cli_parse_vsock(arg, &cfg->vsock))
			FAIL("--vsock: expected cid=N,socket=PATH with N from %d to %u, got '%s'",
			     AVP_VSOCK_MIN_CID, AVP_VSOCK_MAX_CID, arg);
		return 0;
	case OPT_VSOCK_PEER: {
		struct avp_vsock_peer peer;

		if (cfg->vsock.npeers >= AVP_VSOCK_MAX_PEERS)
			FAIL("--vsock-peer: at most %d peers", AVP_VSOCK_MAX_PEERS);
		if (cli_parse_vsock_peer(arg, &peer))
			FAIL("--vsock-peer: expected CID:PATH with CID from %d to %u, got '%s'",
			     AVP_VSOCK_MIN_CID, AVP_VSOCK_MAX_CID, arg);
		for (unsigned int i = 0; i < cfg->vsock.npeers; i++)
			if (cfg->vsock.peers[i].cid == peer.cid) {
				free(peer.socket);
				FAIL("--vsock-peer: CID %u is given twice", peer.cid);
			}
		cfg->vsock.peers[cfg->vsock.npeers++] = peer;
		return 0;
	}
	case OPT_INPUT:
		if (cfg->ninputs >= AVP_MAX_INPUTS)
			FAIL("--input: at most %d input devices (one keyboard, one touch)", AVP_MAX_INPUTS);
		if (cli_parse_input(arg, &cfg->inputs[cfg->ninputs]))
			FAIL("--input: expected keyboard or touch[,width=W,height=H] (1-65535), got '%s'",
			     arg);
		for (unsigned int i = 0; i < cfg->ninputs; i++)
			if (cfg->inputs[i].kind == cfg->inputs[cfg->ninputs].kind)
				FAIL("--input: '%s' is given twice", arg);
		cfg->ninputs++;
		return 0;
	case OPT_SOUND:
		if (cfg->sound.enabled)
			FAIL("--sound: at most one sound device");
		if (parse_sound(arg, &cfg->sound))
			FAIL("--sound: expected out=OUT.wav[,in=IN.wav] (either or both, two different "
			     "files), got '%s'", arg);
		return 0;
	case OPT_WATCHDOG:
		if (!arg || strcmp(arg, "action=exit") == 0)
			cfg->watchdog.action = AVP_WATCHDOG_EXIT;
		else if (strcmp(arg, "action=reset") == 0)
			cfg->watchdog.action = AVP_WATCHDOG_RESET;
		else
			FAIL("--watchdog: expected no value, action=exit or action=reset, got '%s'",
			     arg);
		cfg->watchdog.enabled = true;
		return 0;
	case OPT_SECCOMP:
		if (strcmp(arg, "kill") == 0)
			cfg->seccomp = AVP_SECCOMP_KILL;
		else if (strcmp(arg, "log") == 0)
			cfg->seccomp = AVP_SECCOMP_LOG;
		else if (strcmp(arg, "off") == 0)
			cfg->seccomp = AVP_SECCOMP_OFF;
		else
			FAIL("--seccomp: expected kill, log or off, got '%s'", arg);
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
		if (parse_u64(arg, 0, UINT32_MAX - 1, &v))
			FAIL("--%s: expected a number from 0 to %u, got '%s'",
			     opt == OPT_UID ? "uid" : "gid", UINT32_MAX - 1, arg);
		if (opt == OPT_UID) {
			cfg->jail.uid = (uint32_t)v;
			cfg->jail.uid_set = true;
		} else {
			cfg->jail.gid = (uint32_t)v;
			cfg->jail.gid_set = true;
		}
		return 0;
	case OPT_DESCRIBE:
		cfg->describe = true;
		return 0;
	case OPT_TIMING:
		cfg->timing = true;
		return 0;
	default:
		return -EINVAL;
	}
}

static int parse_run(int argc, char **argv, struct avp_config *cfg, FILE *err)
{
	int opt;

	/* 0, not 1: glibc then also forgets where it was inside a cluster of
	 * short options ("-vx"), which otherwise points into the argv of an
	 * earlier call that stopped there (found by fuzz/fuzz_cli.c). */
	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":hv", run_options, NULL)) != -1) {
		int ret;

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
		/* --watchdog's optional value may also be the next word. */
		if (opt == OPT_WATCHDOG && !optarg && optind < argc &&
		    strncmp(argv[optind], "action=", 7) == 0)
			optarg = argv[optind++];
		ret = parse_run_option(opt, optarg, cfg, err);
		if (ret)
			return ret;
	}
	if (optind < argc)
		FAIL("unexpected argument '%s' (see avp run --help)", argv[optind]);
	if (!cfg->kernel)
		FAIL("--kernel is required: the bzImage to boot (see avp run --help)");
	if (cfg->console.kind == AVP_CHR_FILE && cfg->serial.kind == AVP_CHR_FILE &&
	    strcmp(cfg->serial.path, cfg->console.path) == 0)
		FAIL("--serial and --console cannot write the same file");
	if (cfg->vsock.npeers && !cfg->vsock.cid)
		FAIL("--vsock-peer needs a vsock device of this VM's own (--vsock cid=N,socket=PATH)");
	for (unsigned int i = 0; i < cfg->vsock.npeers; i++)
		if (cfg->vsock.peers[i].cid == cfg->vsock.cid)
			FAIL("--vsock-peer: CID %u is this VM's own (--vsock cid=%u)",
			     cfg->vsock.cid, cfg->vsock.cid);
	if (cfg->jail.enabled && (!cfg->jail.uid_set || !cfg->jail.gid_set))
		FAIL("--jail needs --uid and --gid: the user and group the VM runs as");
	if (!cfg->jail.enabled && (cfg->jail.uid_set || cfg->jail.gid_set))
		FAIL("--uid and --gid only apply with --jail DIR");
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
