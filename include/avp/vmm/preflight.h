/* Checks a configuration's inputs before anything is built. (src/vmm/preflight.c) */
#ifndef AVP_PREFLIGHT_H
#define AVP_PREFLIGHT_H

struct avp_config;

/* Kernel, initrd and command line (they fit the RAM), disk images (they
 * open as disk_open would, no image twice), tap names, the sound input.
 * Reads only. Reports the first problem once, naming the input and what
 * to do, and returns -errno; 0 when the VM can be built. I2C adapters
 * (--i2c) open as adapters. */
int preflight_check(const struct avp_config *cfg);

#endif
