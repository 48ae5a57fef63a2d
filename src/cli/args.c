/* The avp command line. Every rejection names the option, the value and
 * what would be accepted, on one line. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "avp/cli.h"

enum {
	OPT_KERNEL = 256,
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
	OPT_DESCRIBE,
	OPT_TIMING,
	OPT_HELP,
	OPT_VERBOSE,
};

static const struct option run_options[] = {
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
	{ "describe", no_argument, NULL, OPT_DESCRIBE },
	{ "timing", no_argument, NULL, OPT_TIMING },
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
	      "\n"
	      "  -h, --help     this text\n"
	      "  -V, --version  print the version\n"
	      "  -v, --verbose  more diagnostics (repeat for debug)\n",
	      out);
}

void cli_run_usage(FILE *out)
{
	fputs("usage: avp run --kernel BZIMAGE [OPTIONS]\n"
	      "\n"
	      "  --kernel PATH        Linux bzImage (x86-64 boot protocol 2.12+, 64-bit entry)\n"
	      "  --initrd PATH        initial ramdisk\n"
	      "  --cmdline TEXT       kernel command line (at most 4095 bytes)\n"
	      "  --cpus N             vCPUs, 1-64 (default 1)\n"
	      "  --memory MIB         guest RAM in MiB, 32-1048576 (default 256)\n"
	      "  --disk PATH[,ro]     virtio-blk on a raw image; repeat for more (up to 8)\n"
	      "  --net tap=NAME[,mac=XX:XX:XX:XX:XX:XX]\n"
	      "                       virtio-net on an existing or new tap; repeat (up to 4)\n"
	      "  --rng                virtio-rng fed by the host's getrandom()\n"
	      "  --serial stdio|file:PATH|none\n"
	      "                       16550 UART at 0x3f8, IRQ 4 (default stdio)\n"
	      "  --console stdio|file:PATH|none\n"
	      "                       virtio-console, the guest's hvc0 (default none); with\n"
	      "                       stdio it takes the keyboard and the UART only prints\n"
	      "  --on-reboot exit|restart\n"
	      "                       guest reboot ends avp with status 3 (default) or\n"
	      "                       restarts the VM\n"
	      "  --describe           print the platform the guest would see as JSON, and\n"
	      "                       exit without booting\n"
	      "  --timing             print start-up milestones on stderr\n"
	      "  -v, --verbose        more diagnostics\n"
	      "\n"
	      "exit status: 0 guest powered off, 1 bad arguments or inputs, 2 guest crashed,\n"
	      "3 guest rebooted, 4 host-side failure, 5 stopped by a signal\n",
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

	optind = 1;
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
