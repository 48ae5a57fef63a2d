/* Host ends of character devices (16550 UART, virtio-console): standard
 * I/O, a file, or nothing. Owns the terminal's raw mode and restores it.
 *
 * Output never blocks: what the host does not take at once waits in a
 * buffer of CHARDEV_OUT_BUF bytes, and a full buffer takes nothing more
 * until the host reads; the device then holds the guest back (src/core/
 * chardev.c says why). */
#ifndef AVP_CHARDEV_H
#define AVP_CHARDEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "avp/config.h"

struct chardev;

/* Guest output held for a host reader that is slow, at most. */
#define CHARDEV_OUT_BUF (64 * 1024)
/* How long chardev_close waits for a reader to take what is left. */
#define CHARDEV_CLOSE_WAIT_MS 500

/* want_input: the device reads host input from chardev_input_fd(); for
 * stdio on a terminal this switches it to raw mode (restored by
 * chardev_close, and on exit or fatal signal). -errno on failure. */
int chardev_open(struct chardev **out, const struct avp_chardev_cfg *cfg, bool want_input);
/* The same, for a device: label ("serial", "console") names it in the one
 * line that says where a pty or socket is ("avp: serial on /dev/pts/3")
 * and in chardev_endpoints(); confine is the VM's config when the relay
 * thread of a pty or socket must confine itself (seccomp role
 * "chardev"), NULL in tests. A pty or socket always has input. */
int chardev_open_named(struct chardev **out, const struct avp_chardev_cfg *cfg, bool want_input,
		       const char *label, const struct avp_config *confine);
/* A chardev over fds the caller opened (tests, fuzzing): it owns both from
 * then on (closed by chardev_close, or here on failure) and makes them
 * non-blocking. Either may be -1. */
int chardev_open_fds(struct chardev **out, int out_fd, int in_fd);
/* Takes what the host accepts now plus what fits in the buffer, without
 * ever waiting; returns how many bytes of buf it took (0 when the buffer
 * is full: call again once chardev_flush made room), or -EINVAL. Output
 * to a reader that went away is dropped, said once, and counts as taken;
 * so does all output of a chardev without one (AVP_CHR_NONE). */
ssize_t chardev_write(struct chardev *chr, const void *buf, size_t len);
/* Writes out what the host takes now; returns the bytes still waiting.
 * For the device's thread, when chardev_output_fd() is writable. */
size_t chardev_flush(struct chardev *chr);
/* Bytes chardev_write would take now at least; SIZE_MAX when output is
 * dropped or goes nowhere. */
size_t chardev_write_room(struct chardev *chr);
/* The fd to wait on (POLLOUT) while output waits, or -1 when none. */
int chardev_output_fd(const struct chardev *chr);
/* Non-blocking fd to read host input from, or -1 when there is none. */
int chardev_input_fd(const struct chardev *chr);
/* Gives the reader up to CHARDEV_CLOSE_WAIT_MS to take the output that
 * still waits (less if it takes it sooner), then frees everything. */
void chardev_close(struct chardev *chr);

/* A pty or socket end users connect to, as the control socket's status
 * shows it. While nobody is connected, the newest CHARDEV_OUT_BUF bytes of
 * guest output wait for the next client and older ones are dropped
 * (counted in dropped); a connected client that reads slowly holds the
 * guest back instead. */
struct chardev_endpoint {
	const char *label;   /* "serial", "console" */
	const char *backend; /* "pty", "socket" */
	char path[108];
	bool connected;
	uint64_t dropped;
};
/* Fills up to max endpoints of the chardevs open now; returns how many. */
size_t chardev_endpoints(struct chardev_endpoint *out, size_t max);

#endif
