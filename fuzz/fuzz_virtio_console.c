/* libFuzzer target: virtio-console (src/devices/virtio_console.c).
 *
 * Guest output (transmitq) goes to /dev/null; host input comes from a pipe
 * the fuzzer writes into. The guest side is the common grammar
 * (fuzz_guest.h); the device op types input, or closes the input end so
 * the device sees end of input. */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "avp/devices/virtio_console.h"
#include "avp/log.h"
#include "fuzz_guest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

struct con_ctx {
	int in_w; /* the host's keyboard: write end of the device's input pipe */
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	avp_log_set_level(AVP_LOG_ERROR);
	return 0;
}

static void con_op(struct fuzz_guest *g, struct fz *z, void *opaque)
{
	struct con_ctx *c = opaque;
	uint8_t sub = fz_u8(z);
	uint8_t buf[256];
	size_t n;

	(void)g;
	if (c->in_w < 0)
		return;
	if (sub & 1) {
		close(c->in_w);
		c->in_w = -1;
		return;
	}
	n = fz_bytes(z, buf, fz_u8(z));
	/* A full pipe is a user typing faster than the guest reads. */
	if (n && write(c->in_w, buf, n) < 0)
		return;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t wanted[] = { 29 /* EVENT_IDX */, 28 /* INDIRECT_DESC */ };
	struct fz z = { data, size };
	struct con_ctx c = { -1 };
	struct fuzz_guest g;
	struct virtio_dev *dev;
	int p[2];
	int out;

	if (pipe2(p, O_CLOEXEC | O_NONBLOCK))
		return 0;
	out = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (out < 0) {
		close(p[0]);
		close(p[1]);
		return 0;
	}
	c.in_w = p[1];
	/* The device owns out and p[0] from here, even on failure. */
	if (virtio_console_create_fds(&dev, out, p[0]) == 0) {
		if (fg_init(&g) == 0) {
			fg_run(&g, dev, &z, wanted, 2, con_op, &c);
			fg_reset(&g);
		}
		dev->ops->destroy(dev);
		fg_fini(&g);
	}
	if (c.in_w >= 0)
		close(c.in_w);
	return 0;
}
