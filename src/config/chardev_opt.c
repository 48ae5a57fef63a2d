/* The one grammar of a character device's host end, shared by --serial,
 * --console and a bundle's "serial" and console "backend":
 * stdio | none | file:PATH | pty | socket=PATH. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avp/config.h"
#include "avp/config/options.h"

int avp_parse_chardev(const char *text, const char *base_dir, struct avp_chardev_cfg *chr)
{
	enum avp_chardev_kind kind = AVP_CHR_FILE;
	const char *path = text + 5;
	char *copy = NULL;

	if (strcmp(text, "stdio") == 0 || strcmp(text, "none") == 0 || strcmp(text, "pty") == 0) {
		free(chr->path);
		chr->path = NULL;
		chr->kind = text[0] == 's' ? AVP_CHR_STDIO
			    : text[0] == 'p' ? AVP_CHR_PTY
					     : AVP_CHR_NONE;
		return 0;
	}
	if (strncmp(text, "socket=", 7) == 0) {
		kind = AVP_CHR_SOCKET;
		path = text + 7;
	} else if (strncmp(text, "file:", 5) != 0) {
		return -EINVAL;
	}
	if (!*path)
		return -EINVAL;
	copy = avp_join_path(base_dir, path);
	if (!copy)
		return -ENOMEM;
	free(chr->path);
	chr->path = copy;
	chr->kind = kind;
	return 0;
}
