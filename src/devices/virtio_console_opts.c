/* --console stdio|file:PATH|pty|socket=PATH|none, a bundle's
 * {"type": "console", "backend"}: the console's keys and rules. Its
 * options are the chardev itself. */
#include <string.h>

#include "avp/devices/virtio_console.h"

/* Its lines in avp run --help. */
static const char console_help[] = "virtio-console, the guest's hvc0 (default none); with\n"
	"stdio it takes the keyboard and the UART only prints;\n"
	"pty and socket: see --serial";

static const struct avp_key console_keys[] = {
	/* The whole text: a chardev path may hold commas. */
	{ .name = "backend", .type = AVP_KEY_CHARDEV, .offset = 0,
	  .flags = AVP_KEY_WHOLE | AVP_KEY_POSITIONAL, .def = "stdio" },
	{ 0 },
};

static int console_check(void *opts, uint32_t given, struct avp_config_err *e)
{
	const struct avp_chardev_cfg *chr = opts;

	(void)given;
	if (chr->kind == AVP_CHR_NONE)
		return avp_config_fail(e, "backend", "a console device needs \"stdio\", "
				       "\"file:PATH\", \"pty\" or \"socket=PATH\" (leave the device "
				       "out for none)");
	if ((chr->kind == AVP_CHR_FILE || chr->kind == AVP_CHR_SOCKET) && (!chr->path || !*chr->path))
		return avp_config_fail(e, "backend", "%s needs a path",
				       chr->kind == AVP_CHR_FILE ? "file:" : "socket=");
	return 0;
}

/* The serial port and the console on one host end would interleave. */
static int console_final(const struct avp_config *cfg, struct avp_config_err *e)
{
	const struct avp_chardev_cfg *con = avp_config_device(cfg, &virtio_console_config, 0);
	const struct avp_chardev_cfg *ser = &cfg->serial;

	if (con->kind == ser->kind && (con->kind == AVP_CHR_FILE || con->kind == AVP_CHR_SOCKET) &&
	    strcmp(ser->path, con->path) == 0)
		return avp_config_fail(e, "serial", con->kind == AVP_CHR_FILE
				       ? "the serial port and the console cannot write the same file"
				       : "the serial port and the console cannot listen on the "
					 "same socket");
	return 0;
}

const struct avp_config_type virtio_console_config = {
	.name = "console", .syntax = "stdio|file:PATH|pty|socket=PATH|none", .help = console_help,
	.keys = console_keys, .opts_size = sizeof(struct avp_chardev_cfg),
	.flags = AVP_TYPE_NONE_REMOVES, .virtio = true, .max = 1,
	.too_many = "only one console device is supported (at most one per VM)",
	.check = console_check, .final_check = console_final,
};
