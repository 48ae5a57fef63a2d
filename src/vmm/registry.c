/* The device registry (include/avp/vmm/registry.h). */
#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>

#include "avp/devices/virtio_blk.h"
#include "avp/devices/virtio_console.h"
#include "avp/devices/virtio_gpu.h"
#include "avp/devices/virtio_input.h"
#include "avp/devices/virtio_net.h"
#include "avp/devices/virtio_rng.h"
#include "avp/devices/virtio_snd.h"
#include "avp/devices/virtio_vsock.h"
#include "avp/hw/watchdog.h"
#include "avp/vmm/registry.h"

/* ---- command-line values into the config, through the adders ---- */

/* Option text -> the device's config (its parser) -> the config's adder. */
#define OPTION(name, type, parse, add)                                                   \
	static int name(struct avp_config *cfg, const char *text, struct avp_config_err *e) \
	{                                                                                \
		type c = { 0 };                                                          \
		int ret = parse(text, &c);                                               \
                                                                                         \
		return ret ? ret : add(cfg, &c, e);                                      \
	}

OPTION(disk_option, struct avp_disk_cfg, virtio_blk_parse_opt, avp_config_add_disk)
OPTION(net_option, struct avp_net_cfg, virtio_net_parse_opt, avp_config_add_net)
OPTION(gpu_option, struct avp_gpu_cfg, virtio_gpu_parse_opt, avp_config_add_gpu)
OPTION(sound_option, struct avp_sound_cfg, virtio_snd_parse_opt, avp_config_add_sound)
OPTION(vsock_option, struct avp_vsock_cfg, virtio_vsock_parse_opt, avp_config_add_vsock)
OPTION(input_option, struct avp_input_cfg, virtio_input_parse_opt, avp_config_add_input)
OPTION(watchdog_option, struct avp_watchdog_cfg, watchdog_parse_opt, avp_config_add_watchdog)

static int chardev_text(const char *text, struct avp_chardev_cfg *chr)
{
	return avp_parse_chardev(text, NULL, chr);
}
OPTION(console_option, struct avp_chardev_cfg, chardev_text, avp_config_add_console)

static int rng_option(struct avp_config *cfg, const char *text, struct avp_config_err *e)
{
	(void)text;
	return avp_config_add_rng(cfg, e);
}

/* ---- constructors on the config's index-th device of a kind ---- */

/* Each constructor builds the model alone under --describe: the backend
 * is what has side effects (a tap created, a socket bound, an output file
 * emptied), never the model the guest sees. */
#define CREATE(name, fn, model_fn, device)                                                  \
	static int name(struct virtio_dev **out, const struct avp_config *cfg, unsigned int i) \
	{                                                                               \
		(void)i;                                                                \
		return cfg->describe ? model_fn(out, &cfg->device) : fn(out, &cfg->device);   \
	}

/* A tap's model needs an fd to own; an eventfd stands in, never read. */
static int net_model(struct virtio_dev **out, const struct avp_net_cfg *net)
{
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	return fd < 0 ? -errno : virtio_net_create_fd(out, net, fd);
}

static int console_model(struct virtio_dev **out, const struct avp_chardev_cfg *chr)
{
	(void)chr;
	return virtio_console_create_fds(out, -1, -1);
}

/* Output discarded, input silent: the same device, no WAV file touched. */
static int sound_model(struct virtio_dev **out, const struct avp_sound_cfg *snd)
{
	struct avp_sound_cfg quiet = *snd;

	quiet.out_path = NULL;
	quiet.in_path = NULL;
	return virtio_snd_create(out, &quiet);
}

CREATE(disk_create, virtio_blk_create, virtio_blk_create_model, disks[i])
CREATE(net_create, virtio_net_create, net_model, nets[i])

static int console_create(struct virtio_dev **out, const struct avp_config *cfg, unsigned int i)
{
	(void)i;
	return cfg->describe ? console_model(out, &cfg->console)
			     : virtio_console_create_vm(out, &cfg->console, cfg);
}
CREATE(gpu_create, virtio_gpu_create, virtio_gpu_create, gpu)
CREATE(sound_create, virtio_snd_create, sound_model, sound)
CREATE(vsock_create, virtio_vsock_create, virtio_vsock_create_model, vsock)
CREATE(input_create, virtio_input_create, virtio_input_create, inputs[i])

static int rng_create(struct virtio_dev **out, const struct avp_config *cfg, unsigned int i)
{
	(void)cfg;
	(void)i;
	return virtio_rng_create(out);
}

/* ---- the table ---- */

static const char *const disk_keys[] = { "type", "path", "read_only", NULL };
static const char *const net_keys[] = { "type", "tap", "network", "mac", NULL };
static const char *const rng_keys[] = { "type", NULL };
static const char *const console_keys[] = { "type", "backend", NULL };
static const char *const vsock_keys[] = { "type", "cid", "socket", NULL };
static const char *const gpu_keys[] = { "type", "width", "height", NULL };
static const char *const input_keys[] = { "type", "kind", "width", "height", NULL };
static const char *const sound_keys[] = { "type", "out", "in", NULL };
static const char *const watchdog_keys[] = { "type", "action", NULL };

