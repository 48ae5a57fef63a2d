/* avp screenshot --api-sock PATH OUT.png: asks a running VM (through its
 * control socket, docs/api.md) to save its display as a PNG. */
#ifndef AVP_CLI_SCREENSHOT_H
#define AVP_CLI_SCREENSHOT_H

/* argv[0] is "screenshot". Returns the process exit status, as avp api's:
 * 0 saved, 1 bad arguments, 2 the VM refused (could not write the file),
 * 4 the socket could not be reached or did not answer. Reasons go to
 * stderr. */
int cli_screenshot(int argc, char **argv);

#define CLI_SCREENSHOT_TIMEOUT_MS 30000 /* for the VM's reply */
#define CLI_SCREENSHOT_MAX_REPLY 65536	/* bytes of the reply line */

#endif