static const struct avp_device_type types[] = {
	{
		.kind = AVP_DEV_DISK, .name = "disk", .virtio_id = VIRTIO_ID_BLOCK,
		.option_syntax = "PATH[,ro]",
		.option_help = "virtio-blk on a raw image; repeat for more (up to 8);\n"
			       ",, is a comma in PATH",
		.bundle_keys = disk_keys, .add_option = disk_option, .create = disk_create,
	},
	{
		.kind = AVP_DEV_NET, .name = "net", .virtio_id = VIRTIO_ID_NET,
		.option_syntax = "tap=NAME[,mac=XX:XX:XX:XX:XX:XX]",
		.option_help = "virtio-net on an existing or new tap; repeat (up to 4)",
		.bundle_keys = net_keys, .add_option = net_option, .create = net_create,
	},
	{
		.kind = AVP_DEV_RNG, .name = "rng", .virtio_id = VIRTIO_ID_RNG,
		.option_help = "virtio-rng fed by the host's getrandom()",
		.bundle_keys = rng_keys, .add_option = rng_option, .create = rng_create,
	},
	{
		.kind = AVP_DEV_CONSOLE, .name = "console", .virtio_id = VIRTIO_ID_CONSOLE,
		.option_syntax = "stdio|file:PATH|pty|socket=PATH|none",
		.option_help = "virtio-console, the guest's hvc0 (default none); with\n"
			       "stdio it takes the keyboard and the UART only prints;\n"
			       "pty and socket: see --serial",
		.bundle_keys = console_keys, .add_option = console_option,
		.create = console_create,
	},
	{
		.kind = AVP_DEV_VSOCK, .name = "vsock", .virtio_id = VIRTIO_ID_VSOCK,
		.option_syntax = "cid=N,socket=PATH",
		.option_help = "virtio-vsock with guest CID N (3-4294967294); host\n"
			       "programs connect to PATH and send 'CONNECT <port>\\n';\n"
			       "the guest's connections to CID 2 port P reach PATH_P",
		.bundle_keys = vsock_keys, .add_option = vsock_option, .create = vsock_create,
	},
	{
		.kind = AVP_DEV_GPU, .name = "gpu", .virtio_id = VIRTIO_ID_GPU,
		.option_syntax = "on|width=W,height=H",
		.option_help = "virtio-gpu 2D, one display (default 1280x720, also\n"
			       "for a size left out); the control socket's\n"
			       "screenshot command saves it as PNG",
		.bundle_keys = gpu_keys, .add_option = gpu_option, .create = gpu_create,
		.register_api = virtio_gpu_register_api,
	},
	{
		.kind = AVP_DEV_INPUT, .name = "input", .virtio_id = VIRTIO_ID_INPUT,
		.option_syntax = "keyboard | touch[,width=W,height=H]",
		.option_help = "virtio-input keyboard or multi-touch screen (default\n"
			       "1280x720, also for a size left out), fed through\n"
			       "the control socket's input command; one of each",
		.bundle_keys = input_keys, .add_option = input_option, .create = input_create,
		.register_api = virtio_input_register_api,
	},
	{
		.kind = AVP_DEV_SOUND, .name = "sound", .virtio_id = VIRTIO_ID_SOUND,
		.option_syntax = "out=OUT.wav[,in=IN.wav]",
		.option_help = "virtio-sound: what the guest plays is written to\n"
			       "OUT.wav, what it records is read from IN.wav (looped);\n"
			       "either may be left out (output dropped, input silent)",
		.bundle_keys = sound_keys, .add_option = sound_option, .create = sound_create,
	},
	{
		.kind = AVP_DEV_WATCHDOG, .name = "watchdog",
		.option_syntax = "[action=exit|reset]",
		.option_optional = true,
		.option_help = "a watchdog the guest's standard driver (Linux\n"
			       "wdat_wdt) arms and feeds; when it expires avp ends\n"
			       "with status 6 (exit, the default) or resets the VM",
		.bundle_keys = watchdog_keys, .add_option = watchdog_option,
	},
};

#define NTYPES (sizeof(types) / sizeof(types[0]))
_Static_assert(NTYPES == AVP_DEV_NKINDS, "one registry entry per device kind");

const struct avp_device_type *avp_device_types(size_t *n)
{
	*n = NTYPES;
	return types;
}

const struct avp_device_type *avp_device_type(enum avp_device_kind kind)
{
	for (size_t i = 0; i < NTYPES; i++)
		if (types[i].kind == kind)
			return &types[i];
	return NULL;
}

const struct avp_device_type *avp_device_type_by_virtio_id(unsigned int virtio_id)
{
	for (size_t i = 0; virtio_id && i < NTYPES; i++)
		if (types[i].virtio_id == virtio_id)
			return &types[i];
	return NULL;
}

const struct avp_device_type *avp_device_type_by_name(const char *name)
{
	for (size_t i = 0; i < NTYPES; i++)
		if (strcmp(types[i].name, name) == 0)
			return &types[i];
	return NULL;
}
